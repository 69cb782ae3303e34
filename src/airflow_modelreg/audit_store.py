"""The audit log of release events: append-only, one write-once S3 object per event.

Layout under ``log_uri`` (``s3://bucket/prefix``), per group::

    <prefix>/<group>/events/000000000001.json       one event, canonical JSON, written once (If-None-Match)
    <prefix>/<group>/segments/000000000001-000000000100.jsonl   events 1-100, one per line, written once
    <prefix>/<group>/keys/<sha256 of the key>.json    idempotency marker: {"key", "seq", "sha256"}, written once
    <prefix>/<group>/index.json                       hint: the head event and the latest event per
                                                      kind and environment (overwritten, If-Match)

Writers race for the next sequence number with S3 conditional writes: the loser of a seq reads on and
retries at the next one, so no event is overwritten or lost. The index is only a hint: every event it names
is checked against its SHA-256, and readers probe past it for events written since.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from airflow_modelreg.aws_calls import call_aws
from airflow_modelreg.domain import audit_log as log
from airflow_modelreg.domain.errors import InvalidInputError, RegistryError
from airflow_modelreg.domain.validation import parse_s3_uri, validate_group_name

SEGMENT_SIZE = 100
_EVENT_NAME = re.compile(r"^(\d{12})\.json$")
_SEGMENT_NAME = re.compile(r"^(\d{12})-(\d{12})\.jsonl$")
_BUCKET_ONLY = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/?$")
_PARALLEL_READS = 10  # botocore's default connection pool size
_APPEND_ATTEMPTS = 100
_T = TypeVar("_T")


def parse_log_uri(uri: object) -> tuple[str, str]:
    """``s3://bucket`` or ``s3://bucket/prefix`` -> (bucket, prefix without slashes at its ends)."""
    if isinstance(uri, str):
        bucket_only = _BUCKET_ONLY.match(uri)
        if bucket_only:
            return bucket_only.group(1), ""
    bucket, prefix = parse_s3_uri(uri, "audit log URI")
    return bucket, prefix.strip("/")


@dataclass
class _Head:
    """The newest event found, and what was read on the way."""

    seq: int = 0
    digest: str = log.GENESIS
    event: dict[str, Any] | None = None
    index: dict[str, Any] | None = None  # the index as read, when it could be used
    index_etag: str | None = None  # of whatever index object exists, usable or not
    read: dict[int, dict[str, Any]] = field(default_factory=dict)  # events past the index, by seq

    @property
    def covered(self) -> int:
        """Events up to this seq are summarised in the index (and their markers and segments exist)."""
        return int(self.index["seq"]) if self.index else 0


