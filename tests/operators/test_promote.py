"""Promotion across environments, quorums, rollback and resolution, against the stand-in and real DAG runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.testing.approver import ApprovalRefused
from tests.helpers import (
    LADDER,
    PROD_LADDER,
    QUORUM_LADDER,
    answer_step,
    commit_step,
    governed_writes,
    prepare_step,
    promote,
    put_artifact,
    read_pointer,
    register_operator,
)

STEPS = [("dev", "bob"), ("test", "carol"), ("uat", "carol"), ("prod", "dave")]


@pytest.fixture
def approved(aws, bucket, make_context):
    """Register a version (by alice) and approve it in SageMaker; returns its ARN."""

    def make(run_id="manual__1", body=b"model-bytes", status="Approved", registered_by="alice"):
        artifact = put_artifact(aws, bucket, key=f"churn/{run_id}/model.tar.gz", body=body)
        version = register_operator(artifact, registered_by=registered_by).execute(
            make_context(run_id=run_id)
        )
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


def _audit(args, env=None):
    cli = subprocess.run(
        [sys.executable, "-m", "airflow_modelreg.cli", "audit", *args, "--ladder", json.dumps(LADDER)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env or os.environ.copy(),
    )
    return cli


def _wait(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_one_version_climbs_dev_test_uat_prod_with_four_approvals(airflow, aws, ladder_variable, approved):
    ladder_variable(LADDER)
    arn = approved()
    observed = []

    def four_people_approve():
        for env, person_name in STEPS:
            person = airflow.approver(person_name)
            request = person.wait_for("promote_model", f"promote_to_{env}.approve")
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
        state, _, by, run_key = props[f"modelreg:env:{env}"].split("|")
        assert (state, by, run_key) == ("promoted", person_name, pointer["run_key"])  # the registry agrees
        assert later_pointers == [None] * len(later_pointers)  # no step ahead of its approval
        assert len(_history(aws, env)) == 1
    result = airflow.xcom(dag_run, "promote_to_prod.commit")
    assert result["pointer"]["approved_by"] == "dave" and result["environment"] == "prod"
    # Each step's Asset event, carrying its pointer, went to the Asset the DAGs declare (group "model"). An
    # asset no DAG declares makes Airflow log "AssetModel ... not found; cannot create asset event" and
    # create it on the fly in group "asset" (airflow/models/taskinstance.py, register_asset_changes_in_db).
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        emitted = {
            event.asset.uri: (event.extra.get("approved_by"), event.asset.group)
            for event in session.query(AssetEvent).filter_by(source_run_id=dag_run.run_id)
        }
    assert emitted == {f"modelreg://churn/{env}": (who, "model") for env, who in STEPS}, emitted

    # The audit log tells the whole story, verified: registration, the requests, answers and promotions.
    cli = _audit(["churn", "--format", "json", "--verify"])
    assert cli.returncode == 0, cli.stderr
    events = json.loads(cli.stdout[cli.stdout.index("[") :])
    promotions = [(e["environment"], e["by"]) for e in events if e["event"] == "promoted"]
    assert promotions == STEPS
    assert [e["event"] for e in events][:1] == ["registered"]
    answers = [(e["environment"], e["by"], e["reason"]) for e in events if e["event"] == "approval-recorded"]
    assert answers == [(env, who, f"ready for {env}") for env, who in STEPS]


@pytest.mark.parametrize("case", ["skip_to_prod", "rejected_version"])
def test_refused_promotions_ask_nobody_and_write_nothing(airflow, aws, ladder_variable, approved, case):
    ladder_variable(LADDER)
    arn = approved(status="Rejected") if case == "rejected_version" else approved()
    environment = "prod" if case == "skip_to_prod" else "dev"
    aws.reset_calls()
    dag_run = airflow.run("promote_one", {"arn": arn, "environment": environment})
    assert str(dag_run.state) == "failed"
    states = airflow.task_states(dag_run)
    assert states["promote.prepare"] == "failed" and states["promote.commit"] == "upstream_failed"
    assert governed_writes(aws) == {}  # only the refusal, in the audit log
    assert read_pointer(aws, environment) is None


def test_user_not_allowed_for_the_environment_is_refused(airflow, aws, ladder_variable, approved):
    ladder_variable(LADDER)
    arn = approved()
    seen = {}

    def intruders_then_bob():
        bob = airflow.approver("bob")
        request = bob.wait_for("promote_one")
        aws.reset_calls()
        for intruder in ("mallory", "dave", "alice"):  # dave approves prod, not dev; alice registered it
            with pytest.raises(ApprovalRefused) as refused:
                airflow.approver(intruder).approve(request, reason="let me")
            seen[intruder] = refused.value.status_code
        seen["writes"] = governed_writes(aws)
        bob.reject(request, reason="not this week")

    dag_run = airflow.run("promote_one", {"arn": arn, "environment": "dev"}, intruders_then_bob)
    assert seen == {"mallory": 403, "dave": 403, "alice": 403, "writes": {}}
    assert str(dag_run.state) == "success"  # a rejection is an answer: the rest of the ladder is skipped
    assert airflow.task_states(dag_run)["promote.commit"] == "skipped"
    assert read_pointer(aws, "dev") is None
    props, described = _metadata(aws, arn)
    assert described["ModelApprovalStatus"] == "Approved"  # a refused promotion does not revoke the version
    assert "modelreg:env:dev" not in props


def test_prod_quorum_asks_two_distinct_people_one_card_at_a_time(
    airflow, aws, ladder_variable, approved, make_context
):
    """Prod needs 2 of dave, erin, frank; dave registered this version, so he is never asked."""
    ladder_variable(QUORUM_LADDER)
    arn = approved(registered_by="dave")
    for env in ("dev", "test", "uat"):
        promote(arn, env, make_context, ladder=QUORUM_LADDER, run_id=f"earlier-{env}")
    seen = []

    def erin_then_frank():
        erin = airflow.approver("erin")
        first = erin.wait_for("promote_one", "promote.approve")
        seen.append(first)
        with pytest.raises(ApprovalRefused) as refused:  # the registrant is not assigned
            airflow.approver("dave").approve(first, reason="my own model is fine")
        seen.append(refused.value.status_code)
        erin.approve(first, reason="risk review passed")
        frank = airflow.approver("frank")
        second = _wait(
            lambda: next(
                (
                    r
                    for r in frank.pending("promote_one", "promote.approve")
                    if r.map_index == 1 and r.state == "awaiting_input"
                ),
                None,
            )
        )
        seen.append(second)
        with pytest.raises(ApprovalRefused) as twice:  # erin already counted
            erin.approve(second, reason="again")
        seen.append(twice.value.status_code)
        frank.approve(second, reason="on-call agrees")

    dag_run = airflow.run("promote_one", {"arn": arn, "environment": "prod"}, erin_then_frank)

    assert str(dag_run.state) == "success"
    first, dave_refused, second, erin_refused = seen
    assert dave_refused == 403 and erin_refused == 403
    assert "(approval 1 of 2)" in first.subject and "(approval 2 of 2)" in second.subject
    assert sorted(u["name"] for u in first.assigned_users) == ["erin", "frank"]
    assert [u["name"] for u in second.assigned_users] == ["frank"]
    assert "0 of 2 approvals" in first.body
    assert "1 of 2 approvals" in second.body and "approved by erin" in second.body
    pointer = read_pointer(aws, "prod")
    assert pointer["approvers"] == ["erin", "frank"] and pointer["arn"] == arn


def test_one_rejection_stops_a_quorum(aws, approved, make_context):
    arn = approved()
    for env in ("dev", "test", "uat"):
        promote(arn, env, make_context, ladder=QUORUM_LADDER, run_id=f"earlier-{env}")
    request = prepare_step(arn, "prod", make_context, ladder=QUORUM_LADDER)
    answer_step(
        request, 0, "erin", make_context, ladder=QUORUM_LADDER, option="Reject", reason="no risk review"
    )
    from airflow_modelreg.operators.promote import ApprovePromotionOperator

    second = ApprovePromotionOperator(
        task_id="promote_to_prod.approve", request={**request, "slot": 1}, ladder=QUORUM_LADDER
    )
    with pytest.raises(AirflowSkipException, match="erin rejected"):
        second.execute(make_context(task_id="promote_to_prod.approve", run_id="promote-run", map_index=1))
    with pytest.raises(AirflowSkipException, match="erin rejected .* no risk review"):
        commit_step(request, make_context, ladder=QUORUM_LADDER)
    assert read_pointer(aws, "prod") is None


@pytest.mark.parametrize("option", ["Approve", "Reject"])
def test_a_promotion_answer_without_a_reason_is_refused_and_audited(aws, approved, make_context, option):
    """As for a registration (tests/operators/test_approval.py): a blank reason counts for nothing."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook

    arn = approved()
    request = prepare_step(arn, "dev", make_context)
    with pytest.raises(AirflowFailException, match="no reason"):
        answer_step(request, 0, "bob", make_context, option=option, reason=" \t ")
    events = AuditLogHook(log_uri=LADDER["audit_log"]).events("churn")
    assert [e["kind"] for e in events if e["kind"] in ("refused", "approval-recorded")] == ["refused"]
    with pytest.raises(AirflowFailException, match="0 of 1 approvals"):
        commit_step(request, make_context)
    assert read_pointer(aws, "dev") is None


