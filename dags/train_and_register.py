"""Train a churn model, register it as a new version, and ask a person to approve it; retrain on drift.

The story: a data engineer starts this DAG, or the drift sensor does, through the Asset "drift detected
for churn" (then this is the retraining DAG). ``retraining_context`` records why the run trains: the
drift report that caused it, if any. ``train`` fits a small model on generated data and uploads
``model.tar.gz`` to S3 with the training features as ``baseline.csv`` beside it (the drift baseline). ``register`` records it in the
SageMaker Model Registry as a new version of the group, with its metrics, lineage (commit, DAG run,
training data), and the artifact's SHA-256; a version below the quality gate is registered as Rejected with
the reason. ``request_approval`` then shows the version card to the approvers in the Airflow UI and
writes their decision, with their name and reason, back to the registry.

Defaults run on the local AWS stand-in (``make demo``); point the ``aws_default`` connection at a real
account to run the same DAG there.
"""

from __future__ import annotations

from typing import Any

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_modelreg.assets import drift_detected_asset
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.register import RegisterModelVersionOperator

with DAG(
    dag_id="train_and_register",
    schedule=[drift_detected_asset("churn")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "group": Param("churn", type="string", description="Model package group"),
        "bucket": Param("modelreg-demo", type="string", description="S3 bucket for artifacts"),
        "seed": Param(7, type="integer"),
        "shift": Param(0.0, type="number", description="Shift of the training data (retraining after drift)"),
        "reason": Param("scheduled training", type="string", description="Why this run trains"),
        "drift_report": Param(
            None,
            type=["null", "string"],
            description="Drift report that asked for this run (none: leave empty)",
        ),
    },
    doc_md=__doc__,
) as dag:

    @task
    def retraining_context(params: dict | None = None, triggering_asset_events: Any = None) -> dict:
        """Why this run trains: the drift event that scheduled it, or the parameters of a manual run."""
        assert params is not None
        for events in (triggering_asset_events or {}).values():
            for event in events:
                extra = event.extra or {}
                return {
                    "reason": extra.get("reason", "drift detected"),
                    "drift_report": extra.get("report_uri") or "",
                    "shift": 1.0,  # retrain on the recent, shifted population
                }
        return {
            "reason": params["reason"],
            "drift_report": params["drift_report"] or "",  # none given: no drift-report lineage
            "shift": params["shift"],
        }

    @task
    def train(context: dict, params: dict | None = None, run_id: str | None = None) -> dict:
        """Train on generated data; upload the artifact and its baseline; return the URI and metrics."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_modelreg.demo.traffic import baseline_csv
        from airflow_modelreg.demo.training import train_and_evaluate

        assert params is not None
        artifact, metrics = train_and_evaluate(seed=params["seed"], shift=context["shift"])
        safe_run = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(run_id))
        prefix = f"{params['group']}/{safe_run}"
        s3 = S3Hook(aws_conn_id="aws_default")
        s3.load_bytes(artifact, key=f"{prefix}/model.tar.gz", bucket_name=params["bucket"], replace=True)
        s3.load_string(
            baseline_csv(seed=params["seed"], shift=context["shift"]),
            key=f"{prefix}/baseline.csv",
            bucket_name=params["bucket"],
            replace=True,
        )
        return {"artifact": f"s3://{params['bucket']}/{prefix}/model.tar.gz", "metrics": metrics}

    why = retraining_context()
    trained = train(why)

    register = RegisterModelVersionOperator(
        task_id="register",
        group="{{ params.group }}",
        group_description="Churn propensity model",
        model_data_url="{{ ti.xcom_pull(task_ids='train')['artifact'] }}",
        metrics=trained["metrics"],
        image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-inference:1.4.0",
        content_types=["text/csv"],
        response_types=["text/csv"],
        commit_id="3f2a9c1",
        repository="https://git.example.com/ml/churn",
        lineage={"reason": why["reason"], "drift-report": why["drift_report"]},
        quality_gate={"minimums": {"auc": 0.6}},
    )
    request_approval = RequestModelApprovalOperator(
        task_id="request_approval",
        model_package_arn="{{ ti.xcom_pull(task_ids='register')['arn'] }}",
    )
    trained >> register >> request_approval
