"""More attempts to walk around the release policy, as an attacker or a new user would.

Each test tries one way around one rule and asserts the refusal (or the unchanged end state) that the
README and docs/governance.md promise: a triggering user hidden behind `registered_by`, automation reopening a
person's rejection, a task's own ladder, a version rolled back out of an earlier environment, another pointer
prefix, a version made by hand with copied metadata, a squatted endpoint config, a swapped artifact under a
traffic shift. Unlike test_bypass.py, each builds its own small world on a clean stand-in.
"""

from __future__ import annotations

import contextlib
import json
import threading

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred

from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.hooks.audit_log import AuditLogHook
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from tests.helpers import (
    LADDER,
    PROD_LADDER,
    advance_endpoint,
    answer,
    answer_step,
    commit_step,
    governed_writes,
    prepare_step,
    promote,
    read_pointer,
    register_operator,
)
from tests.operators.deploying import (
    ROLE,
    ab,
    deploy_operator,
    run_deferrable,
    shift_operator,
    transitions,
    triggered,
    weights,
)
from tests.reliability import workflow

AUTOMATION = {**LADDER, "automated_registration_approval": True}
ALICE_APPROVES = {**LADDER, "registration_approvers": ["bob", "alice"]}


# ------------------------------------------------------------------------------------------- helpers
@pytest.fixture
def world(aws, make_context):
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    return {"aws": aws, "context": make_context}


def _status(aws, arn: str) -> str:
    return aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]


def _approved(world, name: str, body: bytes | None = None) -> str:
    """A version registered by alice and approved by bob (registration approval)."""
    arn = workflow.register(world["aws"], world["context"], f"run-{name}", body or name.encode())["arn"]
    workflow.approve(arn, world["context"], run_id=f"approve-{name}")
    return arn


def _refused(call, *expected: str) -> str:
    """``call`` must fail with a refusal whose message names each of ``expected``."""
    with pytest.raises((AirflowFailException, Exception)) as raised:  # noqa: PT011 - the message is checked
        call()
    message = str(raised.value)
    assert "Refused" in message or "refus" in message.lower(), f"not a refusal: {message!r}"
    for text in expected:
        assert text in message, f"refusal does not say {text!r}: {message!r}"
    return message


def _register_approve(world, ladder, person: str, arn: str, option: str = "Approve", run_id: str = "approve"):
    op = RequestModelApprovalOperator(task_id="approve", model_package_arn=arn, ladder=ladder)
    return op.execute_complete(world["context"](task_id="approve", run_id=run_id), answer(person, option))


def _reject(world, arn: str) -> None:
    """bob rejects the version in the registration approval (downstream is skipped, or not)."""
    with contextlib.suppress(AirflowSkipException):
        _register_approve(world, LADDER, "bob", arn, option="Reject", run_id="first-look")
    assert _status(world["aws"], arn) == "Rejected"


def _in_prod(world, *names: str) -> list[str]:
    """Versions registered, approved and promoted (in this order) to prod of the one-environment ladder."""
    arns = []
    for name in names:
        arn = _approved(world, name)
        promote(arn, "prod", world["context"], people=["dave"], ladder=PROD_LADDER, run_id=f"prod-{name}")
        arns.append(arn)
    return arns


def _deploy(world, variants: list[tuple[str, str, float]], ladder=PROD_LADDER, run_id: str = "deploy-run"):
    return deploy_operator(
        [{"name": n, "model_package_arn": arn, "weight": w} for n, arn, w in variants], ladder=ladder
    ).execute(world["context"](task_id="deploy", run_id=run_id))


def _served(aws, endpoint: str = "churn-prod") -> set[str]:
    """The model package ARNs every variant of an endpoint serves now."""
    sm = aws.boto3_client("sagemaker")
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    )
    served = set()
    for spec in [*config["ProductionVariants"], *config.get("ShadowProductionVariants", [])]:
        model = sm.describe_model(ModelName=spec["ModelName"])
        for container in model.get("Containers") or [model.get("PrimaryContainer") or {}]:
            served.add(container.get("ModelPackageName") or f"raw:{container.get('ModelDataUrl')}")
    return served


