"""Watch the prod endpoint's traffic for drift, and start retraining when it comes.

The story: every hour, ``resolve_prod`` finds the model prod runs, whose training features (``baseline.csv``
beside its artifact) are the baseline. ``detect_drift`` reads the endpoint's data-capture files for the
last day and compares them with the baseline (PSI and KS per numeric feature, PSI and chi-square per
categorical one). Without drift it keeps waiting, in the triggerer, between checks. With drift it writes
the report (JSON, and an HTML page with a plot per drifted feature) and updates the Asset "drift detected
for churn", which schedules ``train_and_register``: the retraining run names the report in its lineage.

Defaults run on the local AWS stand-in.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.assets import drift_detected_asset
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
        "report_prefix": Param("s3://modelreg-demo/drift-reports", type="string"),
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
        since=None,
        poke_interval=60,
        timeout=3600,
        deferrable=True,
        outlets=[drift_detected_asset(GROUP)],
    )
    resolved >> detect
