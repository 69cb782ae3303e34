"""Score a batch with the model approved for an environment, then ask the next environment's approvers.

The story: an inference pipeline never names a model version. ``resolve_model`` asks Parameter Store which
version is approved for its environment (a few API calls, however many versions exist) and refuses one
that was revoked, whose artifact changed, or whose pointer the registry and the audit log do not confirm. ``score_batch`` downloads that artifact, scores the day's
customers and writes the predictions to S3. ``request_promotion`` then shows the next environment's
approvers the version card with the batch's results as evidence, and on their approval promotes it there
(the post-inference notification); in the last environment there is nothing to ask.

Defaults run on the local AWS stand-in.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_modelreg.assets import APPROVALS_ALIAS
from airflow_modelreg.notifications.email import ModelApprovalEmailNotifier
from airflow_modelreg.operators.promote import promotion_step
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator

with DAG(
    dag_id="batch_inference",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "group": Param("churn", type="string"),
        "environment": Param("dev", type="string", description="Environment whose approved model scores"),
        "bucket": Param("modelreg-demo", type="string"),
        "rows": Param(2000, type="integer"),
        "seed": Param(11, type="integer"),
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
) as dag:
    resolved = ResolveApprovedModelOperator(
        task_id="resolve_model", group="{{ params.group }}", environment="{{ params.environment }}"
    )

    @task
    def score_batch(model: dict, params: dict | None = None, run_id: str | None = None) -> dict:
        """Score generated customers with the resolved model; write predictions; return batch metrics."""
        import io
        import json
        import tarfile

        import numpy as np
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from airflow_modelreg.demo.training import auc, generate, predict
        from airflow_modelreg.hooks.model_registry import ModelRegistryHook

        assert params is not None
        s3 = S3Hook(aws_conn_id="aws_default")
        # The bytes the resolve task verified, checked again: the object could change in between.
        archive = ModelRegistryHook(aws_conn_id="aws_default").read_verified_artifact(
            model["artifact"], model["digest"]
        )
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            member = tar.extractfile("model.json")
            assert member is not None
            weights = json.load(member)
        x, y = generate(params["rows"], params["seed"])
        scores = predict(weights, x)
        out = f"{params['group']}/predictions/{params['environment']}/{run_id}.json".replace(":", "-")
        s3.load_string(
            json.dumps(scores.round(4).tolist()), key=out, bucket_name=params["bucket"], replace=True
        )
        return {
            "environment": params["environment"],
            "version": model["version"],
            "rows": int(len(scores)),
            "positive_rate": round(float(np.mean(scores > 0.5)), 4),
            "batch_auc": round(auc(y, scores), 4),
            "predictions": f"s3://{params['bucket']}/{out}",
        }

    metrics = score_batch(resolved.output)

    promotion_step(
        "request_promotion",
        model_package_arn="{{ ti.xcom_pull(task_ids='resolve_model')['arn'] }}",
        from_environment="{{ params.environment }}",
        evidence=metrics,
        notifiers=[ModelApprovalEmailNotifier()],
        outlets=[APPROVALS_ALIAS],
    )
