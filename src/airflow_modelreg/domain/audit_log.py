"""The audit log of a group: release events chained by SHA-256, so a deleted, edited, inserted or moved
event shows.

Each event names the SHA-256 of the previous event's canonical bytes (``prev``); the first names 64 zeros.
Changing any stored event changes its hash, which then differs from what the next event recorded; removing
one leaves a gap in the sequence numbers; moving one puts it where its ``seq`` says it does not belong.

Pure: no Airflow, no boto3. :mod:`airflow_modelreg.hooks.audit_log` stores the events in S3 (one write-once
object per event) and hands what it read back to :func:`verify_stored`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError
from airflow_modelreg.domain.validation import validate_group_name

SCHEMA = 1
GENESIS = "0" * 64
KINDS = (
    "registered",
    "decided",
    "requested",
    "approval-recorded",
    "promotion-rejected",
    "promoted",
    "rolled-back",
    "deployed",
    "deployment-undone",
    "traffic-shifted",
    "traffic-rolled-back",
    "refused",
    "tampering",
)
# What an event may carry besides the fields the log itself sets (schema, group, seq, kind, prev).
FIELDS = (
    "at",
    "actor",
    "version",
    "arn",
    "environment",
    "status",
    "reason",
    "airflow_run",
    "details",
    "key",
)
EVENT_KEYS = frozenset({"schema", "group", "seq", "kind", "prev", *FIELDS})
# The kinds whose ``status`` is the version's registry status once the event is written (see
# :func:`registry_statuses`). An ``approval-recorded`` event is one person's answer, not the decision.
STATUS_KINDS = ("registered", "decided")
# Reading a log that cannot be parsed still shows where: a placeholder of this kind stands in for it.
UNREADABLE = "unreadable"
OUTSIDE_AIRFLOW = "decided-outside-airflow"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class AuditLogTampered(GovernanceError):
    """The audit log does not hold together: an event was deleted, edited, inserted or moved."""


class MalformedEvent(ValueError):
    """Stored bytes that are not an audit event this provider wrote."""


# ------------------------------------------------------------------------------------- encoding
def canonical(event: Mapping[str, Any]) -> bytes:
    """The one byte encoding of an event that its hash covers (sorted keys, no spaces, UTF-8)."""
    return json.dumps(
        event, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def event_hash(event: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the event's canonical bytes: what the next event names as ``prev``."""
    return hashlib.sha256(canonical(event)).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _utc_iso(value: object) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidInputError(f"Audit event time {value!r} has no time zone; give it in UTC.")
        return value.astimezone(UTC).isoformat(timespec="milliseconds")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.utcoffset() is not None:
            return parsed.astimezone(UTC).isoformat(timespec="milliseconds")
    raise InvalidInputError(
        f"Invalid audit event time {value!r}: expected ISO-8601 with a time zone, e.g. "
        "'2026-11-23T10:00:00+00:00'."
    )