# ------------------------------------------------------------------------ separation of duties
def test_triggering_user_counts_even_when_registered_by_is_given(world):
    """alice triggers the training run; the task (or a templated ``{{ dag_run.conf }}``) names a bot as
    ``registered_by``. README: the registrant is 'the triggering user, registered_by, the training DAG's
    owners' - alice must still not approve her own version."""
    aws, context = world["aws"], world["context"]
    artifact = workflow.upload(aws, "run-bot", b"bot")
    ctx = context(run_id="run-bot")
    ctx["dag_run"].triggering_user_name = "alice"
    version = register_operator(artifact, registered_by="ci-bot", ladder=ALICE_APPROVES).execute(ctx)
    _refused(
        lambda: _register_approve(world, ALICE_APPROVES, "alice", version["arn"]), "registered this version"
    )
    assert _status(aws, version["arn"]) == "PendingManualApproval"


def test_long_registrant_list_is_not_truncated_away(world):
    """Registrants are joined and cut at 256 characters: a registrant named last silently drops out and may
    then approve her own version. Either the registration is refused or carol's answer is."""
    aws, context = world["aws"], world["context"]
    ladder = {**LADDER, "registration_approvers": ["bob", "carol"]}
    artifact = workflow.upload(aws, "run-long", b"long")
    try:
        version = register_operator(
            artifact, registrants=["x" * 125, "y" * 125, "carol"], ladder=ladder
        ).execute(context(run_id="run-long"))
    except (AirflowFailException, InvalidInputError) as refusal:  # refusing a list that does not fit holds
        assert "carol" in str(refusal) or "registrant" in str(refusal).lower(), str(refusal)
        return
    _refused(lambda: _register_approve(world, ladder, "carol", version["arn"]), "registered this version")
    assert _status(aws, version["arn"]) == "PendingManualApproval"


# ------------------------------------------------------------------------------ automation and decisions
def test_automation_cannot_undo_a_persons_rejection_via_pending(world):
    """bob rejects v (a person's decision). Automation may not approve over it (test_bypass checks the direct
    way). Here it first resets the version to PendingManualApproval, then approves it as 'pending'."""
    aws, context = world["aws"], world["context"]
    arn = workflow.register(aws, context, "run-rej", b"rej")["arn"]
    _reject(world, arn)
    assert _status(aws, arn) == "Rejected"
    try:
        for status in ("PendingManualApproval", "Approved"):
            SetModelApprovalOperator(
                task_id=f"set-{status}",
                model_package_arn=arn,
                status=status,
                reason="retry",
                ladder=AUTOMATION,
            ).execute(context(task_id=f"set-{status}"))
    except AirflowFailException as refusal:
        assert "Refused" in str(refusal)
    assert _status(aws, arn) == "Rejected", "a person's rejection was overwritten by automation"


def test_automation_cannot_reopen_a_rejection_for_another_answer(world):
    """Same, with a ladder that allows no automated approval at all: automation reopens bob's rejection, and
    the registration approval (which must never overwrite a decision made elsewhere) asks again."""
    aws, context = world["aws"], world["context"]
    arn = workflow.register(aws, context, "run-rej2", b"rej2")["arn"]
    _reject(world, arn)
    try:
        SetModelApprovalOperator(
            task_id="reopen", model_package_arn=arn, status="PendingManualApproval", ladder=LADDER
        ).execute(context(task_id="reopen"))
        # ... and a new registration approval now "decides" over bob's rejection (here bob changes his
        # mind, but any registration approver, e.g. in a scheduled run, would do).
        _register_approve(world, LADDER, "bob", arn, run_id="second-look")
    except AirflowFailException as refusal:
        assert "Refused" in str(refusal)
    assert _status(aws, arn) == "Rejected", "automation reopened a person's decision"


# ------------------------------------------------------------------------------ the ladder is policy
def test_task_ladder_cannot_widen_the_variable_approvers(world, monkeypatch):
    """The release is configured in the modelreg_ladder Variable; a task's approvers may narrow it, never
    widen it. A task that passes its own ``ladder=`` naming mallory as registration approver widens it."""
    from airflow_modelreg.config import resolve_ladder

    monkeypatch.setenv("AIRFLOW_VAR_MODELREG_LADDER", json.dumps(LADDER))
    assert resolve_ladder(None).registration_approvers == ("bob",)  # the Variable is what governs
    aws, context = world["aws"], world["context"]
    arn = workflow.register(aws, context, "run-var", b"var")["arn"]
    mallorys = {**LADDER, "registration_approvers": ["mallory"]}
    _refused(lambda: _register_approve(world, mallorys, "mallory", arn), "differs from the 'modelreg_ladder'")
    assert _status(aws, arn) == "PendingManualApproval"


