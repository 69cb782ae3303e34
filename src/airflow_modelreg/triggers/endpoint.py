"""Triggers for deployments: wait for an endpoint's state (waiter models), and bake a traffic step while
watching alarms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.providers.amazon.aws.exceptions import WaiterMaxAttemptsError, WaiterTerminalFailure
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger
from airflow.providers.amazon.aws.utils.waiter_with_logging import async_wait
from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import ClientError

from airflow_modelreg.hooks.endpoint import EndpointHook


def _endpoint_hook(aws_conn_id: str | None, region_name: str | None, botocore_config: dict | None) -> Any:
    from airflow_modelreg.hooks.endpoint import EndpointHook

    return EndpointHook(aws_conn_id=aws_conn_id, region_name=region_name, config=botocore_config)


class _AwsTrigger(BaseTrigger):
    """Serialises its constructor's keyword arguments (all plain values)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__()
        self._kwargs = kwargs
        for key, value in kwargs.items():
            setattr(self, key, value)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return f"{type(self).__module__}.{type(self).__qualname__}", dict(self._kwargs)


class WaitTrigger(_AwsTrigger):
    """Wait ``seconds`` in the triggerer, then fire with ``state`` (plain values) for the resumed task.

    Like Airflow's ``TimeDeltaTrigger``, but the task's state travels in the event itself, so it survives
    every way a task is resumed (``dag.test()`` in Airflow 3.3 keeps only the event, not ``defer`` kwargs).

    :param seconds: how long to wait, in seconds, counted from each start of the trigger.
    :param state: plain values returned in the event as ``state`` (default: ``None``).
    """

    seconds: float
    state: dict | None

    def __init__(self, seconds: float, state: dict | None = None) -> None:
        super().__init__(seconds=seconds, state=state)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(self.seconds)
        yield TriggerEvent({"status": "waited", "state": self.state})


class _EndpointWaiterTrigger(AwsBaseWaiterTrigger):
    """Wait with a waiter of ``waiters/endpoint.json`` through the Amazon provider's ``async_wait`` (which
    retries throttling and 5xx), then describe the endpoint once more, so the resumed task judges the state it
    ended in: its status, its config (an update SageMaker rolled back ends ``InService`` on the *old* config),
    the config still pending and the ``FailureReason``.

    Events: ``{"status": <EndpointStatus>|"Deleted", "config", "pending_config", "failure_reason",
    "state"}``; ``{"status": "timeout"|"error", "message", "state"}`` when the wait ends otherwise. ``state``
    (plain values) comes back in every event: where the task was, for the step that resumes it.
    """

    aws_hook_class = EndpointHook
    waiter_name: str

    def __init__(
        self,
        endpoint_name: str,
        waiter_delay: float = 30,
        waiter_max_attempts: int = 120,
        state: dict | None = None,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict | None = None,
    ) -> None:
        super().__init__(
            serialized_fields={"endpoint_name": endpoint_name, "state": state},
            waiter_name=self.waiter_name,
            waiter_args={"EndpointName": endpoint_name},
            failure_message=f"Endpoint {endpoint_name} will not get there by waiting",
            status_message=f"Endpoint {endpoint_name} is",
            status_queries=["EndpointStatus", "FailureReason"],
            return_key="endpoint_name",
            return_value=endpoint_name,
            waiter_delay=waiter_delay,  # type: ignore[arg-type]
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            botocore_config=botocore_config,
        )
        self.endpoint_name = endpoint_name
        self.state = state

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self.hook()
        async with await hook.get_async_conn() as client:
            waiter = hook.get_waiter(self.waiter_name, deferrable=True, client=client)
            try:
                await async_wait(
                    waiter,
                    self.waiter_delay,
                    self.attempts,
                    self.waiter_args,
                    self.failure_message,
                    self.status_message,
                    self.status_queries,
                )
            except WaiterTerminalFailure:
                pass  # a failure state of the waiter: described below for the task to judge
            except WaiterMaxAttemptsError as error:
                yield TriggerEvent({"status": "timeout", "message": str(error), "state": self.state})
                return
            except Exception as error:  # an error the waiter does not retry (access denied...)
                yield TriggerEvent({"status": "error", "message": str(error), "state": self.state})
                return
            try:
                endpoint = await client.describe_endpoint(EndpointName=self.endpoint_name)
            except ClientError as error:
                if "Could not find endpoint" not in str(error):
                    yield TriggerEvent({"status": "error", "message": str(error), "state": self.state})
                    return
                endpoint = None
        yield TriggerEvent({**endpoint_event(endpoint), "state": self.state})


