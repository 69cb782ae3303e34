"""``airflow-modelreg audit GROUP``: the log as a table, JSON or CSV, and ``--verify`` naming tampering."""

from __future__ import annotations

import csv
import io
import json

import pytest

from airflow_modelreg.cli import main
from airflow_modelreg.hooks.audit_log import AuditLogHook

DAVE = {"id": "dave", "name": "Dave"}


@pytest.fixture
def log_uri(aws, bucket):
    """A log of version 1's registration, approval and promotions; the registry agrees with it."""
    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval")[
        "ModelPackageArn"
    ]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    uri = f"s3://{bucket}/audit"
    hook = AuditLogHook(log_uri=uri)
    hook.append("churn", "registered", version=1, arn=arn, status="PendingManualApproval", actor=DAVE)
    hook.append("churn", "decided", version=1, arn=arn, status="Approved", actor=DAVE, reason="auc 0.91")
    for environment in ("dev", "test"):
        hook.append(
            "churn",
            "promoted",
            version=1,
            environment=environment,
            actor=DAVE,
            reason=f"ready for {environment}",
            airflow_run=f"promote_model/manual__1/promote_to_{environment}",
            details={"pointer_version": 1},
        )
    return uri


def test_the_audit_shows_the_logs_events(aws, log_uri, capsys):
    assert main(["audit", "churn", "--audit-log", log_uri]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["seq", "time", "version", "event", "environment", "by", "reason", "details"]
    rows = [line.split() for line in table[2:]]
    assert [row[0] for row in rows] == ["1", "2", "3", "4"]
    assert [row[3] for row in rows] == ["registered", "decided", "promoted", "promoted"]
    assert "pointer_version=1" in table[-1] and "ready for test" in table[-1]


def test_the_audit_as_json_and_csv_filtered_by_environment(aws, log_uri, capsys):
    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "json", "--environment", "test"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["seq"], r["event"], r["environment"], r["by"]) for r in rows] == [
        (4, "promoted", "test", "Dave")
    ]
    assert rows[0]["airflow_run"] == "promote_model/manual__1/promote_to_test"
    assert rows[0]["details"] == {"pointer_version": 1}

    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "csv", "--version", "1"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["event"] for r in rows] == ["registered", "decided", "promoted", "promoted"]


FORMULAS = ('=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx")


def test_the_audit_csv_neutralises_cells_a_spreadsheet_would_run(aws, log_uri, capsys):
    """An approver's reason (or a name) starting with = + - @, a tab or a CR is a formula to a spreadsheet: the
    CSV prefixes it with ' (OWASP's rule) so it shows as text; JSON and the table keep it as written."""
    hook = AuditLogHook(log_uri=log_uri)
    for reason in FORMULAS:
        hook.append(
            "churn",
            "decided",
            version=1,
            status="Approved",
            actor={"id": "=x", "name": "-bob"},
            reason=reason,
        )
    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))[-len(FORMULAS) :]
    assert [r["reason"] for r in rows] == [f"'{reason}" for reason in FORMULAS]
    assert {r["by"] for r in rows} == {"'-bob (=x)"}
    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "json"]) == 0
    assert [r["reason"] for r in json.loads(capsys.readouterr().out)[-len(FORMULAS) :]] == list(FORMULAS)


def test_the_audit_of_a_version_keeps_the_refusals_about_it_with_who_tried(aws, log_uri, capsys):
    """A refusal records the attempt's version and person in its details; --version N keeps it and shows
    both (the registry view reads the same trail)."""
    arn = aws.boto3_client("sagemaker").list_model_packages(ModelPackageGroupName="churn")[
        "ModelPackageSummaryList"
    ][0]["ModelPackageArn"]
    AuditLogHook(log_uri=log_uri).append(
        "churn", "refused", reason="Refused: not his own words", details={"arn": arn, "by": "bob"}
    )
    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "json", "--version", "1"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["event"], r["version"], r["by"]) for r in rows][-1] == ("refused", 1, "bob")


def test_the_audit_notes_a_decision_made_outside_airflow(aws, log_uri, capsys):
    sm = aws.boto3_client("sagemaker")
    arn = sm.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="Approved")[
        "ModelPackageArn"
    ]
    assert main(["audit", "churn", "--audit-log", log_uri, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[-1]["seq"] is None and rows[-1]["event"] == "decided-outside-airflow"
    assert rows[-1]["version"] == int(arn.rsplit("/", 1)[1]) == 2


def test_verify_passes_an_intact_log(aws, log_uri, capsys):
    assert main(["audit", "churn", "--audit-log", log_uri, "--verify"]) == 0
    assert "OK: 4 events" in capsys.readouterr().out


def test_verify_fails_naming_a_deleted_and_an_edited_event(aws, bucket, log_uri, capsys):
    s3 = aws.boto3_client("s3")
    s3.delete_object(Bucket=bucket, Key="audit/churn/events/000000000002.json")
    body = json.loads(s3.get_object(Bucket=bucket, Key="audit/churn/events/000000000003.json")["Body"].read())
    body["actor"] = {"id": "mallory", "name": "Mallory"}
    s3.put_object(
        Bucket=bucket,
        Key="audit/churn/events/000000000003.json",
        Body=json.dumps(body, sort_keys=True, separators=(",", ":")).encode(),
    )
    assert main(["audit", "churn", "--audit-log", log_uri, "--verify", "--format", "json"]) == 1
    captured = capsys.readouterr()
    json.loads(captured.out)  # the events stay parseable; the verdict goes to stderr
    assert "event 2: missing" in captured.err
    assert "event 3: hash-mismatch" in captured.err


def test_verify_without_a_log_says_how_to_configure_one(aws, capsys):
    assert main(["audit", "churn", "--verify", "--ladder", '{"environments": ["dev", "prod"]}']) == 2
    assert "--audit-log" in capsys.readouterr().err


def test_a_bad_log_uri_is_an_error_naming_it(aws, capsys):
    assert main(["audit", "churn", "--audit-log", "audit-bucket/x"]) == 2
    assert "audit-bucket/x" in capsys.readouterr().err


def test_a_missing_bucket_is_an_error_naming_it(aws, capsys):
    assert main(["audit", "churn", "--audit-log", "s3://no-such-audit-bucket/audit", "--verify"]) == 2
    assert "no-such-audit-bucket" in capsys.readouterr().err


def test_the_audit_reads_without_importing_airflow_when_the_connection_is_in_the_environment(aws, log_uri):
    """With the connection in ``AIRFLOW_CONN_AWS_DEFAULT`` the command reads the log through plain boto3:
    Airflow's start-up (seconds of CPU) is not paid for an audit."""
    import os
    import subprocess
    import sys

    assert os.environ["AIRFLOW_CONN_AWS_DEFAULT"]  # what the stand-in's environment sets
    snippet = (
        "import sys; from airflow_modelreg.cli import main; "
        f"code = main(['audit', 'churn', '--audit-log', {log_uri!r}, '--format', 'json', '--verify']); "
        "print('AIRFLOW-IMPORTED' if 'airflow' in sys.modules else 'NO-AIRFLOW', file=sys.stderr); "
        "sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "NO-AIRFLOW" in done.stderr
    assert [row["event"] for row in json.loads(done.stdout)] == [
        "registered",
        "decided",
        "promoted",
        "promoted",
    ]
