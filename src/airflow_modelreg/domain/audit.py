"""The story of a group: who registered, decided, promoted, deployed and rolled back what, when, and why,
rendered from the group's audit log (:mod:`airflow_modelreg.domain.audit_log`). Pure: the hook fetches, this
arranges."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

# What the audit shows of each event of the log.
COLUMNS = ("seq", "time", "version", "event", "environment", "by", "reason", "airflow_run", "details")


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


def row(event: Mapping[str, Any]) -> dict[str, Any]:
    """One row of :data:`COLUMNS` from an event of the audit log."""
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


# A cell starting with one of these is a formula (or becomes one) to a spreadsheet that opens the CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: one starting with ``= + - @``, a tab or a carriage return is
    prefixed with ``'`` (OWASP's rule for CSV injection); other values are left as they are."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def render_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Audit rows (:func:`row`) as CSV of :data:`COLUMNS`, formulas neutralised: the one CSV writer of the audit
    (``airflow-modelreg audit --format csv`` and the registry view's download)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(
        {key: csv_cell(value) for key, value in {**r, "details": _text(r["details"])}.items()} for r in rows
    )
    return buffer.getvalue()


def render(events: Sequence[Mapping[str, Any]], fmt: str = "table") -> str:
    """The events as a table, JSON or CSV (:data:`COLUMNS`), in the order given."""
    rows = [row(event) for event in events]
    if fmt == "json":
        return json.dumps(rows, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return render_csv(rows)
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
