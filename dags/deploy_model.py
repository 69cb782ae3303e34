"""Deploy the version just approved for prod next to the one it replaces, then shift traffic to it.

The story: this DAG is scheduled on the Asset "model approved for prod", so a promotion to prod starts it.
``resolve_prod`` reads the prod pointer (refusing a revoked version or a changed artifact). ``deploy``
builds an A/B endpoint: the previous prod version as ``champion`` with all the traffic and the new one as
``challenger`` with none (or the new one alone, the first time), with data capture for drift monitoring;
only prod's current and previous versions (Approved, artifacts unchanged, never one rolled back out) may
reach ``churn-prod``, the endpoint the ladder binds to prod; the same request twice changes nothing.
``shift_traffic`` moves traffic to the challenger 10% -> 50% -> 100%, baking between steps without a
worker slot and watching the endpoint's CloudWatch alarm: if it fires, the weights go back and the task
fails naming the alarm.

Defaults run on the local AWS stand-in (the demo creates the alarm).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param, task

from airflow_modelreg.assets import approved_model_asset
from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.operators.traffic import ShiftTrafficOperator

GROUP = "churn"
ENDPOINT = "churn-prod"

with DAG(
    dag_id="deploy_model",
    schedule=[approved_model_asset(GROUP, "prod")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "execution_role_arn": Param("arn:aws:iam::123456789012:role/sagemaker-execution", type="string"),
        "capture_uri": Param("s3://modelreg-demo/capture/churn-prod", type="string"),
        "alarm": Param("churn-prod-5xx", type="string", description="CloudWatch alarm that rolls back"),
        "bake_seconds": Param(2, type="number", description="Bake time between traffic steps"),
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
) as dag:
    resolved = ResolveApprovedModelOperator(task_id="resolve_prod", group=GROUP, environment="prod")

    @task
    def plan_variants(model: dict) -> list[dict]:
        """Champion: the version prod ran before (no traffic yet goes to the challenger). After a rollback
        the restored version serves alone: the version rolled back out is never deployed again."""
        variants = [{"name": "challenger", "model_package_arn": model["arn"], "weight": 0.0}]
        if model["action"] == "rollback":
            variants[0].update(name="champion", weight=1.0)
        elif model.get("previous_arn") and model["previous_arn"] != model["arn"]:
            variants.insert(
                0, {"name": "champion", "model_package_arn": model["previous_arn"], "weight": 1.0}
            )
        else:
            variants[0]["weight"] = 1.0
        return variants

    variants = plan_variants(resolved.output)
    deploy = DeployModelOperator(
        task_id="deploy",
        environment="prod",
        endpoint_name=ENDPOINT,
        variants=variants,
        execution_role_arn="{{ params.execution_role_arn }}",
        data_capture_uri="{{ params.capture_uri }}",
        poll_interval=1,
        deferrable=True,
    )

    @task.short_circuit
    def has_champion(variants: list[dict]) -> bool:
        """Traffic is shifted only when there is a champion to shift from."""
        return len(variants) == 2

    shift = ShiftTrafficOperator(
        task_id="shift_traffic",
        environment="prod",
        endpoint_name=ENDPOINT,
        from_variant="champion",
        to_variant="challenger",
        steps=[10, 50, 100],
        bake_seconds="{{ params.bake_seconds }}",
        poll_interval=1,
        alarms=["{{ params.alarm }}"],
        deferrable=True,
    )
    deploy >> has_champion(variants) >> shift
