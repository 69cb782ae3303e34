"""Approval in the Airflow UI: real DAG runs, answered through Airflow's HITL REST API."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.domain.approval import REASON_FIELD
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.testing.approver import ApprovalRefused
from tests.helpers import LADDER, answer, governed_writes, put_artifact, register_operator

TWO_REGISTRATION_APPROVERS = {**LADDER, "registration_approvers": ["bob", "carol"]}


@pytest.fixture
def registered(aws, bucket, make_context):
    """Version 1 of 'churn', registered by alice (or the given person) and pending approval."""

    def register(registered_by="alice", run_id="manual__2026-11-23T00:00:00+00:00", metrics=None):
        artifact = put_artifact(aws, bucket)
        operator = register_operator(artifact, registered_by=registered_by, metrics=metrics or {"auc": 0.91})
        return operator.execute(make_context(run_id=run_id))

    return register


def _describe(aws, arn):
    return aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_assigned_approver_approves_and_the_registry_records_who_why_and_the_run(
    airflow, aws, ladder_variable, registered
):
    ladder_variable(LADDER)
    version = registered()
    seen = {}

    def bob_approves():
        bob = airflow.approver("bob")
        request = bob.wait_for("approve_version")
        seen["request"] = request
        return bob.approve(request, reason="AUC beats the baseline")

    dag_run = airflow.run("approve_version", {"arn": version["arn"], "approvers": ["bob"]}, bob_approves)

    assert str(dag_run.state) == "success"
    described = _describe(aws, version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "by bob" in described["ApprovalDescription"]
    assert "Reason: AUC beats the baseline" in described["ApprovalDescription"]
    assert f"airflow:approve_version/{dag_run.run_id}/approve" in described["ApprovalDescription"]
    result = airflow.xcom(dag_run, "approve")
    assert result["status"] == "Approved"
    assert result["decision"]["by"]["name"] == "bob"
    # The approver saw the version card: who may decide, metrics, lineage and digest.
    request = seen["request"]
    assert request.subject == "Approve churn version 1?"
    assert "| auc | 0.91 |" in request.body
    assert version["digest"] in request.body
    assert "Who may decide:** bob" in request.body
    assert [user["id"] for user in request.assigned_users] == ["bob"]


def test_the_registrant_is_never_asked_and_cannot_answer(airflow, aws, ladder_variable, registered):
    ladder_variable(TWO_REGISTRATION_APPROVERS)
    version = registered(registered_by="bob")
    seen = {}

    def bob_tries_then_carol_approves():
        carol = airflow.approver("carol")
        request = carol.wait_for("approve_version")
        seen["assigned"] = [user["name"] for user in request.assigned_users]
        with pytest.raises(ApprovalRefused) as refused:
            airflow.approver("bob").approve(request, reason="mine is great")
        seen["bob"] = refused.value.status_code
        carol.approve(request, reason="independent review")

    dag_run = airflow.run(
        "approve_version",
        {"arn": version["arn"], "approvers": ["bob", "carol"]},
        bob_tries_then_carol_approves,
    )
    assert str(dag_run.state) == "success"
    assert seen == {"assigned": ["carol"], "bob": 403}
    described = _describe(aws, version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "by carol" in described["ApprovalDescription"]


def test_unassigned_user_is_forbidden_and_a_reject_records_the_reason(
    airflow, aws, ladder_variable, registered
):
    ladder_variable(LADDER)
    version = registered()
    outcome = {}

    def mallory_then_bob():
        mallory = airflow.approver("mallory")
        bob = airflow.approver("bob")
        request = bob.wait_for("approve_version")
        with pytest.raises(ApprovalRefused) as refused:
            mallory.approve(request, reason="let me in")
        outcome["status_code"] = refused.value.status_code
        return bob.reject(request, reason="accuracy regressed on the holdout")

    dag_run = airflow.run("approve_version", {"arn": version["arn"], "approvers": ["bob"]}, mallory_then_bob)

    assert outcome["status_code"] == 403
    assert str(dag_run.state) == "success"  # a rejection is an answer, not a failure
    described = _describe(aws, version["arn"])
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "Rejected by bob" in described["ApprovalDescription"]
    assert "accuracy regressed on the holdout" in described["ApprovalDescription"]


def test_a_templated_approver_list_that_widens_the_ladder_is_refused_in_a_dag_run(
    airflow, aws, ladder_variable, registered
):
    """``approvers="{{ params.approvers }}"``: a run triggered with mallory in its params asks nobody."""
    ladder_variable(LADDER)
    version = registered()
    dag_run = airflow.run("approve_version", {"arn": version["arn"], "approvers": ["mallory"]})
    assert str(dag_run.state) == "failed"
    assert airflow.task_states(dag_run)["approve"] == "failed"
    assert airflow.approver("mallory").pending("approve_version") == []
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_a_decision_made_elsewhere_meanwhile_is_never_overwritten(aws, registered, make_context):
    version = registered()
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"],
        ModelApprovalStatus="Rejected",
        ApprovalDescription="rejected in Studio",
    )
    op = RequestModelApprovalOperator(task_id="approve", model_package_arn=version["arn"], ladder=LADDER)
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="never overwritten"):
        op.execute_complete(make_context(task_id="approve"), answer("bob", reason="looked fine yesterday"))
    assert governed_writes(aws) == {}
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "Rejected"


def test_task_approvers_may_narrow_the_ladder_never_widen_it(aws, registered, make_context):
    version = registered()
    op = RequestModelApprovalOperator(
        task_id="approve", model_package_arn=version["arn"], approvers=["bob", "mallory"], ladder=LADDER
    )
    with pytest.raises(AirflowFailException, match="mallory is not among the approvers of registration"):
        op.execute(make_context(task_id="approve"))


def test_a_retry_after_the_decision_was_written_finishes_without_asking(aws, registered, make_context):
    version = registered()
    context = make_context(task_id="approve")
    RequestModelApprovalOperator(
        task_id="approve", model_package_arn=version["arn"], ladder=LADDER
    ).execute_complete(context, answer("bob", reason="good"))
    retry = RequestModelApprovalOperator(task_id="approve", model_package_arn=version["arn"], ladder=LADDER)
    result = retry.execute(make_context(task_id="approve", try_number=2))
    assert result["status"] == "Approved" and result["decision"]["by"]["name"] == "bob"


def test_a_recorded_reject_fails_every_later_try_as_it_failed_the_first(aws, registered, make_context):
    """A retry after a crash, or a person's Clear, finds this run's Reject in the registry: the task fails
    again (``fail_on_reject``), it never completes as if the version had been approved."""
    from airflow.providers.standard.exceptions import HITLRejectException

    version = registered()

    def approval():
        return RequestModelApprovalOperator(
            task_id="approve", model_package_arn=version["arn"], ladder=LADDER, fail_on_reject=True
        )

    with pytest.raises(HITLRejectException):
        approval().execute_complete(make_context(task_id="approve"), answer("bob", "Reject", "not yet"))
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "Rejected"
    writes = governed_writes(aws)
    with pytest.raises(HITLRejectException, match="rejected by bob"):
        approval().execute(make_context(task_id="approve", try_number=2))
    with pytest.raises(HITLRejectException, match="rejected by bob"):
        approval().execute_complete(
            make_context(task_id="approve", try_number=3), answer("bob", "Reject", "not yet")
        )
    assert governed_writes(aws) == writes  # nothing written twice


def _bob_answers_a_run_whose_reason_param_is_set(airflow, ladder_variable, registered, reason):
    """A version pending approval, and a run of a DAG with a ``reason`` param set to "scheduled training"
    (as train_and_register has) in which bob approves with ``reason``; returns the run, the form bob was
    shown and the version."""
    ladder_variable(LADDER)
    version = registered()
    seen = {}

    def bob_approves():
        bob = airflow.approver("bob")
        request = bob.wait_for("approve_with_reason_param")
        seen["form"] = request.params
        bob.approve(request, reason=reason)

    dag_run = airflow.run(
        "approve_with_reason_param",
        {"arn": version["arn"], "approvers": ["bob"], "reason": "scheduled training"},
        bob_approves,
    )
    return dag_run, seen["form"], version


def test_a_dag_param_named_reason_never_fills_the_approvers_reason(airflow, aws, ladder_variable, registered):
    """train_and_register has a DAG param ``reason``; Airflow's form fills a field from a run value of the
    same name, so the approval form's one field has a name no run param has, and starts empty."""
    dag_run, form, version = _bob_answers_a_run_whose_reason_param_is_set(
        airflow, ladder_variable, registered, reason="my own words"
    )

    assert str(dag_run.state) == "success"
    assert list(form) == [REASON_FIELD], form
    assert not set(form) & set(airflow.dag("approve_with_reason_param").params), form
    assert form[REASON_FIELD]["value"] == "", form
    assert "Reason: my own words" in _describe(aws, version["arn"])["ApprovalDescription"]


