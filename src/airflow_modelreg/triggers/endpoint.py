"""Triggers for deployments: wait for an endpoint to settle, and bake a traffic step while watching alarms."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_modelreg.hooks.endpoint import IN_PROGRESS


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
    """

    seconds: float
    state: dict | None

    def __init__(self, seconds: float, state: dict | None = None) -> None:
        super().__init__(seconds=seconds, state=state)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        await asyncio.sleep(self.seconds)
        yield TriggerEvent({"status": "waited", "state": self.state})


class EndpointSettledTrigger(_AwsTrigger):
    """Fire when an endpoint leaves Creating/Updating/RollingBack, with its status and config.

    The operator compares the config with the one it deployed: an update SageMaker rolled back ends
    ``InService`` on the *old* config, which is a failed deployment, not a success.
    """

    endpoint_name: str
    aws_conn_id: str | None
    region_name: str | None
    botocore_config: dict | None
    poll_interval: float
    timeout_at: float | None

    def __init__(
        self,
        endpoint_name: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        botocore_config: dict | None = None,
        poll_interval: float = 30.0,
        timeout_at: float | None = None,
    ) -> None:
        super().__init__(
            endpoint_name=endpoint_name,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            botocore_config=botocore_config,
            poll_interval=poll_interval,
            timeout_at=timeout_at,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = _endpoint_hook(self.aws_conn_id, self.region_name, self.botocore_config)
        async with await hook.get_async_conn() as client:
            while True:
                try:
                    endpoint = await client.describe_endpoint(EndpointName=self.endpoint_name)
                except Exception as error:
                    yield TriggerEvent({"status": "error", "message": str(error)})
                    return
                status = endpoint["EndpointStatus"]
                if status not in IN_PROGRESS:
                    yield TriggerEvent(
                        {
                            "status": status,
                            "config": endpoint.get("EndpointConfigName"),
                            "failure_reason": endpoint.get("FailureReason"),
                        }
                    )
                    return
                if self.timeout_at is not None and time.time() > self.timeout_at:
                    yield TriggerEvent({"status": "timeout", "last_status": status})
                    return
                await asyncio.sleep(self.poll_interval)


class TrafficBakeTrigger(_AwsTrigger):
    """Bake a traffic step for ``bake_seconds``, checking the alarms every ``poll_interval``.

    Fires ``alarm`` (with the alarms in ALARM) as soon as one fires, else ``baked`` at the end. ``state``
    (plain values) comes back in every event: where the shift was, for the step that resumes it.
    """

    alarms: list[str]
    state: dict | None
    bake_seconds: float
    aws_conn_id: str | None
    region_name: str | None
    botocore_config: dict | None
    poll_interval: float

    def __init__(
        self,
        alarms: Sequence[str],
        bake_seconds: float,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        botocore_config: dict | None = None,
        poll_interval: float = 15.0,
        state: dict | None = None,
    ) -> None:
        super().__init__(
            alarms=list(alarms),
            bake_seconds=bake_seconds,
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            botocore_config=botocore_config,
            poll_interval=poll_interval,
            state=state,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        deadline = time.monotonic() + self.bake_seconds
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
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    yield TriggerEvent({"status": "baked", "state": self.state})
                    return
                await asyncio.sleep(min(self.poll_interval, remaining))
