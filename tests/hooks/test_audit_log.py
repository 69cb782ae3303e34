"""The audit log in S3 on the stand-in, over HTTP: appends, idempotency, races, long logs, and tampering
done with a plain S3 client, as someone with write access to the bucket would."""

from __future__ import annotations

import json
import threading

import pytest

from airflow_modelreg.domain import audit_log as log
from airflow_modelreg.domain.errors import InvalidInputError, RegistryError
from airflow_modelreg.hooks.audit_log import AuditLogHook, audit_trail, parse_log_uri
from tests.helpers import write_calls

GROUP = "churn"
DAVE = {"id": "dave", "name": "Dave"}


@pytest.fixture
def hook(bucket):
    return AuditLogHook(log_uri=f"s3://{bucket}/audit")


@pytest.fixture
def s3(aws):
    return aws.boto3_client("s3")


def promotions(hook: AuditLogHook, count: int, environment: str = "prod") -> list[dict]:
    """``count`` promotions of one environment, written as one import (one write per event)."""
    return hook.append_many(
        GROUP,
        [
            {
                "kind": "promoted",
                "environment": environment,
                "version": n,
                "actor": DAVE,
                "reason": f"release {n}",
            }
            for n in range(1, count + 1)
        ],
    )


def event_key(seq: int) -> str:
    return f"audit/{GROUP}/events/{seq:012d}.json"


def read_object(s3, bucket: str, key: str) -> bytes:
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def rewrite(s3, bucket: str, seq: int, **changes) -> None:
    event = json.loads(read_object(s3, bucket, event_key(seq)))
    s3.put_object(Bucket=bucket, Key=event_key(seq), Body=log.canonical({**event, **changes}))


def found(report: log.VerifyReport) -> set[tuple[int | None, str]]:
    return {(problem.seq, problem.kind) for problem in report.problems}


# -------------------------------------------------------------------------------- the log URI
def test_the_log_uri_is_a_bucket_with_an_optional_prefix():
    assert parse_log_uri("s3://audit-bucket") == ("audit-bucket", "")
    assert parse_log_uri("s3://audit-bucket/") == ("audit-bucket", "")
    assert parse_log_uri("s3://audit-bucket/modelreg/audit/") == ("audit-bucket", "modelreg/audit")
    with pytest.raises(InvalidInputError, match="audit log URI"):
        parse_log_uri("audit-bucket/x")


# --------------------------------------------------------------------------- append and read
def test_appended_events_read_back_oldest_first_with_their_fields(aws, hook):
    registered = hook.append(
        GROUP, "registered", version=1, status="PendingManualApproval", airflow_run="train/run1/register"
    )
    decided = hook.append(GROUP, "decided", version=1, status="Approved", actor=DAVE, reason="good metrics")
    promoted = hook.append(
        GROUP, "promoted", version=1, environment="dev", actor=DAVE, details={"pointer": 1}
    )

    assert [e["seq"] for e in (registered, decided, promoted)] == [1, 2, 3]
    assert registered["prev"] == log.GENESIS
    assert decided["prev"] == log.event_hash(registered) and promoted["prev"] == log.event_hash(decided)
    assert hook.events(GROUP) == [registered, decided, promoted]
    assert hook.events(GROUP, kind="promoted") == [promoted]
    assert hook.events(GROUP, environment="dev") == [promoted]
    assert hook.events(GROUP, version=1) == [registered, decided, promoted]
    assert hook.last(GROUP, "promoted", "dev") == promoted
    assert hook.last(GROUP, "promoted", "prod") is None
    assert hook.last(GROUP) == promoted
    assert hook.events("fraud") == [] and hook.last("fraud") is None
    assert hook.verify_log(GROUP).ok


def test_an_event_object_is_written_once_as_its_canonical_bytes(aws, hook, s3, bucket):
    event = hook.append(GROUP, "refused", reason="Zoë may not approve her own model")
    assert read_object(s3, bucket, event_key(1)) == log.canonical(event)


def test_bad_events_are_refused_before_any_write(aws, hook):
    aws.reset_calls()
    with pytest.raises(InvalidInputError, match="kind"):
        hook.append(GROUP, "approved")
    with pytest.raises(InvalidInputError, match="actor"):
        hook.append(GROUP, "promoted", actor="dave")
    with pytest.raises(InvalidInputError, match="group"):
        hook.append("bad_group", "promoted")
    assert aws.calls() == {}