def test_an_answer_whose_reason_is_the_runs_own_reason_param_is_refused(
    airflow, aws, ladder_variable, registered
):
    """Should a form still show the run's value, one click would record words the approver never wrote."""
    dag_run, _, version = _bob_answers_a_run_whose_reason_param_is_set(
        airflow, ladder_variable, registered, reason=" scheduled  training "
    )

    assert str(dag_run.state) == "failed"
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"


@pytest.mark.parametrize("option", ["Approve", "Reject"])
@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
def test_an_answer_without_a_reason_is_refused_and_audited(aws, registered, make_context, option, reason):
    """A reason is the approver's own words, always: an empty or blank one (the REST API takes it) decides
    nothing; the refusal is in the audit log and the task fails without retries, as every refusal does."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook

    version = registered()
    operator = RequestModelApprovalOperator(
        task_id="approve", model_package_arn=version["arn"], ladder=LADDER
    )
    with pytest.raises(AirflowFailException, match="no reason"):
        operator.execute_complete(make_context(task_id="approve"), answer("bob", option, reason))
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"
    [refused] = AuditLogHook(log_uri=LADDER["audit_log"]).events("churn", kind="refused")
    assert "no reason" in refused["reason"] and refused["details"]["by"] == "bob"
    assert not AuditLogHook(log_uri=LADDER["audit_log"]).events("churn", kind="decided")


def test_a_blank_reason_given_through_the_rest_api_is_refused(airflow, aws, ladder_variable, registered):
    """The review's case: bob answers through Airflow's HITL REST API with a reason of spaces (the UI's form
    would not send it; the API takes it). The run fails, the version stays pending."""
    dag_run, _, version = _bob_answers_a_run_whose_reason_param_is_set(
        airflow, ladder_variable, registered, reason="   "
    )
    assert str(dag_run.state) == "failed"
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"