def test_task_ladder_cannot_enable_automation_the_variable_forbids(world, monkeypatch):
    monkeypatch.setenv("AIRFLOW_VAR_MODELREG_LADDER", json.dumps(LADDER))
    aws, context = world["aws"], world["context"]
    artifact = workflow.upload(aws, "run-auto", b"auto")
    _refused(
        lambda: register_operator(artifact, initial_status="Approved", ladder=AUTOMATION).execute(
            context(run_id="run-auto")
        ),
        "differs from the 'modelreg_ladder'",
    )


def test_commit_rechecks_a_quorum_raised_after_the_request(world):
    """prod needed 1 approval when asked; the ladder now needs 2: commit must not go ahead with 1."""
    arn = _approved(world, "q")
    request = prepare_step(arn, "prod", world["context"], ladder=PROD_LADDER, run_id="q")
    answer_step(request, 0, "dave", world["context"], ladder=PROD_LADDER, run_id="q")
    stricter = {
        **PROD_LADDER,
        "environments": [{**PROD_LADDER["environments"][0], "approvers": ["dave", "erin"], "quorum": 2}],
    }
    _refused(lambda: commit_step(request, world["context"], ladder=stricter, run_id="q"), "1 of 2")
    assert read_pointer(world["aws"], "prod") is None


def test_commit_rechecks_an_approver_removed_after_the_answer(world):
    arn = _approved(world, "rm")
    request = prepare_step(arn, "prod", world["context"], ladder=PROD_LADDER, run_id="rm")
    answer_step(request, 0, "dave", world["context"], ladder=PROD_LADDER, run_id="rm")
    without_dave = {
        **PROD_LADDER,
        "environments": [{**PROD_LADDER["environments"][0], "approvers": ["erin"]}],
    }
    _refused(lambda: commit_step(request, world["context"], ladder=without_dave, run_id="rm"))
    assert read_pointer(world["aws"], "prod") is None


def test_answer_through_an_edited_request_does_not_count(world):
    """The approve task's request (XCom) is edited to say environment 'dev' so that bob, dev's approver, may
    answer a request for 'test' (carol's). The commit reads the request back from the audit log."""
    arn = _approved(world, "edit")
    promote(arn, "dev", world["context"], run_id="edit-dev")
    request = prepare_step(arn, "test", world["context"], run_id="edit-test")
    forged = {**request, "environment": "dev", "approvers": ["bob"]}
    answer_step(forged, 0, "bob", world["context"], run_id="edit-test")
    _refused(lambda: commit_step(request, world["context"], run_id="edit-test"), "0 of 1")
    assert read_pointer(world["aws"], "test") is None


# ------------------------------------------------------------------------------ climbing the ladder
def test_version_rolled_back_out_of_dev_climbs_no_further(world):
    """v2 reached dev and test; dev is then rolled back (v2 is bad). README: 'a version ... rolled back out,
    anywhere it is promoted ... refused'; issue 12: 'a rolled-back version cannot climb further without a new
    approval'. Promoting v2 from test to uat must be refused."""
    context = world["context"]
    v1, v2 = _approved(world, "rb1"), _approved(world, "rb2")
    promote(v1, "dev", context, run_id="v1-dev")
    promote(v2, "dev", context, run_id="v2-dev")
    promote(v2, "test", context, run_id="v2-test")
    promote(None, "dev", context, run_id="rollback-dev", action="rollback")
    assert read_pointer(world["aws"], "dev")["arn"] == v1
    world["aws"].reset_calls()
    _refused(lambda: prepare_step(v2, "uat", context, run_id="climb"), "rolled back")
    assert governed_writes(world["aws"]) == {}


def test_promotion_under_another_parameter_prefix_does_not_skip_the_real_environment(world):
    """``parameter_prefix`` is a templated task parameter. Promoting v to dev under '/sandbox' leaves the
    real dev (/modelreg/churn/dev) untouched, yet writes v's dev stage record; v then climbs to the real test
    without ever running in the real dev."""
    context = world["context"]
    from airflow_modelreg.operators.promote import CommitPromotionOperator

    arn = _approved(world, "px")
    request = prepare_step(arn, "dev", context, run_id="px-dev", parameter_prefix="/sandbox")
    answer_step(request, 0, "bob", context, run_id="px-dev")
    CommitPromotionOperator(
        task_id="promote_to_dev.commit", request=request, ladder=LADDER, parameter_prefix="/sandbox"
    ).execute(context(task_id="promote_to_dev.commit", run_id="px-dev"))
    assert read_pointer(world["aws"], "dev", prefix="/sandbox")["arn"] == arn
    assert read_pointer(world["aws"], "dev") is None
    _refused(lambda: prepare_step(arn, "test", context, run_id="px-test"), "skip")