def test_the_same_key_appends_once(aws, hook):
    first = hook.append(GROUP, "promoted", environment="dev", version=1, key="promote_model/run1/dev")
    hook.append(GROUP, "deployed", version=1)
    aws.reset_calls()
    again = hook.append(GROUP, "promoted", environment="dev", version=1, key="promote_model/run1/dev")
    assert again == first
    assert write_calls(aws) == {}
    assert [e["kind"] for e in hook.events(GROUP)] == ["promoted", "deployed"]


def test_a_retry_after_a_crash_between_event_and_marker_appends_once(aws, hook):
    key = "promote_model/run1/prod"
    marker = hook._marker_key(GROUP, key)
    # The first try writes its event, then dies before writing the key's marker.
    aws.inject_faults(rate=1.0, kinds=["deny"], services=["s3"], actions=[f"PUT /{hook.bucket}/{marker}"])
    with pytest.raises(RegistryError):
        hook.append(GROUP, "promoted", environment="prod", version=4, key=key)
    aws.clear_faults()
    assert [e["key"] for e in hook.events(GROUP)] == [key]
    retried = hook.append(GROUP, "promoted", environment="prod", version=4, key=key)
    assert retried["seq"] == 1
    assert len(hook.events(GROUP)) == 1


def test_a_crashed_writers_marker_is_completed_by_the_next_writer(aws, hook):
    key = "promote_model/run1/prod"
    marker = hook._marker_key(GROUP, key)
    aws.inject_faults(rate=1.0, kinds=["deny"], services=["s3"], actions=[f"PUT /{hook.bucket}/{marker}"])
    with pytest.raises(RegistryError):
        hook.append(GROUP, "promoted", environment="prod", version=4, key=key)
    aws.clear_faults()
    hook.append(GROUP, "deployed", version=4)  # another task appends before the retry
    hook.append(GROUP, "deployed", version=5)
    retried = hook.append(GROUP, "promoted", environment="prod", version=4, key=key)
    assert retried["seq"] == 1
    assert [e["seq"] for e in hook.events(GROUP)] == [1, 2, 3]


