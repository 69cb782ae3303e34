"""The story of a group: who registered, decided, promoted and rolled back what, when, and why.

Rendered from the group's audit log (:mod:`airflow_modelreg.domain.audit_log`), or, where no log is
configured, assembled from the registry (each version's metadata and decision) and Parameter Store's history
of each environment's pointer (which keeps only the last 100 writes). Pure: the hook fetches, this arranges.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.pointers import Pointer, parse_promotion_record

_DECISION = re.compile(
    r"^(?P<status>Approved|Rejected)(?: for (?P<env>\S+))? by (?P<by>.+?) \(id .*?\) at (?P<at>\S+) in "
    r"airflow:(?P<run>\S+)\. Reason: (?P<reason>.*)$",
    re.DOTALL,
)
# What the audit shows of each event: the log's own events (dicts) and the registry's history alike.
COLUMNS = ("seq", "time", "version", "event", "environment", "by", "reason", "airflow_run", "details")


@dataclass(frozen=True)
class AuditEvent:
    time: str
    version: int | None
    event: str  # registered, approved, rejected, promoted, rolled back, promotion rejected, ...
    environment: str | None = None
    by: str | None = None
    reason: str | None = None
    airflow_run: str | None = None
    details: str | None = None


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value or "")


def assemble(
    versions: Iterable[Mapping[str, Any]],
    histories: Mapping[str, Iterable[tuple[int, Pointer, Any]]],
) -> list[AuditEvent]:
    """Events from described versions and per-environment pointer histories, oldest first."""
    events: list[AuditEvent] = []
    for version in versions:
        number = version.get("ModelPackageVersion")
        props = version.get("CustomerMetadataProperties") or {}
        metrics = md.metrics_from_metadata(props)
        events.append(
            AuditEvent(
                time=props.get(md.REGISTERED_AT) or _iso(version.get("CreationTime")),
                version=number,
                event="registered",
                by=props.get(md.REGISTERED_BY),
                airflow_run=props.get(md.AIRFLOW_RUN),
                details=", ".join(
                    [f"{k}={v:g}" for k, v in sorted(metrics.items())]
                    + ([f"sha256={props[md.ARTIFACT_SHA256][:12]}"] if md.ARTIFACT_SHA256 in props else [])
                    + ([props[md.QUALITY_GATE]] if md.QUALITY_GATE in props else [])
                ),
            )
        )
        description = version.get("ApprovalDescription") or ""
        match = _DECISION.match(description)
        if match and not match.group("env"):
            events.append(
                AuditEvent(
                    time=match.group("at"),
                    version=number,
                    event=match.group("status").lower(),
                    by=match.group("by"),
                    reason=match.group("reason"),
                    airflow_run=match.group("run"),
                )
            )
        elif description and version.get("ModelApprovalStatus") in ("Approved", "Rejected"):
            # Decided outside Airflow (SageMaker Studio, the CLI): keep what SageMaker recorded.
            events.append(
                AuditEvent(
                    time=_iso(version.get("LastModifiedTime")),
                    version=number,
                    event=str(version["ModelApprovalStatus"]).lower(),
                    reason=description,
                    details="decided outside Airflow",
                )
            )
        for key, value in props.items():
            if key.startswith(f"{md.PREFIX}rejected:"):
                at, _, rest = value.partition("|")
                by, _, reason = rest.partition("|")
                events.append(AuditEvent(at, number, "promotion rejected", key.rsplit(":", 1)[1], by, reason))
            elif key.startswith(f"{md.PREFIX}deployed:"):
                at, _, rest = value.partition("|")
                variant, share, run = (rest.split("|") + ["", "", ""])[:3]
                events.append(
                    AuditEvent(
                        at,
                        number,
                        "deployed",
                        None,
                        None,
                        None,
                        run,
                        f"endpoint {key.split(':', 2)[2]}, variant {variant}, traffic {share}%",
                    )
                )
            elif key.startswith(f"{md.PREFIX}traffic-rollback:"):
                at, _, rest = value.partition("|")
                alarms, _, detail = rest.partition("|")
                events.append(
                    AuditEvent(
                        at,
                        number,
                        "traffic rolled back",
                        None,
                        None,
                        f"alarm {alarms}",
                        None,
                        f"endpoint {key.split(':', 2)[2]}, {detail}",
                    )
                )
            elif key.startswith(f"{md.PREFIX}rolled-back:"):
                record = parse_promotion_record(value)
                events.append(
                    AuditEvent(record["at"], number, "rolled back from", key.rsplit(":", 1)[1], record["by"])
                )
    for environment, history in histories.items():
        for parameter_version, pointer, written in history:
            events.append(
                AuditEvent(
                    time=pointer.approved_at or _iso(written),
                    version=pointer.version,
                    event="promoted" if pointer.action == "promote" else "rolled back to",
                    environment=environment,
                    by=pointer.approved_by,
                    reason=pointer.reason,
                    airflow_run=pointer.airflow_run,
                    details=f"pointer v{parameter_version}; previous version {pointer.previous_version or '-'}",
                )
            )
    return sorted(events, key=lambda event: (event.time, event.version or 0))


def _text(details: Any) -> str | None:
    if not details:
        return None
    if isinstance(details, Mapping):
        return ", ".join(
            f"{key}={value if isinstance(value, str) else json.dumps(value)}"
            for key, value in details.items()
        )
    return str(details)


def _by(actor: Any) -> str | None:
    if not isinstance(actor, Mapping):
        return None
    name, user_id = actor.get("name"), actor.get("id")
    # An id that is not the name (the FAB auth manager's are numbers) is worth showing; the same word is not.
    if name and user_id and str(name).casefold() != str(user_id).casefold():
        return f"{name} ({user_id})"
    return name or user_id


def row(event: AuditEvent | Mapping[str, Any]) -> dict[str, Any]:
    """One row of :data:`COLUMNS` from an event of the audit log (a dict) or of the registry's history."""
    if isinstance(event, AuditEvent):
        return {"seq": None, **asdict(event)}
    return {
        "seq": event.get("seq"),
        "time": event.get("at"),
        "version": event.get("version"),
        "event": event.get("kind"),
        "environment": event.get("environment"),
        "by": _by(event.get("actor")),
        "reason": event.get("reason"),
        "airflow_run": event.get("airflow_run"),
        "details": event.get("details") or None,
    }


def render(events: Sequence[AuditEvent | Mapping[str, Any]], fmt: str = "table") -> str:
    """The events as a table, JSON or CSV (:data:`COLUMNS`), in the order given."""
    rows = [row(event) for event in events]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({**r, "details": _text(r["details"])} for r in rows)
        return buffer.getvalue()
    if fmt != "table":
        raise ValueError(f"Unknown format {fmt!r}: use table, json or csv.")
    shown = ("seq", "time", "version", "event", "environment", "by", "reason", "details")
    cells = [
        [
            str(value if value is not None else "-")[:48]
            for value in (*(r[c] for c in shown[:-1]), _text(r["details"]))
        ]
        for r in rows
    ]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(shown)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)