def test_hand_made_version_with_provider_metadata_is_not_promoted(world):
    """Someone with sagemaker:CreateModelPackage (not denied by docs/governance.md's example policy unless a
    ladder stage is set) creates a version directly as Approved, copying the provider's modelreg: digest
    and URI keys and naming no registrant. The provider never registered it (no 'registered' event) and
    nobody approved it; README: 'modelreg: metadata written by anyone but the provider' is refused."""
    aws, context = world["aws"], world["context"]
    real = workflow.register(aws, context, "run-real", b"real")  # the group exists, and a real digest
    props = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=real["arn"])[
        "CustomerMetadataProperties"
    ]
    artifact = workflow.upload(aws, "run-hand", b"real")  # same bytes, so the digest matches
    forged = aws.boto3_client("sagemaker").create_model_package(
        ModelPackageGroupName="churn",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "img:latest", "ModelDataUrl": artifact}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={
            "modelreg:artifact-sha256": props["modelreg:artifact-sha256"],
            "modelreg:artifact-uri": artifact,
        },
    )["ModelPackageArn"]
    aws.reset_calls()
    _refused(lambda: prepare_step(forged, "dev", context, run_id="hand-dev"))
    assert governed_writes(aws) == {}


# ------------------------------------------------------------------------------ deploy and traffic
def test_deploy_refuses_a_version_prod_ran_two_changes_ago(world):
    v1, v2, v3 = _in_prod(world, "d1", "d2", "d3")
    world["aws"].reset_calls()
    _refused(lambda: _deploy(world, [("champion", v1, 1.0), ("challenger", v3, 0.0)]), v1)
    assert governed_writes(world["aws"]) == {}


def test_deploy_never_serves_the_version_rolled_back_out(world):
    v1, v2 = _in_prod(world, "r1", "r2")
    promote(
        None, "prod", world["context"], people=["dave"], ladder=PROD_LADDER, run_id="rb", action="rollback"
    )
    assert read_pointer(world["aws"], "prod")["arn"] == v1
    world["aws"].reset_calls()
    _refused(lambda: _deploy(world, [("champion", v1, 1.0), ("challenger", v2, 0.0)]), v2)
    _refused(lambda: _deploy(world, [("live", v2, 1.0)], run_id="deploy-2"), v2)
    assert governed_writes(world["aws"]) == {}


def _config_of(aws, endpoint: str = "churn-prod") -> str:
    return aws.boto3_client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]


def _revoke(aws, arn: str) -> None:
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="revoked: leak found"
    )


def test_a_version_revoked_while_its_deployment_waits_in_the_triggerer_is_not_left_serving(world):
    """Allowed when it starts, the deployment waits (minutes on AWS) while the version is revoked in the
    registry. When the wait ends, the deploy must neither report success nor leave the endpoint serving the
    revoked version: the endpoint goes back to the config it served before, and the refusal is audited."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "w1", "w2")
    _deploy(world, [("champion", v1, 1.0)], run_id="before")
    before = _config_of(aws)
    operator = deploy_operator(ab(v1, v2, 100, 0), deferrable=True)
    context = world["context"](task_id="deploy", run_id="during")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    _revoke(aws, v2)
    event = triggered(deferred.value)
    assert event["status"] == "InService" and event["config"] != before  # the new config went live
    _refused(
        lambda: run_deferrable(operator, context, resume=(deferred.value.method_name, event)), v2, "Rejected"
    )
    advance_endpoint(aws, "churn-prod", "InService")
    assert _config_of(aws) == before
    assert _served(aws) == {v1}
    refusals = AuditLogHook(log_uri=PROD_LADDER["audit_log"]).events("churn", kind="refused")
    assert any(v2 in event["reason"] and "Rejected" in event["reason"] for event in refusals)


def test_a_version_revoked_while_a_blocking_deployment_waits_is_not_left_serving(world):
    """The same, with the deployment waiting in the worker (not deferrable)."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "b1", "b2")
    _deploy(world, [("champion", v1, 1.0)], run_id="before")
    before = _config_of(aws)

    def revoke_then_let_the_update_finish() -> None:
        # Transitions wait for this thread (not for a clock): the revocation always lands mid-update.
        while aws.peek_endpoint("churn-prod")["EndpointStatus"] != "Updating":
            threading.Event().wait(0.01)
        _revoke(aws, v2)
        aws.set_endpoint_state("churn-prod", settle_now=True)

    revoker = threading.Thread(target=revoke_then_let_the_update_finish, daemon=True)
    with transitions(aws, 3600):
        revoker.start()
        _refused(
            lambda: _deploy(world, [("champion", v1, 1.0), ("challenger", v2, 0.0)], run_id="during"), v2
        )
        revoker.join(timeout=10)
    advance_endpoint(aws, "churn-prod", "InService")
    assert _config_of(aws) == before
    assert _served(aws) == {v1}


