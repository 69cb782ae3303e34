"""Wait for an endpoint to be InService (on an expected config) and, optionally, at expected weights."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSensorTimeout

from airflow_modelreg.hooks.endpoint import SETTLED_OK, WAITING_FOR_SERVICE, EndpointHook
from airflow_modelreg.links.registry_view import ENDPOINT_LINKS, persist_endpoint_links
from airflow_modelreg.triggers.endpoint import EndpointInServiceTrigger, WaitTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class EndpointSensor(AwsBaseSensor[EndpointHook]):
    """Wait until an endpoint is InService, on ``expected_config`` if given, and (for traffic shifts) until its
    variants carry ``expected_weights``.

    The states come from the waiter model (``waiters/endpoint.json``): ``SystemUpdating`` (AWS maintenance)
    is waited out like ``Creating`` and ``Updating``. Unlike the Amazon provider's endpoint sensor,
    ``OutOfService`` and ``UpdateRollbackFailed`` fail, and an endpoint that is InService on another config
    than the expected one (an update rolled back) fails too. Failures that waiting cannot fix fail without
    retries; the sensor's ``timeout`` raises ``AirflowSensorTimeout`` (so ``soft_fail`` skips instead); an
    error talking to AWS fails the try, and ``retries`` apply.

    :param endpoint_name: the endpoint to watch (templated).
    :param expected_config: the endpoint config it must be InService on; InService on another fails the task
        (templated; default: any config).
    :param expected_weights: variant name -> weight each production variant must carry (its
        ``CurrentWeight``); the sensor waits until they all match (templated; default: any weights).
    :param deferrable: wait in the triggerer, without a worker slot, polling every ``poke_interval``
        (default: ``[operators] default_deferrable``).
    """

    aws_hook_class = EndpointHook
    template_fields: Sequence[str] = aws_template_fields(
        "endpoint_name", "expected_config", "expected_weights"
    )
    operator_extra_links = ENDPOINT_LINKS

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
        if status not in SETTLED_OK and status not in WAITING_FOR_SERVICE:
            raise AirflowFailException(
                f"Endpoint {self.endpoint_name} is {status}: {endpoint.get('FailureReason') or 'no reason given'}"
            )
        if status not in SETTLED_OK:
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
        persist_endpoint_links(context, self, self.endpoint_name)
        if not self.deferrable:
            return super().execute(context)
        return self.wait_in_triggerer(context, time.time() + self.timeout)

    def wait_in_triggerer(self, context: Context, deadline: float) -> None:
        if self.poke(context):
            return None
        remaining = deadline - time.time()
        if remaining <= 0:
            raise AirflowSensorTimeout(
                f"Endpoint {self.endpoint_name} was not as expected within {self.timeout:.0f}s."
            )
        self.defer(
            trigger=EndpointInServiceTrigger(
                endpoint_name=self.endpoint_name,
                waiter_delay=self.poke_interval,
                waiter_max_attempts=max(1, math.ceil(remaining / self.poke_interval)),
                state={"deadline": deadline},
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=remaining + 60),
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> None:
        persist_endpoint_links(context, self, self.endpoint_name)  # on resuming too, whatever XCom holds
        deadline = float((event.get("state") or {}).get("deadline") or time.time())
        if event.get("status") == "timeout":
            raise AirflowSensorTimeout(f"Endpoint {self.endpoint_name}: {event.get('message')}")
        if event.get("status") == "error":
            raise AirflowException(f"Waiting for {self.endpoint_name} failed: {event.get('message')}")
        if self.poke(context):
            return
        # InService, but not yet at the expected weights: look again after a poke interval, in the triggerer.
        if time.time() >= deadline:
            raise AirflowSensorTimeout(
                f"Endpoint {self.endpoint_name} did not reach the weights {self.expected_weights} within "
                f"{self.timeout:.0f}s."
            )
        self.defer(
            trigger=WaitTrigger(seconds=float(self.poke_interval), state={"deadline": deadline}),
            method_name="poke_again",
            timeout=timedelta(seconds=deadline - time.time() + 60),
        )

    def poke_again(self, context: Context, event: dict[str, Any]) -> None:
        return self.wait_in_triggerer(context, float(event["state"]["deadline"]))
