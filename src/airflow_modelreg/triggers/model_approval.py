"""Triggers that wait, in the triggerer, for a version to be decided by anyone, anywhere.

Many approval waits run at once in one triggerer. Rather than one ``DescribeModelPackage`` per waiter per
interval (the Amazon provider's pattern), waiters on the same group share one poll: a paginated
``ListModelPackages`` of the group's *pending* versions; a waiter's version that left that list was decided,
and only then is it described. Cost per interval: one page per 100 pending versions, whatever the number of
waiters.

The event-driven trigger also reads "SageMaker Model Package State Change" events that EventBridge routes to
an SQS queue, so a decision is usually seen within seconds. The registry stays the source of truth:

* an event is only a hint. Its shape is checked (a malformed message is logged and deleted, never fatal to
  any waiter), and a decision it announces for a waited-for version is confirmed with one
  ``DescribeModelPackage``; a forged or stale "Approved" for a version the registry still has pending is
  ignored;
* every message is deleted once read: events no waiter can use (every registration's own Pending event,
  decisions nobody here waits for) would otherwise cycle until the queue's retention and starve real ones;
* so that several triggerers can share one queue (each message reaches one of them), every consumer also
  checks the registry for its waiters once per interval (the shared group listing above). A decision whose
  event another triggerer consumed, or that was lost, is seen within one interval; however many unrelated
  events are queued, detection takes at most one interval plus one receive. A trigger that (re)starts has its
  group checked at the next poll, so a decision made while the triggerer was down is not missed.

A loop of its own rather than the Amazon provider's waiter machinery: a botocore waiter watches one resource
with one call per attempt, while the point here is one call per interval for every waiter of a group or queue.

Shared polls retry transient errors (throttling, 5xx, connection errors that outlast botocore's own retries)
with exponential backoff inside the trigger; a waiter fails only when its own polls have failed
``max_poll_failures`` times in a row, and only that waiter. A permanent error (access denied, a version that
does not exist) fails the waiters it concerns at once, marked not retryable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Hashable, Iterable
from contextlib import AsyncExitStack
from typing import Any, ClassVar

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.validation import validate_model_package_arn

log = logging.getLogger(__name__)

DECIDED = ("Approved", "Rejected")
STATE_CHANGE_DETAIL_TYPE = "SageMaker Model Package State Change"
# Throttling and server-side trouble (the Amazon provider's list, which its waiters retry) are worth another
# poll; anything else (access denied, validation) will not get better by asking again.
_TRANSIENT_CODES = {
    "ThrottlingException",
    "Throttling",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "LimitExceededException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
    "ServerException",
    "BadGateway",
    "GatewayTimeout",
    "RequestTimeout",
    "RequestTimeoutException",
    "SlowDown",
}


def group_of(arn: str) -> str:
    """The group name in a versioned model package ARN (``.../model-package/<group>/<n>``)."""
    return validate_model_package_arn(arn).split(":model-package/", 1)[1].rsplit("/", 1)[0]


def is_transient(error: BaseException) -> bool:
    """Whether asking AWS again may succeed: throttling, 5xx, timeouts, dropped connections."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return code in _TRANSIENT_CODES or int(status) >= 500
    return isinstance(error, (ConnectionError, HTTPClientError, TimeoutError, OSError))


