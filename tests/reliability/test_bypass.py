"""Attempts to get an ungoverned model into a status, an environment or an endpoint, through every path:
parameters, templates, metadata, pointers, retries, clears and hand-made AWS records. Each is refused with a
message naming the rule, writes nothing but the refusal in the audit log, and leaves an AUDIT record in the
task log."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.promote import CommitPromotionOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from tests.helpers import (
    AUDIT_BUCKET,
    LADDER,
    advance_endpoint,
    answer,
    answer_step,
    commit_step,
    prepare_step,
    promote,
    register_operator,
    write_calls,
)
from tests.operators.deploying import ROLE, shift_operator
from tests.reliability import workflow

AUTOMATION = {**LADDER, "automated_registration_approval": True}
ALICE_APPROVES = {
    **LADDER,
    "registration_approvers": ["bob", "alice"],
    "environments": [
        {**LADDER["environments"][0], "approvers": ["bob", "alice"]},
        *LADDER["environments"][1:],
    ],
}


def _context(task_id: str = "register", run_id: str = "manual__2026-11-23T00:00:00+00:00", **kwargs: Any):
    from tests.conftest import DagRunInfo, RecordingTaskInstance

    ti = RecordingTaskInstance(task_id=task_id, run_id=run_id, **kwargs)
    return {"ti": ti, "task_instance": ti, "dag_run": DagRunInfo(dag_id=ti.dag_id, run_id=run_id)}


@pytest.fixture(scope="module")
def world(standin):
    """v1 approved and in dev; v2 pending; v3 rejected; v4 approved in SageMaker but promoted nowhere; v5
    approved and promoted all the way to prod. All registered by alice.

    Built once for the module (it takes dozens of calls): every attempt is refused, so nothing changes,
    every tampering is undone after its case, and attempts that need to change the world (promote, roll
    back) do it with versions of their own."""
    from tests.helpers import AUDIT_BUCKET

    aws, make_context = standin, _context
    aws.reset()
    aws.clear_faults()
    aws.boto3_client("s3").create_bucket(Bucket=AUDIT_BUCKET)
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    arns = {
        name: workflow.register(aws, make_context, f"run-{name}", name.encode())["arn"]
        for name in ("v1", "v2", "v3", "v4", "v5")
    }
    sagemaker = aws.boto3_client("sagemaker")
    for name in ("v1", "v5"):
        workflow.approve(arns[name], make_context, run_id=f"approve-{name}")
    sagemaker.update_model_package(ModelPackageArn=arns["v4"], ModelApprovalStatus="Approved")
    sagemaker.update_model_package(
        ModelPackageArn=arns["v3"], ModelApprovalStatus="Rejected", ApprovalDescription="AUC too low"
    )
    promote(arns["v1"], "dev", make_context, run_id="v1-dev")
    for env in ("dev", "test", "uat", "prod"):
        promote(arns["v5"], env, make_context, run_id=f"v5-{env}")
    return {**arns, "context": make_context, "aws": aws}


# ------------------------------------------------------------------------------------------- attempts
def _deploy(name: str, environment: str = "prod", endpoint: str = "churn-prod") -> Callable[[dict], Any]:
    def run(world):
        return DeployModelOperator(
            task_id="deploy",
            environment=environment,
            endpoint_name=endpoint,
            variants=[{"name": "live", "model_package_arn": world[name]}],
            execution_role_arn=ROLE,
            poll_interval=0.1,
            ladder=LADDER,
        ).execute(world["context"](task_id="deploy"))

    return run


def _prepare(name: str, environment: str, ladder: dict = LADDER, **kwargs: Any) -> Callable[[dict], Any]:
    def run(world):
        return prepare_step(
            world[name], environment, world["context"], ladder=ladder, run_id="attempt", **kwargs
        )

    return run


def _answer_promotion(
    name: str, environment: str, person: str, ladder: dict = LADDER
) -> Callable[[dict], Any]:
    def run(world):
        request = prepare_step(world[name], environment, world["context"], ladder=ladder, run_id="attempt")
        world["aws"].reset_calls()  # only the answer's writes are counted
        return answer_step(request, 0, person, world["context"], ladder=ladder, run_id="attempt")

    return run


def _answer_registration(name: str, person: str, ladder: dict = ALICE_APPROVES) -> Callable[[dict], Any]:
    def run(world):
        op = RequestModelApprovalOperator(task_id="approve", model_package_arn=world[name], ladder=ladder)
        return op.execute_complete(world["context"](task_id="approve"), answer(person))

    return run


def _resolve(environment: str) -> Callable[[dict], Any]:
    def run(world):
        return ResolveApprovedModelOperator(
            task_id="resolve", group="churn", environment=environment, ladder=LADDER
        ).execute(world["context"](task_id="resolve"))

    return run


def _register(run_id: str = "run-new", owner: str | None = None, **kwargs: Any) -> Callable[[dict], Any]:
    def run(world):
        artifact = workflow.upload(world["aws"], run_id, run_id.encode())  # the training job's output
        context = world["context"](run_id=run_id)
        if owner:
            context["task"] = SimpleNamespace(owner=owner)
        world["aws"].reset_calls()
        return register_operator(artifact, **kwargs).execute(context)

    return run


def _set_status(name: str, status: str, ladder: dict) -> Callable[[dict], Any]:
    def run(world):
        return SetModelApprovalOperator(
            task_id="decide", model_package_arn=world[name], status=status, reason="automation", ladder=ladder
        ).execute(world["context"](task_id="decide"))

    return run


def _commit_with_no_answers(world):
    request = prepare_step(world["v1"], "test", world["context"], run_id="attempt")
    world["aws"].reset_calls()
    return commit_step(request, world["context"], run_id="attempt")  # the approve task was marked success


def _commit_unknown_request(world):
    forged = {"request_id": "f" * 32, "group": "churn", "environment": "test", "arn": world["v1"]}
    return CommitPromotionOperator(task_id="commit", request=forged, ladder=LADDER).execute(
        world["context"](task_id="commit")
    )


def _fresh(world, name: str, approved: bool = True, promoted_to: tuple[str, ...] = ()) -> str:
    """A version of the attempt's own (the shared world is never changed by an attempt)."""
    arn = workflow.register(world["aws"], world["context"], f"run-{name}", name.encode())["arn"]
    if approved:
        workflow.approve(arn, world["context"], run_id=f"approve-{name}")
    for env in promoted_to:
        promote(arn, env, world["context"], run_id=f"{name}-{env}")
    return arn


