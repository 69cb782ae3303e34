"""Test DAG: one promotion step to a given environment (params: arn, environment)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.assets import APPROVALS_ALIAS
from airflow_modelreg.operators.promote import promotion_step, rollback_step

with DAG(
    dag_id="promote_one",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"arn": Param("", type="string"), "environment": Param("dev", type="string")},
):
    promotion_step(
        "promote",
        # A test whose scripted approver failed ends instead of waiting forever.
        response_timeout=timedelta(minutes=5),
        model_package_arn="{{ params.arn }}",
        environment="{{ params.environment }}",
        outlets=[APPROVALS_ALIAS],
    )

with DAG(
    dag_id="rollback_one",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"group": Param("churn", type="string"), "environment": Param("prod", type="string")},
):
    rollback_step(
        "rollback",
        # A test whose scripted approver failed ends instead of waiting forever.
        response_timeout=timedelta(minutes=5),
        group="{{ params.group }}",
        environment="{{ params.environment }}",
        outlets=[APPROVALS_ALIAS],
    )
