"""Triggers that wait, in the triggerer, for a version to be decided by anyone, anywhere.

Many approval waits run at once in one triggerer. Rather than one ``DescribeModelPackage`` per waiter per
interval (the Amazon provider's pattern), waiters on the same group share one poll: a paginated
``ListModelPackages`` of the group's *pending* versions; a waiter's version that left that list was decided,
and only then is it described. Cost per interval: one page per 100 pending versions, whatever the number of
waiters. The event-driven trigger goes further: it reads "SageMaker Model Package State Change" events that
EventBridge routes to an SQS queue, so a decision is seen within seconds without polling the registry.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Hashable
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_modelreg.domain.validation import validate_model_package_arn

DECIDED = ("Approved", "Rejected")
STATE_CHANGE_DETAIL_TYPE = "SageMaker Model Package State Change"


def group_of(arn: str) -> str:
    """The group name in a versioned model package ARN (``.../model-package/<group>/<n>``)."""
    return validate_model_package_arn(arn).split(":model-package/", 1)[1].rsplit("/", 1)[0]


class SharedWatch:
    """One watch loop per key (a group, a queue) serving every waiter on it in this triggerer process.

    A waiter calls :meth:`wait` with the ARN it waits for; the loop resolves it when :meth:`poll_once`
    reports that ARN decided. The loop starts with its first waiter and stops when the last one leaves.
    Subclasses implement :meth:`poll_once`. Only waiting futures live here: nothing survives the
    triggerer, and a restarted trigger starts over with a fresh check.
    """

    _watches: ClassVar[dict[Hashable, SharedWatch]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._watches = {}

    def __init__(self, key: Hashable, interval: float) -> None:
        self.key = key
        self.interval = interval
        self.waiters: dict[str, list[asyncio.Future]] = {}
        self.polls = 0
        self._task: asyncio.Task | None = None

    @classmethod
    def for_key(cls, key: Hashable, interval: float, **kwargs: Any) -> SharedWatch:
        watch = cls._watches.get(key)
        if watch is None:
            watch = cls._watches[key] = cls(key, interval, **kwargs)  # type: ignore[call-arg]
        watch.interval = min(watch.interval, interval)
        return watch

    async def wait(self, arn: str) -> dict[str, Any]:
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.waiters.setdefault(arn, []).append(future)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"modelreg-watch-{self.key}")
        try:
            return await future
        finally:
            futures = self.waiters.get(arn, [])
            if future in futures:
                futures.remove(future)
            if not futures:
                self.waiters.pop(arn, None)

    async def _run(self) -> None:
        try:
            while self.waiters:
                try:
                    decided = await self.poll_once(set(self.waiters))
                    self.polls += 1
                except Exception as error:  # a failed poll fails its waiters, clearly, not silently
                    for futures in list(self.waiters.values()):
                        for future in futures:
                            if not future.done():
                                future.set_exception(error)
                    return
                for arn, version in decided.items():
                    for future in self.waiters.get(arn, []):
                        if not future.done():
                            future.set_result(version)
                if self.waiters:
                    await asyncio.sleep(self.interval)
        finally:
            if type(self)._watches.get(self.key) is self and not self.waiters:
                type(self)._watches.pop(self.key, None)

    async def poll_once(self, arns: set[str]) -> dict[str, dict[str, Any]]:
        """Return ``{arn: version}`` for the waited-for ARNs that are now decided."""
        raise NotImplementedError


def _registry_hook(aws_conn_id: str | None, region_name: str | None, botocore_config: dict | None) -> Any:
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    return ModelRegistryHook(aws_conn_id=aws_conn_id, region_name=region_name, config=botocore_config)


class GroupListingWatch(SharedWatch):
    """Shared poll of one group: list its pending versions, describe only those that left the list."""

    def __init__(self, key: Hashable, interval: float, hook: Any) -> None:
        super().__init__(key, interval)
        self.hook = hook
        self.group = key[-1]  # type: ignore[index]

    async def poll_once(self, arns: set[str]) -> dict[str, dict[str, Any]]:
        decided: dict[str, dict[str, Any]] = {}
        async with await self.hook.get_async_conn() as client:
            pending: set[str] = set()
            kwargs: dict[str, Any] = {
                "ModelPackageGroupName": self.group,
                "ModelApprovalStatus": "PendingManualApproval",
                "MaxResults": 100,
            }
            while True:
                page = await client.list_model_packages(**kwargs)
                pending.update(item["ModelPackageArn"] for item in page.get("ModelPackageSummaryList", []))
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
            for arn in arns - pending:
                version = await client.describe_model_package(ModelPackageName=arn)
                if version.get("ModelApprovalStatus") in DECIDED:
                    decided[arn] = _jsonable(version)
        return decided


class QueueEventWatch(SharedWatch):
    """Shared consumer of one SQS queue of "SageMaker Model Package State Change" events.

    Long polling (``WaitTimeSeconds``) means one ``ReceiveMessage`` per wait period for every waiter on the
    queue, and a decision arrives as soon as EventBridge delivers it. Messages about versions nobody here
    waits for are left to become visible again, for other consumers.
    """

    def __init__(self, key: Hashable, interval: float, hook: Any, queue_url: str, wait_seconds: int) -> None:
        super().__init__(key, interval)
        self.hook = hook
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds

    async def poll_once(self, arns: set[str]) -> dict[str, dict[str, Any]]:
        decided: dict[str, dict[str, Any]] = {}
        async with await self.hook.get_async_conn() as client:
            response = await client.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.wait_seconds
            )
            for message in response.get("Messages", []):
                event = _parse_event(message.get("Body", ""))
                detail = (event or {}).get("detail") or {}
                arn = detail.get("ModelPackageArn")
                if event is None or event.get("detail-type") != STATE_CHANGE_DETAIL_TYPE:
                    await client.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    continue
                if arn in arns:
                    await client.delete_message(
                        QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
                    if detail.get("ModelApprovalStatus") in DECIDED:
                        decided[arn] = {**detail, "Source": "eventbridge"}
        return decided


def _parse_event(body: str) -> dict[str, Any] | None:
    try:
        event = json.loads(body)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def _jsonable(version: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in version.items() if k != "ResponseMetadata"}, default=str))


class ModelApprovalTrigger(BaseTrigger):
    """Fire when a version is Approved or Rejected (by the Airflow UI, SageMaker Studio, the CLI...).

    :param model_package_arn: the version to watch.
    :param poll_interval: seconds between polls of the group (shared by all waiters on it).
    :param timeout_at: UNIX time after which the trigger fires a ``timeout`` event.
    :param sqs_queue_url: when given, watch "SageMaker Model Package State Change" events in this queue
        (routed there by an EventBridge rule) instead of polling the registry.
    """

    def __init__(
        self,
        model_package_arn: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        botocore_config: dict | None = None,
        poll_interval: float = 30.0,
        timeout_at: float | None = None,
        sqs_queue_url: str | None = None,
        sqs_wait_seconds: int = 20,
    ) -> None:
        super().__init__()
        self.model_package_arn = model_package_arn
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.botocore_config = botocore_config
        self.poll_interval = poll_interval
        self.timeout_at = timeout_at
        self.sqs_queue_url = sqs_queue_url
        self.sqs_wait_seconds = sqs_wait_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_package_arn": self.model_package_arn,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "botocore_config": self.botocore_config,
                "poll_interval": self.poll_interval,
                "timeout_at": self.timeout_at,
                "sqs_queue_url": self.sqs_queue_url,
                "sqs_wait_seconds": self.sqs_wait_seconds,
            },
        )

    def _watch(self) -> SharedWatch:
        if self.sqs_queue_url:
            from airflow.providers.amazon.aws.hooks.sqs import SqsHook

            hook = SqsHook(
                aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=self.botocore_config
            )
            return QueueEventWatch.for_key(
                (self.aws_conn_id, self.region_name, self.sqs_queue_url),
                0.0,
                hook=hook,
                queue_url=self.sqs_queue_url,
                wait_seconds=self.sqs_wait_seconds,
            )
        hook = _registry_hook(self.aws_conn_id, self.region_name, self.botocore_config)
        key = (self.aws_conn_id, self.region_name, group_of(self.model_package_arn))
        return GroupListingWatch.for_key(key, self.poll_interval, hook=hook)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        watch = self._watch()
        remaining = None if self.timeout_at is None else max(0.0, self.timeout_at - time.time())
        try:
            version = await asyncio.wait_for(watch.wait(self.model_package_arn), timeout=remaining)
        except TimeoutError:
            yield TriggerEvent({"status": "timeout", "model_package_arn": self.model_package_arn})
            return
        except Exception as error:
            yield TriggerEvent(
                {"status": "error", "model_package_arn": self.model_package_arn, "message": str(error)}
            )
            return
        yield TriggerEvent(
            {
                "status": version.get("ModelApprovalStatus"),
                "model_package_arn": self.model_package_arn,
                "approval_description": version.get("ApprovalDescription"),
                "source": version.get("Source", "registry"),
            }
        )
