"""Test DAG: ask the given approvers to decide on one version (params: arn, approvers, environment)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.operators.approval import RequestModelApprovalOperator

with DAG(
    dag_id="approve_version",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={"arn": Param("", type="string"), "approvers": Param(["bob"], type="array")},
):
    RequestModelApprovalOperator(
        # A test whose scripted approver failed ends instead of waiting forever.
        response_timeout=timedelta(minutes=5),
        task_id="approve",
        model_package_arn="{{ params.arn }}",
        approvers="{{ params.approvers }}",
    )