def test_a_single_approval_does_not_meet_a_quorum_of_two(aws, approved, make_context):
    arn = approved()
    for env in ("dev", "test", "uat"):
        promote(arn, env, make_context, ladder=QUORUM_LADDER, run_id=f"earlier-{env}")
    request = prepare_step(arn, "prod", make_context, ladder=QUORUM_LADDER)
    answer_step(request, 0, "dave", make_context, ladder=QUORUM_LADDER)
    with pytest.raises(AirflowFailException) as same_person:
        answer_step(request, 1, "dave", make_context, ladder=QUORUM_LADDER)
    assert "already answered" in str(same_person.value)
    with pytest.raises(AirflowFailException, match="1 of 2 approvals"):
        commit_step(request, make_context, ladder=QUORUM_LADDER)
    assert read_pointer(aws, "prod") is None


def test_revocation_while_waiting_is_never_committed(aws, approved, make_context):
    arn = approved()
    request = prepare_step(arn, "dev", make_context)
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="data leak found"
    )
    answer_step(request, 0, "bob", make_context)  # bob had the card open before the revocation
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="is Rejected; only Approved versions are promoted"):
        commit_step(request, make_context)
    assert governed_writes(aws) == {"ssm:PutParameter": 1, "ssm:DeleteParameter": 1}  # the lock only
    assert read_pointer(aws, "dev") is None


