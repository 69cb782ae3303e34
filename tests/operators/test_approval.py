"""Approval in the Airflow UI: real DAG runs, answered through Airflow's HITL REST API."""

from __future__ import annotations

import pytest

from airflow_modelreg.testing.approver import ApprovalRefused
from tests.helpers import put_artifact, register_operator


@pytest.fixture
def registered(aws, bucket, make_context):
    """Version 1 of 'churn', registered by alice and pending approval; and version 0's metrics baseline."""

    def register(registered_by="alice", run_id="manual__2026-11-23T00:00:00+00:00", metrics=None):
        artifact = put_artifact(aws, bucket)
        operator = register_operator(artifact, registered_by=registered_by, metrics=metrics or {"auc": 0.91})
        return operator.execute(make_context(run_id=run_id))

    return register


def _describe(aws, arn):
    return aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_assigned_approver_approves_and_the_registry_records_who_why_and_the_run(airflow, aws, registered):
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
    # The approver saw the version card: metrics, lineage and digest.
    request = seen["request"]
    assert request.subject == "Approve churn version 1?"
    assert "| auc | 0.91 |" in request.body
    assert version["digest"] in request.body
    assert [user["id"] for user in request.assigned_users] == ["bob"]


def test_registrant_answer_is_refused_and_the_status_stays(airflow, aws, registered):
    version = registered(registered_by="bob")

    def bob_approves_own_version():
        bob = airflow.approver("bob")
        return bob.approve(bob.wait_for("approve_version"), reason="mine is great")

    dag_run = airflow.run(
        "approve_version", {"arn": version["arn"], "approvers": ["bob", "carol"]}, bob_approves_own_version
    )

    assert str(dag_run.state) == "failed"
    assert airflow.task_states(dag_run)["approve"] == "failed"
    described = _describe(aws, version["arn"])
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert "ApprovalDescription" not in described


def test_unassigned_user_is_forbidden_and_a_reject_records_the_reason(airflow, aws, registered):
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