def test_a_new_endpoint_whose_version_was_revoked_while_it_was_created_is_deleted(world):
    aws = world["aws"]
    (v1,) = _in_prod(world, "n1")
    operator = deploy_operator([{"name": "live", "model_package_arn": v1, "weight": 1.0}], deferrable=True)
    context = world["context"](task_id="deploy", run_id="new")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)
    _revoke(aws, v1)
    event = triggered(deferred.value)
    _refused(
        lambda: run_deferrable(operator, context, resume=(deferred.value.method_name, event)), v1, "Rejected"
    )
    advance_endpoint(aws, "churn-prod", None)  # deleted: it never served anything approved


def test_deploy_refuses_an_unpromoted_shadow_variant(world):
    (v1,) = _in_prod(world, "sh1")
    rogue = _approved(world, "sh-rogue")
    world["aws"].reset_calls()
    _refused(
        lambda: DeployModelOperator(
            task_id="deploy",
            environment="prod",
            endpoint_name="churn-prod",
            variants=[{"name": "live", "model_package_arn": v1}],
            shadow_variants=[{"name": "shadow", "model_package_arn": rogue}],
            execution_role_arn=ROLE,
            poll_interval=0.1,
            ladder=PROD_LADDER,
        ).execute(world["context"](task_id="deploy")),
        rogue,
    )
    assert governed_writes(world["aws"]) == {}


def test_second_rollback_never_restores_the_bad_version(world):
    v1, v2, v3 = _in_prod(world, "s1", "s2", "s3")
    people = {"people": ["dave"], "ladder": PROD_LADDER, "action": "rollback"}
    promote(None, "prod", world["context"], run_id="rb-1", **people)
    assert read_pointer(world["aws"], "prod")["arn"] == v2
    promote(None, "prod", world["context"], run_id="rb-2", **people)
    assert read_pointer(world["aws"], "prod")["arn"] == v1


def test_deploy_refuses_a_squatted_endpoint_config(world):
    """Config names derive from the request, so anyone may compute one. A config of that name, made by hand
    with a model serving an unpromoted version, must not be used (ensure_model refuses a squatted model;
    the config should get the same check). docs/governance.md's policy does not deny CreateEndpointConfig."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "c1", "c2")
    rogue = _approved(world, "rogue")  # Approved, never promoted anywhere
    op = DeployModelOperator(
        task_id="deploy",
        environment="prod",
        endpoint_name="churn-prod",
        variants=[
            {"name": "champion", "model_package_arn": v1, "weight": 1.0},
            {"name": "challenger", "model_package_arn": v2, "weight": 0.0},
        ],
        execution_role_arn=ROLE,
        poll_interval=0.1,
        ladder=PROD_LADDER,
    )
    planned = op.deployment_plan()
    sm = aws.boto3_client("sagemaker")
    sm.create_model(ModelName="squat", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": rogue}])
    sm.create_endpoint_config(
        EndpointConfigName=planned["config"],
        ProductionVariants=[
            {
                "VariantName": name,
                "ModelName": "squat",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for name, weight in (("champion", 1.0), ("challenger", 0.0))
        ],
    )
    try:
        op.execute(world["context"](task_id="deploy"))
    except AirflowFailException as refusal:
        assert "Refused" in str(refusal)
    endpoint = sm.list_endpoints(NameContains="churn-prod")["Endpoints"]
    if endpoint:
        assert _served(aws) <= {v1, v2}, f"churn-prod serves {_served(aws)}"


def test_shift_traffic_refuses_a_swapped_artifact(world):
    """The challenger's artifact is replaced in S3 after deployment; shifting all traffic to it must be
    refused as everywhere a model is used ('artifact changed since registration')."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "t1", "t2")
    _deploy(world, [("champion", v1, 1.0), ("challenger", v2, 0.0)])
    aws.boto3_client("s3").put_object(
        Bucket=workflow.BUCKET, Key="churn/run-t2/model.tar.gz", Body=b"swapped after approval"
    )
    aws.reset_calls()
    _refused(
        lambda: shift_operator(steps=[100], bake_seconds=0).execute(world["context"](task_id="shift")),
        "changed since registration",
    )
    assert governed_writes(aws) == {}


