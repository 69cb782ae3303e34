"""What the registry view shows, shaped from the registry's, Parameter Store's and the audit log's records.

Pure: no Airflow, no AWS. The plugin's reader (:mod:`airflow_modelreg.plugins.registry_data`) fetches, this
arranges: versions as table rows, pages of a listing, the environment ladder as columns, a version's
metrics beside the environment's current version, and links to the Airflow runs named in the records.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.pointers import Pointer

STATUSES = ("PendingManualApproval", "Approved", "Rejected")
PENDING = "PendingManualApproval"
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class VersionSummary:
    """One entry of ``ListModelPackages``: enough to count, filter and page without describing."""

    version: int
    arn: str
    status: str
    created: str

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> VersionSummary:
        arn = str(summary["ModelPackageArn"])
        version = summary.get("ModelPackageVersion") or arn.rsplit("/", 1)[1]
        created = summary.get("CreationTime")
        return cls(
            version=int(version),
            arn=arn,
            status=str(summary.get("ModelApprovalStatus") or ""),
            created=_iso(created) or "",
        )


@dataclass(frozen=True)
class Page:
    """One page of a listing: its items, where it is, and how many pages there are."""

    items: tuple[Any, ...]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "per_page": self.per_page, "total": self.total, "pages": self.pages}


def check_page(page: int, per_page: int) -> None:
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise InvalidInputError(
            f"Invalid page {page} of {per_page} per page: pages start at 1 and hold 1 to {MAX_PER_PAGE} rows."
        )


def check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise InvalidInputError(f"Unknown status {status!r}: use one of {', '.join(STATUSES)}.")


def page_of(items: Sequence[Any], page: int, per_page: int) -> Page:
    """The ``page``-th slice (from 1) of ``items``, ``per_page`` long."""
    check_page(page, per_page)
    start = (page - 1) * per_page
    return Page(tuple(items[start : start + per_page]), page, per_page, len(items))


def counts(versions: Iterable[VersionSummary]) -> dict[str, int]:
    """How many versions in total and per status."""
    found = {"total": 0, **dict.fromkeys(STATUSES, 0)}
    for version in versions:
        found["total"] += 1
        found[version.status] = found.get(version.status, 0) + 1
    return found


def run_parts(airflow_run: str | None) -> tuple[str, str, str | None] | None:
    """``dag_id/run_id/task_id`` (as the provider records a run) -> its parts; ``None`` when it is not one."""
    if not airflow_run or airflow_run.count("/") < 1:
        return None
    dag_id, _, rest = airflow_run.partition("/")
    run_id, _, task_id = rest.rpartition("/") if rest.count("/") >= 1 else (rest, "", "")
    if not dag_id or not run_id:
        return None
    return dag_id, run_id, task_id or None


def run_link(airflow_run: str | None) -> str | None:
    """The Airflow UI page of the task (or run) named in a record, relative to the UI's root."""
    parts = run_parts(airflow_run)
    if parts is None:
        return None
    dag_id, run_id, task_id = parts
    link = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{link}/tasks/{quote(task_id, safe='')}" if task_id else link


def required_action_link(airflow_run: str | None) -> str:
    """Where a pending decision is answered: the run's Required Actions, else Airflow's list of them."""
    parts = run_parts(airflow_run)
    if parts is None:
        return "/required_actions?response_received=false"
    dag_id, run_id, _ = parts
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/required_actions"


def approval_subject(group: str, version: int | str) -> str:
    """The title of the request that asks for a decision on a registered version (the approval task's): how
    the view finds the Required Action that waits for that version, in whichever DAG run asks."""
    return f"Approve {group} version {version}?"


def promotion_subject(
    group: str, version: int | str, environment: str, action: str = "promote", slot: int = 0, needed: int = 1
) -> str:
    """The title of the request that asks for a promotion's (or a rollback's) approval: how the view finds
    the promotion approvals that wait in Airflow."""
    verb, where = ("Roll", "back in") if action == "rollback" else ("Promote", "to")
    subject = f"{verb} {group} version {version} {where} {environment}?"
    return subject + (f" (approval {slot + 1} of {needed})" if needed > 1 else "")


def promotion_subject_prefixes(group: str) -> tuple[str, ...]:
    """How every promotion or rollback approval subject of ``group`` starts."""
    return (f"Promote {group} version ", f"Roll {group} version ")


