"""Watch the prod endpoint's traffic for drift every hour, and start retraining when it comes.

The story: ``resolve_prod`` finds the model prod runs, whose training features (``baseline.csv`` beside its
artifact) are the baseline. ``detect_drift`` reads the endpoint's data-capture files of the last day, up to
the moment it runs (fresh traffic is always in, and no logical date is needed: a run triggered from the REST
API works the same), and judges each feature on effect sizes (PSI and a normalised distance, p-values
reported beside them). It writes the report (JSON, and an HTML page with a chart per feature) and succeeds
with the verdict, drift or no drift: a healthy hour is a green run. It waits, in the triggerer, only while
the window holds too little traffic to judge. ``announce_drift`` updates the Asset "drift detected for
churn" when there is drift, which schedules ``train_and_register`` (the retraining run names the report
in its lineage); without drift it skips itself and nothing retrains.

For endpoints whose capture is too big for one worker, ``monitor_drift_fanout`` splits the same check
over many. Defaults run on the local AWS stand-in.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.assets import drift_detected_asset
from airflow_modelreg.operators.drift import AnnounceDriftOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.sensors.drift import ModelDriftSensor

GROUP = "churn"

with DAG(
    dag_id="monitor_drift",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "capture_prefix": Param("s3://modelreg-demo/capture/churn-prod/churn-prod", type="string"),
        "report_prefix": Param("s3://modelreg-demo/reports", type="string"),
    },
    doc_md=__doc__,
) as dag:
    resolved = ResolveApprovedModelOperator(task_id="resolve_prod", group=GROUP, environment="prod")
    detect = ModelDriftSensor(
        task_id="detect_drift",
        source="data_capture",
        capture_prefix="{{ params.capture_prefix }}",
        baseline_uri="{{ ti.xcom_pull(task_ids='resolve_prod')['artifact'] | replace('model.tar.gz', 'baseline.csv') }}",
        report_prefix="{{ params.report_prefix }}",
        window_hours=24,
        min_rows=1000,
        poke_interval=60,
        timeout=3000,  # less than the schedule's hour: a quiet hour ends before the next run starts
        soft_fail=True,  # too little traffic to judge is not a failure
        deferrable=True,
    )
    announce = AnnounceDriftOperator(
        task_id="announce_drift", verdict=detect.output, outlets=[drift_detected_asset(GROUP)]
    )
    resolved >> detect >> announce