def test_a_pointer_moved_while_waiting_is_asked_again_not_committed_over(aws, approved, make_context):
    v1, v2 = approved(run_id="r1", body=b"one"), approved(run_id="r2", body=b"two")
    asked_for_v1 = prepare_step(v1, "dev", make_context, run_id="run-a")
    promote(v2, "dev", make_context, run_id="run-b")
    answer_step(asked_for_v1, 0, "bob", make_context, run_id="run-a")
    with pytest.raises(AirflowFailException, match="changed while this promotion waited"):
        commit_step(asked_for_v1, make_context, run_id="run-a")
    assert read_pointer(aws, "dev")["arn"] == v2


def test_clearing_an_old_commit_never_re_points_the_environment(aws, approved, make_context):
    v1, v2 = approved(run_id="r1", body=b"one"), approved(run_id="r2", body=b"two")
    request_a = prepare_step(v1, "dev", make_context, run_id="run-a")
    answer_step(request_a, 0, "bob", make_context, run_id="run-a")
    commit_step(request_a, make_context, run_id="run-a")
    promote(v2, "dev", make_context, run_id="run-b")
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=v1, ModelApprovalStatus="Rejected", ApprovalDescription="data leak"
    )
    # Run A's commit is cleared and runs again (a new try of the same task run): it reports what it did
    # then, and does not do it again.
    result = commit_step(request_a, make_context, run_id="run-a", try_number=2)
    assert result["pointer"]["arn"] == v1
    assert read_pointer(aws, "dev")["arn"] == v2
    assert len(_history(aws, "dev")) == 2
    # Run A's request committed by another run (its XCom copied, say): dev changed since it was asked.
    with pytest.raises(AirflowFailException, match="changed while this promotion waited"):
        commit_step(request_a, make_context, run_id="run-d")
    assert read_pointer(aws, "dev")["arn"] == v2


def test_crash_between_stage_record_and_pointer_is_completed_by_the_retry(aws, approved, make_context):
    arn = approved(run_id="crashing")
    request = prepare_step(arn, "dev", make_context)
    answer_step(request, 0, "bob", make_context)
    # The stage record goes through; the pointer write (the only write carrying a run key) fails.
    aws.inject_faults(
        rate=1.0, kinds=["deny"], services=["ssm"], actions=["PutParameter"], body_contains="run_key"
    )
    with pytest.raises(Exception, match="AccessDenied"):
        commit_step(request, make_context)
    aws.clear_faults()
    props, _ = _metadata(aws, arn)
    assert "modelreg:env:dev" in props and read_pointer(aws, "dev") is None  # half done
    result = commit_step(request, make_context, try_number=2)  # completes without asking anyone again
    assert result["pointer"]["approved_by"] == "bob"
    assert read_pointer(aws, "dev")["arn"] == arn
    assert len(_history(aws, "dev")) == 1  # no duplicate pointer write
    assert aws.boto3_client("ssm").get_parameters(Names=["/modelreg/churn/dev.lock"])["Parameters"] == []


PROD_ONLY = PROD_LADDER


def _resolve(make_context, ladder=PROD_ONLY):
    op = ResolveApprovedModelOperator(task_id="resolve", group="churn", environment="prod", ladder=ladder)
    return op.execute(make_context(task_id="resolve"))