def _optional_str(name: str, value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise InvalidInputError(f"Audit event field {name!r} must be a string or None, not {value!r}.")


def build_event(
    group: str,
    seq: int,
    kind: str,
    prev: str,
    **fields: Any,
) -> dict[str, Any]:
    """A complete, validated event, ready to store; every field the log carries is present.

    :param fields: any of :data:`FIELDS`; ``at`` defaults to now (UTC), ``details`` to ``{}``, the rest to
        ``None``. ``actor`` is ``{"id": ..., "name": ...}``; ``airflow_run`` is ``dag_id/run_id/task_id``.
    """
    validate_group_name(group)
    unknown = sorted(set(fields) - set(FIELDS))
    if unknown:
        raise InvalidInputError(f"Unknown audit event field(s) {unknown}: the log carries {list(FIELDS)}.")
    if kind not in KINDS:
        raise InvalidInputError(f"Unknown audit event kind {kind!r}: use one of {', '.join(KINDS)}.")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise InvalidInputError(f"Audit event seq must be an integer from 1, not {seq!r}.")
    if not isinstance(prev, str) or not _HEX64.match(prev):
        raise InvalidInputError(f"Audit event prev must be a hex SHA-256, not {prev!r}.")
    actor = fields.get("actor")
    if actor is not None:
        if (
            not isinstance(actor, Mapping)
            or set(actor) != {"id", "name"}
            or not all(isinstance(actor[k], str) for k in ("id", "name"))
        ):
            raise InvalidInputError(
                f"Invalid audit event actor {actor!r}: expected {{'id': str, 'name': str}} or None."
            )
        actor = {"id": actor["id"], "name": actor["name"]}
    version = fields.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise InvalidInputError(f"Audit event version must be a positive integer or None, not {version!r}.")
    details = fields.get("details")
    details = {} if details is None else details
    if not isinstance(details, Mapping):
        raise InvalidInputError(f"Audit event details must be a mapping of plain JSON, not {details!r}.")
    try:
        # Plain JSON only: what comes back from storage must be what was hashed.
        details = json.loads(canonical(details))
    except (TypeError, ValueError) as error:
        raise InvalidInputError(f"Audit event details are not plain JSON ({error}): {details!r}") from error
    airflow_run = _optional_str("airflow_run", fields.get("airflow_run"))
    if airflow_run is not None and airflow_run.count("/") < 2:
        raise InvalidInputError(
            f"Invalid audit event airflow_run {airflow_run!r}: expected 'dag_id/run_id/task_id'."
        )
    event = {
        "schema": SCHEMA,
        "group": group,
        "seq": seq,
        "kind": kind,
        "at": _utc_iso(fields["at"]) if fields.get("at") is not None else utc_now(),
        "actor": actor,
        "version": version,
        "arn": _optional_str("arn", fields.get("arn")),
        "environment": _optional_str("environment", fields.get("environment")),
        "status": _optional_str("status", fields.get("status")),
        "reason": _optional_str("reason", fields.get("reason")),
        "airflow_run": airflow_run,
        "details": details,
        "key": _optional_str("key", fields.get("key")),
        "prev": prev,
    }
    canonical(event)  # refuses what JSON cannot carry (NaN...) before anything is written
    return event


def shape_problem(event: object) -> str | None:
    """Why ``event`` is not a well-formed stored event, or ``None`` when it is."""
    if not isinstance(event, Mapping):
        return f"not a JSON object but {type(event).__name__}"
    if set(event) != EVENT_KEYS:
        missing, extra = sorted(EVENT_KEYS - set(event)), sorted(set(event) - EVENT_KEYS)
        return f"fields differ from the schema (missing {missing}, unexpected {extra})"
    if event["schema"] != SCHEMA:
        return f"schema {event['schema']!r} is not {SCHEMA}"
    seq = event["seq"]
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        return f"seq {seq!r} is not a positive integer"
    if event["kind"] not in KINDS:
        return f"kind {event['kind']!r} is not an audit event kind"
    if not isinstance(event["prev"], str) or not _HEX64.match(event["prev"]):
        return f"prev {event['prev']!r} is not a hex SHA-256"
    if not isinstance(event["details"], Mapping):
        return "details is not an object"
    return None


def parse_event(body: bytes) -> dict[str, Any]:
    """The event stored as ``body``; :class:`MalformedEvent` when it is not one (or not canonical)."""
    try:
        event = json.loads(body)
    except ValueError as error:
        raise MalformedEvent(f"not JSON ({error})") from error
    problem = shape_problem(event)
    if problem:
        raise MalformedEvent(problem)
    if canonical(event) != body:
        raise MalformedEvent("not in canonical form (rewritten by something other than airflow-modelreg)")
    return event


def _blank(group: str) -> dict[str, Any]:
    return {"schema": SCHEMA, "group": group, **dict.fromkeys(sorted(EVENT_KEYS - {"schema", "group"}))}


def unreadable(group: str, seq: int, error: str) -> dict[str, Any]:
    """A placeholder for a stored event that cannot be read, so a reader still sees where it was."""
    return {
        **_blank(group),
        "seq": seq,
        "kind": UNREADABLE,
        "reason": f"event {seq} cannot be read: {error}; run `airflow-modelreg audit {group} --verify`",
        "details": {},
    }


# ------------------------------------------------------------------------------ reading helpers
def with_subject(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with the version and the person its details name, where its own fields leave them out.

    A refusal records what was attempted in its details (``arn``, ``by``): shown as the refused version and
    who tried, so a reader filtering by version sees the refusals about it (the CLI and the registry view
    alike, through :func:`~airflow_modelreg.audit_store.audit_trail`). The stored event is unchanged."""
    found = event.get("details")
    details: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    shown = dict(event)
    arn = details.get("arn")
    if shown.get("version") is None and isinstance(arn, str) and arn.rsplit("/", 1)[-1].isdigit():
        shown["version"] = int(arn.rsplit("/", 1)[1])
        shown["arn"] = shown.get("arn") or arn
    by = details.get("by")
    if shown.get("actor") is None and isinstance(by, str) and by:
        shown["actor"] = {"id": by, "name": by}
    return shown


def matches(
    event: Mapping[str, Any],
    kind: str | None = None,
    environment: str | None = None,
    version: int | None = None,
) -> bool:
    """Whether an event passes the filters (``None`` = any). An unreadable placeholder passes all: what it
    held is unknown, so a filtered reader must see it too."""
    if event.get("kind") == UNREADABLE:
        return True
    return (
        (kind is None or event.get("kind") == kind)
        and (environment is None or event.get("environment") == environment)
        and (version is None or event.get("version") == version)
    )


def index_keys(event: Mapping[str, Any]) -> list[str]:
    """The ``kind|environment`` slots (``*`` = any) whose latest event this event becomes."""
    kind, environment = event["kind"], event.get("environment")
    keys = [f"{kind}|*", "*|*"]
    if environment is not None:
        keys += [f"{kind}|{environment}", f"*|{environment}"]
    return keys


def index_key(kind: str | None, environment: str | None) -> str:
    return f"{kind or '*'}|{environment or '*'}"


def latest_by_slot(events: Iterable[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """``{"kind|environment": [seq, sha256]}`` of the latest event in each slot (see :func:`index_keys`)."""
    latest: dict[str, list[Any]] = {}
    for event in events:
        if shape_problem(event):
            continue
        for slot in index_keys(event):
            latest[slot] = [event["seq"], event_hash(event)]
    return latest


def build_index(group: str, head: Mapping[str, Any], last: Mapping[str, list[Any]]) -> dict[str, Any]:
    """The index of a log: its head event and the latest event per slot (see :func:`latest_by_slot`)."""
    return {
        "schema": SCHEMA,
        "group": group,
        "seq": head["seq"],
        "hash": event_hash(head),
        "last": dict(last),
    }


def parse_index(body: bytes, group: str) -> dict[str, Any]:
    """The index stored as ``body``; ``ValueError`` naming what is wrong when it is not one of ``group``."""
    index = json.loads(body)
    if not isinstance(index, dict) or index.get("group") != group or index.get("schema") != SCHEMA:
        raise ValueError(f"not an index of group {group!r}")
    seq, last = index.get("seq"), index.get("last")
    if (
        isinstance(seq, bool)
        or not isinstance(seq, int)
        or seq < 1
        or not _HEX64.match(str(index.get("hash")))
    ):
        raise ValueError("its head is not a seq and a SHA-256")
    if not isinstance(last, dict) or not all(
        isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and _HEX64.match(str(v[1]))
        for v in last.values()
    ):
        raise ValueError("its latest events are not [seq, SHA-256] pairs")
    return index


def index_anchors(index: Mapping[str, Any]) -> dict[int, tuple[str, str]]:
    """What the index records of events (their hashes), for :func:`verify_stored`."""
    anchors = {int(seq): (str(digest), "the log's index") for seq, digest in index["last"].values()}
    anchors[int(index["seq"])] = (str(index["hash"]), "the log's index")
    return anchors


def index_problems(index: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[Problem]:
    """Where the index hides a later event of a kind or environment than the one it names (an event it
    names that differs or is missing is reported against its anchor)."""
    covered = int(index["seq"])
    expected = latest_by_slot(e for e in events if not shape_problem(e) and e["seq"] <= covered)
    problems = []
    for slot in sorted(expected):
        recorded = index["last"].get(slot)
        if recorded is None or int(recorded[0]) < expected[slot][0]:
            kind, environment = slot.split("|")
            problems.append(
                Problem(
                    None,
                    "index-mismatch",
                    f"the index names {'no event' if recorded is None else f'event {recorded[0]}'} as the latest "
                    f"{'' if kind == '*' else kind + ' '}event"
                    f"{'' if environment == '*' else ' in ' + environment}, but event {expected[slot][0]} is",
                )
            )
    return problems


def registry_statuses(events: Iterable[Mapping[str, Any]]) -> dict[int, str]:
    """The registry status of each version as the log last recorded it (``registered`` and ``decided``)."""
    statuses: dict[int, str] = {}
    for event in events:
        if event.get("kind") in STATUS_KINDS and event.get("version") and event.get("status"):
            statuses[event["version"]] = event["status"]
    return statuses


def outside_airflow_note(
    group: str, version: int, arn: str | None, registry_status: str | None, log_status: str | None
) -> dict[str, Any]:
    """A note (not a stored event: no ``seq``) for a version whose registry status the log cannot explain;
    ``registry_status`` ``None`` when the registry no longer has the version."""
    registry = (
        "the registry no longer has it" if registry_status is None else f"the registry says {registry_status}"
    )
    logged = (
        "the log has no registration or decision for it"
        if log_status is None
        else f"the log last recorded {log_status}"
    )
    return {
        **_blank(group),
        "kind": OUTSIDE_AIRFLOW,
        "version": version,
        "arn": arn,
        "status": registry_status,
        "reason": f"decided outside Airflow: {registry}; {logged}",
        "details": {"registry_status": registry_status, "log_status": log_status},
    }


# -------------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log, naming the event (``seq``) it concerns."""

    seq: int | None
    kind: str  # missing, hash-mismatch, prev-mismatch, duplicate, reordered, inserted, malformed, ...
    message: str

    def __str__(self) -> str:
        where = f"event {self.seq}" if self.seq is not None else "log"
        return f"{where}: {self.kind}: {self.message}"


@dataclass(frozen=True)
class VerifyReport:
    """What verifying a log found: ``ok`` when nothing is wrong."""

    events: int
    last_seq: int
    last_hash: str | None
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        head = f"event {self.last_seq} (sha256 {self.last_hash})" if self.last_hash else "no events"
        lines = (
            [f"OK: {self.events} events, chain intact up to {head}."]
            if self.ok
            else [f"TAMPERED: {len(self.problems)} problem(s) in {self.events} events:"]
            + [f"  {problem}" for problem in self.problems]
        )
        return "\n".join(lines + [f"  note: {note}" for note in self.notes])

    def with_problems(self, problems: Iterable[Problem], notes: Iterable[str] = ()) -> VerifyReport:
        merged = _ordered([*self.problems, *problems])
        return VerifyReport(self.events, self.last_seq, self.last_hash, merged, (*self.notes, *notes))


@dataclass(frozen=True)
class Stored:
    """An event as storage holds it: where (``position``: the seq its location says; ``None`` for an
    in-memory list) and what (``body``, exactly as stored, or an already parsed ``event``)."""

    position: int | None
    where: str
    body: bytes | None = None
    event: Mapping[str, Any] | None = None


@dataclass
class _Entry:
    stored: Stored
    event: Mapping[str, Any] | None
    digest: str | None = None

    @property
    def seq(self) -> int:
        assert self.event is not None
        return int(self.event["seq"])


@dataclass
class _Check:
    problems: list[Problem] = field(default_factory=list)

    def add(self, seq: int | None, kind: str, message: str) -> None:
        self.problems.append(Problem(seq, kind, message))


def verify_chain(
    events: Sequence[Mapping[str, Any]],
    *,
    group: str | None = None,
    anchors: Mapping[int, tuple[str, str]] | None = None,
) -> VerifyReport:
    """Check events listed in stored order: each names its predecessor's SHA-256, seqs run 1, 2, 3...

    Reports each event missing (deleted), edited or replaced (its hash is not what the next event recorded),
    not following its predecessor (its ``prev`` names another event: edited or inserted), stored twice,
    inserted (a second, different event claiming a seq), or out of order.

    :param anchors: ``{seq: (sha256, where recorded)}`` known from elsewhere (the log's index): an event
        that differs is reported as edited, and a seq beyond the last event as missing (the tail deleted).
    """
    stored = [
        Stored(None, f"event #{index + 1} in the list", event=event) for index, event in enumerate(events)
    ]
    return verify_stored(stored, group=group, anchors=anchors)


def verify_stored(
    stored: Sequence[Stored],
    *,
    group: str | None = None,
    anchors: Mapping[int, tuple[str, str]] | None = None,
) -> VerifyReport:
    """:func:`verify_chain` for events as storage holds them: bytes that must parse and be canonical, and
    a ``position`` that must equal the event's ``seq`` (an event moved to another object is reported)."""
    check = _Check()
    anchors = dict(anchors or {})
    entries = [_read(check, item) for item in stored]
    usable = [entry for entry in entries if entry.event is not None]
    group = group or (str(usable[0].event["group"]) if usable and usable[0].event else None)
    for entry in usable:
        assert entry.event is not None
        if group is not None and entry.event["group"] != group:
            check.add(
                entry.seq,
                "inserted",
                f"{entry.stored.where} is an event of group {entry.event['group']!r}, not {group!r}",
            )
    _check_order(check, usable)
    chain = _authentic(check, usable, anchors)
    unreadable_positions = {e.stored.position for e in entries if e.event is None}
    last = max([*chain, *anchors, 0])
    for seq in range(1, last + 1):
        if seq not in chain and seq not in unreadable_positions:
            recorded = f" ({anchors[seq][1]} records it)" if seq in anchors else ""
            check.add(seq, "missing", f"event {seq} is missing: deleted{recorded}")
    _check_links(check, chain, anchors)
    for seq, (digest, where) in sorted(anchors.items()):
        if seq in chain and chain[seq].digest != digest:
            check.add(
                seq,
                "hash-mismatch",
                f"event {seq} was edited: its SHA-256 is {chain[seq].digest}, {where} recorded {digest}",
            )
    top = max(chain) if chain else 0
    return VerifyReport(
        events=len(entries),
        last_seq=top,
        last_hash=chain[top].digest if chain else None,
        problems=_ordered(check.problems),
    )


def _read(check: _Check, item: Stored) -> _Entry:
    event: Any = item.event
    if item.body is not None:
        try:
            event = parse_event(item.body)
        except MalformedEvent as error:
            check.add(item.position, "malformed", f"{item.where} is not a readable event: {error}")
            return _Entry(item, None)
    problem = shape_problem(event)
    if problem:
        check.add(item.position, "malformed", f"{item.where} is not a readable event: {problem}")
        return _Entry(item, None)
    return _Entry(item, event, event_hash(event))


def _check_order(check: _Check, usable: list[_Entry]) -> None:
    highest = 0
    for entry in usable:
        position = entry.stored.position
        if position is not None:
            if entry.seq != position:
                check.add(
                    position,
                    "reordered",
                    f"{entry.stored.where} holds event {entry.seq}, not event {position}: moved or renumbered",
                )
        elif entry.seq < highest:
            check.add(entry.seq, "reordered", f"event {entry.seq} is stored after event {highest}")
        highest = max(highest, entry.seq)


def _authentic(
    check: _Check, usable: list[_Entry], anchors: Mapping[int, tuple[str, str]]
) -> dict[int, _Entry]:
    """One event per seq; a second copy of an event is a duplicate, a second different event inserted."""
    by_seq: dict[int, list[_Entry]] = {}
    for entry in usable:
        by_seq.setdefault(entry.seq, []).append(entry)
    followers: dict[int, set[str]] = {}
    for entry in usable:
        assert entry.event is not None
        followers.setdefault(entry.seq - 1, set()).add(str(entry.event["prev"]))
    chain: dict[int, _Entry] = {}
    for seq, candidates in by_seq.items():
        if len(candidates) == 1:
            chain[seq] = candidates[0]
            continue

        def credibility(entry: _Entry, seq: int = seq) -> tuple[bool, bool, bool]:
            return (
                seq in anchors and anchors[seq][0] == entry.digest,
                entry.digest in followers.get(seq, set()),
                entry.stored.position == seq,
            )

        ranked = sorted(candidates, key=credibility, reverse=True)
        chain[seq] = ranked[0]
        for other in ranked[1:]:
            if other.digest == ranked[0].digest:
                check.add(
                    seq,
                    "duplicate",
                    f"event {seq} is stored twice ({ranked[0].stored.where}, {other.stored.where})",
                )
            else:
                check.add(
                    seq,
                    "inserted",
                    f"{other.stored.where} claims to be event {seq} but the log continues from "
                    f"{ranked[0].stored.where}: inserted, or edited",
                )
    return chain


def _check_links(check: _Check, chain: dict[int, _Entry], anchors: Mapping[int, tuple[str, str]]) -> None:
    def vouched(seq: int) -> bool:
        """Whether something other than the event itself confirms its hash."""
        entry = chain[seq]
        after = chain.get(seq + 1)
        return (after is not None and after.event is not None and after.event["prev"] == entry.digest) or (
            seq in anchors and anchors[seq][0] == entry.digest
        )

    by_digest = {entry.digest: seq for seq, entry in chain.items()}
    for seq in sorted(chain):
        entry = chain[seq]
        assert entry.event is not None
        prev = str(entry.event["prev"])
        if seq == 1:
            if prev != GENESIS:
                check.add(
                    1, "prev-mismatch", f"event 1 names {prev} as previous; the first event names 64 zeros"
                )
            continue
        before = chain.get(seq - 1)
        if before is None or prev == before.digest:
            continue  # a missing predecessor is reported as missing
        if seq - 1 in anchors and anchors[seq - 1][0] == prev:
            continue  # the predecessor differs from its anchor: reported as edited there
        skipped_from = by_digest.get(prev)
        if skipped_from is not None and skipped_from < seq - 1:
            for inserted in range(skipped_from + 1, seq):
                check.add(
                    inserted,
                    "inserted",
                    f"event {inserted} was inserted: event {seq} follows event {skipped_from} directly",
                )
            continue
        if vouched(seq):
            check.add(
                seq - 1,
                "hash-mismatch",
                f"event {seq - 1} was edited or replaced: its SHA-256 is {before.digest}, but event {seq} "
                f"recorded {prev}",
            )
        else:
            check.add(
                seq,
                "prev-mismatch",
                f"event {seq} does not follow event {seq - 1}: it names {prev} as previous, event {seq - 1}'s "
                f"SHA-256 is {before.digest} (event {seq} edited or inserted, or event {seq - 1} replaced)",
            )


def _ordered(problems: Iterable[Problem]) -> tuple[Problem, ...]:
    unique = dict.fromkeys(problems)
    return tuple(sorted(unique, key=lambda p: (p.seq if p.seq is not None else -1, p.kind, p.message)))