def _revoked_while_waiting(world):
    arn = _fresh(world, "revoked", promoted_to=("dev",))
    request = prepare_step(arn, "test", world["context"], run_id="attempt-revoked")
    answer_step(request, 0, "carol", world["context"], run_id="attempt-revoked")
    world["aws"].boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="revoked: leak found"
    )
    world["aws"].reset_calls()
    return commit_step(request, world["context"], run_id="attempt-revoked")


def _moved_while_waiting(world):
    first = _fresh(world, "moved-1", promoted_to=("dev",))
    request = prepare_step(first, "test", world["context"], run_id="old-run")
    answer_step(request, 0, "carol", world["context"], run_id="old-run")
    _fresh(world, "moved-2", promoted_to=("dev", "test"))
    world["aws"].reset_calls()
    return commit_step(request, world["context"], run_id="old-run")  # the old task, cleared and run again


def _climb_after_rollback(world):
    arn = _fresh(world, "rolled", promoted_to=("dev",))
    promote(None, "dev", world["context"], run_id="rollback-dev", action="rollback")
    world["aws"].reset_calls()
    return prepare_step(arn, "test", world["context"], run_id="attempt-climb")


def _quorum_twice(world):
    ladder = {
        **LADDER,
        "environments": [
            {**LADDER["environments"][0], "approvers": ["bob", "carol"], "quorum": 2},
            *LADDER["environments"][1:],
        ],
    }
    arn = _fresh(world, "quorum")
    request = prepare_step(arn, "dev", world["context"], ladder=ladder, run_id="attempt-quorum")
    answer_step(request, 0, "bob", world["context"], ladder=ladder, run_id="attempt-quorum")
    world["aws"].reset_calls()
    return answer_step(request, 1, "bob", world["context"], ladder=ladder, run_id="attempt-quorum")


