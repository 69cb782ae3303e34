"""Hook for SageMaker endpoints: models from versions, endpoint configs, deployments, weights, alarms."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_modelreg.domain.deployment import VariantSpec
from airflow_modelreg.domain.errors import GovernanceError, NotFoundError, RegistryError
from airflow_modelreg.domain.validation import validate_entity_name
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws

# Which EndpointStatus values mean done, in progress or failed is one reviewed table: the waiter model.
WAITERS = Path(__file__).resolve().parents[1] / "waiters" / "endpoint.json"


def _statuses(waiter: str, state: str) -> tuple[str, ...]:
    acceptors = json.loads(WAITERS.read_text())["waiters"][waiter]["acceptors"]
    return tuple(a["expected"] for a in acceptors if a["matcher"] == "path" and a["state"] == state)


SETTLED_OK = _statuses("EndpointInService", "success")
# On the way to InService (SystemUpdating, AWS maintenance, included).
WAITING_FOR_SERVICE = _statuses("EndpointInService", "retry")
# Still moving: SageMaker refuses changes, waiting is the only right thing to do. Deleting ends with no endpoint.
IN_PROGRESS = WAITING_FOR_SERVICE + _statuses("EndpointDeleted", "retry")
# Will never serve again by waiting.
FAILED = tuple(s for s in _statuses("EndpointInService", "failure") if s not in IN_PROGRESS)


class EndpointHook(ModelRegBaseHook):
    """SageMaker endpoints through an Airflow AWS connection. Every create is "if missing", so a
    deployment repeated with the same request changes nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:
        """This provider's waiter models (``get_waiter`` reads custom waiters from here)."""
        return WAITERS

    def ensure_model(self, name: str, model_package_arn: str, execution_role_arn: str) -> bool:
        """Create the SageMaker model serving a version, unless it exists; return whether it was created.

        An existing model of that name is reused only if it serves the same version with the same execution
        role; anything else is refused (``GovernanceError``), never silently served: models cannot be
        changed in place, and deleting one that a live endpoint config uses would break that endpoint.
        """
        validate_entity_name(name, "model name")
        try:
            existing = call_aws(f"Model {name!r}", self.conn.describe_model, ModelName=name)
        except NotFoundError:
            existing = None
        if existing is None:
            try:
                call_aws(
                    f"Creating model {name!r} from {model_package_arn}",
                    self.conn.create_model,
                    ModelName=name,
                    ExecutionRoleArn=execution_role_arn,
                    Containers=[{"ModelPackageName": model_package_arn}],
                )
                return True
            except RegistryError as creating:
                # Another try of this deployment may have created it since our describe: check that one.
                try:
                    existing = call_aws(f"Model {name!r}", self.conn.describe_model, ModelName=name)
                except NotFoundError:
                    raise creating from None
        self.check_model(existing, model_package_arn, execution_role_arn)
        return False

    @staticmethod
    def check_model(model: Mapping[str, Any], model_package_arn: str, execution_role_arn: str) -> None:
        """Refuse a model that does not serve ``model_package_arn`` with ``execution_role_arn``."""
        containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
        served = [container.get("ModelPackageName") for container in containers]
        role = model.get("ExecutionRoleArn")
        if served != [model_package_arn] or role != execution_role_arn:
            raise GovernanceError(
                f"Refused: SageMaker model {model.get('ModelName')!r} already exists but serves "
                f"{', '.join(str(s) for s in served)} with role {role}, not {model_package_arn} with role "
                f"{execution_role_arn}. Models cannot be changed in place: delete that model (after checking "
                "no endpoint config still uses it), or deploy with the role it was created with."
            )

    def ensure_endpoint_config(
        self,
        name: str,
        production: Sequence[tuple[VariantSpec, str]],
        shadow: Sequence[tuple[VariantSpec, str]] = (),
        data_capture: Mapping[str, Any] | None = None,
    ) -> bool:
        """Create the endpoint config (variants paired with their model names) unless it exists.

        An existing config of that name is reused only if its variants are the planned ones (same models,
        instances and weights); anything else is refused (``GovernanceError``): the name derives from the
        request, so someone who knows the request can make a config of that name first, serving another
        model."""

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
        try:
            existing = call_aws(
                f"Endpoint config {name!r}", self.conn.describe_endpoint_config, EndpointConfigName=name
            )
        except NotFoundError:
            existing = None
        if existing is not None:
            self.check_endpoint_config(existing, kwargs)
            return False
        try:
            call_aws(f"Creating endpoint config {name!r}", self.conn.create_endpoint_config, **kwargs)
        except RegistryError as creating:
            # Its name derives from the request: one made by another try since our describe is this one.
            try:
                existing = call_aws(
                    f"Endpoint config {name!r}", self.conn.describe_endpoint_config, EndpointConfigName=name
                )
            except NotFoundError:
                raise creating from None
            self.check_endpoint_config(existing, kwargs)
            return False
        return True

    @staticmethod
    def check_endpoint_config(existing: Mapping[str, Any], planned: Mapping[str, Any]) -> None:
        """Refuse an existing endpoint config whose variants are not the planned ones."""

        def variants(config: Mapping[str, Any], key: str) -> list[tuple[Any, ...]]:
            return sorted(
                (
                    v.get("VariantName"),
                    v.get("ModelName"),
                    v.get("InitialInstanceCount"),
                    v.get("InstanceType"),
                    float(v.get("InitialVariantWeight", 1.0)),
                )
                for v in config.get(key) or []
            )

        for key in ("ProductionVariants", "ShadowProductionVariants"):
            if variants(existing, key) != variants(planned, key):
                raise GovernanceError(
                    f"Refused: endpoint config {existing.get('EndpointConfigName')!r} already exists with "
                    f"{key} {variants(existing, key)}, not the planned {variants(planned, key)}. It was not "
                    "made by this deployment; delete it (after checking no endpoint uses it)."
                )

    def describe_endpoint(self, name: str) -> dict[str, Any] | None:
        try:
            return call_aws(f"Endpoint {name!r}", self.conn.describe_endpoint, EndpointName=name)
        except NotFoundError:
            return None

    def create_endpoint(self, name: str, config: str, tags: Mapping[str, str] | None = None) -> bool:
        """Create the endpoint; ``False`` when it exists already (another try created it first)."""
        try:
            call_aws(
                f"Creating endpoint {name!r}",
                self.conn.create_endpoint,
                EndpointName=name,
                EndpointConfigName=config,
                Tags=[{"Key": k, "Value": v} for k, v in (tags or {}).items()],
            )
        except RegistryError as creating:
            if "already existing" in str(creating):
                return False
            raise
        return True

    def delete_endpoint(self, name: str) -> None:
        call_aws(f"Deleting endpoint {name!r}", self.conn.delete_endpoint, EndpointName=name)

    @staticmethod
    def pending_config(endpoint: Mapping[str, Any]) -> str | None:
        """The config a create or update in progress is moving the endpoint to (``PendingDeploymentSummary``)."""
        return (endpoint.get("PendingDeploymentSummary") or {}).get("EndpointConfigName")

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

    def wait_for(
        self, name: str, waiter_name: str = "EndpointInService", poll: float = 30, timeout: float = 3600
    ) -> dict[str, Any] | None:
        """Wait in this worker with a waiter of ``waiters/endpoint.json`` (through the Amazon provider's
        ``wait``, which logs each state and retries throttling); return the endpoint as described at the end,
        ``None`` once it no longer exists.

        It returns in the waiter's success state and in its failure states alike (the caller decides what a
        ``Failed`` endpoint or a rolled-back update means); it raises ``RegistryError`` when ``timeout``
        passes first or AWS refuses the describe.
        """
        from airflow.providers.amazon.aws.exceptions import WaiterTerminalFailure
        from airflow.providers.amazon.aws.utils.waiter_with_logging import wait

        try:
            wait(
                waiter=self.get_waiter(waiter_name),
                waiter_delay=poll,  # type: ignore[arg-type]
                waiter_max_attempts=max(1, math.ceil(timeout / max(poll, 0.001))),
                args={"EndpointName": name},
                failure_message=f"Endpoint {name!r} will not get there by waiting",
                status_message=f"Endpoint {name!r} is",
                status_args=["EndpointStatus", "FailureReason"],
            )
        except WaiterTerminalFailure:
            pass  # a failure state of the waiter: described below for the caller to judge
        except Exception as error:  # max attempts, or an error the waiter does not retry
            raise RegistryError(f"Waiting for endpoint {name!r} ({waiter_name}) failed: {error}") from error
        return self.describe_endpoint(name)

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
