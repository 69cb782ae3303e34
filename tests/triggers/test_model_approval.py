"""The approval triggers against the stand-in over HTTP (aiobotocore): shared polling and SQS events."""

from __future__ import annotations

import asyncio
import time

import pytest

from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.triggers.model_approval import GroupListingWatch, ModelApprovalTrigger


@pytest.fixture
def pending_versions(aws):
    def make(count, group="churn"):
        sm = aws.boto3_client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName=group)
        return [
            sm.create_model_package(ModelPackageGroupName=group, ModelApprovalStatus="PendingManualApproval")[
                "ModelPackageArn"
            ]
            for _ in range(count)
        ]

    return make


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def test_hundred_waiters_share_one_listing_per_interval(aws, pending_versions):
    arns = pending_versions(100)
    decided = arns[:3]
    sm = aws.boto3_client("sagemaker")
    interval = 0.5

    async def scenario():
        tasks = [
            asyncio.create_task(_first_event(ModelApprovalTrigger(arn, poll_interval=interval)))
            for arn in arns
        ]
        await asyncio.sleep(interval * 3)  # a few polls with nothing decided
        aws.reset_calls()
        polls_before = GroupListingWatch._watches[("aws_default", None, "churn")].polls
        await asyncio.to_thread(
            sm.update_model_package, ModelPackageArn=decided[0], ModelApprovalStatus="Approved"
        )
        await asyncio.to_thread(
            sm.update_model_package,
            ModelPackageArn=decided[1],
            ModelApprovalStatus="Rejected",
            ApprovalDescription="bias check failed",
        )
        await asyncio.to_thread(
            sm.update_model_package, ModelPackageArn=decided[2], ModelApprovalStatus="Approved"
        )
        done, _ = await asyncio.wait(tasks[:3], timeout=10)
        watch = GroupListingWatch._watches[("aws_default", None, "churn")]
        polls = watch.polls - polls_before
        calls = aws.calls()
        still_waiting = sum(not task.done() for task in tasks[3:])
        for task in tasks:
            task.cancel()
        return [task.result() for task in tasks[:3]], calls, polls, still_waiting

    events, calls, polls, still_waiting = asyncio.run(scenario())

    assert [event["status"] for event in events] == ["Approved", "Rejected", "Approved"]
    assert events[1]["approval_description"] == "bias check failed"
    assert still_waiting == 97
    # One listing page per poll for all 100 waiters, plus one describe per decided version.
    assert polls >= 1
    assert calls.get("sagemaker:ListModelPackages", 0) <= polls + 1
    assert calls.get("sagemaker:DescribeModelPackage", 0) == 3
    assert GroupListingWatch._watches == {}  # the shared watch stopped with its last waiter


def test_timeout_fires_a_timeout_event(aws, pending_versions):
    (arn,) = pending_versions(1)
    event = asyncio.run(
        _first_event(ModelApprovalTrigger(arn, poll_interval=0.2, timeout_at=time.time() + 0.5))
    )
    assert event == {"status": "timeout", "model_package_arn": arn}


def test_trigger_round_trips_through_serialize(aws):
    trigger = ModelApprovalTrigger(
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3", poll_interval=5, sqs_queue_url="q"
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_modelreg.triggers.model_approval.ModelApprovalTrigger"
    assert ModelApprovalTrigger(**kwargs).serialize() == (path, kwargs)


def test_event_driven_trigger_sees_a_decision_without_polling_the_registry(aws, pending_versions):
    arn, other = pending_versions(2)
    queue_url = ModelRegistryHook().route_state_changes_to_queue("modelreg-decisions", groups=["churn"])
    sm = aws.boto3_client("sagemaker")

    async def scenario():
        task = asyncio.create_task(
            _first_event(ModelApprovalTrigger(arn, sqs_queue_url=queue_url, sqs_wait_seconds=1))
        )
        await asyncio.sleep(0.5)
        aws.reset_calls()
        await asyncio.to_thread(
            sm.update_model_package, ModelPackageArn=other, ModelApprovalStatus="Rejected"
        )
        await asyncio.to_thread(sm.update_model_package, ModelPackageArn=arn, ModelApprovalStatus="Approved")
        return await asyncio.wait_for(task, timeout=15), aws.calls()

    event, calls = asyncio.run(scenario())
    assert event["status"] == "Approved"
    assert event["source"] == "eventbridge"
    assert not any(
        call.startswith("sagemaker:List") or call.startswith("sagemaker:Describe") for call in calls
    )
