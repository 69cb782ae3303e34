"""The profiling fan-out of ``monitor_drift_fanout`` without its prod resolution, for ``bench/drift_fanout.py``:
list the capture window in batches, profile each batch in a mapped task, merge and decide."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.operators.drift import (
    DecideDriftOperator,
    ListCaptureBatchesOperator,
    ProfileCaptureOperator,
)

with DAG(
    dag_id="drift_fanout_bench",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    params={"capture_prefix": Param("", type="string"), "baseline_uri": Param("", type="string")},
) as dag:
    batches = ListCaptureBatchesOperator(
        task_id="list_capture_batches", capture_prefix="{{ params.capture_prefix }}", window_hours=24
    )
    profiles = ProfileCaptureOperator.partial(
        task_id="profile_capture", baseline_uri="{{ params.baseline_uri }}"
    ).expand(batch=batches.output)
    DecideDriftOperator(
        task_id="decide_drift",
        baseline_uri="{{ params.baseline_uri }}",
        profiles=profiles.output,
        window=batches.output["window"],
    )