def _shift_to_unpromoted(world):
    """Someone with SageMaker access builds churn-prod by hand with v4 as the challenger, then a DAG
    shifts traffic to it."""
    sm = world["aws"].boto3_client("sagemaker")
    for name in ("v5", "v4"):
        sm.create_model(
            ModelName=f"hand-{name}",
            ExecutionRoleArn=ROLE,
            Containers=[{"ModelPackageName": world[name]}],
        )
    sm.create_endpoint_config(
        EndpointConfigName="hand-made",
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": f"hand-{name}",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, name, weight in (("champion", "v5", 1.0), ("challenger", "v4", 0.0))
        ],
    )
    sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="hand-made")
    advance_endpoint(world["aws"], "churn-prod", "InService")  # a live endpoint, as SageMaker makes it
    world["aws"].reset_calls()
    try:
        return shift_operator(steps=[100], bake_seconds=0, ladder=LADDER).execute(
            world["context"](task_id="shift")
        )
    finally:
        writes = write_calls(world["aws"])
        sm.delete_endpoint(EndpointName="churn-prod")
        advance_endpoint(world["aws"], "churn-prod", None)
        sm.delete_endpoint_config(EndpointConfigName="hand-made")
        for name in ("v5", "v4"):
            sm.delete_model(ModelName=f"hand-{name}")
        world["aws"].reset_calls()
        for call, count in writes.items():  # keep the attempt's own writes for the check
            world["writes_before_cleanup"] = {**world.get("writes_before_cleanup", {}), call: count}


def _reuploaded(key: str, body: bytes) -> Callable[[dict], Callable[[], None]]:
    """The training job writes again under v2's run (new bytes at its URI, or another URI)."""

    def run(world):
        workflow.upload(world["aws"], key, body)
        return lambda: workflow.upload(world["aws"], "run-v2", b"v2")  # the world's own artifact, as it was

    return run


def _retry_v2(key: str = "run-v2") -> Callable[[dict], Any]:
    """A retry of v2's registration run, naming the artifact at ``key``."""

    def run(world):
        artifact = f"s3://{workflow.BUCKET}/churn/{key}/model.tar.gz"
        return register_operator(artifact).execute(world["context"](run_id="run-v2"))

    return run


# ------------------------------------------------------------------------------------------ tampering
# Each tampering returns what undoes it: the world is shared by the module's cases.
def _tamper_artifact(name: str) -> Callable[[dict], Callable[[], None]]:
    def run(world):
        s3 = world["aws"].boto3_client("s3")
        key = f"churn/run-{name}/model.tar.gz"
        s3.put_object(Bucket=workflow.BUCKET, Key=key, Body=b"swapped after registration")
        return lambda: s3.put_object(Bucket=workflow.BUCKET, Key=key, Body=name.encode())

    return run


def _revoke(world, name: str = "v5") -> Callable[[], None]:
    sm = world["aws"].boto3_client("sagemaker")
    sm.update_model_package(
        ModelPackageArn=world[name], ModelApprovalStatus="Rejected", ApprovalDescription="revoked: leak found"
    )
    return lambda: sm.update_model_package(ModelPackageArn=world[name], ModelApprovalStatus="Approved")


def _edit_pointer(environment: str, raw: str | None = None, **changes: Callable[[dict], Any]):
    """Someone with Parameter Store access edits an environment's pointer by hand."""

    def run(world):
        ssm = world["aws"].boto3_client("ssm")
        name = f"/modelreg/churn/{environment}"
        original = ssm.get_parameter(Name=name)["Parameter"]["Value"]
        pointer = json.loads(original)
        pointer.update({key: value(world) for key, value in changes.items()})
        ssm.put_parameter(Name=name, Value=raw or json.dumps(pointer), Type="String", Overwrite=True)
        return lambda: ssm.put_parameter(Name=name, Value=original, Type="String", Overwrite=True)

    return run


def _other_group_version(world):
    """An Approved version of another group, for a pointer that names it."""
    artifact = workflow.upload(world["aws"], "other", b"other model")
    version = register_operator(artifact, group="fraud").execute(world["context"](run_id="run-other"))
    world["aws"].boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved"
    )
    return version["arn"]


def _forge_stage_records(world):
    """Someone with UpdateModelPackage writes v4's dev, test and uat records in the provider's format."""
    keys = [f"modelreg:env:{env}" for env in ("dev", "test", "uat")]
    sm = world["aws"].boto3_client("sagemaker")
    sm.update_model_package(
        ModelPackageArn=world["v4"],
        CustomerMetadataProperties={
            key: f"promoted|2026-11-23T00:00:00+00:00|bob|{'a' * 32}" for key in keys
        },
    )
    return lambda: sm.update_model_package(
        ModelPackageArn=world["v4"], CustomerMetadataPropertiesToRemove=keys
    )