def test_shift_traffic_to_a_raw_model_variant(world):
    """A hand-made churn-prod whose challenger is a raw model (image + S3 artifact, no model package): the
    version it serves cannot be told, so the shift must be refused."""
    aws = world["aws"]
    (v1,) = _in_prod(world, "w1")
    sm = aws.boto3_client("sagemaker")
    sm.create_model(ModelName="pkg", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": v1}])
    sm.create_model(
        ModelName="raw",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": "img:latest", "ModelDataUrl": f"s3://{workflow.BUCKET}/evil.tar.gz"},
    )
    sm.create_endpoint_config(
        EndpointConfigName="hand",
        ProductionVariants=[
            {
                "VariantName": name,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for name, model, weight in (("champion", "pkg", 1.0), ("challenger", "raw", 0.0))
        ],
    )
    sm.create_endpoint(EndpointName="churn-prod", EndpointConfigName="hand")
    aws.set_endpoint_state("churn-prod", settle_now=True)
    aws.reset_calls()
    _refused(
        lambda: shift_operator(steps=[100], bake_seconds=0).execute(world["context"](task_id="shift")),
        "serves no version of the model registry",
    )
    assert {c for c in governed_writes(aws) if "UpdateEndpointWeights" in c} == set()


# ------------------------------------------------------------------------------ comparing variants
def _compare(**kwargs):
    from tests.operators.deploying import compare_operator

    return compare_operator(**kwargs)


def test_comparing_variants_of_an_endpoint_outside_the_environment_is_refused(world):
    aws = world["aws"]
    aws.reset_calls()
    _refused(
        lambda: _compare(endpoint_name="churn-shadow").execute(world["context"](task_id="compare")),
        "churn-shadow",
    )
    assert governed_writes(aws) == {}


def test_an_answer_from_someone_not_an_approver_of_the_environment_changes_no_weight(world):
    """Whoever answers the comparison (an XCom or REST call made to look like a HITL answer) must be one of
    prod's approvers: mallory's "Roll back" is refused and the weights stay."""
    from tests.operators.deploying import weights

    aws = world["aws"]
    v1, v2 = _in_prod(world, "c1", "c2")
    _deploy(world, [("champion", v1, 0.5), ("challenger", v2, 0.5)])
    before = weights(aws)
    operator = _compare()
    mallory = {**answer("mallory", option=operator.ROLL_BACK), "params_input": {}}
    _refused(
        lambda: operator.execute_complete(world["context"](task_id="compare"), mallory),
        "'mallory' is not an approver of 'prod'",
    )
    assert weights(aws) == before


# ------------------------------------------------- found by an adversarial review (issue 12), each first failing
def _challenger_share(aws) -> float:
    current = weights(aws, "DesiredWeight")
    return current["challenger"] / (current["challenger"] + current["champion"])


def test_a_traffic_shift_stops_and_restores_when_its_version_is_revoked_mid_shift(world):
    """v2 is revoked while the shift waits at 10% (in the triggerer): no further step is written, the
    starting weights go back, and the refusal names the version."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "s1", "s2")
    _deploy(world, [("champion", v1, 1.0), ("challenger", v2, 0.0)])
    operator = shift_operator(steps=[10, 50, 100], bake_seconds=0.2, deferrable=True)
    context = world["context"](task_id="shift", run_id="shift-run")
    with pytest.raises(TaskDeferred) as deferred:
        operator.execute(context)  # 10% set; waiting for InService
    _revoke(aws, v2)
    event = triggered(deferred.value)
    _refused(lambda: run_deferrable(operator, context, resume=(deferred.value.method_name, event)), v2)
    advance_endpoint(aws, "churn-prod", "InService")
    assert _challenger_share(aws) == 0.0
    rollbacks = AuditLogHook(log_uri=PROD_LADDER["audit_log"]).events("churn", kind="traffic-rolled-back")
    assert any("Rejected" in event["reason"] for event in rollbacks)


def test_a_blocking_traffic_shift_stops_when_its_version_is_revoked_during_a_bake(world):
    aws = world["aws"]
    v1, v2 = _in_prod(world, "b1", "b2")
    _deploy(world, [("champion", v1, 1.0), ("challenger", v2, 0.0)])
    revoked = threading.Event()

    def revoke_at_ten_percent() -> None:
        while not revoked.is_set():
            if weights(aws, "DesiredWeight").get("challenger", 0) > 0:
                _revoke(aws, v2)
                revoked.set()
            threading.Event().wait(0.01)

    revoker = threading.Thread(target=revoke_at_ten_percent, daemon=True)
    revoker.start()
    # The bake is long enough for the revoker to see 10% (it polls every 10 ms) on a loaded machine.
    operator = shift_operator(steps=[10, 100], bake_seconds=5.0)
    _refused(lambda: operator.execute(world["context"](task_id="shift", run_id="shift-blocking")), v2)
    revoked.set()
    revoker.join(timeout=10)
    advance_endpoint(aws, "churn-prod", "InService")
    assert _challenger_share(aws) == 0.0


def _compare_operator():
    return _compare()


@pytest.mark.parametrize("how", ["revoked", "two promotions ago"])
def test_roll_back_in_a_variant_comparison_never_gives_all_traffic_to_a_champion_prod_may_not_serve(
    world, how
):
    aws = world["aws"]
    v1, v2 = _in_prod(world, "c1", "c2")
    _deploy(world, [("champion", v1, 0.5), ("challenger", v2, 0.5)])
    before = weights(aws, "DesiredWeight")
    if how == "revoked":
        _revoke(aws, v1)
    else:
        _in_prod(world, "c3")  # v1 is neither prod's current version nor the one before
    operator = _compare_operator()
    dave = {**answer("dave", option=operator.ROLL_BACK), "params_input": {}}
    _refused(lambda: operator.execute_complete(world["context"](task_id="compare"), dave), v1)
    assert weights(aws, "DesiredWeight") == before


def test_a_roll_back_applied_again_by_a_retry_changes_the_weights_once(world):
    """The comparison's answer can be applied twice (a retry after Airflow failed the try that applied it):
    the second finds the endpoint updating from the first, waits it out, and writes no weights again."""
    aws = world["aws"]
    v1, v2 = _in_prod(world, "r1", "r2")
    _deploy(world, [("champion", v1, 0.5), ("challenger", v2, 0.5)])
    operator = _compare_operator()
    operator.poll_interval = 0.2
    dave = {**answer("dave", option=operator.ROLL_BACK), "params_input": {}}
    aws.reset_calls()
    for try_number in (1, 2):
        result = operator.execute_complete(world["context"](task_id="compare", try_number=try_number), dave)
        assert result["decision"] == operator.ROLL_BACK
    assert aws.calls().get("sagemaker:UpdateEndpointWeightsAndCapacities") == 1
    endpoint = aws.boto3_client("sagemaker").describe_endpoint(EndpointName="churn-prod")
    assert endpoint["EndpointStatus"] == "InService"
    assert weights(aws) == {"champion": 1.0, "challenger": 0.0}


def test_a_deferrable_deployment_to_another_account_waits_on_the_endpoint_there(world, monkeypatch):
    """The environment's connection is used for the endpoint, by the worker and by the triggerer alike."""
    aws = world["aws"]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", aws.connection_json("222222222222"))
    ladder = {**PROD_LADDER, "environments": [{**PROD_LADDER["environments"][0], "aws_conn_id": "aws_prod"}]}
    v1 = _approved(world, "x1")
    promote(v1, "prod", world["context"], people=["dave"], ladder=ladder, run_id="prod-x1")
    operator = deploy_operator(
        [{"name": "live", "model_package_arn": v1, "weight": 1.0}], ladder=ladder, deferrable=True
    )
    result, _ = run_deferrable(operator, world["context"](task_id="deploy", run_id="x-deploy"))
    prod = aws.boto3_client("sagemaker", account_id="222222222222")
    assert prod.describe_endpoint(EndpointName="churn-prod")["EndpointStatus"] == "InService"
    assert result["config"] == prod.describe_endpoint(EndpointName="churn-prod")["EndpointConfigName"]


def test_a_deferrable_traffic_shift_in_another_account_shifts_and_bakes_there(world, monkeypatch):
    """A shift whose environment lives in another account: the worker's weight changes and the triggerer's
    waits and bakes all use the environment's connection; the registry's account has no such endpoint."""
    aws = world["aws"]
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", aws.connection_json("222222222222"))
    ladder = {**PROD_LADDER, "environments": [{**PROD_LADDER["environments"][0], "aws_conn_id": "aws_prod"}]}
    v1, v2 = _approved(world, "s1"), _approved(world, "s2")
    promote(v1, "prod", world["context"], people=["dave"], ladder=ladder, run_id="prod-s1")
    promote(v2, "prod", world["context"], people=["dave"], ladder=ladder, run_id="prod-s2")
    deploy = deploy_operator(
        [
            {"name": "champion", "model_package_arn": v1, "weight": 1.0},
            {"name": "challenger", "model_package_arn": v2, "weight": 0.0},
        ],
        ladder=ladder,
        deferrable=True,
    )
    run_deferrable(deploy, world["context"](task_id="deploy", run_id="s-deploy"))

    shift = shift_operator(steps=[50, 100], bake_seconds=0.1, ladder=ladder, deferrable=True)
    result, ran = run_deferrable(shift, world["context"](task_id="shift", run_id="s-shift"))
    assert "TrafficBakeTrigger" in ran
    prod = aws.boto3_client("sagemaker", account_id="222222222222")
    current = {
        v["VariantName"]: v["CurrentWeight"]
        for v in prod.describe_endpoint(EndpointName="churn-prod")["ProductionVariants"]
    }
    assert current == {"champion": 0.0, "challenger": 100.0} and result["weights"] == current
    assert "churn-prod" not in {
        e["EndpointName"] for e in aws.boto3_client("sagemaker").list_endpoints()["Endpoints"]
    }


def test_the_approval_sensor_cannot_tell_who_decided_after_a_reversal_and_back_outside_airflow(world):
    """bob approves through Airflow; in Studio someone rejects and approves again: the status is the one
    recorded, but the decision is no longer bob's to credit."""
    from airflow_modelreg.sensors.model_approval import ModelApprovalSensor

    arn = _approved(world, "flip")
    sm = world["aws"].boto3_client("sagemaker")
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="leak")
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="mallory"
    )
    sensor = ModelApprovalSensor(
        task_id="wait", model_package_arn=arn, allowed_approvers=["bob"], ladder=LADDER
    )
    with pytest.raises(AirflowFailException, match="cannot be told") as refused:
        sensor.poke(world["context"](task_id="wait"))
    assert "mallory" in str(refused.value)