def endpoint_event(endpoint: dict[str, Any] | None) -> dict[str, Any]:
    """What a wait reports about the endpoint it ended on (``None``: the endpoint no longer exists)."""
    if endpoint is None:
        return {"status": "Deleted", "config": None, "pending_config": None, "failure_reason": None}
    return {
        "status": endpoint["EndpointStatus"],
        "config": endpoint.get("EndpointConfigName"),
        "pending_config": EndpointHook.pending_config(endpoint),
        "failure_reason": endpoint.get("FailureReason"),
    }


class EndpointInServiceTrigger(_EndpointWaiterTrigger):
    """Fire when an endpoint is InService again, or in a state waiting will not get it out of."""

    waiter_name = "EndpointInService"


class EndpointDeletedTrigger(_EndpointWaiterTrigger):
    """Fire when a deleted endpoint is gone (``status`` ``Deleted``), or its delete failed."""

    waiter_name = "EndpointDeleted"


class TrafficBakeTrigger(_AwsTrigger):
    """Bake a traffic step until ``bake_until`` (UNIX time), checking the alarms every ``poll_interval``.

    Fires ``alarm`` (with the alarms in ALARM) as soon as one fires, else ``baked`` at the deadline. The
    deadline is absolute and part of the serialized arguments, so a triggerer that restarts (and re-creates
    the trigger from them) resumes the same bake rather than starting it over. ``state`` (plain values)
    comes back in every event: where the shift was, for the step that resumes it.

    A loop of its own rather than a waiter model: a bake ends on a wall-clock deadline unless an alarm
    fires, which botocore's attempt-counting waiters cannot express.

    :param alarms: names of the CloudWatch alarms to check; none: the step bakes until ``bake_until``.
    :param bake_until: UNIX time (seconds) at which the bake ends with ``baked``.
    :param aws_conn_id: the Airflow connection of the account the alarms are in (default ``aws_default``).
    :param region_name: the alarms' region (default: the connection's).
    :param botocore_config: botocore ``Config`` arguments for the CloudWatch client.
    :param poll_interval: seconds between alarm checks (default 15).
    :param state: plain values returned in every event as ``state`` (default: ``None``).
    """

    alarms: list[str]
    state: dict | None
    bake_until: float
    aws_conn_id: str | None
    region_name: str | None
    botocore_config: dict | None
    poll_interval: float

    def __init__(
        self,
        alarms: Sequence[str],
        bake_until: float,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        botocore_config: dict | None = None,
        poll_interval: float = 15.0,
        state: dict | None = None,
    ) -> None:
        super().__init__(
            alarms=list(alarms),
            bake_until=bake_until,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            botocore_config=botocore_config,
            poll_interval=poll_interval,
            state=state,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = _endpoint_hook(self.aws_conn_id, self.region_name, self.botocore_config).sibling("cloudwatch")
        async with await hook.get_async_conn() as client:
            while True:
                firing: list[str] = []
                if self.alarms:
                    try:
                        found = await client.describe_alarms(AlarmNames=self.alarms)
                    except Exception as error:
                        yield TriggerEvent({"status": "error", "message": str(error), "state": self.state})
                        return
                    firing = [
                        a["AlarmName"] for a in found.get("MetricAlarms", []) if a["StateValue"] == "ALARM"
                    ]
                if firing:
                    yield TriggerEvent({"status": "alarm", "alarms": firing, "state": self.state})
                    return
                remaining = self.bake_until - time.time()
                if remaining <= 0:
                    yield TriggerEvent({"status": "baked", "state": self.state})
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
