"""Test DAG: a DAG param named ``reason`` (as ``train_and_register`` has) beside an approval, whose form's
Reason must still start empty (params: arn, approvers, reason)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.operators.approval import RequestModelApprovalOperator

with DAG(
    dag_id="approve_with_reason_param",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    render_template_as_native_obj=True,
    params={
        "arn": Param("", type="string"),
        "approvers": Param(["bob"], type="array"),
        "reason": Param("scheduled training", type="string", description="Why this run trains"),
    },
):
    RequestModelApprovalOperator(
        response_timeout=timedelta(minutes=5),
        task_id="approve",
        model_package_arn="{{ params.arn }}",
        approvers="{{ params.approvers }}",
    )
