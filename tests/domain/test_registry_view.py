"""What the registry view shows, shaped from plain records (no Airflow, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import registry_view as view
from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.pointers import Pointer

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/{}"


def pointer(version: int, by: str = "dave", action: str = "promote", approvers=()) -> Pointer:
    return Pointer(
        "churn",
        "prod",
        version,
        ARN.format(version),
        "d" * 64,
        by,
        f"2026-11-2{version}T10:00:00+00:00",
        "promote_model/manual__1/commit_prod",
        "key",
        action=action,
        approvers=list(approvers),
    )


def test_pages_hold_the_slice_asked_for_and_say_how_many_there_are():
    items = list(range(1, 52))
    last = view.page_of(items, 3, 25)
    assert last.items == (51,) and (last.total, last.pages) == (51, 3)
    assert view.page_of(items, 4, 25).items == ()
    assert view.page_of([], 1, 25).pages == 1
    for page, per_page in ((0, 25), (1, 0), (1, view.MAX_PER_PAGE + 1)):
        with pytest.raises(InvalidInputError, match="pages start at 1"):
            view.page_of(items, page, per_page)


def test_counts_are_per_status_and_in_total():
    summaries = [
        view.VersionSummary(n, ARN.format(n), status, "")
        for n, status in enumerate(["Approved", "Approved", "Rejected", "PendingManualApproval"], 1)
    ]
    assert view.counts(summaries) == {"total": 4, "PendingManualApproval": 1, "Approved": 2, "Rejected": 1}


def test_an_unknown_status_filter_is_refused_naming_the_known_ones():
    with pytest.raises(InvalidInputError, match="Unknown status 'approved'.*PendingManualApproval, Approved"):
        view.check_status("approved")


def test_runs_recorded_by_the_provider_link_to_their_task_and_required_actions_in_airflow():
    run = "promote_model/manual__2026-11-23T10:00:00+00:00/promote_to_prod.commit"
    assert view.run_link(run) == (
        "/dags/promote_model/runs/manual__2026-11-23T10%3A00%3A00%2B00%3A00/tasks/promote_to_prod.commit"
    )
    assert view.required_action_link(run) == (
        "/dags/promote_model/runs/manual__2026-11-23T10%3A00%3A00%2B00%3A00/required_actions"
    )
    # Anything else: no link to a run, and the list of every pending Required Action.
    assert view.run_link(None) is None and view.run_link("nonsense") is None
    assert view.required_action_link(None) == "/required_actions?response_received=false"
    # The page Airflow's own request link opens: one task's Required Action.
    assert view.task_required_action_link(
        "approve_version", "manual__2026-11-23T10:00:00+00:00", "approve"
    ) == (
        "/dags/approve_version/runs/manual__2026-11-23T10%3A00%3A00%2B00%3A00/tasks/approve/required_actions"
    )
    # How the view finds the request that waits for a version: the approval task's subject.
    assert view.approval_subject("churn", 7) == "Approve churn version 7?"


def test_a_version_row_reads_the_providers_records_and_the_approvers_reason():
    described = {
        "ModelPackageVersion": 7,
        "ModelPackageArn": ARN.format(7),
        "ModelApprovalStatus": "Approved",
        "ApprovalDescription": "AUC up 2 points",
        "CreationTime": datetime(2026, 11, 23, 9, tzinfo=UTC),
        "CustomerMetadataProperties": {
            md.REGISTERED_BY: "alice",
            md.DECIDED_BY: "bob|run-key",
            md.ARTIFACT_SHA256: "a" * 64,
            md.AIRFLOW_RUN: "train_and_register/r1/register",
            **md.metric_entries({"auc": 0.91}),
        },
    }
    row = view.version_row(described)
    assert (row["version"], row["status"], row["registered_by"], row["decided_by"], row["reason"]) == (
        7,
        "Approved",
        "alice",
        "bob",
        "AUC up 2 points",
    )
    assert row["metrics"] == {"auc": 0.91} and row["digest"] == "a" * 64
    assert row["created"] == "2026-11-23T09:00:00+00:00"
    assert row["airflow_run_link"] == "/dags/train_and_register/runs/r1/tasks/register"
    assert view.version_row({"ModelPackageVersion": 8})["decided_by"] is None


def test_the_ladder_has_a_column_per_environment_in_order_with_the_newest_history_first():
    first, second = pointer(1), pointer(2, approvers=["dave", "erin"])
    columns = view.ladder_columns(
        ["dev", "test", "uat", "prod"],
        {"prod": second},
        {
            "prod": [
                (1, first, datetime(2026, 11, 21, tzinfo=UTC)),
                (2, second, datetime(2026, 11, 22, tzinfo=UTC)),
            ]
        },
    )
    assert [c["environment"] for c in columns] == ["dev", "test", "uat", "prod"]
    assert columns[0] == {"environment": "dev", "current": None, "history": []}
    prod = columns[3]
    assert prod["current"]["version"] == 2 and prod["current"]["approvers"] == ["dave", "erin"]
    assert [h["version"] for h in prod["history"]] == [2, 1]
    assert prod["history"][1]["written_at"] == "2026-11-21T00:00:00+00:00"
    # A pointer without the quorum's list names its one approver.
    assert view.pointer_cell(first)["approvers"] == ["dave"]


def test_metrics_are_compared_with_the_current_version_including_those_only_one_has():
    rows = view.metric_comparison({"auc": 0.9, "f1": 0.7}, {"auc": 0.85, "accuracy": 0.8})
    assert [(r["metric"], r["this"], r["current"]) for r in rows] == [
        ("accuracy", None, 0.8),
        ("auc", 0.9, 0.85),
        ("f1", 0.7, None),
    ]
    assert rows[1]["delta"] == pytest.approx(0.05) and rows[0]["delta"] is None
    assert view.metric_comparison({"auc": 0.9}, None) == [
        {"metric": "auc", "this": 0.9, "current": None, "delta": None}
    ]


def test_a_versions_runs_are_its_registration_and_the_audited_steps_of_that_version_only():
    row = {"version": 3, "airflow_run": "train/r/register", "registered_by": "alice"}
    events = [
        {"kind": "registered", "version": 3, "airflow_run": "train/r/register"},
        {"kind": "decided", "version": 3, "airflow_run": "train/r/approve", "actor": {"name": "bob"}},
        {"kind": "promoted", "version": 2, "airflow_run": "promote/p/commit"},
        {"kind": "promoted", "version": 3, "environment": "dev", "airflow_run": "promote/q/commit"},
        {"kind": "refused", "version": 3},  # no run: nothing to link
    ]
    runs = view.version_runs(row, events)
    assert [(r["what"], r["environment"], r["by"], r["link"]) for r in runs] == [
        ("registered", None, "alice", "/dags/train/runs/r/tasks/register"),
        ("decided", None, "bob", "/dags/train/runs/r/tasks/approve"),
        ("promoted", "dev", None, "/dags/promote/runs/q/tasks/commit"),
    ]


def test_the_drift_table_has_one_row_per_feature_with_what_it_was_judged_on():
    report = {
        "features": {
            "age": {
                "type": "numeric",
                "rows": 900,
                "psi": 0.31,
                "distance": 0.2,
                "p_value": 0.001,
                "drifted": True,
                "reasons": ["PSI 0.310 > 0.2"],
            },
            "plan": {
                "type": "categorical",
                "rows": 900,
                "psi": 0.01,
                "distance": 0.02,
                "p_value": 0.6,
                "drifted": False,
                "reasons": [],
            },
        }
    }
    rows = view.drift_features(report)
    assert [(r["feature"], r["drifted"], r["reasons"]) for r in rows] == [
        ("age", True, ["PSI 0.310 > 0.2"]),
        ("plan", False, []),
    ]
    assert view.drift_features({}) == []


def test_a_promotion_subject_is_read_back_for_its_group_only():
    subject = view.promotion_subject("churn", 4, "prod", "rollback", slot=1, needed=2)
    assert subject == "Roll churn version 4 back in prod? (approval 2 of 2)"
    assert view.parse_promotion_subject("churn", subject) == {
        "version": 4,
        "environment": "prod",
        "action": "rollback",
    }
    assert view.parse_promotion_subject("churn", view.promotion_subject("churn", 3, "test")) == {
        "version": 3,
        "environment": "test",
        "action": "promote",
    }
    assert view.parse_promotion_subject("churn-2", subject) is None
    assert view.parse_promotion_subject("churn", "Approve churn version 3?") is None
