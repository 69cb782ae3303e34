"""ModelApprovalSensor in real DAG runs (deferred, the trigger run by dag.test) against the stand-in."""

from __future__ import annotations

import threading
import time

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.hooks.audit_log import AuditLogHook
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from tests.helpers import LADDER, answer, put_artifact, register_operator


@pytest.fixture
def pending(aws):
    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    return sm.create_model_package(
        ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval"
    )["ModelPackageArn"]


def _decide_later(aws, arn, status, description=None, delay=3.0):
    def decide():
        time.sleep(delay)
        kwargs = {"ApprovalDescription": description} if description else {}
        aws.boto3_client("sagemaker").update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus=status, **kwargs
        )

    thread = threading.Thread(target=decide, daemon=True)
    thread.start()
    return thread


def test_sensor_sees_a_decision_made_outside_airflow(airflow, aws, pending):
    _decide_later(aws, pending, "Approved")
    dag_run = airflow.run("wait_for_decision", {"arn": pending})
    assert str(dag_run.state) == "success"
    assert airflow.xcom(dag_run, "wait")["status"] == "Approved"


def test_rejection_fails_the_sensor_with_the_reason(airflow, aws, pending):
    _decide_later(aws, pending, "Rejected", "fairness review failed")
    dag_run = airflow.run("wait_for_decision", {"arn": pending})
    assert str(dag_run.state) == "failed"
    assert airflow.task_states(dag_run)["wait"] == "failed"


# ------------------------------------------------------------------ exceptions, retries and soft_fail
def _sensor(arn, **kwargs):
    from airflow_modelreg.sensors.model_approval import ModelApprovalSensor

    kwargs.setdefault("timeout", 60)
    return ModelApprovalSensor(task_id="wait", model_package_arn=arn, **kwargs)


def _resume(sensor, event, make_context):
    """How Airflow resumes a deferred sensor: through ``resume_execution`` (where soft_fail applies)."""
    return sensor.resume_execution("execute_complete", {"event": event}, make_context(task_id="wait"))


def test_a_timeout_is_a_sensor_timeout_and_soft_fail_skips(aws, pending, make_context):
    from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

    event = {"status": "timeout", "model_package_arn": pending}
    with pytest.raises(AirflowSensorTimeout, match="still PendingManualApproval"):
        _resume(_sensor(pending, deferrable=True), event, make_context)
    with pytest.raises(AirflowSkipException):
        _resume(_sensor(pending, deferrable=True, soft_fail=True), event, make_context)


def test_a_watch_that_gave_up_on_aws_errors_leaves_the_retry_to_airflow(aws, pending, make_context):
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    retryable = {"status": "error", "model_package_arn": pending, "message": "5xx", "retryable": True}
    with pytest.raises(AirflowException, match="5xx") as raised:
        _resume(_sensor(pending, deferrable=True, retries=3), retryable, make_context)
    assert not isinstance(raised.value, AirflowFailException)  # so `retries` apply
    permanent = {**retryable, "message": "AccessDenied", "retryable": False}
    with pytest.raises(AirflowFailException, match="AccessDenied"):
        _resume(_sensor(pending, deferrable=True, retries=3), permanent, make_context)


def test_configuration_errors_fail_without_retries(aws, make_context):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="Invalid model package ARN"):
        _sensor("not-an-arn", deferrable=True).execute(make_context(task_id="wait"))
    missing = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/99"
    aws.boto3_client("sagemaker").create_model_package_group(ModelPackageGroupName="churn")
    for deferrable in (True, False):
        with pytest.raises(AirflowFailException, match="not found"):
            _sensor(missing, deferrable=deferrable, poke_interval=0.1).execute(make_context(task_id="wait"))


def test_an_event_the_registry_does_not_confirm_keeps_the_sensor_waiting(aws, pending, make_context):
    from airflow.sdk.exceptions import TaskDeferred

    event = {"status": "Approved", "model_package_arn": pending, "source": "eventbridge"}
    with pytest.raises(TaskDeferred):  # still pending in the registry: wait on, not fail
        _resume(_sensor(pending, deferrable=True), event, make_context)


# ------------------------------------------------------------------ who approved: allowed approvers only
TWO_REGISTRATION_APPROVERS = {**LADDER, "registration_approvers": ["bob", "carol"]}


@pytest.fixture
def approved_by_bob(aws, bucket, make_context):
    """Version 1 of 'churn', registered by alice and approved by bob through the approval operator."""
    version = register_operator(put_artifact(aws, bucket), ladder=TWO_REGISTRATION_APPROVERS).execute(
        make_context(run_id="manual__train")
    )
    RequestModelApprovalOperator(
        task_id="approve", model_package_arn=version["arn"], ladder=TWO_REGISTRATION_APPROVERS
    ).execute_complete(make_context(task_id="approve"), answer("bob", reason="metrics hold"))
    return version["arn"]


def _sensor_for(arn, **kwargs):
    return _sensor(arn, ladder=TWO_REGISTRATION_APPROVERS, poke_interval=0.1, timeout=5, **kwargs)


def test_an_approval_by_an_allowed_approver_counts_and_names_them(aws, approved_by_bob, make_context):
    result = _sensor_for(approved_by_bob, allowed_approvers=["bob"]).execute(make_context(task_id="wait"))
    assert result["status"] == "Approved" and result["approved_by"] == "bob"


def test_an_approval_by_someone_not_allowed_fails_and_is_audited(aws, approved_by_bob, make_context):
    with pytest.raises(AirflowFailException, match="by 'bob', who is not an allowed approver \\(carol\\)"):
        _sensor_for(approved_by_bob, allowed_approvers=["carol"]).execute(make_context(task_id="wait"))
    refused = AuditLogHook(log_uri=LADDER["audit_log"]).events("churn", kind="refused")
    assert refused and "not an allowed approver" in refused[-1]["reason"]


def test_an_approval_made_outside_airflow_cannot_be_told_and_fails_saying_so(aws, pending, make_context):
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=pending, ModelApprovalStatus="Approved", ApprovalDescription="Approved by bob"
    )
    with pytest.raises(AirflowFailException, match="decided outside Airflow.*cannot be told"):
        _sensor_for(pending, allowed_approvers=["bob"]).execute(make_context(task_id="wait"))


def test_a_rejection_overturned_outside_airflow_fails(aws, bucket, make_context):
    version = register_operator(put_artifact(aws, bucket), ladder=TWO_REGISTRATION_APPROVERS).execute(
        make_context(run_id="manual__train")
    )
    SetModelApprovalOperator(
        task_id="gate",
        model_package_arn=version["arn"],
        status="Rejected",
        reason="leak",
        ladder=TWO_REGISTRATION_APPROVERS,
    ).execute(make_context(task_id="gate"))
    # Approved with the AWS CLI: the registry says Approved; the last decision recorded here says Rejected.
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved", ApprovalDescription="Approved by bob"
    )
    with pytest.raises(AirflowFailException, match="last decision this provider recorded is Rejected"):
        _sensor_for(version["arn"], allowed_approvers=["bob"]).execute(make_context(task_id="wait"))


def test_allowed_approvers_may_narrow_the_ladder_never_widen_it(aws, approved_by_bob, make_context):
    calls_before = aws.calls().get("sagemaker:DescribeModelPackage", 0)
    with pytest.raises(AirflowFailException, match="mallory is not among the approvers of registration"):
        _sensor_for(approved_by_bob, allowed_approvers=["mallory"]).execute(make_context(task_id="wait"))
    assert aws.calls().get("sagemaker:DescribeModelPackage", 0) == calls_before  # refused before looking
