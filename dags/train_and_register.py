"""Train a churn model, register it as a new version, and ask a person to approve it.

The story: a data engineer (or the drift sensor, through the retraining Asset) starts this DAG. ``train``
fits a small model on generated data and uploads ``model.tar.gz`` to S3. ``register`` records it in the
SageMaker Model Registry as a new version of the group, with its metrics, lineage (commit, DAG run,
training data), and the artifact's SHA-256; a version below the quality gate is registered as Rejected with
the reason. ``request_approval`` then shows the version card to the approvers in the Airflow UI and
writes their decision, with their name and reason, back to the registry.

Defaults run on the local AWS stand-in (``make demo``); point the ``aws_default`` connection at a real
account to run the same DAG there.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.register import RegisterModelVersionOperator

with DAG(
    dag_id="train_and_register",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "group": Param("churn", type="string", description="Model package group"),
        "bucket": Param("modelreg-demo", type="string", description="S3 bucket for artifacts"),
        "seed": Param(7, type="integer"),
        "shift": Param(0.0, type="number", description="Shift of the training data (retraining after drift)"),
        "reason": Param("scheduled training", type="string", description="Why this run trains"),
    },
    doc_md=__doc__,
) as dag:

    @task
    def train(params: dict | None = None, run_id: str | None = None) -> dict:
        """Train on generated data and upload the artifact; return its URI and held-out metrics."""
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_modelreg.demo.training import train_and_evaluate

        assert params is not None
        artifact, metrics = train_and_evaluate(seed=params["seed"], shift=params["shift"])
        safe_run = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(run_id))
        key = f"{params['group']}/{safe_run}/model.tar.gz"
        S3Hook(aws_conn_id="aws_default").load_bytes(
            artifact, key=key, bucket_name=params["bucket"], replace=True
        )
        return {"artifact": f"s3://{params['bucket']}/{key}", "metrics": metrics}

    trained = train()

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
        custom_metadata={"modelreg:lineage:reason": "{{ params.reason }}"},
        quality_gate={"minimums": {"auc": 0.6}},
    )
    request_approval = RequestModelApprovalOperator(
        task_id="request_approval",
        model_package_arn="{{ ti.xcom_pull(task_ids='register')['arn'] }}",
    )
    trained >> register >> request_approval
