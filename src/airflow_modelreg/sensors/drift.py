"""Wait for drift: from SageMaker Model Monitor's violations, or computed from endpoint data capture."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf

from airflow_modelreg.domain.drift import DriftAccumulator, validate_thresholds
from airflow_modelreg.domain.drift_report import render_html
from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.hooks.monitoring import MonitoringHook

if TYPE_CHECKING:
    from airflow.sdk import Context

SOURCES = ("data_capture", "model_monitor")


class ModelDriftSensor(AwsBaseSensor[MonitoringHook]):
    """Fire when a deployed model's inputs drift, and start retraining.

    ``source="model_monitor"``: the schedule's latest execution; when it completed with violations (and
    after ``since``), its ``constraint_violations.json`` is read and the failed features and checks are
    reported. ``source="data_capture"``: drift is computed from the endpoint's capture files in S3 for
    the window (``window_hours`` back from the data interval's end) against the baseline (a CSV dataset or
    Model Monitor's ``statistics.json``): PSI and KS for numeric features, PSI and chi-square for
    categorical ones, with per-feature ``thresholds``.

    On drift, the report is written to ``report_prefix`` as JSON and as an HTML page with a plot per
    drifted feature, returned to XCom, and attached (reason, window, drifted features, report) to the
    task's outlet Asset events, so a retraining DAG scheduled on ``drift_detected_asset(group)`` starts.
    Without drift the sensor keeps waiting; deferrable, it waits in the triggerer between checks.
    """

    aws_hook_class = MonitoringHook
    template_fields: Sequence[str] = aws_template_fields(
        "schedule_name", "capture_prefix", "baseline_uri", "report_prefix", "window_end", "since"
    )
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        source: str,
        schedule_name: str | None = None,
        capture_prefix: str | None = None,
        baseline_uri: str | None = None,
        report_prefix: str | None = None,
        features: Sequence[str] | None = None,
        categorical_features: Sequence[str] = (),
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        window_hours: float = 24,
        window_end: str | None = "{{ data_interval_end }}",
        since: str | None = "{{ data_interval_start }}",
        min_rows: int = 100,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if source not in SOURCES:
            raise InvalidInputError(f"Unknown drift source {source!r}: use {' or '.join(SOURCES)}.")
        if source == "model_monitor" and not schedule_name:
            raise InvalidInputError("source='model_monitor' needs schedule_name.")
        if source == "data_capture" and not (capture_prefix and baseline_uri):
            raise InvalidInputError("source='data_capture' needs capture_prefix and baseline_uri.")
        validate_thresholds(thresholds)
        self.source = source
        self.schedule_name = schedule_name
        self.capture_prefix = capture_prefix
        self.baseline_uri = baseline_uri
        self.report_prefix = report_prefix
        self.features = features
        self.categorical_features = categorical_features
        self.thresholds = thresholds
        self.window_hours = window_hours
        self.window_end = window_end
        self.since = since
        self.min_rows = min_rows
        self.deferrable = deferrable
        self._report: dict[str, Any] | None = None

    # ----------------------------------------------------------------------------------- checks
    @staticmethod
    def _time(value: str | datetime | None, default: datetime) -> datetime:
        if not value:
            return default
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def check_model_monitor(self) -> dict[str, Any] | None:
        assert self.schedule_name
        execution = self.hook.latest_execution(self.schedule_name)
        if not execution or execution["MonitoringExecutionStatus"] != "CompletedWithViolations":
            return None
        scheduled = execution["ScheduledTime"]
        since = self._time(self.since, datetime.min.replace(tzinfo=UTC))
        if scheduled < since:
            return None  # already reported by an earlier run
        violations = self.hook.violations(execution)
        drifted = sorted({v.get("feature_name", "?") for v in violations})
        return {
            "source": "model_monitor",
            "schedule": self.schedule_name,
            "execution": execution["ProcessingJobArn"],
            "window": {"scheduled_time": scheduled.isoformat()},
            "drift_detected": bool(violations),
            "drifted_features": drifted,
            "violations": violations,
            "checks": sorted({v.get("constraint_check_type", "?") for v in violations}),
        }

    def check_data_capture(self) -> dict[str, Any] | None:
        assert self.capture_prefix and self.baseline_uri
        end = self._time(self.window_end, datetime.now(UTC))
        start = end - timedelta(hours=self.window_hours)
        baseline = self.hook.load_baseline(self.baseline_uri, self.features, self.categorical_features)
        accumulator = DriftAccumulator(baseline, self.thresholds)
        files = self.hook.accumulate_capture(accumulator, self.capture_prefix, start, end)
        report = accumulator.report({"start": start.isoformat(), "end": end.isoformat(), "files": files})
        report["source"] = "data_capture"
        report["baseline"] = self.baseline_uri
        self.log.info(
            "%s rows (%s malformed lines) from %s files: drifted %s",
            report["rows"],
            report["malformed_lines"],
            files,
            report["drifted_features"] or "nothing",
        )
        if report["rows"] < self.min_rows:
            self.log.info("Fewer than %s rows in the window; waiting for more traffic.", self.min_rows)
            return None
        return report if report["drift_detected"] else None

    def poke(self, context: Context) -> bool:
        report = self.check_model_monitor() if self.source == "model_monitor" else self.check_data_capture()
        if report is None:
            return False
        self._report = self.publish(context, report)
        return True

    def publish(self, context: Context, report: dict[str, Any]) -> dict[str, Any]:
        """Write the report (JSON and HTML), and hand its summary to the outlets' Asset events."""
        ti = context["ti"]
        if self.report_prefix:
            safe_run = "".join(c if c.isalnum() or c in "-_." else "-" for c in ti.run_id)
            base = f"{self.report_prefix.rstrip('/')}/{ti.dag_id}/{safe_run}"
            report["report_uri"] = f"{base}/drift_report.json"
            report["report_html_uri"] = f"{base}/drift_report.html"
            self.hook.write_s3_text(
                report["report_uri"], json.dumps(report, indent=2, default=str), "application/json"
            )
            if "features" in report:
                self.hook.write_s3_text(report["report_html_uri"], render_html(report), "text/html")
        summary = {
            "reason": f"drift in {', '.join(report['drifted_features'])} ({report['source']})",
            "window": report.get("window"),
            "drifted_features": report["drifted_features"],
            "report_uri": report.get("report_uri"),
            "airflow_run": f"{ti.dag_id}/{ti.run_id}/{ti.task_id}",
        }
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets or []:
                outlet_events[outlet].extra = summary
        self.log.warning("Drift detected: %s", summary["reason"])
        kept: tuple[str, ...] = ("rows", "malformed_lines", "violations", "checks")
        return {**summary, **{key: report[key] for key in kept if key in report}}

    # ---------------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            super().execute(context)
            return self._report
        return self.resume(context, None, datetime.now(UTC).isoformat())

    def resume(self, context: Context, event: Any = None, started: str | None = None) -> Any:
        """Check; without drift, wait in the triggerer (no worker slot) and come back here."""
        started = started or event["state"]["started"]
        if self.poke(context):
            return self._report
        waited = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()
        if waited > self.timeout:
            from airflow.sdk.exceptions import AirflowSensorTimeout

            raise AirflowSensorTimeout(f"No drift within {self.timeout:.0f}s; nothing to retrain.")
        from airflow_modelreg.triggers.endpoint import WaitTrigger

        self.defer(
            trigger=WaitTrigger(seconds=float(self.poke_interval), state={"started": started}),
            method_name="resume",
        )
