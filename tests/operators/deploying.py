"""Shared by the deployment tests: approved versions, operators built for the churn-prod endpoint, and a
runner for deferrable operators that plays the triggerer's part (re-creating each trigger from its
serialized arguments first, as a triggerer that restarted would)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from airflow.sdk.exceptions import TaskDeferred

from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.traffic import ShiftTrafficOperator
from tests.helpers import PROD_LADDER, promote, put_artifact, register_operator

ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"
ENDPOINT = "churn-prod"


def approved_versions(aws, bucket: str, make_context, count: int = 2) -> list[str]:
    """Versions of 'churn' with distinct artifacts, approved and promoted to prod in turn (prod serves the
    last and served the ones before, so the last two may be deployed there); returns their ARNs."""
    arns = []
    for index in range(count):
        artifact = put_artifact(
            aws, bucket, key=f"churn/{index}/model.tar.gz", body=f"model-{index}".encode()
        )
        arn = register_operator(artifact, ladder=PROD_LADDER).execute(make_context(run_id=f"run-{index}"))[
            "arn"
        ]
        aws.boto3_client("sagemaker").update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved"
        )
        promote(arn, "prod", make_context, ladder=PROD_LADDER, run_id=f"promote-{index}")
        arns.append(arn)
    return arns


def ab(a: str, b: str, wa: float = 100, wb: float = 0) -> list[dict[str, Any]]:
    return [
        {"name": "champion", "model_package_arn": a, "weight": wa},
        {"name": "challenger", "model_package_arn": b, "weight": wb},
    ]


def deploy_operator(variants, **kwargs: Any) -> DeployModelOperator:
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("ladder", PROD_LADDER)
    return DeployModelOperator(
        task_id="deploy",
        environment="prod",
        endpoint_name=ENDPOINT,
        variants=variants,
        execution_role_arn=ROLE,
        **kwargs,
    )


def shift_operator(alarms=(), **kwargs: Any) -> ShiftTrafficOperator:
    kwargs.setdefault("steps", [10, 50, 100])
    kwargs.setdefault("bake_seconds", 0.3)
    kwargs.setdefault("poll_interval", 0.1)
    kwargs.setdefault("ladder", PROD_LADDER)
    return ShiftTrafficOperator(
        task_id="shift",
        environment="prod",
        endpoint_name=ENDPOINT,
        to_variant="challenger",
        from_variant="champion",
        alarms=list(alarms),
        **kwargs,
    )


def compare_operator(**kwargs: Any) -> Any:
    """A variant comparison on churn-prod (prod): champion against challenger."""
    from airflow_modelreg.operators.compare import CompareVariantsOperator

    kwargs.setdefault("endpoint_name", ENDPOINT)
    kwargs.setdefault("ladder", PROD_LADDER)
    return CompareVariantsOperator(
        task_id="compare", environment="prod", champion="champion", challenger="challenger", **kwargs
    )


def weights(aws, key: str = "CurrentWeight") -> dict[str, float]:
    endpoint = aws.boto3_client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    return {v["VariantName"]: v.get(key, 0.0) for v in endpoint["ProductionVariants"]}


def triggered(deferred: TaskDeferred) -> dict[str, Any]:
    """The first event of a deferral's trigger, re-created from its serialized arguments (as the triggerer)."""
    trigger = type(deferred.trigger)(**deferred.trigger.serialize()[1])
    return asyncio.run(first_event(trigger))


async def first_event(trigger) -> dict[str, Any]:
    async for event in trigger.run():
        return event.payload
    raise AssertionError(f"{trigger!r} ended without an event")


def run_deferrable(
    operator, context, limit: int = 50, resume: tuple[str, dict[str, Any]] | None = None
) -> tuple[Any, list[str]]:
    """Run a deferrable operator to the end as Airflow would: each deferral's trigger is serialized and
    re-created from its arguments (what reaches the triggerer), run to its first event, and the task resumed
    with it. ``resume`` (method name, event) starts from a deferral already taken. Returns the result and
    the names of the triggers that ran."""
    method, kwargs, ran = operator.execute, {}, []
    if resume is not None:
        method, kwargs = getattr(operator, resume[0]), {"event": resume[1]}
    for _ in range(limit):
        try:
            return method(context, **kwargs), ran
        except TaskDeferred as deferred:
            path, trigger_kwargs = deferred.trigger.serialize()
            trigger = type(deferred.trigger)(**trigger_kwargs)
            ran.append(type(trigger).__name__)
            event = asyncio.run(first_event(trigger))
            method, kwargs = getattr(operator, deferred.method_name), {"event": event}
    raise AssertionError(f"still deferring after {limit} triggers: {ran}")


@contextmanager
def held_transitions(aws, endpoint: str = ENDPOINT) -> Iterator[None]:
    """Within the block, an endpoint transition (Creating, Updating, SystemUpdating...) lasts until the code
    under test has described the endpoint twice more, as code that waits for it does: it always sees the
    state in progress whatever the machine's speed, code that does not wait meets it when it acts, and
    nobody waits long. (Inspect the endpoint with ``aws.peek_endpoint``, which these counts do not see.)"""
    stop = threading.Event()
    before = aws.settings()["transition_seconds"]
    aws.settings(transition_seconds=3600)

    def settle_after_two_looks() -> None:
        last = aws.calls().get("sagemaker:DescribeEndpoint", 0)
        while not stop.is_set():
            looked = aws.calls().get("sagemaker:DescribeEndpoint", 0)
            if looked < last:  # the counters were reset
                last = looked
            if looked - last >= 2:
                last = looked
                with suppress(RuntimeError):  # no endpoint (yet, or any more): nothing to settle
                    aws.set_endpoint_state(endpoint, settle_now=True)
            time.sleep(0.02)

    watcher = threading.Thread(target=settle_after_two_looks, daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=30)
        aws.settings(transition_seconds=before)


@contextmanager
def transitions(aws, seconds: float) -> Iterator[None]:
    """Endpoint transitions that last ``seconds`` (the stand-in's setting) within the block."""
    before = aws.settings()["transition_seconds"]
    aws.settings(transition_seconds=seconds)
    try:
        yield
    finally:
        aws.settings(transition_seconds=before)