# (attempt, tampering before it, the attempt, the refusal must say)
CASES: list[tuple[str, Callable[[dict], None] | None, Callable[[dict], Any], str]] = [
    # -- deploy: only what the environment's pointer names now or named before
    ("deploy a version pending approval", None, _deploy("v2"), "was never promoted to 'prod'"),
    ("deploy a rejected version", None, _deploy("v3"), "was never promoted to 'prod'"),
    (
        "deploy an approved version never promoted anywhere",
        None,
        _deploy("v4"),
        "was never promoted to 'prod'",
    ),
    ("deploy dev's version to prod's endpoint", None, _deploy("v1"), "was never promoted to 'prod'"),
    ("deploy to prod's endpoint as environment dev", None, _deploy("v1", "dev"), "serves 'prod', not 'dev'"),
    ("deploy to an endpoint bound to no environment", None, _deploy("v5", "prod", "rogue-ep"), "not bound"),
    (
        "deploy after the artifact was swapped in S3",
        _tamper_artifact("v5"),
        _deploy("v5"),
        "changed since registration",
    ),
    ("deploy a revoked version prod still points to", _revoke, _deploy("v5"), "is Rejected now"),
    (
        "shift traffic to a variant serving an unpromoted version",
        None,
        _shift_to_unpromoted,
        "never promoted",
    ),
    # -- promotion: approved, unchanged, one step at a time, by the environment's approvers
    ("promote a pending version to dev", None, _prepare("v2", "dev"), "is PendingManualApproval"),
    ("skip test: promote from dev straight to uat", None, _prepare("v1", "uat"), "would skip 'test'"),
    ("skip everything: promote to prod", None, _prepare("v1", "prod"), "would skip"),
    (
        "promote after the artifact was swapped in S3",
        _tamper_artifact("v1"),
        _prepare("v1", "test"),
        "changed since registration",
    ),
    (
        "forged stage records for dev, test and uat, then prod",
        _forge_stage_records,
        _prepare("v4", "prod"),
        "would skip 'dev', 'test', 'uat'",
    ),
    ("a rolled-back version climbs further", None, _climb_after_rollback, "rolled back out of 'dev'"),
    (
        "a task's approvers widen the ladder",
        None,
        _prepare("v1", "test", approvers=["mallory"]),
        "never widen",
    ),
    (
        "a user outside the ladder approves a promotion",
        None,
        _answer_promotion("v1", "test", "mallory"),
        "'mallory' is not an approver",
    ),
    (
        "the prod approver approves the test step",
        None,
        _answer_promotion("v1", "test", "dave"),
        "'dave' is not an approver",
    ),
    (
        "the registrant approves a promotion",
        None,
        _answer_promotion("v4", "dev", "alice", ALICE_APPROVES),
        "registered this version",
    ),
    ("one person answers twice in a quorum of two", None, _quorum_twice, "already answered"),
    (
        "commit with nobody's approval (approval tasks marked success)",
        None,
        _commit_with_no_answers,
        "0 of 1 approvals",
    ),
    ("commit a request that was never made (edited XCom)", None, _commit_unknown_request, "no request"),
    (
        "the version is revoked while its approvers are asked",
        None,
        _revoked_while_waiting,
        "only Approved versions are promoted",
    ),
    (
        "an old promotion task is cleared after the environment moved on",
        None,
        _moved_while_waiting,
        "changed while this promotion waited",
    ),
    # -- decisions: a person's, never the registrant's, never over another decision
    (
        "the registrant approves her own version",
        None,
        _answer_registration("v2", "alice"),
        "registered this version",
    ),
    (
        "the DAG's owner approves a version its scheduled run registered",
        None,
        lambda w: _answer_registration_of(w, "bob"),
        "registered this version",
    ),
    (
        "a registration approval over a decision made in SageMaker",
        None,
        _answer_registration("v3", "bob"),
        "never overwritten",
    ),
    (
        "register as Approved without the ladder allowing it",
        None,
        _register(initial_status="Approved"),
        "does not allow automated approval",
    ),
    (
        "set Approved by automation without the ladder allowing it",
        None,
        _set_status("v2", "Approved", LADDER),
        "does not allow automated approval",
    ),
    (
        "automation approves over a person's rejection",
        None,
        _set_status("v3", "Approved", AUTOMATION),
        "never over a decision made before",
    ),
    (
        "automation approves in a one-environment ladder",
        None,
        _set_status("v2", "Approved", {**AUTOMATION, "environments": [LADDER["environments"][3]]}),
        "single environment",
    ),
    (
        "reserved modelreg: metadata at registration",
        None,
        _register(custom_metadata={"modelreg:env:dev": f"promoted|x|bob|{'a' * 32}"}),
        "reserved prefix",
    ),
    (
        "a registration retry with new bytes at the same URI",
        _reuploaded("run-v2", b"other bytes"),
        _retry_v2(),
        "inputs differ",
    ),
    (
        "a registration retry with another artifact",
        _reuploaded("elsewhere", b"v2"),
        _retry_v2("elsewhere"),
        "inputs differ",
    ),
    # -- resolution: a pointer is trusted only when the pointer, the version and the audit log agree
    (
        "resolve after the artifact was swapped in S3",
        _tamper_artifact("v5"),
        _resolve("prod"),
        "changed since registration",
    ),
    ("resolve prod after its version was revoked", _revoke, _resolve("prod"), "is Rejected now"),
    (
        "resolve a pointer written by hand at an unapproved version",
        _edit_pointer("dev", arn=lambda w: w["v2"], version=lambda w: 2),
        _resolve("dev"),
        "does not name the run that wrote it",
    ),
    (
        "resolve a pointer naming another group's approved version",
        _edit_pointer("prod", arn=_other_group_version, version=lambda w: 1),
        _resolve("prod"),
        "is not version 1 of group 'churn'",
    ),
    (
        "resolve a pointer whose previous version was forged",
        _edit_pointer("prod", previous_arn=lambda w: w["v4"], previous_version=lambda w: 4),
        _resolve("prod"),
        "differ from what the audit log recorded",
    ),
    (
        "resolve a pointer that is not JSON a provider writes",
        _edit_pointer("prod", raw="v4"),
        _resolve("prod"),
        "never writes",
    ),
]


