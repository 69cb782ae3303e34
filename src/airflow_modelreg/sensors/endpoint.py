"""Wait for an endpoint to be InService (on an expected config) and, optionally, at expected weights."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.hooks.endpoint import FAILED, EndpointHook
from airflow_modelreg.links.model_registry import EndpointLink
from airflow_modelreg.triggers.endpoint import EndpointSettledTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class EndpointSensor(AwsBaseSensor[EndpointHook]):
    """Wait until an endpoint is InService, on ``expected_config`` if given, and (for traffic shifts) until its
    variants carry ``expected_weights``.

    Unlike the Amazon provider's endpoint sensor, ``OutOfService`` and ``UpdateRollbackFailed`` fail, and an
    endpoint that is InService on another config than the expected one (an update rolled back) fails too.
    """

    aws_hook_class = EndpointHook
    template_fields: Sequence[str] = aws_template_fields(
        "endpoint_name", "expected_config", "expected_weights"
    )
    operator_extra_links = (EndpointLink(),)

    def __init__(
        self,
        *,
        endpoint_name: str,
        expected_config: str | None = None,
        expected_weights: Mapping[str, float] | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.expected_config = expected_config
        self.expected_weights = expected_weights
        self.deferrable = deferrable

    def check(self, endpoint: Mapping[str, Any] | None) -> bool:
        if endpoint is None:
            raise AirflowFailException(f"Endpoint {self.endpoint_name!r} does not exist.")
        status = endpoint["EndpointStatus"]
        if status in FAILED:
            raise AirflowFailException(
                f"Endpoint {self.endpoint_name} is {status}: {endpoint.get('FailureReason') or 'no reason given'}"
            )
        if status != "InService":
            return False
        if self.expected_config and endpoint["EndpointConfigName"] != self.expected_config:
            raise AirflowFailException(
                f"Endpoint {self.endpoint_name} is InService on {endpoint['EndpointConfigName']}, not "
                f"{self.expected_config} ({endpoint.get('FailureReason') or 'the update was rolled back'})."
            )
        if self.expected_weights:
            weights = EndpointHook.weights_of(endpoint)
            return all(abs(weights.get(k, -1) - float(v)) < 1e-6 for k, v in self.expected_weights.items())
        return True

    def poke(self, context: Context) -> bool:
        return self.check(self.hook.describe_endpoint(self.endpoint_name))

    def execute(self, context: Context) -> Any:
        if not self.deferrable or self.poke(context):
            return super().execute(context) if not self.deferrable else None
        self.defer(
            trigger=EndpointSettledTrigger(
                endpoint_name=self.endpoint_name,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                botocore_config=self.botocore_config,
                poll_interval=self.poke_interval,
                timeout_at=time.time() + self.timeout,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout + 60),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        if event.get("status") in ("timeout", "error"):
            raise AirflowFailException(f"Waiting for {self.endpoint_name} failed: {event}")
        if not self.check(self.hook.describe_endpoint(self.endpoint_name)):
            raise AirflowFailException(f"Endpoint {self.endpoint_name} settled without the expected weights.")