class WatchError(Exception):
    """A waiter's watch failed; ``retryable`` says whether a new try of the task may do better.

    :param message: what failed, for the task's log and the ``error`` event.
    :param retryable: whether a new try of the task may do better (a transient AWS error).
    """

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class SharedWatch:
    """One watch loop per key (a group, a queue) serving every waiter on it in this triggerer process.

    A waiter calls :meth:`wait` with the ARN it waits for; the loop resolves it when :meth:`poll_once`
    reports that ARN decided. The loop starts with its first waiter and stops when the last one leaves.
    Subclasses implement :meth:`poll_once` (and :meth:`clients`, the AWS clients it keeps open while it
    runs). Only waiting futures live here: nothing survives the triggerer, and a restarted trigger starts
    over with a fresh check.

    :param key: what the loop watches (for example ``(aws_conn_id, region_name, group)``); one loop per key.
    :param interval: seconds between polls; :meth:`for_key` lowers it to the shortest a waiter asks for.
    :param max_poll_failures: transient poll failures in a row after which a waiter fails (default 5); a
        permanent error fails it at once.
    """

    _watches: ClassVar[dict[Hashable, SharedWatch]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._watches = {}

    def __init__(self, key: Hashable, interval: float, max_poll_failures: int = 5) -> None:
        self.key = key
        self.interval = interval
        self.max_poll_failures = max_poll_failures
        self.waiters: dict[str, list[asyncio.Future]] = {}
        self.failures: dict[str, int] = defaultdict(int)  # consecutive failed polls, per waited-for ARN
        self.polls = 0
        self._task: asyncio.Task | None = None

    @classmethod
    def for_key(cls, key: Hashable, interval: float, **kwargs: Any) -> SharedWatch:
        watch = cls._watches.get(key)
        if watch is None:
            watch = cls._watches[key] = cls(key, interval, **kwargs)
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
                self.failures.pop(arn, None)

    def _resolve(
        self, arn: str, version: dict[str, Any] | None = None, error: WatchError | None = None
    ) -> None:
        for future in self.waiters.get(arn, []):
            if not future.done():
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(version)

    def _failed(self, arns: Iterable[str], error: BaseException) -> None:
        """Count a failed poll against ``arns``; fail each waiter whose bound is reached, or at once when the
        error is permanent."""
        transient = is_transient(error)
        for arn in list(arns):
            self.failures[arn] += 1
            if not transient or self.failures[arn] >= self.max_poll_failures:
                times = "" if not transient else f" ({self.failures[arn]} polls in a row)"
                self._resolve(arn, error=WatchError(f"Watching {arn} failed{times}: {error}", transient))
            else:
                log.warning("Watching %s: a poll failed (%s); trying again with backoff.", arn, error)

    async def _run(self) -> None:
        try:
            async with AsyncExitStack() as stack:
                clients = await self.clients(stack)
                while self.waiters:
                    backoff = await self._poll(clients)
                    if self.waiters:
                        await asyncio.sleep(backoff if backoff is not None else self.next_sleep())
        except Exception as error:  # opening the clients failed: every waiter here is concerned
            for arn in list(self.waiters):
                self._resolve(arn, error=WatchError(f"Watching {arn} failed: {error}", is_transient(error)))
        finally:
            if type(self)._watches.get(self.key) is self and not self.waiters:
                type(self)._watches.pop(self.key, None)

    async def _poll(self, clients: Any) -> float | None:
        """One poll; returns a backoff delay when the poll as a whole failed."""
        arns = set(self.waiters)
        try:
            decided, errors = await self.poll_once(clients, arns)
        except Exception as failed:
            self._failed(arns, failed)
            worst = max((self.failures[arn] for arn in arns if arn in self.waiters), default=1)
            return min(max(self.interval, 0.1) * 2 ** (worst - 1), max(self.interval, 0.1) * 32)
        self.polls += 1
        for arn, version in decided.items():
            self._resolve(arn, version)
        for arn, problem in errors.items():
            self._failed([arn], problem)
        for arn in arns - set(errors):
            self.failures.pop(arn, None)
        return None

    def next_sleep(self) -> float:
        return self.interval

    async def clients(self, stack: AsyncExitStack) -> Any:
        """Open the AWS clients the loop uses (closed when it stops)."""
        raise NotImplementedError

    async def poll_once(
        self, clients: Any, arns: set[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
        """``({arn: version} for the waited-for ARNs now decided, {arn: error} for those that failed)``."""
        raise NotImplementedError


def _registry_hook(aws_conn_id: str | None, region_name: str | None, botocore_config: dict | None) -> Any:
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    return ModelRegistryHook(aws_conn_id=aws_conn_id, region_name=region_name, config=botocore_config)


async def decided_in_registry(
    client: Any, arns: set[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
    """The registry's word on ``arns``: per group, one paginated listing of its pending versions; a version
    that left the list is described (it was decided, or deleted)."""
    decided: dict[str, dict[str, Any]] = {}
    errors: dict[str, BaseException] = {}
    by_group: dict[str, set[str]] = defaultdict(set)
    for arn in arns:
        by_group[group_of(arn)].add(arn)
    for group, waited in by_group.items():
        pending: set[str] = set()
        pages = client.get_paginator("list_model_packages").paginate(
            ModelPackageGroupName=group,
            ModelApprovalStatus="PendingManualApproval",
            PaginationConfig={"PageSize": 100},
        )
        async for page in pages:
            pending.update(item["ModelPackageArn"] for item in page.get("ModelPackageSummaryList", []))
        for arn in waited - pending:
            try:
                version = await client.describe_model_package(ModelPackageName=arn)
            except Exception as error:  # this waiter's own trouble (deleted version, throttled describe)
                errors[arn] = error
                continue
            if version.get("ModelApprovalStatus") in DECIDED:
                decided[arn] = _jsonable(version)
    return decided, errors


class GroupListingWatch(SharedWatch):
    """Shared poll of one group: list its pending versions, describe only those that left the list.

    :param key: the watch's key: ``(aws_conn_id, region_name, group)``.
    :param interval: seconds between listings of the group.
    :param hook: the :class:`~airflow_modelreg.hooks.model_registry.ModelRegistryHook` whose async client
        lists and describes.
    :param max_poll_failures: transient poll failures in a row after which a waiter fails (default 5).
    """

    def __init__(self, key: Hashable, interval: float, hook: Any, max_poll_failures: int = 5) -> None:
        super().__init__(key, interval, max_poll_failures)
        self.hook = hook

    async def clients(self, stack: AsyncExitStack) -> Any:
        return await stack.enter_async_context(await self.hook.get_async_conn())

    async def poll_once(
        self, clients: Any, arns: set[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
        return await decided_in_registry(clients, arns)


def parse_state_change(body: str) -> tuple[str, str] | str:
    """``(version ARN, approval status)`` of a "SageMaker Model Package State Change" event, or why the
    message is not one (EventBridge delivers whatever its rule matched; queues receive other messages too)."""
    try:
        event = json.loads(body)
    except ValueError:
        return "the body is not JSON"
    if not isinstance(event, dict):
        return "the body is not a JSON object"
    if event.get("detail-type") != STATE_CHANGE_DETAIL_TYPE or event.get("source") != "aws.sagemaker":
        return f"not a {STATE_CHANGE_DETAIL_TYPE!r} event from aws.sagemaker"
    detail = event.get("detail")
    if not isinstance(detail, dict):
        return f"its detail is a {type(detail).__name__}, not an object"
    arn, status = detail.get("ModelPackageArn"), detail.get("ModelApprovalStatus")
    if not isinstance(arn, str):
        return f"its ModelPackageArn is a {type(arn).__name__}, not a string"
    try:
        validate_model_package_arn(arn)
    except InvalidInputError as error:
        return str(error)
    if not isinstance(status, str):
        return f"its ModelApprovalStatus is a {type(status).__name__}, not a string"
    return arn, status


class QueueEventWatch(SharedWatch):
    """Shared consumer of one SQS queue of "SageMaker Model Package State Change" events, with the registry
    as the source of truth (see the module's docstring).

    Long polling (``WaitTimeSeconds``) means one ``ReceiveMessage`` per wait period for every waiter on the
    queue; every ``interval`` the waiters' groups are also listed in the registry.

    :param key: the watch's key: ``(aws_conn_id, region_name, queue_url)``.
    :param interval: seconds between registry checks of the waiters' groups.
    :param sqs_hook: the Amazon provider's ``SqsHook`` whose async client receives and deletes messages.
    :param registry_hook: the :class:`~airflow_modelreg.hooks.model_registry.ModelRegistryHook` whose async
        client confirms decisions and checks the groups.
    :param queue_url: the SQS queue the EventBridge rule sends the state change events to.
    :param wait_seconds: the receive's long poll (``WaitTimeSeconds``), in seconds (SQS allows at most 20);
        shortened so the registry check is not late.
    :param max_poll_failures: transient poll failures in a row after which a waiter fails (default 5).
    """

    def __init__(
        self,
        key: Hashable,
        interval: float,
        sqs_hook: Any,
        registry_hook: Any,
        queue_url: str,
        wait_seconds: int,
        max_poll_failures: int = 5,
    ) -> None:
        super().__init__(key, interval, max_poll_failures)
        self.sqs_hook = sqs_hook
        self.registry_hook = registry_hook
        self.queue_url = queue_url
        self.wait_seconds = wait_seconds
        self.next_check = 0.0  # the registry is checked on the first poll, then every interval
        self.dropped = 0  # messages deleted without any waiter's use: malformed, Pending, not waited for
        self.ignored = 0  # decisions announced by an event that the registry does not confirm

    async def clients(self, stack: AsyncExitStack) -> Any:
        sqs = await stack.enter_async_context(await self.sqs_hook.get_async_conn())
        registry = await stack.enter_async_context(await self.registry_hook.get_async_conn())
        return sqs, registry

    def next_sleep(self) -> float:
        return 0.0  # the receive's long poll is the wait

    async def wait(self, arn: str) -> dict[str, Any]:
        # A waiter that (re)starts is checked against the registry at the next poll: its decision may have
        # been taken while its trigger was not running, and the event consumed by another triggerer or lost.
        self.next_check = 0.0
        return await super().wait(arn)

    async def poll_once(
        self, clients: Any, arns: set[str]
    ) -> tuple[dict[str, dict[str, Any]], dict[str, BaseException]]:
        sqs, registry = clients
        decided: dict[str, dict[str, Any]] = {}
        errors: dict[str, BaseException] = {}
        if time.monotonic() >= self.next_check:
            decided, errors = await decided_in_registry(registry, arns)
            self.next_check = time.monotonic() + max(self.interval, 0.1)
        until_check = max(0.0, self.next_check - time.monotonic())
        response = await sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=10,
            # Whole seconds: the registry check may come up to a second late, never a busy loop before it.
            WaitTimeSeconds=math.ceil(min(self.wait_seconds, until_check)),
        )
        hinted: dict[str, str] = {}
        handled: list[dict[str, str]] = []
        for message in response.get("Messages", []):
            handled.append({"Id": message["MessageId"], "ReceiptHandle": message["ReceiptHandle"]})
            parsed = parse_state_change(message.get("Body", ""))
            if isinstance(parsed, str):
                log.warning("Dropping message %s from %s: %s.", message["MessageId"], self.queue_url, parsed)
                self.dropped += 1
                continue
            arn, status = parsed
            if status not in DECIDED or arn not in arns or arn in decided:
                self.dropped += 1  # no waiter here can use it (every registration's own Pending event...)
                continue
            hinted[arn] = status
        for arn, status in hinted.items():
            try:
                version = _jsonable(await registry.describe_model_package(ModelPackageName=arn))
            except Exception as error:
                errors[arn] = error
                continue
            if version.get("ModelApprovalStatus") in DECIDED:
                decided[arn] = {**version, "Source": "eventbridge"}
            else:
                self.ignored += 1
                log.warning(
                    "Ignoring an event that says %s is %s: the registry says %s.",
                    arn,
                    status,
                    version.get("ModelApprovalStatus"),
                )
        if handled:
            # Deleted only now, after the waiters' decisions were confirmed: a triggerer that dies before this
            # leaves the messages to be received again (and the registry check covers them anyway).
            try:
                await sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=handled)
            except Exception as error:  # they come back after their visibility timeout; nothing is lost
                log.warning("Could not delete %d messages from %s: %s", len(handled), self.queue_url, error)
        return decided, errors


def _jsonable(version: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps({k: v for k, v in version.items() if k != "ResponseMetadata"}, default=str))


class ModelApprovalTrigger(BaseTrigger):
    """Fire when a version is Approved or Rejected (by the Airflow UI, SageMaker Studio, the CLI...).

    :param model_package_arn: the version to watch.
    :param aws_conn_id: the Airflow connection of the registry's account, also used for the queue (default
        ``aws_default``).
    :param region_name: the registry's region (default: the connection's).
    :param botocore_config: botocore ``Config`` arguments for the SageMaker and SQS clients.
    :param poll_interval: seconds between registry checks of the group (shared by all waiters on it).
    :param timeout_at: UNIX time after which the trigger fires a ``timeout`` event.
    :param sqs_queue_url: when given, also read "SageMaker Model Package State Change" events from this queue
        (routed there by an EventBridge rule) to see a decision within seconds.
    :param sqs_wait_seconds: long poll of each receive from ``sqs_queue_url``, in seconds (default 20, the
        most SQS allows).
    :param max_poll_failures: failed polls in a row after which this waiter gives up (``error`` event,
        retryable).
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
        max_poll_failures: int = 5,
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
        self.max_poll_failures = max_poll_failures

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
                "max_poll_failures": self.max_poll_failures,
            },
        )

    def _watch(self) -> SharedWatch:
        registry = _registry_hook(self.aws_conn_id, self.region_name, self.botocore_config)
        if self.sqs_queue_url:
            from airflow.providers.amazon.aws.hooks.sqs import SqsHook

            sqs = SqsHook(
                aws_conn_id=self.aws_conn_id, region_name=self.region_name, config=self.botocore_config
            )
            return QueueEventWatch.for_key(
                (self.aws_conn_id, self.region_name, self.sqs_queue_url),
                self.poll_interval,
                sqs_hook=sqs,
                registry_hook=registry,
                queue_url=self.sqs_queue_url,
                wait_seconds=self.sqs_wait_seconds,
                max_poll_failures=self.max_poll_failures,
            )
        key = (self.aws_conn_id, self.region_name, group_of(self.model_package_arn))
        return GroupListingWatch.for_key(
            key, self.poll_interval, hook=registry, max_poll_failures=self.max_poll_failures
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        arn = self.model_package_arn
        try:
            watch = self._watch()
            remaining = None if self.timeout_at is None else max(0.0, self.timeout_at - time.time())
            version = await asyncio.wait_for(watch.wait(arn), timeout=remaining)
        except TimeoutError:
            yield TriggerEvent({"status": "timeout", "model_package_arn": arn})
            return
        except Exception as error:
            retryable = error.retryable if isinstance(error, WatchError) else is_transient(error)
            yield TriggerEvent(
                {"status": "error", "model_package_arn": arn, "message": str(error), "retryable": retryable}
            )
            return
        yield TriggerEvent(
            {
                "status": version.get("ModelApprovalStatus"),
                "model_package_arn": arn,
                "approval_description": version.get("ApprovalDescription"),
                "source": version.get("Source", "registry"),
                "timeout_at": self.timeout_at,
            }
        )