def test_concurrent_writers_lose_nothing_and_duplicate_nothing(aws, bucket):
    per_writer, writers = 15, 3
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(name: str) -> None:
        hook = AuditLogHook(log_uri=f"s3://{bucket}/audit")
        barrier.wait()
        try:
            for n in range(per_writer):
                hook.append(GROUP, "traffic-shifted", reason=f"{name}-{n}", key=f"{name}-{n}")
        except BaseException as error:  # reported below, with the thread's name
            errors.append(error)

    threads = [threading.Thread(target=write, args=(f"writer{w}",)) for w in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    hook = AuditLogHook(log_uri=f"s3://{bucket}/audit")
    events = hook.events(GROUP)
    assert [e["seq"] for e in events] == list(range(1, per_writer * writers + 1))
    assert sorted(e["reason"] for e in events) == sorted(
        f"writer{w}-{n}" for w in range(writers) for n in range(per_writer)
    )
    for w in range(writers):  # each writer's own events keep its order
        mine = [e["reason"] for e in events if e["reason"].startswith(f"writer{w}-")]
        assert mine == [f"writer{w}-{n}" for n in range(per_writer)]
    assert hook.verify_log(GROUP).ok


def test_concurrent_retries_of_one_key_append_once(aws, bucket):
    barrier = threading.Barrier(4)
    results: list[dict] = []

    def write() -> None:
        hook = AuditLogHook(log_uri=f"s3://{bucket}/audit")
        barrier.wait()
        results.append(hook.append(GROUP, "promoted", environment="uat", version=2, key="the-one-run"))

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = AuditLogHook(log_uri=f"s3://{bucket}/audit").events(GROUP)
    assert len(events) == 1
    assert results == [events[0]] * 4


def test_verifying_while_others_append_finds_nothing_wrong(aws, bucket):
    promotions(AuditLogHook(log_uri=f"s3://{bucket}/audit"), 95)
    done = threading.Event()

    def write() -> None:
        hook = AuditLogHook(log_uri=f"s3://{bucket}/audit")
        try:
            for n in range(12):  # crosses the segment boundary at 100
                hook.append(GROUP, "deployed", version=n + 1)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    writer.start()
    verifier = AuditLogHook(log_uri=f"s3://{bucket}/audit")
    reports = []
    while not done.is_set():
        reports.append(verifier.verify_log(GROUP))
    writer.join()
    reports.append(verifier.verify_log(GROUP))
    assert [str(problem) for report in reports for problem in report.problems] == []
    assert reports[-1].last_seq == 107


# ------------------------------------------------------------------------------- long logs
def test_250_promotions_of_one_environment_all_read_back(aws, hook, s3, bucket):
    written = promotions(hook, 250)
    aws.reset_calls()
    events = hook.events(GROUP, environment="prod")
    assert events == written
    assert [e["version"] for e in events] == list(range(1, 251))
    # Two segments of 100 and the 50 newest events one by one: not one read per event.
    gets = sum(count for call, count in aws.calls().items() if call.startswith("s3:GET"))
    assert gets <= 2 + 50 + 3
    segments = s3.list_objects_v2(Bucket=bucket, Prefix=f"audit/{GROUP}/segments/")["Contents"]
    assert [item["Key"].rsplit("/", 1)[1] for item in segments] == [
        "000000000001-000000000100.jsonl",
        "000000000101-000000000200.jsonl",
    ]
    lines = read_object(s3, bucket, segments[1]["Key"]).splitlines()
    assert lines == [log.canonical(event) for event in written[100:200]]
    assert hook.verify_log(GROUP).ok


def test_last_is_a_few_reads_however_long_the_log(aws, hook):
    promotions(hook, 120, environment="dev")
    rollback = hook.append(GROUP, "rolled-back", environment="prod", version=3, actor=DAVE)
    promotions(hook, 30, environment="test")
    aws.reset_calls()
    assert hook.last(GROUP, "rolled-back", "prod") == rollback
    assert sum(aws.calls().values()) <= 4
    assert hook.last(GROUP, "promoted", "dev")["seq"] == 120
    assert hook.last(GROUP, "promoted")["environment"] == "test"


def test_a_segment_its_writer_did_not_write_is_written_by_the_next_append(aws, hook, s3, bucket):
    promotions(hook, 99)
    segment = f"audit/{GROUP}/segments/000000000001-000000000100.jsonl"
    aws.inject_faults(rate=1.0, kinds=["deny"], services=["s3"], actions=[f"PUT /{bucket}/{segment}"])
    with pytest.raises(RegistryError):
        hook.append(GROUP, "promoted", environment="prod", version=100)
    aws.clear_faults()
    report = hook.verify_log(GROUP)
    assert report.ok and any("segment of events 1-100 is missing" in note for note in report.notes)
    hook.append(GROUP, "promoted", environment="prod", version=101)
    assert len(read_object(s3, bucket, segment).splitlines()) == 100
    assert [e["seq"] for e in hook.events(GROUP)] == list(range(1, 102))
    assert hook.verify_log(GROUP).notes == ()


def test_an_unreadable_event_shows_as_a_placeholder_not_an_error(aws, hook, s3, bucket):
    promotions(hook, 5)
    s3.put_object(Bucket=bucket, Key=event_key(3), Body=b"not an event")
    events = hook.events(GROUP, kind="promoted")
    assert [e["kind"] for e in events] == ["promoted", "promoted", log.UNREADABLE, "promoted", "promoted"]
    assert "--verify" in events[2]["reason"]


# ---------------------------------------------------------------------- tampering, by S3 access
def test_verify_names_a_deleted_event(aws, hook, s3, bucket):
    promotions(hook, 8)
    s3.delete_object(Bucket=bucket, Key=event_key(5))
    report = hook.verify_log(GROUP)
    assert found(report) == {(5, "missing")}
    assert [e["kind"] for e in hook.events(GROUP)][4] == log.UNREADABLE


def test_verify_names_a_deleted_newest_event(aws, hook, s3, bucket):
    promotions(hook, 8)
    s3.delete_object(Bucket=bucket, Key=event_key(8))
    assert found(hook.verify_log(GROUP)) == {(8, "missing")}


def test_verify_names_an_edited_event(aws, hook, s3, bucket):
    promotions(hook, 8)
    rewrite(s3, bucket, 4, actor={"id": "mallory", "name": "Mallory"}, reason="approved")
    report = hook.verify_log(GROUP)
    assert found(report) == {(4, "hash-mismatch")}
    assert "event 4 was edited" in report.summary()


def test_verify_names_an_edited_newest_event_against_the_index(aws, hook, s3, bucket):
    promotions(hook, 8)
    rewrite(s3, bucket, 8, reason="forged")
    report = hook.verify_log(GROUP)
    assert (8, "hash-mismatch") in found(report)
    with pytest.raises(log.AuditLogTampered, match="event 8"):
        hook.append(GROUP, "promoted", environment="prod", version=9)


def test_verify_names_an_inserted_event(aws, hook, s3, bucket):
    written = promotions(hook, 6)
    # Shift events 4-6 up by one and put a forged, well-chained event 4 in the gap.
    for seq in (6, 5, 4):
        s3.put_object(Bucket=bucket, Key=event_key(seq + 1), Body=read_object(s3, bucket, event_key(seq)))
    forged = log.build_event(GROUP, 4, "promoted", log.event_hash(written[2]), environment="prod", version=99)
    s3.put_object(Bucket=bucket, Key=event_key(4), Body=log.canonical(forged))
    report = hook.verify_log(GROUP)
    assert (4, "inserted") in found(report) or (4, "hash-mismatch") in found(report)
    assert {(5, "reordered"), (6, "reordered"), (7, "reordered")} <= found(report)


def test_verify_names_a_stray_object_in_the_log(aws, hook, s3, bucket):
    written = promotions(hook, 3)
    s3.put_object(
        Bucket=bucket, Key=f"audit/{GROUP}/events/000000000002b.json", Body=log.canonical(written[1])
    )
    report = hook.verify_log(GROUP)
    assert found(report) == {(None, "inserted")}
    assert "000000000002b.json" in report.summary()


def test_verify_names_reordered_events(aws, hook, s3, bucket):
    promotions(hook, 6)
    third, fourth = read_object(s3, bucket, event_key(3)), read_object(s3, bucket, event_key(4))
    s3.put_object(Bucket=bucket, Key=event_key(3), Body=fourth)
    s3.put_object(Bucket=bucket, Key=event_key(4), Body=third)
    assert found(hook.verify_log(GROUP)) == {(3, "reordered"), (4, "reordered")}


def test_verify_names_an_event_edited_in_its_object_or_in_its_segment(aws, hook, s3, bucket):
    written = promotions(hook, 150)
    rewrite(s3, bucket, 40, reason="forged in the object")
    segment = f"audit/{GROUP}/segments/000000000001-000000000100.jsonl"
    lines = read_object(s3, bucket, segment).splitlines()
    lines[69] = log.canonical({**written[69], "reason": "forged in the segment"})
    s3.put_object(Bucket=bucket, Key=segment, Body=b"\n".join(lines) + b"\n")
    report = hook.verify_log(GROUP)
    assert {seq for seq, _ in found(report)} == {40, 70}
    messages = {problem.seq: [] for problem in report.problems}
    for problem in report.problems:
        messages[problem.seq].append(problem.message)
    assert any("000000000040.json was edited" in m for m in messages[40])
    assert any("segment" in m and "was edited" in m for m in messages[70])


def test_verify_names_an_event_deleted_from_its_object_but_kept_in_its_segment(aws, hook, s3, bucket):
    promotions(hook, 120)
    s3.delete_object(Bucket=bucket, Key=event_key(33))
    report = hook.verify_log(GROUP)
    assert found(report) == {(33, "missing")}
    assert "survives" in report.summary()
    assert hook.events(GROUP)[32]["seq"] == 33  # readers still get it from the segment


def test_on_a_versioned_bucket_verify_names_an_overwritten_event(aws, hook, s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    promotions(hook, 5)
    original = read_object(s3, bucket, event_key(5))
    # Overwrite the newest event, then put the same bytes back: the content matches, the history does not.
    rewrite(s3, bucket, 5, reason="forged")
    s3.put_object(Bucket=bucket, Key=event_key(5), Body=original)
    report = hook.verify_log(GROUP)
    assert found(report) == {(5, "hash-mismatch")}
    assert "3 versions" in report.summary()


def test_last_refuses_what_the_index_names_when_it_was_edited(aws, hook, s3, bucket):
    promotions(hook, 4)
    hook.append(GROUP, "rolled-back", environment="prod", version=3)
    promotions(hook, 2, environment="dev")
    rewrite(s3, bucket, 5, version=1)
    with pytest.raises(log.AuditLogTampered, match="event 5"):
        hook.last(GROUP, "rolled-back", "prod")


def test_verify_names_an_index_that_hides_the_latest_event(aws, hook, s3, bucket):
    promotions(hook, 3)
    hook.append(GROUP, "rolled-back", environment="prod", version=2)
    hook.append(GROUP, "deployed", version=2)
    index_key = f"audit/{GROUP}/index.json"
    index = json.loads(read_object(s3, bucket, index_key))
    index["last"]["rolled-back|prod"] = index["last"]["promoted|prod"]
    s3.put_object(Bucket=bucket, Key=index_key, Body=json.dumps(index).encode())
    assert (None, "index-mismatch") in found(hook.verify_log(GROUP))


def test_verify_reports_the_newest_events_deleted_with_the_index(aws, hook, s3, bucket):
    """Deleting the newest event and the index leaves no gap in the chain; the missing index says so."""
    promotions(hook, 3)
    hook.append(GROUP, "refused", reason="dave may not approve his own model")
    assert hook.verify_log(GROUP).ok
    s3.delete_object(Bucket=bucket, Key=f"audit/{GROUP}/events/{4:012d}.json")
    s3.delete_object(Bucket=bucket, Key=f"audit/{GROUP}/index.json")
    report = hook.verify_log(GROUP)
    assert not report.ok
    assert (3, "missing") in found(report)
    assert any("index.json is missing" in problem.message for problem in report.problems)


def test_a_first_append_that_stopped_before_its_index_is_not_tampering(aws, hook, s3, bucket):
    hook.append(GROUP, "registered", version=1)
    s3.delete_object(Bucket=bucket, Key=f"audit/{GROUP}/index.json")
    assert hook.verify_log(GROUP).ok


# ---------------------------------------------------------------------- the audit with a registry
def test_the_audit_notes_decisions_made_outside_airflow(aws, hook):
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName=GROUP)
    arns = [
        sm.create_model_package(ModelPackageGroupName=GROUP, ModelApprovalStatus="PendingManualApproval")[
            "ModelPackageArn"
        ]
        for _ in range(5)
    ]
    for number, arn in enumerate(arns[:4], 1):
        hook.append(GROUP, "registered", version=number, arn=arn, status="PendingManualApproval")
    for number in (1, 2):
        hook.append(GROUP, "decided", version=number, arn=arns[number - 1], status="Approved", actor=DAVE)
        sm.update_model_package(ModelPackageArn=arns[number - 1], ModelApprovalStatus="Approved")
    # Behind the log's back (SageMaker Studio, the CLI): version 2's approval undone, version 3 rejected,
    # version 5 (registered outside Airflow too) approved. Version 4 waits, as the log says.
    sm.update_model_package(ModelPackageArn=arns[1], ModelApprovalStatus="PendingManualApproval")
    sm.update_model_package(ModelPackageArn=arns[2], ModelApprovalStatus="Rejected")
    sm.update_model_package(ModelPackageArn=arns[4], ModelApprovalStatus="Approved")
    aws.reset_calls()

    trail = audit_trail(GROUP, log_hook=hook, registry_hook=ModelRegistryHook())

    events, notes = trail[:6], trail[6:]
    assert [e["kind"] for e in events] == ["registered"] * 4 + ["decided"] * 2
    assert [(n["kind"], n["version"], n["status"]) for n in notes] == [
        (log.OUTSIDE_AIRFLOW, 2, "PendingManualApproval"),
        (log.OUTSIDE_AIRFLOW, 3, "Rejected"),
        (log.OUTSIDE_AIRFLOW, 5, "Approved"),
    ]
    assert "the log last recorded Approved" in notes[0]["reason"]
    assert "the log last recorded PendingManualApproval" in notes[1]["reason"]
    assert "no registration or decision" in notes[2]["reason"]
    # Summaries of the decided versions, and one describe: the version whose approval was undone.
    assert aws.calls().get("sagemaker:DescribeModelPackage") == 1