def test_rollback_goes_to_the_version_before_and_never_back_to_a_bad_one(aws, approved, make_context):
    v1, v2, v3 = (approved(run_id=f"r{i}", body=f"model-{i}".encode()) for i in (1, 2, 3))
    for i, arn in enumerate((v1, v2, v3), start=1):
        promote(arn, "prod", make_context, ladder=PROD_ONLY, run_id=f"promote-{i}")
    assert _resolve(make_context)["arn"] == v3

    rollback = prepare_step(
        None, "prod", make_context, ladder=PROD_ONLY, run_id="rollback-1", action="rollback"
    )
    assert rollback["arn"] == v2 and rollback["from_arn"] == v3
    answer_step(rollback, 0, "dave", make_context, ladder=PROD_ONLY, run_id="rollback-1")
    commit_step(rollback, make_context, ladder=PROD_ONLY, run_id="rollback-1")
    resolved = _resolve(make_context)
    assert resolved["arn"] == v2 and resolved["action"] == "rollback"
    assert resolved["previous_arn"] == v1  # never v3, which was rolled back out
    # A retry of the same rollback's commit changes nothing.
    commit_step(rollback, make_context, ladder=PROD_ONLY, run_id="rollback-1", try_number=2)
    assert _resolve(make_context)["arn"] == v2
    assert len(_history(aws, "prod")) == 4
    # A second rollback goes further back, skipping v3.
    promote(None, "prod", make_context, ladder=PROD_ONLY, run_id="rollback-2", action="rollback")
    resolved = _resolve(make_context)
    assert resolved["arn"] == v1 and resolved["previous_arn"] is None
    assert [entry["version"] for entry in _history(aws, "prod")] == [1, 2, 3, 2, 1]
    assert _metadata(aws, v3)[0]["modelreg:env:prod"].startswith("rolled-back-out|")
    # Nothing older is left: a third rollback is refused.
    with pytest.raises(AirflowFailException, match="no earlier version"):
        promote(None, "prod", make_context, ladder=PROD_ONLY, run_id="rollback-3", action="rollback")


def test_a_rolled_back_version_does_not_climb_further(aws, approved, make_context):
    v1, v2 = approved(run_id="r1", body=b"one"), approved(run_id="r2", body=b"two")
    for arn, run in ((v1, "a"), (v2, "b")):
        for env in ("dev", "test"):
            promote(arn, env, make_context, run_id=f"{run}-{env}")
    promote(None, "test", make_context, run_id="rollback-test", action="rollback")
    with pytest.raises(AirflowFailException, match="rolled back out of 'test'"):
        prepare_step(v2, "uat", make_context, run_id="v2-uat")


def test_resolution_is_a_few_calls_whatever_the_group_size(aws, approved, make_context):
    v1 = approved(run_id="r1", body=b"one")
    promote(v1, "prod", make_context, ladder=PROD_ONLY, run_id="p1")
    aws.reset_calls()
    _resolve(make_context)
    small = aws.usage()["total"]
    for i in range(2, 12):
        approved(run_id=f"r{i}", body=f"m{i}".encode())
    aws.reset_calls()
    _resolve(make_context)
    calls = aws.calls()
    assert aws.usage()["total"] == small  # the same calls with 11 versions as with 1
    assert not any("ListModelPackages" in call for call in calls)


def test_revoked_version_fails_resolution_clearly(aws, approved, make_context):
    arn = approved()
    promote(arn, "prod", make_context, ladder=PROD_ONLY)
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription="data leak found"
    )
    with pytest.raises(AirflowFailException, match=r"is Rejected now \(data leak found\)"):
        _resolve(make_context)


def test_environment_in_another_account_keeps_its_pointer_and_endpoint_there(
    aws, approved, make_context, monkeypatch
):
    monkeypatch.setenv("AIRFLOW_CONN_AWS_PROD", aws.connection_json("222222222222"))
    ladder = {
        "audit_log": LADDER["audit_log"],
        "environments": [{"name": "prod", "approvers": ["dave"], "aws_conn_id": "aws_prod"}],
    }
    arn = approved()
    promote(arn, "prod", make_context, ladder=ladder)
    assert read_pointer(aws, "prod", account_id="222222222222")["arn"] == arn
    assert read_pointer(aws, "prod") is None  # not in the registry's account
    assert "modelreg:env:prod" in _metadata(aws, arn)[0]  # the registry stays with the group's account
    resolved = ResolveApprovedModelOperator(
        task_id="resolve", group="churn", environment="prod", ladder=EnvironmentLadder.from_config(ladder)
    ).execute(make_context(task_id="resolve"))
    assert resolved["arn"] == arn
