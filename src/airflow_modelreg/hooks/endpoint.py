"""Hook for SageMaker endpoints: models from versions, endpoint configs, deployments, weights, alarms."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from airflow_modelreg.domain.deployment import VariantSpec
from airflow_modelreg.domain.errors import NotFoundError, RegistryError
from airflow_modelreg.domain.validation import validate_entity_name
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws

# EndpointStatus values and what they mean for a deployment waiting on them.
SETTLED_OK = ("InService",)
FAILED = ("Failed", "OutOfService", "UpdateRollbackFailed", "SystemUpdating")
IN_PROGRESS = ("Creating", "Updating", "RollingBack", "Deleting")


class EndpointHook(ModelRegBaseHook):
    """SageMaker endpoints through an Airflow AWS connection. Every create is "if missing", so a
    deployment repeated with the same request changes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    def ensure_model(self, name: str, model_package_arn: str, execution_role_arn: str) -> bool:
        """Create the SageMaker model serving a version, unless it exists; return whether it was created."""
        validate_entity_name(name, "model name")
        try:
            call_aws(f"Model {name!r}", self.conn.describe_model, ModelName=name)
            return False
        except NotFoundError:
            pass
        call_aws(
            f"Creating model {name!r} from {model_package_arn}",
            self.conn.create_model,
            ModelName=name,
            ExecutionRoleArn=execution_role_arn,
            Containers=[{"ModelPackageName": model_package_arn}],
        )
        return True

    def ensure_endpoint_config(
        self,
        name: str,
        production: Sequence[tuple[VariantSpec, str]],
        shadow: Sequence[tuple[VariantSpec, str]] = (),
        data_capture: Mapping[str, Any] | None = None,
    ) -> bool:
        """Create the endpoint config (variants paired with their model names) unless it exists."""
        try:
            call_aws(f"Endpoint config {name!r}", self.conn.describe_endpoint_config, EndpointConfigName=name)
            return False
        except NotFoundError:
            pass

        def variant(spec: VariantSpec, model: str) -> dict[str, Any]:
            return {
                "VariantName": spec.name,
                "ModelName": model,
                "InitialInstanceCount": spec.instance_count,
                "InstanceType": spec.instance_type,
                "InitialVariantWeight": float(spec.weight),
            }

        kwargs: dict[str, Any] = {
            "EndpointConfigName": name,
            "ProductionVariants": [variant(spec, model) for spec, model in production],
        }
        if shadow:
            kwargs["ShadowProductionVariants"] = [variant(spec, model) for spec, model in shadow]
        if data_capture:
            kwargs["DataCaptureConfig"] = dict(data_capture)
        call_aws(f"Creating endpoint config {name!r}", self.conn.create_endpoint_config, **kwargs)
        return True

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            return call_aws(f"Endpoint {name!r}", self.conn.describe_endpoint, EndpointName=name)
        except NotFoundError:
            return None

    def create_endpoint(self, name: str, config: str, tags: Mapping[str, str] | None = None) -> None:
        call_aws(
            f"Creating endpoint {name!r}",
            self.conn.create_endpoint,
            EndpointName=name,
            EndpointConfigName=config,
            Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        )

    def update_endpoint(self, name: str, config: str, deployment_config: Mapping[str, Any] | None) -> None:
        kwargs: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config}
        if deployment_config:
            kwargs["DeploymentConfig"] = dict(deployment_config)
        call_aws(f"Updating endpoint {name!r} to {config!r}", self.conn.update_endpoint, **kwargs)

    def set_weights(self, endpoint: str, weights: Mapping[str, float]) -> None:
        call_aws(
            f"Setting the weights of {endpoint!r} to {dict(weights)}",
            self.conn.update_endpoint_weights_and_capacities,
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": name, "DesiredWeight": float(weight)} for name, weight in weights.items()
            ],
        )

    @staticmethod
    def weights_of(endpoint: Mapping[str, Any]) -> dict[str, float]:
        return {
            variant["VariantName"]: float(variant.get("CurrentWeight", variant.get("DesiredWeight", 0.0)))
            for variant in endpoint.get("ProductionVariants", [])
        }

    def wait_settled(self, name: str, timeout: float = 1800, poll: float = 15) -> dict[str, Any]:
        """Wait (in this worker) until the endpoint leaves its in-progress states."""
        deadline = time.monotonic() + timeout
        while True:
            endpoint = self.describe_endpoint(name)
            if endpoint is None:
                raise NotFoundError(f"Endpoint {name!r} disappeared while waiting for it.")
            if endpoint["EndpointStatus"] not in IN_PROGRESS:
                return endpoint
            if time.monotonic() > deadline:
                raise RegistryError(
                    f"Endpoint {name!r} is still {endpoint['EndpointStatus']} after {timeout:.0f}s."
                )
            time.sleep(poll)

    # ---------------------------------------------------------------------------------- watching
    def alarm_states(self, names: Sequence[str]) -> dict[str, str]:
        """State of each named CloudWatch alarm; a missing alarm is an error (it could never fire)."""
        if not names:
            return {}
        cloudwatch = self.sibling("cloudwatch").conn
        found = call_aws("Describing alarms", cloudwatch.describe_alarms, AlarmNames=list(names))
        states = {alarm["AlarmName"]: alarm["StateValue"] for alarm in found.get("MetricAlarms", [])}
        missing = sorted(set(names) - set(states))
        if missing:
            raise NotFoundError(
                f"CloudWatch alarm(s) {', '.join(missing)} do not exist; they could never fire."
            )
        return states

    def variant_metrics(
        self, endpoint: str, variants: Sequence[str], start: datetime, end: datetime, period: int = 60
    ) -> dict[str, dict[str, float]]:
        """Per variant: invocations, mean model latency (ms) and 4xx/5xx errors over the window."""
        cloudwatch = self.sibling("cloudwatch").conn
        wanted = {
            "invocations": ("Invocations", "Sum"),
            "latency_ms": ("ModelLatency", "Average"),
            "errors_4xx": ("Invocation4XXErrors", "Sum"),
            "errors_5xx": ("Invocation5XXErrors", "Sum"),
        }
        queries = []
        for index, variant in enumerate(variants):
            for key, (metric, stat) in wanted.items():
                queries.append(
                    {
                        "Id": f"m{index}_{key}",
                        "Label": f"{variant}|{key}",
                        "MetricStat": {
                            "Metric": {
                                "Namespace": "AWS/SageMaker",
                                "MetricName": metric,
                                "Dimensions": [
                                    {"Name": "EndpointName", "Value": endpoint},
                                    {"Name": "VariantName", "Value": variant},
                                ],
                            },
                            "Period": period,
                            "Stat": stat,
                        },
                    }
                )
        result = call_aws(
            f"Metrics of {endpoint!r}",
            cloudwatch.get_metric_data,
            MetricDataQueries=queries,
            StartTime=start,
            EndTime=end,
        )
        summary: dict[str, dict[str, float]] = {variant: dict.fromkeys(wanted, 0.0) for variant in variants}
        for series in result.get("MetricDataResults", []):
            variant, key = series["Label"].split("|")
            values = series.get("Values", [])
            if not values:
                continue
            summary[variant][key] = float(sum(values) / len(values) if key == "latency_ms" else sum(values))
        return summary
