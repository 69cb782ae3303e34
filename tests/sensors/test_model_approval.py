"""ModelApprovalSensor in real DAG runs (deferred, the trigger run by dag.test) against the stand-in."""

from __future__ import annotations

import threading
import time

import pytest


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
