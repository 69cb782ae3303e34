"""Test DAG: an approval request that emails its approvers (SMTP connection smtp_test)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.notifications.email import ModelApprovalEmailNotifier
from airflow_modelreg.operators.approval import RequestModelApprovalOperator

with DAG(
    dag_id="approve_with_email",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"arn": Param("", type="string")},
):
    RequestModelApprovalOperator(
        # A test whose scripted approver failed ends instead of waiting forever.
        response_timeout=timedelta(minutes=5),
        task_id="approve",
        model_package_arn="{{ params.arn }}",
        approvers=["bob"],
        notifiers=[
            ModelApprovalEmailNotifier(
                to=["bob@example.com"], smtp_conn_id="smtp_test", from_email="modelreg@example.com"
            )
        ],
    )
