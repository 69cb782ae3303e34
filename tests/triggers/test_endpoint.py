"""Endpoint triggers over HTTP (aiobotocore) against the stand-in: the waiter-model waits, and the bake."""

from __future__ import annotations

import asyncio
import time

from airflow_modelreg.triggers.endpoint import (
    EndpointDeletedTrigger,
    EndpointInServiceTrigger,
    TrafficBakeTrigger,
)
from tests.helpers import one_variant_endpoint, put_alarm


async def _first(trigger):
    async for event in trigger.run():
        return event.payload


def test_in_service_trigger_reports_status_config_and_state(aws):
    one_variant_endpoint(aws)
    event = asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1, state={"then": "check"})))
    assert event == {
        "status": "InService",
        "config": "cfg",
        "pending_config": None,
        "failure_reason": None,
        "state": {"then": "check"},
    }


def test_system_updating_is_waited_out(aws):
    one_variant_endpoint(aws)
    asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1)))
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    aws.reset_calls()

    async def scenario():
        task = asyncio.create_task(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1)))
        deadline = time.monotonic() + 30
        while aws.calls().get("sagemaker:DescribeEndpoint", 0) < 3:  # it looked, and kept looking
            assert time.monotonic() < deadline and not task.done()
            await asyncio.sleep(0.05)
        assert not task.done()  # maintenance is in progress, not a failure
        await asyncio.to_thread(aws.set_endpoint_state, "ep", settle_now=True)
        return await asyncio.wait_for(task, timeout=30)

    assert asyncio.run(scenario())["status"] == "InService"


def test_a_failed_endpoint_ends_the_wait_with_its_reason(aws):
    one_variant_endpoint(aws)
    asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1)))
    aws.set_endpoint_state("ep", status="Failed", failure_reason="The primary container did not pass ping")
    event = asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1)))
    assert event["status"] == "Failed"
    assert event["failure_reason"] == "The primary container did not pass ping"


def test_a_missing_endpoint_ends_the_wait_as_deleted(aws):
    event = asyncio.run(_first(EndpointInServiceTrigger("nope", waiter_delay=0.1)))
    assert event["status"] == "Deleted"


def test_the_wait_times_out_after_its_attempts(aws):
    one_variant_endpoint(aws)
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=60)
    event = asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1, waiter_max_attempts=3)))
    assert event["status"] == "timeout"


def test_deleted_trigger_fires_once_the_endpoint_is_gone(aws):
    sm = one_variant_endpoint(aws)
    asyncio.run(_first(EndpointInServiceTrigger("ep", waiter_delay=0.1)))
    sm.delete_endpoint(EndpointName="ep")
    event = asyncio.run(_first(EndpointDeletedTrigger("ep", waiter_delay=0.1)))
    assert event["status"] == "Deleted"


def test_triggers_round_trip_through_serialize():
    for trigger in (
        EndpointInServiceTrigger(
            "ep", waiter_delay=2, waiter_max_attempts=5, state={"a": 1}, region_name="eu-west-1"
        ),
        TrafficBakeTrigger(["a"], bake_until=1_900_000_000.0, poll_interval=3, state={"index": 1}),
    ):
        path, kwargs = trigger.serialize()
        assert type(trigger)(**kwargs).serialize() == (path, kwargs)


def test_bake_trigger_bakes_until_its_deadline_when_alarms_stay_ok(aws):
    put_alarm(aws, "a")
    deadline = time.time() + 0.5
    trigger = TrafficBakeTrigger(["a"], bake_until=deadline, poll_interval=0.1, state={"index": 1})
    assert asyncio.run(_first(trigger)) == {"status": "baked", "state": {"index": 1}}
    assert time.time() >= deadline


def test_a_bake_survives_a_triggerer_restart_with_its_deadline(aws):
    """The trigger is serialised mid-bake and re-created from its arguments, as a restarted triggerer does:
    the bake ends at the original deadline, not a full bake later."""
    put_alarm(aws, "a")
    bake_seconds = 2.0
    trigger = TrafficBakeTrigger(["a"], bake_until=time.time() + bake_seconds, poll_interval=0.1)

    async def restart_mid_bake():
        first = asyncio.create_task(_first(trigger))
        await asyncio.sleep(bake_seconds / 2)
        first.cancel()  # the triggerer stops
        path, kwargs = trigger.serialize()
        restarted = TrafficBakeTrigger(**kwargs)
        started = time.monotonic()
        event = await _first(restarted)
        return event, time.monotonic() - started

    event, took = asyncio.run(restart_mid_bake())
    assert event["status"] == "baked"
    assert took < bake_seconds * 0.9  # what was left of the bake, not a new one


def test_bake_trigger_fires_early_on_alarm(aws):
    put_alarm(aws, "a")
    cloudwatch = aws.boto3_client("cloudwatch")

    async def scenario():
        task = asyncio.create_task(
            _first(TrafficBakeTrigger(["a"], bake_until=time.time() + 60, poll_interval=0.1))
        )
        await asyncio.sleep(0.3)
        await asyncio.to_thread(
            cloudwatch.set_alarm_state, AlarmName="a", StateValue="ALARM", StateReason="x"
        )
        return await asyncio.wait_for(task, timeout=5)

    assert asyncio.run(scenario()) == {"status": "alarm", "alarms": ["a"], "state": None}