def parse_promotion_subject(group: str, subject: str) -> dict[str, Any] | None:
    """(version, environment, action) of a :func:`promotion_subject` of ``group``; ``None`` for others."""
    import re

    found = re.fullmatch(
        rf"(Promote|Roll) {re.escape(group)} version (\d+) (?:to|back in) (\S+)\?(?: \(approval \d+ of \d+\))?",
        subject,
    )
    if found is None:
        return None
    action = "rollback" if found.group(1) == "Roll" else "promote"
    return {"version": int(found.group(2)), "environment": found.group(3), "action": action}


def promotion_rows(group: str, requests: Iterable[Sequence[str]]) -> list[dict[str, Any]]:
    """The pending-decisions rows of promotion approvals waiting in Airflow, from (subject, dag_id, run_id,
    task_id) of each waiting request, newest first; one row per request."""
    rows = []
    for subject, dag_id, run_id, task_id in requests:
        parsed = parse_promotion_subject(group, subject)
        if parsed is None:
            continue
        rows.append(
            {
                **parsed,
                "subject": subject,
                "airflow_run": f"{dag_id}/{run_id}/{task_id}",
                "required_action_link": task_required_action_link(dag_id, run_id, task_id),
            }
        )
    return rows


def task_required_action_link(dag_id: str, run_id: str, task_id: str) -> str:
    """The Required Action page of one task (what Airflow's own request link opens)."""
    run = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
    return f"{run}/tasks/{quote(task_id, safe='')}/required_actions"


def decided_by(properties: Mapping[str, str]) -> str | None:
    return md.decided_by_claim(properties)[0] or None


def version_row(described: Mapping[str, Any]) -> dict[str, Any]:
    """A row of the versions table from a ``DescribeModelPackage`` response."""
    props = described.get("CustomerMetadataProperties") or {}
    created = described.get("CreationTime")
    airflow_run = props.get(md.AIRFLOW_RUN)
    return {
        "version": described.get("ModelPackageVersion"),
        "arn": described.get("ModelPackageArn"),
        "status": described.get("ModelApprovalStatus"),
        "created": _iso(created),
        "metrics": md.metrics_from_metadata(props),
        "digest": props.get(md.ARTIFACT_SHA256),
        "artifact": props.get(md.ARTIFACT_URI),
        "registered_by": props.get(md.REGISTERED_BY),
        "registered_at": props.get(md.REGISTERED_AT),
        "decided_by": decided_by(props),
        "reason": described.get("ApprovalDescription"),
        "quality_gate": props.get(md.QUALITY_GATE),
        "airflow_run": airflow_run,
        "airflow_run_link": run_link(airflow_run),
    }


NOT_VERIFIED = "not verified: changed outside Airflow"


def pointer_cell(pointer: Pointer | None, problems: Sequence[str] = ()) -> dict[str, Any] | None:
    """A pointer as the ladder shows it. With ``problems`` (where it disagrees with the version's record
    and the audit log, as :meth:`~airflow_modelreg.hooks.release.ReleaseRecords.pointer_problems` finds) it
    is *not verified*: the version it names is shown, but never as an approval by the person it claims, nor
    with a link to the run it claims (that run may not exist)."""
    if pointer is None:
        return None
    if problems:
        return {
            "version": pointer.version,
            "arn": pointer.arn,
            "digest": pointer.digest,
            "verified": False,
            "verification": NOT_VERIFIED,
            "problems": list(problems),
            "approved_by": None,
            "approvers": [],
            "approved_at": None,
            "action": pointer.action,
            "reason": None,
            "previous_version": None,
            "airflow_run": None,
            "airflow_run_link": None,
            "claimed": {
                "approved_by": pointer.approved_by,
                "approved_at": pointer.approved_at,
                "airflow_run": pointer.airflow_run,
                "reason": pointer.reason,
            },
        }
    return {
        "version": pointer.version,
        "arn": pointer.arn,
        "digest": pointer.digest,
        "verified": True,
        "verification": None,
        "problems": [],
        "approved_by": pointer.approved_by,
        "approvers": list(pointer.approvers) or [pointer.approved_by],
        "approved_at": pointer.approved_at,
        "action": pointer.action,
        "reason": pointer.reason,
        "previous_version": pointer.previous_version,
        "airflow_run": pointer.airflow_run,
        "airflow_run_link": run_link(pointer.airflow_run),
    }


