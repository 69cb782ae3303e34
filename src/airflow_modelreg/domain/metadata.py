"""What the provider records on a version, and where.

Everything lives in the registry itself (``CustomerMetadataProperties``), so any later task, on any worker,
can read it back: the provider keeps no local state.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

from airflow_modelreg.domain.errors import InvalidInputError

PREFIX = "modelreg:"
IDEMPOTENCY_KEY = f"{PREFIX}idempotency-key"
ARTIFACT_SHA256 = f"{PREFIX}artifact-sha256"
ARTIFACT_URI = f"{PREFIX}artifact-uri"
REGISTERED_BY = f"{PREFIX}registered-by"
# Everyone who counts as the registrant (the triggering user, the DAG's owners...): none of them may approve.
REGISTRANTS = f"{PREFIX}registrants"
LINEAGE_PREFIX = f"{PREFIX}lineage:"
REGISTERED_AT = f"{PREFIX}registered-at"
AIRFLOW_RUN = f"{PREFIX}airflow-run"
QUALITY_GATE = f"{PREFIX}quality-gate"
METRIC_PREFIX = f"{PREFIX}metric:"
# What people type in a form for "nothing" (a trigger form that once required every field taught them to):
# a lineage fact of that value is no fact, and is left out like an empty one.
NOTHING = frozenset({"", "none", "null", "n/a", "na", "-"})


def lineage_values(lineage: Mapping[Any, Any] | None) -> dict[str, str]:
    """Lineage facts worth recording: each value as text, without the empty ones and the words for nothing."""
    return {
        str(name): str(value)
        for name, value in (lineage or {}).items()
        if value is not None and str(value).strip().lower() not in NOTHING
    }


# Who decided a registration, written by RequestModelApprovalOperator as "name|run key".
DECIDED_BY = f"{PREFIX}decided-by"


def decided_by_value(name: str, run_key: str) -> str:
    """The ``DECIDED_BY`` metadata value: who decided, and the run key of the task run that recorded it."""
    return f"{name}|{run_key}"


def decided_by_claim(properties: Mapping[str, Any] | None) -> tuple[str, str]:
    """The (name, run key) a version's ``DECIDED_BY`` metadata claims; empty strings where it has none."""
    name, _, run_key = str((properties or {}).get(DECIDED_BY) or "").partition("|")
    return name, run_key


def idempotency_key(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """A stable key for one registration attempt: the same DAG run and task always give the same key.

    Retries and re-runs of the same DAG run find the version the first try made; a new DAG run registers
    a new version. Hashed so it fits both ``ClientToken`` (<= 36 characters) and metadata values.
    """
    raw = json.dumps([dag_id, run_id, task_id, map_index])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def metric_entries(metrics: Mapping[str, float]) -> dict[str, str]:
    """Metrics as metadata entries (``modelreg:metric:<name>``), so comparisons need no S3 read."""
    return {f"{METRIC_PREFIX}{name}": repr(float(value)) for name, value in metrics.items()}


def metrics_from_metadata(properties: Mapping[str, str] | None) -> dict[str, float]:
    return {
        key.removeprefix(METRIC_PREFIX): float(value)
        for key, value in (properties or {}).items()
        if key.startswith(METRIC_PREFIX)
    }


def validate_metrics(metrics: Mapping[str, Any], source: str = "metrics") -> dict[str, float]:
    """Metric names must be metadata-safe and values finite numbers."""
    result: dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not name or len(name) > 100 - len(METRIC_PREFIX):
            raise InvalidInputError(f"Invalid metric name {name!r} in {source}.")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidInputError(f"Metric {name!r} in {source} is {value!r}; expected a finite number.")
        result[name] = float(value)
    return result


def metrics_from_report(document: Any, source: str) -> dict[str, float]:
    """Read metrics from an evaluation report.

    Accepts SageMaker's model-quality layout (``{"<kind>_metrics": {"auc": {"value": 0.9}}}``) and a flat
    ``{"metrics": {"auc": 0.9}}``. Anything else is refused with the reason.
    """
    if not isinstance(document, dict):
        raise InvalidInputError(f"Evaluation report {source} is not a JSON object.")
    sections = {key: value for key, value in document.items() if key == "metrics" or key.endswith("_metrics")}
    if not sections:
        raise InvalidInputError(
            f"Evaluation report {source} has no metrics: expected a 'metrics' or '<kind>_metrics' object."
        )
    metrics: dict[str, Any] = {}
    for section_name, section in sections.items():
        if not isinstance(section, dict):
            raise InvalidInputError(f"Evaluation report {source}: '{section_name}' is not an object.")
        for name, entry in section.items():
            metrics[name] = entry.get("value") if isinstance(entry, dict) else entry
    return validate_metrics(metrics, f"evaluation report {source}")


def evaluation_report(metrics: Mapping[str, float]) -> dict[str, Any]:
    """The report written to S3 for ``ModelMetrics`` when metrics are given as a dict."""
    return {"metrics": {name: {"value": value} for name, value in metrics.items()}}
