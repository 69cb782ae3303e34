"""Promotion across environments, rollback and resolution, against the stand-in and real DAG runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.operators.promote import PromoteModelVersionOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.testing.approver import ApprovalRefused
from tests.helpers import LADDER, answer, put_artifact, read_pointer, register_operator, write_calls

STEPS = [("dev", "bob"), ("test", "carol"), ("uat", "carol"), ("prod", "dave")]


@pytest.fixture
def approved(aws, bucket, make_context):
    """Register a version (by alice) and approve it in SageMaker; returns its ARN."""

    def make(run_id="manual__1", body=b"model-bytes", status="Approved"):
        artifact = put_artifact(aws, bucket, key=f"churn/{run_id}/model.tar.gz", body=body)
        version = register_operator(artifact).execute(make_context(run_id=run_id))
        aws.boto3_client("sagemaker").update_model_package(
            ModelPackageArn=version["arn"], ModelApprovalStatus=status
        )
        return version["arn"]

    return make


def _history(aws, env, group="churn"):
    ssm = aws.boto3_client("ssm")
    return [
        json.loads(p["Value"])
        for p in ssm.get_parameter_history(Name=f"/modelreg/{group}/{env}")["Parameters"]
    ]


def _metadata(aws, arn):
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)
    return described.get("CustomerMetadataProperties") or {}, described


def _wait(predicate, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_one_version_climbs_dev_test_uat_prod_with_four_approvals(airflow, aws, ladder_variable, approved):
    ladder_variable(LADDER)
    arn = approved()
    observed = []

    def four_people_approve():
        for env, person_name in STEPS:
            person = airflow.approver(person_name)
            request = person.wait_for("promote_model", f"promote_to_{env}")
            assert [user["id"] for user in request.assigned_users] == [person_name]
            person.approve(request, reason=f"ready for {env}")
            pointer = _wait(lambda env=env: read_pointer(aws, env))
            props, _ = _metadata(aws, arn)
            later = [e for e, _ in STEPS[STEPS.index((env, person_name)) + 1 :]]
            observed.append((env, pointer, props, [read_pointer(aws, e) for e in later]))

    dag_run = airflow.run("promote_model", {"arn": arn}, four_people_approve)

    assert str(dag_run.state) == "success"
    for (env, person_name), (seen_env, pointer, props, later_pointers) in zip(STEPS, observed, strict=True):
        assert seen_env == env
        assert pointer["arn"] == arn and pointer["approved_by"] == person_name
        assert props[f"modelreg:env:{env}"].split("|")[1] == person_name  # the registry agrees
        assert later_pointers == [None] * len(later_pointers)  # no step ahead of its approval
        assert len(_history(aws, env)) == 1
    _, described = _metadata(aws, arn)
    assert described["ModelLifeCycle"]["Stage"] == "prod"
    result = airflow.xcom(dag_run, "promote_to_prod")
    assert result["pointer"]["approved_by"] == "dave" and result["environment"] == "prod"

    # The audit tells the whole story: registration, the registry approval and the four promotions.
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_modelreg.cli",
            "audit",
            "churn",
            "--format",
            "json",
            "--ladder",
            json.dumps(LADDER),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert cli.returncode == 0, cli.stderr
    events = json.loads(cli.stdout[cli.stdout.index("[") :])
    promotions = [(e["environment"], e["by"], e["reason"]) for e in events if e["event"] == "promoted"]
    assert promotions == [(env, who, f"ready for {env}") for env, who in STEPS]
    assert [e["event"] for e in events][:1] == ["registered"]
    times = [e["time"] for e in events]
    assert times == sorted(times) and all(times)
    table = ModelRegistryHook().audit("churn", EnvironmentLadder.from_config(LADDER))
    assert len(table) == len(events)


@pytest.mark.parametrize("case", ["skip_to_prod", "rejected_version"])
def test_refused_promotions_write_nothing(airflow, aws, ladder_variable, approved, case):
    ladder_variable(LADDER)
    arn = approved(status="Rejected") if case == "rejected_version" else approved()
    environment = "prod" if case == "skip_to_prod" else "dev"
    aws.reset_calls()
    dag_run = airflow.run("promote_one", {"arn": arn, "environment": environment})
    assert str(dag_run.state) == "failed"
    assert write_calls(aws) == {}
    assert read_pointer(aws, environment) is None


def test_user_not_allowed_for_the_environment_is_refused(airflow, aws, ladder_variable, approved):
    ladder_variable(LADDER)
    arn = approved()
    seen = {}

    def mallory_then_bob():
        bob = airflow.approver("bob")
        request = bob.wait_for("promote_one")
        aws.reset_calls()
        for intruder in ("mallory", "dave"):  # dave approves prod, not dev
            with pytest.raises(ApprovalRefused) as refused:
                airflow.approver(intruder).approve(request, reason="let me")
            seen[intruder] = refused.value.status_code
        seen["writes"] = write_calls(aws)
        bob.reject(request, reason="not this week")

    dag_run = airflow.run("promote_one", {"arn": arn, "environment": "dev"}, mallory_then_bob)
    assert seen == {"mallory": 403, "dave": 403, "writes": {}}
    assert str(dag_run.state) == "success"
    assert read_pointer(aws, "dev") is None
    props, described = _metadata(aws, arn)
    assert described["ModelApprovalStatus"] == "Approved"  # a refused promotion does not revoke the version
    assert "not this week" in props["modelreg:rejected:dev"]


def _promote_op(arn, environment="dev"):
    return PromoteModelVersionOperator(
        task_id="promote", model_package_arn=arn, environment=environment, ladder=LADDER
    )


def _normalised(pointer):
    return {
        k: v
        for k, v in pointer.items()
        if k not in ("approved_at", "airflow_run", "run_key", "arn", "digest")
    }


def test_crash_between_registry_and_pointer_is_repaired_by_the_retry(aws, approved, make_context):
    arn = approved(run_id="crashing")
    op = _promote_op(arn)
    context = make_context(task_id="promote", run_id="promote-run")
    op.check_can_request(op.hook.describe_version(arn), context)
    # The registry write goes through; the pointer write (the only write carrying a run key) fails.
    aws.inject_faults(
        rate=1.0, kinds=["deny"], services=["ssm"], actions=["PutParameter"], body_contains="run_key"
    )
    with pytest.raises(Exception, match="AccessDenied"):
        _promote_op(arn).execute_complete(context, answer("bob"))
    aws.clear_faults()
    props, _ = _metadata(aws, arn)
    assert "modelreg:env:dev" in props and read_pointer(aws, "dev") is None  # half done

    retry = make_context(task_id="promote", run_id="promote-run", try_number=2)
    retry["ti"].xcom.update(context["ti"].xcom)
    result = _promote_op(arn).execute(retry)  # completes without asking anyone again
    assert result["pointer"]["approved_by"] == "bob"

    # A clean run of the same promotion, on a second group, ends in the same state.
    clean_arn = approved(run_id="clean")  # same group; compare with a fresh environment ladder instead
    clean_op = PromoteModelVersionOperator(
        task_id="promote",
        model_package_arn=clean_arn,
        environment="dev",
        ladder=LADDER,
        parameter_prefix="/clean",
    )
    clean_context = make_context(task_id="promote", run_id="clean-run")
    clean_op.check_can_request(clean_op.hook.describe_version(clean_arn), clean_context)
    PromoteModelVersionOperator(
        task_id="promote",
        model_package_arn=clean_arn,
        environment="dev",
        ladder=LADDER,
        parameter_prefix="/clean",
    ).execute_complete(clean_context, answer("bob"))
    crashed_pointer = read_pointer(aws, "dev")
    clean_pointer = json.loads(
        aws.boto3_client("ssm").get_parameter(Name="/clean/churn/dev")["Parameter"]["Value"]
    )
    assert _normalised(crashed_pointer) == {
        **_normalised(clean_pointer),
        "version": crashed_pointer["version"],
    }
    assert len(_history(aws, "dev")) == 1  # no duplicate pointer write
    lock = aws.boto3_client("ssm").get_parameters(Names=["/modelreg/churn/dev.lock"])["Parameters"]
    assert lock == []  # the lock was released
    crashed_props, crashed = _metadata(aws, arn)
    clean_props, clean = _metadata(aws, clean_arn)
    assert crashed["ModelLifeCycle"]["Stage"] == clean["ModelLifeCycle"]["Stage"] == "dev"
    assert crashed_props["modelreg:env:dev"].split("|")[1] == clean_props["modelreg:env:dev"].split("|")[1]


PROD_ONLY = {"environments": [{"name": "prod", "approvers": ["dave"]}]}


def _resolve(make_context, ladder=PROD_ONLY):
    op = ResolveApprovedModelOperator(task_id="resolve", group="churn", environment="prod", ladder=ladder)
    return op.execute(make_context(task_id="resolve"))


def test_resolution_follows_promotion_and_rollback(airflow, aws, ladder_variable, approved, make_context):
    ladder_variable(PROD_ONLY)
    v1, v2 = approved(run_id="r1", body=b"one"), approved(run_id="r2", body=b"two")

    def dave_approves(times):
        def answer():
            dave = airflow.approver("dave")
            for _ in range(times):
                dave.approve(dave.wait_for(), reason="ship it")

        return answer

    for arn in (v1, v2):
        assert (
            str(airflow.run("promote_one", {"arn": arn, "environment": "prod"}, dave_approves(1)).state)
            == "success"
        )
    aws.reset_calls()
    resolved = _resolve(make_context)
    assert resolved["arn"] == v2 and resolved["approved_by"] == "dave"
    # O(1): one pointer read and one describe, however many versions the group holds.
    assert aws.calls() == {"ssm:GetParameter": 1, "sagemaker:DescribeModelPackage": 1}

    dag_run = airflow.run("rollback_one", {"group": "churn", "environment": "prod"}, dave_approves(1))
    assert str(dag_run.state) == "success"
    resolved = _resolve(make_context)
    assert resolved["arn"] == v1 and resolved["action"] == "rollback"
    history = _history(aws, "prod")
    assert [entry["version"] for entry in history] == [1, 2, 1]
    assert history[-1]["previous_version"] == 2
    assert "modelreg:rolled-back:prod" in _metadata(aws, v2)[0]


def test_revoked_version_fails_resolution_clearly(airflow, aws, ladder_variable, approved, make_context):
    ladder_variable(PROD_ONLY)
    arn = approved()

    def dave_approves():
        dave = airflow.approver("dave")
        dave.approve(dave.wait_for(), reason="ship it")

    airflow.run("promote_one", {"arn": arn, "environment": "prod"}, dave_approves)
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="data leak found"
    )
    with pytest.raises(AirflowFailException, match="which is Rejected now \\(data leak found\\)"):
        _resolve(make_context)


def test_environment_in_another_account_keeps_its_pointer_there(aws, approved, make_context, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", aws.connection_json("222222222222"))
    ladder = EnvironmentLadder.from_config(
        {"environments": [{"name": "prod", "approvers": ["dave"], "aws_conn_id": "aws_prod"}]}
    )
    arn = approved()
    op = PromoteModelVersionOperator(
        task_id="promote", model_package_arn=arn, environment="prod", ladder=ladder
    )
    context = make_context(task_id="promote")
    op.check_can_request(op.hook.describe_version(arn), context)
    PromoteModelVersionOperator(
        task_id="promote", model_package_arn=arn, environment="prod", ladder=ladder
    ).execute_complete(context, answer("dave"))

    assert read_pointer(aws, "prod", account_id="222222222222")["arn"] == arn
    assert read_pointer(aws, "prod") is None  # not in the registry's account
    assert "modelreg:env:prod" in _metadata(aws, arn)[0]  # the registry stays with the group's account
    resolved = ResolveApprovedModelOperator(
        task_id="resolve", group="churn", environment="prod", ladder=ladder
    ).execute(make_context(task_id="resolve"))
    assert resolved["arn"] == arn