class AuditLogStore:
    """Append release events of model package groups to a tamper-evident log in S3, read and verify it.

    The log's logic, on any S3 client: subclasses give ``conn`` (the client), ``log`` (a logger),
    ``log_uri``, ``bucket`` and ``prefix``. :class:`~airflow_modelreg.hooks.audit_log.AuditLogHook` is the
    Airflow hook; :class:`S3AuditLog` takes a boto3 client, for readers without Airflow (the command line).
    """

    # Given by the subclass (annotations only: the hook's come from AwsBaseHook).
    conn: Any
    log: Any
    log_uri: str
    bucket: str
    prefix: str

    # ------------------------------------------------------------------------------- the API
    def append(self, group: str, kind: str, *, key: str | None = None, **fields: Any) -> dict[str, Any]:
        """Append an event to ``group``'s log and return it as stored.

        Idempotent by ``key``: when an event with the same key was already appended to the group, that
        event is returned and nothing is written (a task's retry passes the key of its first try).

        :param kind: one of :data:`~airflow_modelreg.domain.audit_log.KINDS`.
        :param fields: the event's fields (:data:`~airflow_modelreg.domain.audit_log.FIELDS`).
        """
        # Everything is validated before the first call; the time is fixed once so retries keep it.
        draft = log.build_event(group, 1, kind, log.GENESIS, key=key, **fields)
        fields = {**fields, "at": draft["at"]}
        head = self._find_head(group, strict=True)
        if key is not None:
            found = self._find_keyed(group, key, head, head.read.values())
            if found is not None:
                return found
        event, earlier = self._write_next(group, head, kind, key, fields)
        if earlier:
            return event
        if key is not None:
            self._write_marker(group, event)
        if event["seq"] % SEGMENT_SIZE == 0:
            self._write_segment(group, event["seq"], head.read)
        self._update_index(group, head, event)
        self.log.info("Audit log %s: event %s %s", group, event["seq"], kind)
        return event

    def event(self, group: str, seq: int) -> dict[str, Any] | None:
        """The event ``seq`` of ``group``'s log, or ``None`` when it does not exist; one read."""
        return self._read_event(group, seq)

    def find(self, group: str, key: str) -> dict[str, Any] | None:
        """The event appended with ``key`` to ``group``'s log, or ``None``: one read of the key's marker and
        one of the event it names (and, for an append that stopped before writing its marker, the events
        near the head)."""
        found = self._find_keyed(group, key, _Head(), ())
        if found is not None:
            return found
        head = self._find_head(group, strict=False)
        return self._find_keyed(group, key, head, head.read.values(), marker=False)

    def append_many(self, group: str, drafts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append several events in order (each draft: ``kind`` plus fields), one write each: for imports
        of earlier history. Events without a ``key`` only; append keyed events with :meth:`append`."""
        checked = []
        for draft in drafts:
            fields = {name: value for name, value in draft.items() if name != "kind"}
            if fields.get("key") is not None:
                raise InvalidInputError(
                    f"append_many takes events without a key; append {fields['key']!r} with append()."
                )
            kind = draft.get("kind")
            built = log.build_event(group, 1, str(kind), log.GENESIS, **fields)
            checked.append((str(kind), {**fields, "at": built["at"]}))
        if not checked:
            return []
        head = self._find_head(group, strict=True)
        written = []
        for kind, fields in checked:
            event, _ = self._write_next(group, head, kind, None, fields)
            written.append(event)
            if event["seq"] % SEGMENT_SIZE == 0:
                self._write_segment(group, event["seq"], head.read)
        self._update_index(group, head, written[-1])
        self.log.info("Audit log %s: events %s-%s", group, written[0]["seq"], written[-1]["seq"])
        return written

    def events(
        self,
        group: str,
        kind: str | None = None,
        environment: str | None = None,
        version: int | None = None,
    ) -> list[dict[str, Any]]:
        """The group's events, oldest first, optionally only one kind, environment or version.

        Reads a segment per 100 events and the newest events one by one. An event that cannot be read
        (deleted, or not an event) appears as a placeholder of kind ``unreadable``, whatever the filters:
        what it held is unknown. :meth:`verify_log` says what happened to it.
        """
        validate_group_name(group)
        if kind is not None and kind not in log.KINDS:
            raise InvalidInputError(f"Unknown audit event kind {kind!r}: use one of {', '.join(log.KINDS)}.")
        head = self._find_head(group, strict=False)
        blocks = [(start, start + SEGMENT_SIZE - 1) for start in range(1, head.seq + 1, SEGMENT_SIZE)]
        full = [block for block in blocks if block[1] <= head.seq]
        found: dict[int, dict[str, Any]] = {**head.read}
        if head.event is not None:
            found[head.seq] = head.event
        for lines in self._parallel(lambda block: self._segment_events(group, *block), full):
            found.update(lines)
        wanted = [seq for seq in range(1, head.seq + 1) if seq not in found]
        for seq, body in zip(
            wanted, self._parallel(lambda s: self._get(self._event_key(group, s)), wanted), strict=True
        ):
            found[seq] = self._readable(group, seq, body)
        return [
            found[seq]
            for seq in range(1, head.seq + 1)
            if log.matches(found[seq], kind, environment, version)
        ]

    def last(
        self, group: str, kind: str | None = None, environment: str | None = None
    ) -> dict[str, Any] | None:
        """The newest event of ``kind`` in ``environment`` (``None`` = any), or ``None``; a few reads.

        The index names it; its SHA-256 is checked against what the index recorded, and events written
        since the index are read too. Raises :class:`~airflow_modelreg.domain.audit_log.AuditLogTampered`
        when what the index names is not in the log as recorded.
        """
        validate_group_name(group)
        if kind is not None and kind not in log.KINDS:
            raise InvalidInputError(f"Unknown audit event kind {kind!r}: use one of {', '.join(log.KINDS)}.")
        head = self._find_head(group, strict=True)
        for seq in sorted(head.read, reverse=True):
            if log.matches(head.read[seq], kind, environment):
                return head.read[seq]
        if head.index is None:
            # No usable index (a new log, or the index was lost): read the whole log once.
            matching = self.events(group, kind=kind, environment=environment)
            unreadable = [e["seq"] for e in matching if e["kind"] == log.UNREADABLE]
            if unreadable:
                raise log.AuditLogTampered(
                    f"Events {unreadable} of the audit log of {group!r} at {self.log_uri} cannot be read. "
                    f"Run `airflow-modelreg audit {group} --verify`."
                )
            return matching[-1] if matching else None
        named = head.index.get("last", {}).get(log.index_key(kind, environment))
        if named is None:
            return None
        seq, digest = int(named[0]), str(named[1])
        event = head.event if seq == head.seq else self._read_event(group, seq)
        if event is None or log.event_hash(event) != digest or not log.matches(event, kind, environment):
            raise log.AuditLogTampered(
                f"The audit log of {group!r} at {self.log_uri} names event {seq} (SHA-256 {digest}) as the latest "
                f"{kind or 'event'} in {environment or 'any environment'}, but the stored event "
                f"{'is missing' if event is None else 'differs'}. Run `airflow-modelreg audit {group} --verify`."
            )
        return event

    def verify_log(self, group: str) -> log.VerifyReport:
        """Check the whole log: every event object, segment and the index against the hash chain.

        Catches an event deleted, edited, inserted or moved in its object or in its segment, a stray
        object in the log's folders, and (on a versioned bucket) an object overwritten or deleted since.
        """
        validate_group_name(group)
        problems: list[log.Problem] = []
        notes: list[str] = []
        # Read in the order writers write backwards (index, then segments, then events), so that appends
        # made meanwhile never look like events missing.
        index, _ = self._read_index(group, notes)
        segments = self._inventory(group, "segments", problems)
        objects = self._inventory(group, "events", problems)
        top = max([*objects, *(end for _, end in segments), int(index["seq"]) if index else 0, 0])
        copies: dict[int, tuple[bytes, str]] = {}  # seq -> (line, where) from segments
        for (start, end), lines in zip(
            list(segments),
            self._parallel(lambda block: self._segment_lines(group, *block), list(segments)),
            strict=True,
        ):
            where = f"segment {self._segment_key(group, start)}"
            if lines is None or len(lines) != end - start + 1:
                problems.append(
                    log.Problem(
                        start, "malformed", f"{where} does not hold events {start}-{end} one per line"
                    )
                )
                continue
            for offset, line in enumerate(lines):
                copies[start + offset] = (line, f"{where} line {offset + 1}")
        for start in range(1, top + 1 - SEGMENT_SIZE + 1, SEGMENT_SIZE):
            if (start, start + SEGMENT_SIZE - 1) not in segments:
                notes.append(
                    f"the segment of events {start}-{start + SEGMENT_SIZE - 1} is missing (deleted, or its writer "
                    "stopped first; the next append writes it): those events were read one by one"
                )
        # Where an object's ETag is the MD5 of its segment copy, the object holds the same bytes: no GET.
        to_get = [
            seq
            for seq, listing in objects.items()
            if seq not in copies
            or listing.etag != hashlib.md5(copies[seq][0], usedforsecurity=False).hexdigest()
        ]
        bodies = dict(
            zip(to_get, self._parallel(lambda s: self._get(self._event_key(group, s)), to_get), strict=True)
        )
        stored: list[log.Stored] = []
        for seq in range(1, top + 1):
            key = self._event_key(group, seq)
            if seq in objects:
                body = bodies[seq] if seq in bodies else copies[seq][0]
                if body is None:  # deleted between the listing and the read
                    problems.append(
                        log.Problem(seq, "missing", f"the object {key} was deleted during the check")
                    )
                    continue
                stored.append(log.Stored(seq, f"object {key}", body))
            elif seq in copies:
                problems.append(
                    log.Problem(
                        seq, "missing", f"the object {key} was deleted; its copy in {copies[seq][1]} survives"
                    )
                )
                stored.append(log.Stored(seq, copies[seq][1], copies[seq][0]))
        report = log.verify_stored(stored, group=group, anchors=log.index_anchors(index) if index else {})
        problems += self._compare_copies(stored, copies, report)
        problems += [
            problem
            for seq, listing in objects.items()
            for problem in listing.problems(seq, self._event_key(group, seq))
        ]
        if index:
            problems += log.index_problems(index, _parsed(stored))
        elif top > 1:
            # Every append rewrites the index after its event, so only a first append that stopped early
            # leaves events without one: with more than one event, the index was deleted, and with it the
            # one record of how far the log went (deleting the newest events too would leave no gap).
            problems.append(
                log.Problem(
                    top,
                    "missing",
                    f"the index {self._index_key(group)} is missing although events 1-{top} exist: it was "
                    f"deleted, so events after {top} may have been deleted with it",
                )
            )
        return report.with_problems(problems, notes)

    # --------------------------------------------------------------------------------- layout
    def _folder(self, group: str) -> str:
        validate_group_name(group)
        return f"{self.prefix}/{group}" if self.prefix else group

    def _event_key(self, group: str, seq: int) -> str:
        return f"{self._folder(group)}/events/{seq:012d}.json"

    def _segment_key(self, group: str, start: int) -> str:
        return f"{self._folder(group)}/segments/{start:012d}-{start + SEGMENT_SIZE - 1:012d}.jsonl"

    def _marker_key(self, group: str, key: str) -> str:
        return f"{self._folder(group)}/keys/{hashlib.sha256(key.encode()).hexdigest()}.json"

    def _index_key(self, group: str) -> str:
        return f"{self._folder(group)}/index.json"

    # ---------------------------------------------------------------------------- S3 requests
    def _get(self, key: str) -> bytes | None:
        got = self._get_with_etag(key)
        return got[0] if got else None

    def _get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        try:
            response = self.conn.get_object(Bucket=self.bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise RegistryError(f"Reading s3://{self.bucket}/{key} failed: {error}") from error
        return response["Body"].read(), str(response["ETag"])

    def _put_if_absent(self, key: str, body: bytes, content_type: str = "application/json") -> bool:
        """Write ``key`` only if no object has it; ``False`` when one already does."""
        return self._put_conditionally(key, body, content_type, IfNoneMatch="*")

    def _put_conditionally(self, key: str, body: bytes, content_type: str, **condition: str) -> bool:
        for attempt in range(5):
            try:
                self.conn.put_object(
                    Bucket=self.bucket, Key=key, Body=body, ContentType=content_type, **condition
                )
                return True
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code")
                if code in ("PreconditionFailed", "412"):
                    return False
                if code == "ConditionalRequestConflict" and attempt < 4:
                    # S3: a conflicting write to the same key is in progress; its outcome decides ours.
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise RegistryError(f"Writing s3://{self.bucket}/{key} failed: {error}") from error
        raise AssertionError("unreachable")

    def _pages(self, operation: str, prefix: str) -> Iterator[dict[str, Any]]:
        try:
            yield from self.conn.get_paginator(operation).paginate(Bucket=self.bucket, Prefix=prefix)
        except ClientError as error:
            raise RegistryError(f"Listing s3://{self.bucket}/{prefix} failed: {error}") from error

    def _parallel(self, read: Callable[[Any], _T], items: list[Any]) -> list[_T]:
        if len(items) <= 1:
            return [read(item) for item in items]
        self.conn  # noqa: B018 - build the client once, before the threads share it
        with ThreadPoolExecutor(max_workers=_PARALLEL_READS) as pool:
            return list(pool.map(read, items))

    # ------------------------------------------------------------------------------ the head
    def _read_index(
        self, group: str, notes: list[str] | None = None
    ) -> tuple[dict[str, Any] | None, str | None]:
        got = self._get_with_etag(self._index_key(group))
        if got is None:
            return None, None
        body, etag = got
        try:
            index = log.parse_index(body, group)
        except ValueError as error:
            message = (
                f"the index {self._index_key(group)} is unusable ({error}); it is rebuilt on the next append"
            )
            self.log.warning("Audit log %s: %s", group, message)
            if notes is not None:
                notes.append(message)
            return None, etag
        return index, etag

    def _find_head(self, group: str, strict: bool) -> _Head:
        """The newest event: from the index's hint (checked), else a listing, then reading on.

        ``strict`` (writers, :meth:`last`) raises when the log does not hold together where it was read;
        readers carry on and show what they found.
        """
        index, etag = self._read_index(group)
        head = _Head(index_etag=etag)
        if index is not None:
            event = self._read_event(group, int(index["seq"]))
            if event is not None and log.event_hash(event) == index.get("hash"):
                head.seq, head.digest, head.event, head.index = event["seq"], index["hash"], event, index
            elif strict:
                raise log.AuditLogTampered(
                    f"The index of the audit log of {group!r} at {self.log_uri} names event {index['seq']} "
                    f"(SHA-256 {index.get('hash')}), but that event {'is missing' if event is None else 'differs'}. "
                    f"Run `airflow-modelreg audit {group} --verify`."
                )
        if head.index is None:
            seqs = self._list_event_seqs(group)
            if seqs:
                head.seq = seqs[-1]
                head.event = self._read_event(group, head.seq)
                if head.event is None:
                    if strict:
                        raise log.AuditLogTampered(
                            f"Event {head.seq} of the audit log of {group!r} at {self.log_uri} cannot be read. "
                            f"Run `airflow-modelreg audit {group} --verify`."
                        )
                    head.event = log.unreadable(group, head.seq, "not a readable event")
                else:
                    head.digest = log.event_hash(head.event)
        return self._probe(group, head, strict)

    def _probe(self, group: str, head: _Head, strict: bool) -> _Head:
        """Read on past ``head`` until the next seq is free; each event must follow the one before."""
        while True:
            seq = head.seq + 1
            body = self._get(self._event_key(group, seq))
            if body is None:
                return head
            event = self._readable(group, seq, body)
            if strict and (event["kind"] == log.UNREADABLE or event["prev"] != head.digest):
                raise log.AuditLogTampered(
                    f"Event {seq} of the audit log of {group!r} at {self.log_uri} "
                    f"{'cannot be read' if event['kind'] == log.UNREADABLE else 'does not follow event ' + str(head.seq)}"
                    f". Run `airflow-modelreg audit {group} --verify`."
                )
            head.read[seq] = event
            head.seq, head.event = seq, event
            head.digest = log.event_hash(event) if event["kind"] != log.UNREADABLE else log.GENESIS

    def _read_event(self, group: str, seq: int) -> dict[str, Any] | None:
        body = self._get(self._event_key(group, seq))
        if body is None:
            return None
        try:
            return log.parse_event(body)
        except log.MalformedEvent:
            return None

    def _readable(self, group: str, seq: int, body: bytes | None) -> dict[str, Any]:
        if body is None:
            return log.unreadable(group, seq, "its object is missing")
        try:
            event = log.parse_event(body)
        except log.MalformedEvent as error:
            return log.unreadable(group, seq, str(error))
        if event["seq"] != seq or event["group"] != group:
            return log.unreadable(
                group, seq, f"its object holds event {event['seq']} of group {event['group']!r}"
            )
        return event

    def _list_event_seqs(self, group: str) -> list[int]:
        prefix = f"{self._folder(group)}/events/"
        seqs = []
        for page in self._pages("list_objects_v2", prefix):
            for item in page.get("Contents", []):
                match = _EVENT_NAME.match(item["Key"][len(prefix) :])
                if match:
                    seqs.append(int(match.group(1)))
        return sorted(seqs)

    # --------------------------------------------------------------- what follows an append
    def _find_keyed(
        self,
        group: str,
        key: str,
        head: _Head,
        candidates: Iterable[dict[str, Any]],
        marker: bool = True,
    ) -> dict[str, Any] | None:
        """The event appended earlier with ``key``: among events just read, else by its marker."""
        for event in candidates:
            if event.get("key") == key:
                self._write_marker(group, event)
                return event
        if head.event is not None and head.event.get("key") == key:
            return head.event
        if not marker:
            return None
        body = self._get(self._marker_key(group, key))
        if body is None:
            return None
        try:
            recorded = json.loads(body)
            seq, digest = int(recorded["seq"]), str(recorded["sha256"])
        except (ValueError, KeyError, TypeError) as error:
            raise log.AuditLogTampered(
                f"The idempotency marker {self._marker_key(group, key)} of the audit log of {group!r} is "
                f"unreadable ({error})."
            ) from error
        named = self._read_event(group, seq)
        if named is None or log.event_hash(named) != digest or named.get("key") != key:
            raise log.AuditLogTampered(
                f"The audit log of {group!r} at {self.log_uri} records key {key!r} as event {seq} "
                f"(SHA-256 {digest}), but that event {'is missing' if named is None else 'differs'}. "
                f"Run `airflow-modelreg audit {group} --verify`."
            )
        return named

    def _write_next(
        self, group: str, head: _Head, kind: str, key: str | None, fields: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        """Write the event after ``head`` (moving ``head`` to it); ``(event, True)`` when, on the way, an
        event appended earlier with ``key`` turned up instead."""
        for _ in range(_APPEND_ATTEMPTS):
            self._complete(group, head)
            event = log.build_event(group, head.seq + 1, kind, head.digest, key=key, **fields)
            if self._put_if_absent(self._event_key(group, event["seq"]), log.canonical(event)):
                head.read[event["seq"]] = event
                head.seq, head.digest, head.event = event["seq"], log.event_hash(event), event
                return event, False
            # Another writer took this seq: read on from it and try the next one.
            before = set(head.read)
            self._probe(group, head, strict=True)
            if key is not None:
                newly = [head.read[seq] for seq in sorted(set(head.read) - before)]
                found = self._find_keyed(group, key, head, newly, marker=False)
                if found is not None:
                    return found, True
        raise RegistryError(
            f"Appending to the audit log of {group!r} at {self.log_uri} failed: {_APPEND_ATTEMPTS} other "
            "writers took the next event first. Retry the task."
        )

    def _complete(self, group: str, head: _Head) -> None:
        """Finish what the writer of the head event may not have (it stopped after writing it): its key's
        marker and, at a segment boundary, the segment. An index covering the head means both exist."""
        if head.event is None or head.seq <= head.covered or head.event["kind"] == log.UNREADABLE:
            return
        if head.event.get("key") is not None:
            self._write_marker(group, head.event)
        if (
            head.seq % SEGMENT_SIZE == 0
            and self._get(self._segment_key(group, head.seq - SEGMENT_SIZE + 1)) is None
        ):
            self._write_segment(group, head.seq, head.read)

    def _write_marker(self, group: str, event: Mapping[str, Any]) -> None:
        marker = {"key": event["key"], "seq": event["seq"], "sha256": log.event_hash(event)}
        self._put_if_absent(self._marker_key(group, str(event["key"])), log.canonical(marker))

    def _write_segment(self, group: str, end: int, known: Mapping[int, Mapping[str, Any]]) -> None:
        start = end - SEGMENT_SIZE + 1
        wanted = [seq for seq in range(start, end + 1) if seq not in known]
        events = {**known}
        for seq, event in zip(
            wanted, self._parallel(lambda s: self._read_event(group, s), wanted), strict=True
        ):
            if event is None:
                self.log.warning(
                    "Audit log %s: event %s is unreadable; segment %s not written", group, seq, start
                )
                return
            events[seq] = event
        body = b"".join(log.canonical(events[seq]) + b"\n" for seq in range(start, end + 1))
        self._put_if_absent(self._segment_key(group, start), body, "application/x-ndjson")

    def _update_index(self, group: str, head: _Head, event: dict[str, Any]) -> None:
        """Move the index to ``event`` unless a newer one is there already. Only the writer of an event
        writes the index naming it, after the event's marker and segment exist."""
        index, etag = head.index, head.index_etag
        known = {**head.read, event["seq"]: event}
        for _ in range(5):
            base = int(index["seq"]) if index else 0
            if base >= event["seq"]:
                return
            since: list[dict[str, Any] | None] = [known.get(seq) for seq in range(base + 1, event["seq"] + 1)]
            if index is None and None in since:
                # No usable index over a log that has events: rebuild it from the whole log, once.
                since = [e for e in self.events(group) if e["seq"] <= event["seq"]]
            if None in since or any(e["kind"] == log.UNREADABLE for e in since if e):
                self.log.info("Audit log %s: the index stays at event %s", group, base)
                return
            last = dict(index["last"]) if index else {}
            last.update(log.latest_by_slot(e for e in since if e is not None))
            new = log.build_index(group, event, last)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            if self._put_conditionally(
                self._index_key(group), log.canonical(new), "application/json", **condition
            ):
                return
            index, etag = self._read_index(group)
            if index is None and etag is not None:
                continue  # an unusable index: replace it
        self.log.info("Audit log %s: the index is being moved by other writers", group)

    # ----------------------------------------------------------------------------- verifying
    def _segment_lines(self, group: str, start: int, end: int) -> list[bytes] | None:
        body = self._get(self._segment_key(group, start))
        if body is None:
            return None
        lines = body.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        return lines

    def _segment_events(self, group: str, start: int, end: int) -> dict[int, dict[str, Any]]:
        """Events of a full segment; those it cannot give (missing, malformed) are left out."""
        lines = self._segment_lines(group, start, end)
        if lines is None or len(lines) != end - start + 1:
            return {}
        found = {}
        for seq, line in enumerate(lines, start):
            event = self._readable(group, seq, line)
            if event["kind"] != log.UNREADABLE:
                found[seq] = event
        return found

    def _inventory(self, group: str, folder: str, problems: list[log.Problem]) -> dict[Any, _Listing]:
        """Objects of a folder of the log by seq (events) or (start, end) (segments), with their versions;
        an object whose name the log does not use is reported as inserted."""
        prefix = f"{self._folder(group)}/{folder}/"
        found: dict[Any, _Listing] = {}
        for name, listing in self._listings(prefix):
            match = (_EVENT_NAME if folder == "events" else _SEGMENT_NAME).match(name)
            if folder == "segments" and match:
                start, end = int(match.group(1)), int(match.group(2))
                if end - start + 1 != SEGMENT_SIZE or start % SEGMENT_SIZE != 1:
                    match = None
            if not match:
                if listing.exists:
                    problems.append(
                        log.Problem(None, "inserted", f"unexpected object {prefix}{name} in the log")
                    )
                continue
            if folder == "events":
                found[int(match.group(1))] = listing
            else:
                found[(int(match.group(1)), int(match.group(2)))] = listing
                for problem in listing.problems(int(match.group(1)), f"{prefix}{name}"):
                    problems.append(problem)
        return {k: v for k, v in found.items() if v.exists}

    def _listings(self, prefix: str) -> Iterator[tuple[str, _Listing]]:
        """Each object under ``prefix`` with its current ETag and, on a versioned bucket, its history."""
        if self._versioned():
            listings: dict[str, _Listing] = {}
            for page in self._pages("list_object_versions", prefix):
                for item in page.get("Versions", []):
                    listing = listings.setdefault(item["Key"][len(prefix) :], _Listing())
                    listing.versions += 1
                    if item.get("IsLatest"):
                        listing.etag = str(item["ETag"]).strip('"')
                for item in page.get("DeleteMarkers", []):
                    listings.setdefault(item["Key"][len(prefix) :], _Listing()).delete_markers += 1
            yield from listings.items()
            return
        for page in self._pages("list_objects_v2", prefix):
            for item in page.get("Contents", []):
                yield item["Key"][len(prefix) :], _Listing(etag=str(item["ETag"]).strip('"'), versions=1)

    def _versioned(self) -> bool:
        try:
            status = call_aws(
                f"Versioning of bucket {self.bucket}", self.conn.get_bucket_versioning, Bucket=self.bucket
            ).get("Status")
        except RegistryError:
            return True  # not allowed to ask: the version listing works either way
        return status in ("Enabled", "Suspended")

    def _compare_copies(
        self, stored: list[log.Stored], copies: Mapping[int, tuple[bytes, str]], report: log.VerifyReport
    ) -> list[log.Problem]:
        """An event whose object and segment copy differ: the copy the next event does not name is edited."""
        problems = []
        by_seq = {item.position: item for item in stored}
        for seq, (line, where) in copies.items():
            item = by_seq.get(seq)
            if item is None or item.body is None or item.body == line or not item.where.startswith("object"):
                continue
            successor = by_seq.get(seq + 1)
            successor_prev = _prev_of(successor.body) if successor and successor.body else None
            if successor_prev is not None and hashlib.sha256(line).hexdigest() == successor_prev:
                problems.append(
                    log.Problem(
                        seq,
                        "hash-mismatch",
                        f"{item.where} was edited: it differs from its copy in {where}, which event {seq + 1} "
                        "follows",
                    )
                )
            else:
                problems.append(
                    log.Problem(seq, "hash-mismatch", f"{where} was edited: it differs from {item.where}")
                )
        return problems


class S3AuditLog(AuditLogStore):
    """The audit log through a plain boto3 S3 client (no Airflow imported)."""

    def __init__(self, client: Any, log_uri: str) -> None:
        self.conn = client
        self.log = logging.getLogger(__name__)
        self.log_uri = log_uri
        self.bucket, self.prefix = parse_log_uri(log_uri)


@dataclass
class _Listing:
    etag: str | None = None
    versions: int = 0
    delete_markers: int = 0

    @property
    def exists(self) -> bool:
        return self.etag is not None

    def problems(self, seq: int, key: str) -> list[log.Problem]:
        found = []
        if self.delete_markers and not self.exists:
            found.append(
                log.Problem(
                    seq, "missing", f"{key} was deleted (a delete marker hides {self.versions} version(s))"
                )
            )
        elif self.delete_markers:
            found.append(log.Problem(seq, "hash-mismatch", f"{key} was deleted and written again"))
        if self.versions > 1:
            found.append(
                log.Problem(
                    seq,
                    "hash-mismatch",
                    f"{key} was overwritten: the bucket keeps {self.versions} versions of it",
                )
            )
        return found


def _parsed(stored: Iterable[log.Stored]) -> Iterator[dict[str, Any]]:
    for item in stored:
        if item.body is not None:
            try:
                yield log.parse_event(item.body)
            except log.MalformedEvent:
                continue


def _prev_of(body: bytes) -> str | None:
    try:
        prev = json.loads(body).get("prev")
    except (ValueError, AttributeError):
        return None
    return prev if isinstance(prev, str) else None


DECISIONS = ("Approved", "Rejected")


def audit_trail(group: str, *, log_hook: AuditLogStore, registry_hook: Any = None) -> list[dict[str, Any]]:
    """The group's audit: the log's events, then (with ``registry_hook``) a "decided outside Airflow" note
    for each version whose decision in the registry the log does not explain.

    The registry is read as version summaries of its decided versions (``ListModelPackages`` filtered by
    status, 100 per page, while the log is read), never one describe per version: a page per 100 Approved
    or Rejected versions, plus one describe for each version the log says was decided but the registry no
    longer lists as such (undone in Studio, or deleted). A version registered outside Airflow and never
    decided is not noted: nothing was decided behind the log's back.
    """
    if registry_hook is None:
        return [log.with_subject(event) for event in log_hook.events(group)]
    with ThreadPoolExecutor(max_workers=len(DECISIONS)) as pool:
        listings = [
            pool.submit(lambda status: list(registry_hook.list_versions(group, status=status)), status)
            for status in DECISIONS
        ]
        events = [log.with_subject(event) for event in log_hook.events(group)]
        decided = {
            int(summary["ModelPackageVersion"]): (
                str(summary["ModelApprovalStatus"]),
                summary.get("ModelPackageArn"),
            )
            for listing in listings
            for summary in listing.result()
        }
    recorded = log.registry_statuses(events)
    arns = {e["version"]: e["arn"] for e in events if e.get("version") and e.get("arn")}
    registry: dict[int, tuple[str | None, str | None]] = dict(decided)
    for version, status in recorded.items():
        if status in DECISIONS and version not in decided:
            registry[version] = (_current_status(registry_hook, arns.get(version)), arns.get(version))
    return events + [
        log.outside_airflow_note(group, version, arn, status, recorded.get(version))
        for version, (status, arn) in sorted(registry.items())
        if recorded.get(version) != status
    ]


def _current_status(registry_hook: Any, arn: str | None) -> str | None:
    """The registry status of a version the registry no longer lists as decided; ``None`` once deleted."""
    from airflow_modelreg.domain.errors import NotFoundError

    if arn is None:
        return "neither Approved nor Rejected"
    try:
        return str(registry_hook.describe_version(arn).get("ModelApprovalStatus"))
    except NotFoundError:
        return None