def _answer_registration_of(world, owner: str):
    """A scheduled run of a DAG owned by bob registers a version (the registrant is airflow:<dag>); bob
    then answers its approval."""
    version = _register(owner=owner, registered_by=None, run_id="run-scheduled")(world)
    op = RequestModelApprovalOperator(task_id="approve", model_package_arn=version["arn"], ladder=LADDER)
    world["aws"].reset_calls()
    return op.execute_complete(world["context"](task_id="approve"), answer(owner))


def _governed_writes(aws) -> set[str]:
    """Writes outside the audit log and the environment lock."""
    return {
        call
        for call in write_calls(aws)
        if not call.startswith(f"s3:PUT /{AUDIT_BUCKET}/") and not call.startswith("ssm:")
    }


@pytest.mark.parametrize(("case", "tamper", "attempt", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bypass_is_refused_and_recorded(
    standin, world, tally, capsys, caplog, case, tamper, attempt, expected
):
    aws = standin
    aws.clear_faults()
    undo = tamper(world) if tamper else None
    aws.reset_calls()
    world.pop("writes_before_cleanup", None)
    capsys.readouterr()  # the world's own log lines
    caplog.clear()
    try:
        with caplog.at_level(logging.INFO), pytest.raises(Exception) as raised:  # noqa: PT011 - the message is what is checked
            attempt(world)
        message = str(raised.value)
        assert expected in message, f"{case}: unclear refusal {message!r}"
        logged = "".join(capsys.readouterr()) + caplog.text
        assert "AUDIT" in logged, f"{case}: no AUDIT record in the task log"
        # Attempts that prepare the world reset the counters right before the refused step.
        writes = _governed_writes(aws) | set(world.pop("writes_before_cleanup", {}))
        writes = {call for call in writes if not call.startswith(f"s3:PUT /{AUDIT_BUCKET}/")}
        assert writes == set(), f"{case}: wrote {writes}"
    except AssertionError as failure:
        tally.record("bypass", case, "lost", str(failure))
        raise
    finally:
        if undo:
            undo()
    tally.record("bypass", case, "refused", message)
