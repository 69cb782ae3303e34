"""The approval triggers against the stand-in over HTTP (aiobotocore): shared polling that survives transient
errors, and SQS events treated as hints that the registry confirms."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest

from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.triggers.model_approval import (
    STATE_CHANGE_DETAIL_TYPE,
    GroupListingWatch,
    ModelApprovalTrigger,
    QueueEventWatch,
)

# One call per poll: botocore's own retries would hide what the trigger does with a failed poll.
NO_BOTOCORE_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.fixture(autouse=True)
def no_watches_left():
    yield
    GroupListingWatch._watches.clear()
    QueueEventWatch._watches.clear()


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


async def _until(condition, timeout=30.0):
    """Wait (in the event loop) until ``condition()`` holds, as a test observes what a trigger did."""
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(condition):
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.05)


def _decide(sm, arn, status="Approved", **kwargs):
    return asyncio.to_thread(
        sm.update_model_package, ModelPackageArn=arn, ModelApprovalStatus=status, **kwargs
    )


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
        await _decide(sm, decided[0])
        await _decide(sm, decided[1], "Rejected", ApprovalDescription="bias check failed")
        await _decide(sm, decided[2])
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
    deadline = time.time() + 0.5
    event = asyncio.run(_first_event(ModelApprovalTrigger(arn, poll_interval=0.2, timeout_at=deadline)))
    assert event == {"status": "timeout", "model_package_arn": arn}


def test_trigger_round_trips_through_serialize(aws):
    trigger = ModelApprovalTrigger(
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
        poll_interval=5,
        sqs_queue_url="q",
        max_poll_failures=7,
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_modelreg.triggers.model_approval.ModelApprovalTrigger"
    assert ModelApprovalTrigger(**kwargs).serialize() == (path, kwargs)


# ------------------------------------------------------------------------------- transient errors
def test_transient_errors_are_retried_inside_the_trigger(aws, pending_versions):
    (arn,) = pending_versions(1)
    sm = aws.boto3_client("sagemaker")

    async def scenario():
        task = asyncio.create_task(
            _first_event(ModelApprovalTrigger(arn, poll_interval=0.1, botocore_config=NO_BOTOCORE_RETRIES))
        )
        aws.inject_faults(rate=1.0, kinds=["5xx", "throttle"], actions=["ListModelPackages"])
        await _until(lambda: sum(aws.usage()["injected_faults"].values()) >= 3)  # three polls failed
        aws.clear_faults()
        await _decide(sm, arn)
        return await asyncio.wait_for(task, timeout=30)

    event = asyncio.run(scenario())
    assert event["status"] == "Approved"


def test_a_waiter_fails_retryably_after_its_bound_of_failed_polls(aws, pending_versions):
    (arn,) = pending_versions(1)
    aws.inject_faults(rate=1.0, kinds=["5xx"], actions=["ListModelPackages"])
    event = asyncio.run(
        _first_event(
            ModelApprovalTrigger(
                arn, poll_interval=0.05, botocore_config=NO_BOTOCORE_RETRIES, max_poll_failures=3
            )
        )
    )
    assert event["status"] == "error" and event["retryable"] is True
    assert "3 polls in a row" in event["message"]
    assert aws.calls()["sagemaker:ListModelPackages"] == 3


def test_only_the_affected_waiter_fails(aws, pending_versions):
    """Access to one version is denied (a permanent error): its waiter fails, not retryable; the waiter on
    the other version of the same group, sharing the poll, sees its decision."""
    refused, fine = pending_versions(2)
    sm = aws.boto3_client("sagemaker")

    async def scenario():
        tasks = [
            asyncio.create_task(_first_event(ModelApprovalTrigger(arn, poll_interval=0.1)))
            for arn in (refused, fine)
        ]
        await asyncio.sleep(0.3)
        aws.inject_faults(rate=1.0, kinds=["deny"], actions=["DescribeModelPackage"], body_contains=refused)
        await _decide(sm, refused)
        await _decide(sm, fine)
        return await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)

    refused_event, fine_event = asyncio.run(scenario())
    assert refused_event["status"] == "error" and refused_event["retryable"] is False
    assert "AccessDenied" in refused_event["message"]
    assert fine_event["status"] == "Approved"


# ----------------------------------------------------------------------------------- SQS events
@pytest.fixture
def queue(aws):
    return ModelRegistryHook().route_state_changes_to_queue("modelreg-decisions", groups=["churn"])


def _event_body(arn: str, status: str, **detail) -> str:
    """A "SageMaker Model Package State Change" event as EventBridge delivers it to an SQS target."""
    return json.dumps(
        {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": STATE_CHANGE_DETAIL_TYPE,
            "source": "aws.sagemaker",
            "account": "123456789012",
            "time": "2026-11-23T00:00:00Z",
            "region": "us-east-1",
            "resources": [arn],
            "detail": {"ModelPackageArn": arn, "ModelApprovalStatus": status, **detail},
        }
    )


def _queued(aws, queue_url) -> int:
    attributes = aws.boto3_client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_an_event_is_confirmed_with_one_describe(aws, pending_versions, queue):
    arn, other = pending_versions(2)
    sm = aws.boto3_client("sagemaker")

    async def scenario():
        trigger = ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=600)
        task = asyncio.create_task(_first_event(trigger))
        await _until(lambda: aws.calls().get("sqs:ReceiveMessage", 0) >= 1)  # the registry was checked first
        aws.reset_calls()
        await _decide(sm, other, "Rejected")
        await _decide(sm, arn)
        return await asyncio.wait_for(task, timeout=15), aws.calls()

    event, calls = asyncio.run(scenario())
    assert event["status"] == "Approved" and event["source"] == "eventbridge"
    assert calls.get("sagemaker:DescribeModelPackage") == 1  # the confirmation; none for the other version
    assert "sagemaker:ListModelPackages" not in calls  # no registry check needed within the interval


def test_bad_messages_are_dropped_and_harm_no_waiter(aws, pending_versions, queue):
    (arn,) = pending_versions(1)
    sqs, sm = aws.boto3_client("sqs"), aws.boto3_client("sagemaker")
    bad = [
        "not json at all",
        json.dumps(["a", "list"]),
        json.dumps(
            {"detail-type": STATE_CHANGE_DETAIL_TYPE, "source": "aws.sagemaker", "detail": "a string"}
        ),
        json.dumps(
            {
                "detail-type": STATE_CHANGE_DETAIL_TYPE,
                "source": "aws.sagemaker",
                "detail": {"ModelPackageArn": [arn], "ModelApprovalStatus": "Approved"},
            }
        ),
        _event_body("arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/not-a-number", "Approved"),
    ]
    for body in bad:
        sqs.send_message(QueueUrl=queue, MessageBody=body)

    async def scenario():
        trigger = ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=600)
        task = asyncio.create_task(_first_event(trigger))
        await _until(lambda: _queued(aws, queue) == 0)  # every bad message deleted
        assert not task.done()  # and the waiter is still waiting
        await _decide(sm, arn)
        return await asyncio.wait_for(task, timeout=15)

    assert asyncio.run(scenario())["status"] == "Approved"


def test_a_forged_approval_of_a_pending_version_is_ignored(aws, pending_versions, queue):
    (arn,) = pending_versions(1)
    sqs, sm = aws.boto3_client("sqs"), aws.boto3_client("sagemaker")

    async def scenario():
        trigger = ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=600)
        task = asyncio.create_task(_first_event(trigger))
        await _until(lambda: aws.calls().get("sqs:ReceiveMessage", 0) >= 1)
        await asyncio.to_thread(sqs.send_message, QueueUrl=queue, MessageBody=_event_body(arn, "Approved"))
        watch = QueueEventWatch._watches[("aws_default", None, queue)]
        await _until(lambda: watch.ignored == 1)
        assert not task.done()
        await _decide(sm, arn, "Rejected", ApprovalDescription="failed review")
        return await asyncio.wait_for(task, timeout=15)

    event = asyncio.run(scenario())
    assert event["status"] == "Rejected" and event["approval_description"] == "failed review"


def test_events_no_waiter_can_use_are_deleted(aws, pending_versions, queue):
    """Every registration sends its own Pending event; decisions on versions nobody waits for arrive too.
    None of them stays in the queue."""
    waited, *others = pending_versions(12)  # 12 Pending events queued
    sm = aws.boto3_client("sagemaker")

    async def scenario():
        trigger = ModelApprovalTrigger(waited, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=600)
        task = asyncio.create_task(_first_event(trigger))
        for arn in others[:3]:
            await _decide(sm, arn, "Rejected")
        await _until(lambda: _queued(aws, queue) == 0)
        assert not task.done()
        task.cancel()

    asyncio.run(scenario())


def test_two_triggerers_waiting_for_one_version_both_see_the_decision(aws, pending_versions, queue):
    """Each SQS message reaches one consumer: the triggerer that does not receive the event sees the decision
    through its registry check, within one interval."""
    (arn,) = pending_versions(1)
    sm = aws.boto3_client("sagemaker")
    key = ("aws_default", None, queue)

    async def scenario():
        first = asyncio.create_task(
            _first_event(ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=1))
        )
        await _until(lambda: key in QueueEventWatch._watches)
        one = QueueEventWatch._watches.pop(key)  # the next trigger gets a watch of its own: another triggerer
        second = asyncio.create_task(
            _first_event(ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=1))
        )
        await _until(lambda: key in QueueEventWatch._watches)
        other = QueueEventWatch._watches[key]
        assert other is not one
        await _decide(sm, arn)
        return await asyncio.wait_for(asyncio.gather(first, second), timeout=30)

    events = asyncio.run(scenario())
    assert [event["status"] for event in events] == ["Approved", "Approved"]
    assert {event["source"] for event in events} <= {"eventbridge", "registry"}


def test_a_restarted_trigger_sees_a_decision_taken_while_it_was_down(aws, pending_versions, queue):
    (arn,) = pending_versions(1)
    aws.boto3_client("sagemaker").update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    aws.boto3_client("sqs").purge_queue(QueueUrl=queue)  # its event went to a triggerer that then died
    aws.reset_calls()
    trigger = ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=600)
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=15))
    assert event["status"] == "Approved" and event["source"] == "registry"
    calls = aws.calls()  # one listing of the group's pending versions, one describe of the decided one
    assert calls["sagemaker:ListModelPackages"] == 1 and calls["sagemaker:DescribeModelPackage"] == 1


def test_a_backlog_of_unrelated_events_does_not_delay_detection(aws, pending_versions, queue):
    """Hundreds of registrations' Pending events queued ahead of the decision: it is still seen at the next
    registry check (or sooner, from its event), and the backlog is drained."""
    (arn,) = pending_versions(1)
    sqs, sm = aws.boto3_client("sqs"), aws.boto3_client("sagemaker")
    backlog = 300
    for start in range(0, backlog, 10):
        sqs.send_message_batch(
            QueueUrl=queue,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": _event_body(
                        f"arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/{1000 + i}",
                        "PendingManualApproval",
                    ),
                }
                for i in range(start, start + 10)
            ],
        )

    async def scenario():
        trigger = ModelApprovalTrigger(arn, sqs_queue_url=queue, sqs_wait_seconds=1, poll_interval=1)
        task = asyncio.create_task(_first_event(trigger))
        await _until(lambda: aws.calls().get("sqs:ReceiveMessage", 0) >= 1)
        aws.reset_calls()
        await _decide(sm, arn)
        event = await asyncio.wait_for(task, timeout=60)
        return event, aws.calls()

    event, calls = asyncio.run(scenario())
    assert event["status"] == "Approved"
    # Seen from its event or at the first registry check after it: never after a second one.
    assert calls.get("sagemaker:ListModelPackages", 0) <= 2
