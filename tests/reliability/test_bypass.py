"""Attempts to get an ungoverned model into an environment: each is refused, writes nothing it should not,
and leaves an AUDIT record in the task log."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.promote import PromoteModelVersionOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from tests.helpers import LADDER, answer, write_calls
from tests.reliability import workflow


@pytest.fixture
def world(aws, make_context):
    """v1 approved and in dev; v2 pending; v3 rejected; all registered by alice."""
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    arns = {
        name: workflow.register(aws, make_context, f"run-{name}", name.encode())["arn"]
        for name in ("v1", "v2", "v3")
    }
    workflow.approve(arns["v1"], make_context, run_id="approve-1")
    workflow.promote(arns["v1"], "dev", make_context, run_id="promote-dev")
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arns["v3"], ModelApprovalStatus="Rejected", ApprovalDescription="AUC too low"
    )
    return {**arns, "context": make_context, "aws": aws}


def _deploy(name: str) -> Callable[[dict], Any]:
    def run(world):
        return DeployModelOperator(
            task_id="deploy",
            endpoint_name="churn-prod",
            variants=[{"name": "live", "model_package_arn": world[name]}],
            execution_role_arn=workflow.ROLE,
            poll_interval=0.1,
        ).execute(world["context"](task_id="deploy"))

    return run


def _promote(name: str, environment: str) -> Callable[[dict], Any]:
    def run(world):
        op = PromoteModelVersionOperator(
            task_id="promote", model_package_arn=world[name], environment=environment, ladder=LADDER
        )
        context = world["context"](task_id="promote")
        op.check_can_request(op.hook.describe_version(world[name]), context)

    return run


def _answer_promotion(name: str, environment: str, person: str) -> Callable[[dict], Any]:
    def run(world):
        op = PromoteModelVersionOperator(
            task_id="promote", model_package_arn=world[name], environment=environment, ladder=LADDER
        )
        context = world["context"](task_id="promote", run_id=f"answer-{person}")
        op.check_can_request(op.hook.describe_version(world[name]), context)
        world["aws"].reset_calls()  # only the answer's writes are counted
        return op.execute_complete(context, answer(person))

    return run


def _answer_registration(name: str, person: str) -> Callable[[dict], Any]:
    def run(world):
        op = RequestModelApprovalOperator(
            task_id="approve", model_package_arn=world[name], approvers=["bob", person]
        )
        return op.execute_complete(world["context"](task_id="approve"), answer(person))

    return run


def _tamper_artifact(world):
    world["aws"].boto3_client("s3").put_object(
        Bucket=workflow.BUCKET, Key="churn/run-v1/model.tar.gz", Body=b"swapped after registration"
    )


def _revoke_v1(world):
    world["aws"].boto3_client("sagemaker").update_model_package(
        ModelPackageArn=world["v1"], ModelApprovalStatus="Rejected", ApprovalDescription="revoked: leak found"
    )


def _point_dev_at_v2(world):
    """Someone with Parameter Store access writes dev's pointer by hand, at a version nobody approved."""
    ssm = world["aws"].boto3_client("ssm")
    pointer = json.loads(ssm.get_parameter(Name="/modelreg/churn/dev")["Parameter"]["Value"])
    pointer.update(arn=world["v2"], version=2)
    ssm.put_parameter(Name="/modelreg/churn/dev", Value=json.dumps(pointer), Type="String", Overwrite=True)


def _resolve(environment: str) -> Callable[[dict], Any]:
    def run(world):
        return ResolveApprovedModelOperator(
            task_id="resolve", group="churn", environment=environment, ladder=LADDER, verify_artifact=True
        ).execute(world["context"](task_id="resolve"))

    return run


# (attempt, tampering before it, the attempt, the refusal must say)
CASES: list[tuple[str, Callable[[dict], None] | None, Callable[[dict], Any], str]] = [
    (
        "deploy a version pending approval",
        None,
        _deploy("v2"),
        "is PendingManualApproval; only Approved versions deploy",
    ),
    ("deploy a rejected version", None, _deploy("v3"), "is Rejected; only Approved versions deploy"),
    ("promote a pending version to dev", None, _promote("v2", "dev"), "is PendingManualApproval"),
    ("skip test: promote from dev straight to uat", None, _promote("v1", "uat"), "test"),
    ("skip everything: promote to prod", None, _promote("v1", "prod"), "test"),
    ("the registrant approves her own version", None, _answer_registration("v2", "alice"), "alice"),
    (
        "a user outside the ladder approves a promotion",
        None,
        _answer_promotion("v1", "test", "mallory"),
        "mallory",
    ),
    ("the prod approver approves the test step", None, _answer_promotion("v1", "test", "dave"), "dave"),
    ("the registrant approves a promotion", None, _answer_promotion("v1", "test", "alice"), "alice"),
    (
        "deploy after the artifact was swapped in S3",
        _tamper_artifact,
        _deploy("v1"),
        "changed since registration",
    ),
    (
        "promote after the artifact was swapped in S3",
        _tamper_artifact,
        _promote("v1", "test"),
        "changed since registration",
    ),
    (
        "resolve after the artifact was swapped in S3",
        _tamper_artifact,
        _resolve("dev"),
        "changed since registration",
    ),
    ("resolve dev after its version was revoked", _revoke_v1, _resolve("dev"), "Rejected"),
    ("deploy a revoked version still pointed to", _revoke_v1, _deploy("v1"), "is Rejected"),
    (
        "resolve a pointer written by hand at an unapproved version",
        _point_dev_at_v2,
        _resolve("dev"),
        "PendingManualApproval",
    ),
]


@pytest.mark.parametrize(("case", "tamper", "attempt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bypass_is_refused_and_recorded(aws, world, tally, capsys, case, tamper, attempt, expected):
    if tamper:
        tamper(world)
    aws.reset_calls()
    capsys.readouterr()  # the world's own log lines
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the message is what is checked
            attempt(world)
        message = str(raised.value)
        assert expected in message, f"{case}: unclear refusal {message!r}"
        # Task logs go to the task's standard output (structlog), as in a worker.
        logged = "".join(capsys.readouterr())
        assert "AUDIT" in logged, f"{case}: no AUDIT record in the task log"
        writes = {
            call for call in write_calls(aws) if not call.startswith("ssm:")
        }  # the env lock may be taken
        assert writes == set(), f"{case}: wrote {writes}"
    except AssertionError as failure:
        tally.record("bypass", case, "lost", str(failure))
        raise
    tally.record("bypass", case, "refused", message)
