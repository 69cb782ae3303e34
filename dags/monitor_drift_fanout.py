"""Drift at scale: the same check as ``monitor_drift``, fanned out over Airflow workers.

The story: ``list_capture_batches`` lists the endpoint's data-capture files of the last day (up to the
moment it runs) in batches: one per hour folder of each variant, split so no batch exceeds
``max_batch_bytes``. ``profile_capture`` is mapped over the batches (Airflow dynamic task mapping): each
mapped task, on whichever worker is free, streams its files into a profile, integer counts on the
baseline's grid, and returns it through XCom (a few kilobytes). ``decide_drift`` merges the profiles,
exactly the profile one pass over all the files would give, judges each feature on effect sizes, writes
the report and succeeds with the verdict. ``announce_drift`` updates the Asset "drift detected for churn"
only when there is drift, which schedules retraining.

One DAG serves one worker or a Celery or Kubernetes fleet: add workers, not code. Run it instead of
``monitor_drift`` (give it that DAG's hourly schedule) when one worker cannot read a day of capture in
time; BENCHMARKS.md measures one and two workers and estimates a hundred. Defaults run on the local
AWS stand-in.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.assets import drift_detected_asset
from airflow_modelreg.operators.drift import (
    AnnounceDriftOperator,
    DecideDriftOperator,
    ListCaptureBatchesOperator,
    ProfileCaptureOperator,
)
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator

GROUP = "churn"
BASELINE = "{{ ti.xcom_pull(task_ids='resolve_prod')['artifact'] | replace('model.tar.gz', 'baseline.csv') }}"

with DAG(
    dag_id="monitor_drift_fanout",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "capture_prefix": Param("s3://modelreg-demo/capture/churn-prod/churn-prod", type="string"),
        "report_prefix": Param("s3://modelreg-demo/reports", type="string"),
        "window_hours": Param(24, type="number", exclusiveMinimum=0),
        "max_batch_bytes": Param(256 * 1024 * 1024, type="integer", minimum=1),
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
) as dag:
    resolved = ResolveApprovedModelOperator(task_id="resolve_prod", group=GROUP, environment="prod")
    batches = ListCaptureBatchesOperator(
        task_id="list_capture_batches",
        capture_prefix="{{ params.capture_prefix }}",
        window_hours="{{ params.window_hours }}",
        max_batch_bytes="{{ params.max_batch_bytes }}",
    )
    profiles = ProfileCaptureOperator.partial(task_id="profile_capture", baseline_uri=BASELINE).expand(
        batch=batches.output
    )
    verdict = DecideDriftOperator(
        task_id="decide_drift",
        baseline_uri=BASELINE,
        profiles=profiles.output,
        window=batches.output["window"],
        report_prefix="{{ params.report_prefix }}",
        min_rows=1000,
    )
    announce = AnnounceDriftOperator(
        task_id="announce_drift", verdict=verdict.output, outlets=[drift_detected_asset(GROUP)]
    )
    resolved >> batches
    profiles >> verdict >> announce
