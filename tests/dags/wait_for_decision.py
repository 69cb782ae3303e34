"""Test DAG: wait (deferrably) until a version is decided anywhere (params: arn, skip_on_reject)."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.sensors.model_approval import ModelApprovalSensor

with DAG(
    dag_id="wait_for_decision",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    params={"arn": Param("", type="string")},
):
    ModelApprovalSensor(
        task_id="wait",
        model_package_arn="{{ params.arn }}",
        deferrable=True,
        poke_interval=1,
        timeout=60,
        # The scheduler can read the executor's "success" for the deferring try at the wrong moment and fail
        # the try (the stale-report family of docs/hitl-race.md); as in any production DAG, a retry takes
        # it from there.
        retries=2,
        retry_delay=timedelta(seconds=1),
    )
