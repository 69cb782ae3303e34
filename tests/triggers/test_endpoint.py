"""Endpoint triggers over HTTP (aiobotocore) against the stand-in."""

from __future__ import annotations

import asyncio

from airflow_modelreg.triggers.endpoint import EndpointSettledTrigger, TrafficBakeTrigger
from tests.helpers import put_alarm


async def _first(trigger):
    async for event in trigger.run():
        return event.payload


def _endpoint(aws):
    sm = aws.boto3_client("sagemaker")
    sm.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "img"}
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfg",
        ProductionVariants=[
            {
                "VariantName": "live",
                "ModelName": "m",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg")


def test_settled_trigger_reports_status_and_config(aws):
    _endpoint(aws)
    event = asyncio.run(_first(EndpointSettledTrigger("ep", poll_interval=0.1)))
    assert event == {"status": "InService", "config": "cfg", "failure_reason": None}


def test_settled_trigger_reports_a_missing_endpoint_as_an_error(aws):
    event = asyncio.run(_first(EndpointSettledTrigger("nope", poll_interval=0.1)))
    assert event["status"] == "error" and "nope" in event["message"]


def test_bake_trigger_bakes_when_alarms_stay_ok(aws):
    put_alarm(aws, "a")
    trigger = TrafficBakeTrigger(["a"], bake_seconds=0.5, poll_interval=0.1, state={"index": 1})
    assert asyncio.run(_first(trigger)) == {"status": "baked", "state": {"index": 1}}


def test_bake_trigger_fires_early_on_alarm(aws):
    put_alarm(aws, "a")
    cloudwatch = aws.boto3_client("cloudwatch")

    async def scenario():
        task = asyncio.create_task(_first(TrafficBakeTrigger(["a"], bake_seconds=60, poll_interval=0.1)))
        await asyncio.sleep(0.3)
        await asyncio.to_thread(
            cloudwatch.set_alarm_state, AlarmName="a", StateValue="ALARM", StateReason="x"
        )
        return await asyncio.wait_for(task, timeout=5)

    assert asyncio.run(scenario()) == {"status": "alarm", "alarms": ["a"], "state": None}
