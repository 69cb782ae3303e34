"""A task killed at each of its write boundaries, then retried: the end state equals a clean run's.

The stand-in lets a task's first k writes through and refuses every later one, which is what AWS sees of
a worker killed right after its k-th write. The retry runs as Airflow runs it (a new try, XCom cleared)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers import PROD_LADDER, write_calls
from tests.reliability import workflow


def _fresh(aws) -> None:
    from tests.helpers import AUDIT_BUCKET

    aws.reset()
    aws.clear_faults()
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    aws.boto3_client("s3").create_bucket(Bucket=AUDIT_BUCKET)


def _register_case(aws, context):
    return (
        lambda: workflow.upload(aws, "run-1", b"one"),
        lambda: workflow.register(aws, context, "run-1", b"one", uploaded=True),
    )


def _approve_case(aws, context):
    state: dict[str, Any] = {}

    def setup():
        state["arn"] = workflow.register(aws, context, "run-1", b"one")["arn"]

    return setup, lambda: workflow.approve(state["arn"], context)


def _promote_case(aws, context):
    state: dict[str, Any] = {}

    def setup():
        state["arn"], _ = workflow.two_approved(aws, context)
        workflow.promote(state["arn"], "dev", context, run_id="promote-dev")
        state["tasks"] = {}  # which of the step's tasks finished: a retry reruns only the failed one

    return setup, lambda: workflow.promote(state["arn"], "test", context, state=state["tasks"])


def _deploy_case(aws, context):
    state: dict[str, Any] = {}

    # Deployments and shifts are about prod: a one-environment ladder keeps each rebuilt world small.
    def setup():
        state["arns"] = workflow.two_in_prod(aws, context, ladder=PROD_LADDER)

    return setup, lambda: workflow.deploy(*state["arns"], context, ladder=PROD_LADDER)


def _shift_case(aws, context):
    def setup():
        workflow.deploy(*workflow.two_in_prod(aws, context, ladder=PROD_LADDER), context, ladder=PROD_LADDER)

    return setup, lambda: workflow.shift(context, ladder=PROD_LADDER)


CASES: dict[str, Callable] = {
    "register": _register_case,
    "approve": _approve_case,
    "promote": _promote_case,
    "deploy": _deploy_case,
    "shift traffic": _shift_case,
}


@pytest.mark.slow(seconds=30)
@pytest.mark.parametrize("task", list(CASES))
def test_kill_at_every_write_boundary_then_retry_ends_as_a_clean_run(aws, make_context, tally, task):
    setup, run = CASES[task](aws, make_context)
    _fresh(aws)
    setup()
    aws.reset_calls()
    run()
    writes = sum(write_calls(aws).values())
    clean = workflow.snapshot(aws)
    assert writes >= 1

    for boundary in range(writes):
        case = f"{task}: killed after write {boundary} of {writes}"
        _fresh(aws)
        setup()
        aws.inject_faults(rate=1.0, kinds=["deny"], writes_only=True, after=boundary)
        try:
            with pytest.raises(Exception, match="AccessDenied|refused"):  # noqa: PT012
                run()
            aws.clear_faults()
            run()  # the retry
            retried = workflow.snapshot(aws)
            assert retried == clean, f"{case}: the retried end state differs from a clean run's"
        except BaseException as failure:
            tally.record("crashes", case, "lost", repr(failure))
            raise
        tally.record("crashes", case, "survived", "end state equals a clean run's")