def unreadable_pointer_cell(problem: str) -> dict[str, Any]:
    """A parameter that holds no pointer this provider writes: shown as not verified, naming no version."""
    return {
        "version": None,
        "verified": False,
        "verification": NOT_VERIFIED,
        "problems": [problem],
        "approved_by": None,
        "approvers": [],
        "approved_at": None,
        "action": None,
        "reason": None,
        "airflow_run": None,
        "airflow_run_link": None,
    }


def ladder_columns(
    environments: Sequence[str],
    pointers: Mapping[str, Pointer | None],
    histories: Mapping[str, Sequence[tuple[int, Pointer, Any]]] | None = None,
    problems: Mapping[str, Sequence[str]] | None = None,
    history_problems: Mapping[str, Mapping[int, Sequence[str]]] | None = None,
) -> list[dict[str, Any]]:
    """One column per environment, in ladder order: what it runs now and, newest first, what it ran.
    ``problems`` (per environment, of its current pointer) and ``history_problems`` (per environment and
    parameter version) mark the pointers that are not verified."""
    columns = []
    for name in environments:
        history = [
            {
                **(pointer_cell(pointer, ((history_problems or {}).get(name) or {}).get(number, ())) or {}),
                "written_at": _iso(when),
                "parameter_version": number,
            }
            for number, pointer, when in reversed((histories or {}).get(name, ()))
        ]
        current = pointer_cell(pointers.get(name), (problems or {}).get(name, ()))
        columns.append({"environment": name, "current": current, "history": history})
    return columns


def unverified_decision(row: Mapping[str, Any], problem: str) -> dict[str, Any]:
    """A versions-table row whose decision this provider did not record (or that was changed since): its
    status stays what the registry says, but nobody is shown as having decided it, and the registry's
    description is kept aside as what it claims."""
    return {
        **row,
        "decided_by": None,
        "reason": None,
        "decision_verified": False,
        "decision_problem": f"{NOT_VERIFIED}: {problem}",
        "claimed": {"decided_by": row.get("decided_by"), "description": row.get("reason")},
    }


def metric_comparison(
    this: Mapping[str, float], current: Mapping[str, float] | None
) -> list[dict[str, float | str | None]]:
    """Each metric of either version: this version's value, the current version's, and the difference."""
    rows: list[dict[str, float | str | None]] = []
    for name in sorted(set(this) | set(current or {})):
        mine, theirs = this.get(name), (current or {}).get(name)
        delta = mine - theirs if mine is not None and theirs is not None else None
        rows.append({"metric": name, "this": mine, "current": theirs, "delta": delta})
    return rows


def version_runs(row: Mapping[str, Any], events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The Airflow runs that registered, decided, promoted or rolled back a version, oldest first."""
    runs: list[dict[str, Any]] = []
    if row.get("airflow_run"):
        runs.append({"what": "registered", "environment": None, "by": row.get("registered_by"), **_run(row)})
    for event in events:
        if event.get("version") != row.get("version") or event.get("kind") == "registered":
            continue
        if not event.get("airflow_run"):
            continue
        actor = event.get("actor") if isinstance(event.get("actor"), Mapping) else {}
        runs.append(
            {
                "what": event.get("kind"),
                "environment": event.get("environment"),
                "by": (actor or {}).get("name"),
                "at": event.get("at"),
                **_run(event),
            }
        )
    return runs


def _run(record: Mapping[str, Any]) -> dict[str, Any]:
    return {"airflow_run": record.get("airflow_run"), "link": run_link(record.get("airflow_run"))}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def drift_features(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The per-feature table of a drift report: name, kind, the statistics it was judged on, drifted."""
    rows = []
    features = report.get("features") or {}
    items = features.items() if isinstance(features, Mapping) else ((f.get("name"), f) for f in features)
    for name, feature in items:
        if not isinstance(feature, Mapping):
            continue
        rows.append(
            {
                "feature": name,
                "type": feature.get("type"),
                "rows": feature.get("rows"),
                "psi": feature.get("psi"),
                "distance": feature.get("distance"),
                "p_value": feature.get("p_value"),
                "drifted": bool(feature.get("drifted")),
                "reasons": list(feature.get("reasons") or []),
            }
        )
    return rows