def test_the_approval_sensor_still_credits_an_untouched_decision(world):
    from airflow_modelreg.sensors.model_approval import ModelApprovalSensor

    arn = _approved(world, "kept")
    sensor = ModelApprovalSensor(
        task_id="wait", model_package_arn=arn, allowed_approvers=["bob"], ladder=LADDER
    )
    assert sensor.poke(world["context"](task_id="wait"))


def test_batch_inference_refuses_an_artifact_swapped_after_it_was_resolved(world, ladder_variable):
    """The reference batch_inference DAG scores only the bytes the resolve task verified: its evidence then
    goes to the next environment's approvers."""
    import importlib.util

    from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
    from tests.conftest import ROOT

    aws = world["aws"]
    ladder_variable(LADDER)
    arn = _approved(world, "scored")
    promote(arn, "dev", world["context"], run_id="to-dev")
    model = ResolveApprovedModelOperator(
        task_id="resolve", group="churn", environment="dev", ladder=LADDER
    ).execute(world["context"](task_id="resolve"))
    bucket, key = model["artifact"].removeprefix("s3://").split("/", 1)
    aws.boto3_client("s3").put_object(Bucket=bucket, Key=key, Body=b"another model")
    spec = importlib.util.spec_from_file_location("batch_inference_dag", ROOT / "dags" / "batch_inference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    score = module.dag.get_task("score_batch").python_callable
    params = {"group": "churn", "environment": "dev", "bucket": bucket, "rows": 50, "seed": 11}
    with pytest.raises(Exception, match="not the approved one"):
        score(model, params=params, run_id="r1")
    assert "predictions" not in {o["Key"].split("/")[1] for o in _listing(aws, bucket)}


def _listing(aws, bucket: str) -> list[dict]:
    return aws.boto3_client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])


def test_a_cleared_registration_approval_never_reports_a_decision_changed_outside_airflow_as_its_own(world):
    """bob rejects in run R; in Studio the version is approved; run R's approval task is cleared. Its new
    try must not report "Approved by bob" (what the registry says now, under the name this run recorded)."""
    arn = workflow.register(world["aws"], world["context"], "run-cleared", b"cleared")["arn"]
    with contextlib.suppress(AirflowSkipException):
        _register_approve(world, LADDER, "bob", arn, option="Reject", run_id="run-r")
    world["aws"].boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="approved in studio"
    )
    cleared = RequestModelApprovalOperator(task_id="approve", model_package_arn=arn, ladder=LADDER)
    message = _refused(
        lambda: cleared.execute(world["context"](task_id="approve", run_id="run-r", try_number=2)),
        "changed outside Airflow",
    )
    assert "Rejected by bob" in message
