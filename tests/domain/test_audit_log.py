"""The audit log's events and hash chain: every kind of tampering is named, an intact log passes."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from airflow_modelreg.domain import audit_log as log
from airflow_modelreg.domain.errors import InvalidInputError

ACTOR = {"id": "dave", "name": "Dave"}


def chain(count: int, group: str = "churn") -> list[dict]:
    events: list[dict] = []
    for seq in range(1, count + 1):
        prev = log.event_hash(events[-1]) if events else log.GENESIS
        events.append(
            log.build_event(
                group,
                seq,
                "promoted",
                prev,
                environment="prod",
                version=seq,
                actor=ACTOR,
                reason=f"release {seq}",
                at="2026-11-23T10:00:00+00:00",
            )
        )
    return events


def edited(event: dict, **changes) -> dict:
    return {**event, **changes}


def problems(report: log.VerifyReport) -> list[tuple[int | None, str]]:
    return [(problem.seq, problem.kind) for problem in report.problems]


# ------------------------------------------------------------------------------------ events
def test_an_event_carries_every_field_of_the_schema():
    event = log.build_event(
        "churn",
        1,
        "decided",
        log.GENESIS,
        actor=ACTOR,
        version=3,
        arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
        status="Approved",
        reason="metrics good",
        airflow_run="approve/manual__1/ask",
        details={"auc": 0.91},
        key="run-1",
        at=datetime(2026, 11, 23, 11, 0, tzinfo=UTC),
    )
    assert set(event) == log.EVENT_KEYS
    assert event["schema"] == 1 and event["seq"] == 1 and event["prev"] == log.GENESIS
    assert event["at"].startswith("2026-11-23T11:00:00") and event["at"].endswith("+00:00")
    assert event["environment"] is None and event["details"] == {"auc": 0.91}


def test_time_defaults_to_now_in_utc():
    before = datetime.now(UTC)
    event = log.build_event("churn", 1, "registered", log.GENESIS)
    assert before.replace(microsecond=0) <= datetime.fromisoformat(event["at"]) <= datetime.now(UTC)
    assert event["details"] == {} and event["actor"] is None


@pytest.mark.parametrize(
    "kind, fields, named",
    [
        ("promoted-ish", {}, "promoted-ish"),
        ("promoted", {"actor": "dave"}, "actor"),
        ("promoted", {"actor": {"id": "dave"}}, "actor"),
        ("promoted", {"version": "3"}, "version"),
        ("promoted", {"details": {"when": datetime.now(UTC)}}, "details"),
        ("promoted", {"details": {"auc": float("nan")}}, "details"),
        ("promoted", {"at": "2026-11-23T10:00:00"}, "time"),
        ("promoted", {"at": datetime(2026, 11, 23)}, "time"),
        ("promoted", {"approver": "dave"}, "approver"),
        ("promoted", {"airflow_run": "just-a-dag"}, "airflow_run"),
        ("promoted", {"reason": 42}, "reason"),
    ],
)
def test_bad_fields_are_refused_naming_them(kind, fields, named):
    with pytest.raises(InvalidInputError, match=named):
        log.build_event("churn", 1, kind, log.GENESIS, **fields)


def test_canonical_bytes_do_not_depend_on_key_order_and_keep_unicode():
    event = log.build_event(
        "churn", 1, "refused", log.GENESIS, reason="Zoë's model: no", details={"b": 1, "a": 2}
    )
    reordered = dict(reversed(list(event.items())))
    assert log.canonical(reordered) == log.canonical(event)
    assert "Zoë".encode() in log.canonical(event)
    assert b" " not in log.canonical(event).replace(b"Zo\xc3\xab's model: no", b"")
    assert log.event_hash(event) == hashlib.sha256(log.canonical(event)).hexdigest()
    assert log.parse_event(log.canonical(event)) == event


def test_any_change_changes_the_hash():
    event = chain(1)[0]
    digests = {log.event_hash(event)}
    for name, value in [("reason", "other"), ("version", 2), ("actor", None), ("details", {"x": 1})]:
        digests.add(log.event_hash(edited(event, **{name: value})))
    assert len(digests) == 5


def test_stored_bytes_must_be_canonical_events():
    event = chain(1)[0]
    with pytest.raises(log.MalformedEvent, match="canonical"):
        log.parse_event(json.dumps(event, indent=1).encode())
    with pytest.raises(log.MalformedEvent, match="not JSON"):
        log.parse_event(b"{oops")
    with pytest.raises(log.MalformedEvent, match="missing"):
        log.parse_event(log.canonical({k: v for k, v in event.items() if k != "prev"}))


# ------------------------------------------------------------------------------- verification
def test_an_intact_chain_verifies():
    events = chain(5)
    report = log.verify_chain(events)
    assert report.ok and report.events == 5 and report.last_seq == 5
    assert report.last_hash == log.event_hash(events[-1])
    assert report.summary().startswith("OK: 5 events")


def test_an_empty_log_verifies():
    report = log.verify_chain([])
    assert report.ok and report.last_seq == 0 and report.last_hash is None


def test_a_deleted_event_is_named():
    events = chain(6)
    del events[2]
    report = log.verify_chain(events)
    assert problems(report) == [(3, "missing")]
    assert "event 3: missing" in report.summary()


def test_an_edited_event_is_named():
    events = chain(6)
    events[2] = edited(events[2], reason="approved by nobody", actor={"id": "mallory", "name": "Mallory"})
    assert problems(log.verify_chain(events)) == [(3, "hash-mismatch")]


def test_an_edited_prev_field_is_named():
    events = chain(6)
    events[3] = edited(events[3], prev="f" * 64)
    assert {seq for seq, _ in problems(log.verify_chain(events))} == {4}


def test_an_inserted_event_is_named():
    events = chain(6)
    forged = log.build_event(
        "churn", 4, "promoted", log.event_hash(events[2]), environment="prod", version=99
    )
    events.insert(3, forged)
    report = log.verify_chain(events)
    assert problems(report) == [(4, "inserted")]
    assert "#4" in report.problems[0].message  # the forged one, not the original event 4


def test_an_event_inserted_by_renumbering_the_rest_is_named():
    events = chain(6)
    forged = log.build_event(
        "churn", 4, "promoted", log.event_hash(events[2]), environment="prod", version=99
    )
    shifted = [edited(event, seq=event["seq"] + 1) for event in events[3:]]
    report = log.verify_chain([*events[:3], forged, *shifted])
    # The original event 4, renumbered 5, still follows event 3: the forged event 4 is named as inserted,
    # and the renumbered events after it (their hashes changed) do not follow their predecessors.
    assert problems(report) == [(4, "inserted"), (6, "prev-mismatch"), (7, "prev-mismatch")]
    assert "event 5 follows event 3 directly" in report.problems[0].message


def test_reordered_events_are_named():
    events = chain(6)
    events[2], events[3] = events[3], events[2]
    assert problems(log.verify_chain(events)) == [(3, "reordered")]


def test_a_duplicated_event_is_named():
    events = chain(4)
    events.insert(2, dict(events[1]))
    assert problems(log.verify_chain(events)) == [(2, "duplicate")]


def test_the_first_event_must_name_no_predecessor():
    events = chain(3)
    events[0] = edited(events[0], prev="a" * 64)
    assert (1, "prev-mismatch") in problems(log.verify_chain(events))


def test_an_event_of_another_group_is_named():
    events = chain(3)
    other = chain(3, group="fraud")
    events[2] = edited(other[2], prev=log.event_hash(events[1]))
    assert (3, "inserted") in problems(log.verify_chain(events, group="churn"))


def test_the_last_event_is_checked_against_an_anchor():
    events = chain(4)
    anchor = {4: (log.event_hash(events[3]), "the index")}
    forged = [*events[:3], edited(events[3], reason="forged")]
    # Nothing follows the last event: only a hash recorded elsewhere shows its edit.
    assert log.verify_chain(forged).ok
    report = log.verify_chain(forged, anchors=anchor)
    assert problems(report) == [(4, "hash-mismatch")]
    assert "the index" in report.problems[0].message


def test_a_deleted_tail_is_named_against_an_anchor():
    events = chain(5)
    report = log.verify_chain(events[:3], anchors={5: (log.event_hash(events[4]), "the index")})
    assert problems(report) == [(4, "missing"), (5, "missing")]


def test_stored_events_must_sit_where_their_seq_says():
    events = chain(4)
    stored = [log.Stored(seq, f"object {seq}", log.canonical(event)) for seq, event in enumerate(events, 1)]
    stored[1], stored[2] = (
        log.Stored(2, "object 2", log.canonical(events[2])),
        log.Stored(3, "object 3", log.canonical(events[1])),
    )
    report = log.verify_stored(stored, group="churn")
    assert problems(report) == [(2, "reordered"), (3, "reordered")]
    assert "object 2 holds event 3" in str(report.problems[1]) or "object 2 holds event 3" in str(
        report.problems[0]
    )


def test_unreadable_stored_bytes_are_named_by_position():
    events = chain(3)
    stored = [log.Stored(seq, f"object {seq}", log.canonical(event)) for seq, event in enumerate(events, 1)]
    stored[1] = log.Stored(2, "object 2", b"garbage")
    report = log.verify_stored(stored)
    assert problems(report) == [(2, "malformed")]
    assert "object 2" in report.problems[0].message


# ----------------------------------------------------------------------------- reading helpers
def test_latest_by_slot_names_the_newest_event_per_kind_and_environment():
    events = chain(3)
    events.append(
        log.build_event("churn", 4, "rolled-back", log.event_hash(events[2]), environment="prod", version=2)
    )
    events.append(log.build_event("churn", 5, "promoted", log.event_hash(events[3]), environment="dev"))
    latest = log.latest_by_slot(events)
    assert latest["promoted|prod"] == [3, log.event_hash(events[2])]
    assert latest["rolled-back|prod"][0] == 4
    assert latest["*|prod"][0] == 4
    assert latest["promoted|*"][0] == 5 and latest["*|*"][0] == 5


def test_registry_statuses_follow_registrations_and_decisions_only():
    events = [
        log.build_event("churn", 1, "registered", log.GENESIS, version=1, status="PendingManualApproval"),
        log.build_event("churn", 2, "approval-recorded", "0" * 64, version=1, status="Approved"),
        log.build_event("churn", 3, "decided", "0" * 64, version=1, status="Rejected"),
        log.build_event("churn", 4, "registered", "0" * 64, version=2, status="PendingManualApproval"),
    ]
    assert log.registry_statuses(events) == {1: "Rejected", 2: "PendingManualApproval"}


def test_filters_keep_unreadable_placeholders():
    placeholder = log.unreadable("churn", 7, "its object is missing")
    assert log.matches(placeholder, kind="promoted", environment="prod", version=3)
    event = chain(1)[0]
    assert log.matches(event, kind="promoted", environment="prod", version=1)
    assert not log.matches(event, environment="dev")


def test_a_refusal_is_shown_with_the_version_and_the_person_its_details_name():
    from airflow_modelreg.domain.audit_log import matches, with_subject

    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/7"
    refused = {"kind": "refused", "version": None, "actor": None, "details": {"arn": arn, "by": "bob"}}
    shown = with_subject(refused)
    assert (shown["version"], shown["actor"], shown["arn"]) == (7, {"id": "bob", "name": "bob"}, arn)
    assert matches(shown, version=7) and not matches(refused, version=7)
    assert refused["version"] is None  # the stored event is unchanged
    decided = {"kind": "decided", "version": 3, "actor": {"id": "x", "name": "x"}, "details": {"arn": arn}}
    assert with_subject(decided)["version"] == 3
