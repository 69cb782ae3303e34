"""Check a deployed model for drift: from SageMaker Model Monitor's executions, or computed from endpoint data
capture. The sensor succeeds with a verdict, drift or no drift; it waits only while there is nothing to judge."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf

from airflow_modelreg.domain.drift_rules import validate_thresholds
from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError
from airflow_modelreg.hooks.monitoring import MonitoringHook
from airflow_modelreg.links.registry_view import DRIFT_LINKS, endpoint_of_capture, persist_drift_links

if TYPE_CHECKING:
    from airflow.sdk import Context

SOURCES = ("data_capture", "model_monitor")
# MonitoringExecutionStatus values (SageMaker API reference) that mean "not finished yet".
MONITOR_RUNNING = ("Pending", "InProgress", "Stopping")
MONITOR_FAILED = ("Failed", "Stopped")


class ModelDriftSensor(AwsBaseSensor[MonitoringHook]):
    """Judge whether a deployed model's inputs drifted, and report it, drift or not.

    ``source="data_capture"``: the endpoint's capture files in S3 for the ``window_hours`` up to
    ``window_end`` (by default the moment of each check, so fresh traffic is always in) are compared with
    the baseline (a CSV dataset, or Model Monitor's ``statistics.json``). The decision is on effect sizes,
    per feature (``domain/drift_rules.py``): PSI and a normalised distance, with p-values reported beside.
    Until the window holds ``min_rows`` rows there is nothing to judge and the sensor waits for traffic.

    ``source="model_monitor"``: the schedule's latest execution in the window. ``Completed`` is "no drift",
    ``CompletedWithViolations`` is drift (its ``constraint_violations.json`` names the features and
    checks), ``Failed`` or ``Stopped`` fail the task with the execution's ``FailureReason``; while none has
    finished in the window the sensor waits.

    The report is written to ``report_prefix`` as JSON and as an HTML page, and the verdict is returned to
    XCom (``drift_detected``, ``reason``, ``report_uri``...). Put the drift Asset on a downstream
    :class:`~airflow_modelreg.operators.drift.AnnounceDriftOperator`, which skips itself without drift, so
    retraining starts only on drift. Configuration errors (a bad baseline or prefix) fail at once without
    retries; waiting longer than ``timeout`` raises ``AirflowSensorTimeout`` (or skips, with ``soft_fail``).
    Nothing in the check depends on a logical date, so a run triggered through the REST API without one works.

    :param source: what is judged: ``"data_capture"`` or ``"model_monitor"`` (required).
    :param schedule_name: the Model Monitor monitoring schedule whose executions are read (templated;
        required with ``model_monitor``).
    :param capture_prefix: the endpoint's data capture, ``s3://bucket/prefix/<endpoint>`` (templated;
        required with ``data_capture``).
    :param baseline_uri: the baseline: a CSV dataset with a header, or Model Monitor's ``statistics.json``
        (templated; required with ``data_capture``).
    :param report_prefix: S3 prefix the report is written under, as ``<prefix>/<dag_id>/<run_id>/
        drift_report.json`` (and ``.html`` for data capture) (templated; default: no report is written).
    :param features: the baseline columns in capture order, for a CSV baseline (default: all).
    :param categorical_features: the columns of a CSV baseline compared as categories.
    :param thresholds: per-feature limits over the defaults, ``{"<feature>": {"psi": 0.2, "distance": 0.1,
        "new_categories": 0.01}}`` (the defaults shown); ``psi`` > 0, the others in (0, 1].
    :param window_hours: how far back the window reaches from ``window_end``, in hours (default 24); with
        ``model_monitor`` it sets the default ``since``.
    :param window_end: end of the window (ISO 8601 or a datetime, templated; without a zone, UTC); default:
        the moment of each check.
    :param since: with ``model_monitor``, only an execution scheduled at or after this time counts (ISO 8601
        or a datetime, templated); default: the window's start.
    :param min_rows: with ``data_capture``, fewest rows the window must hold to be judged (default 1000);
        with fewer the sensor keeps waiting.
    :param deferrable: wait between checks in the triggerer, without a worker slot (default: ``[operators]
        default_deferrable``).
    """

    aws_hook_class = MonitoringHook
    template_fields: Sequence[str] = aws_template_fields(
        "schedule_name", "capture_prefix", "baseline_uri", "report_prefix", "window_end", "since"
    )
    operator_extra_links = DRIFT_LINKS
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
        window_end: str | datetime | None = None,
        since: str | datetime | None = None,
        min_rows: int = 1000,
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
        if not (isinstance(window_hours, int | float) and window_hours > 0):
            raise InvalidInputError(f"window_hours is {window_hours!r}; expected a positive number of hours.")
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
        if value is None or value == "":
            return default
        try:
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError as error:
            raise InvalidInputError(
                f"{value!r} is not an ISO 8601 time (e.g. 2026-11-23T10:00:00+00:00)."
            ) from error
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def window(self) -> tuple[datetime, datetime]:
        """[start, end) of the check: ``window_hours`` up to ``window_end``, or up to now."""
        end = self._time(self.window_end, datetime.now(UTC))
        return end - timedelta(hours=self.window_hours), end

    def check_model_monitor(self) -> dict[str, Any] | None:
        assert self.schedule_name
        start, end = self.window()
        since = self._time(self.since, start)
        execution = self.hook.latest_execution(self.schedule_name)
        if not execution or execution["ScheduledTime"] < since:
            self.log.info("No execution of %s scheduled since %s yet; waiting.", self.schedule_name, since)
            return None
        status = execution["MonitoringExecutionStatus"]
        scheduled = execution["ScheduledTime"]
        if status in MONITOR_RUNNING:
            self.log.info(
                "Execution of %s scheduled %s is %s; waiting.", self.schedule_name, scheduled, status
            )
            return None
        if status in MONITOR_FAILED:
            raise AirflowException(
                f"Model Monitor execution of {self.schedule_name} scheduled {scheduled.isoformat()} is {status}: "
                f"{execution.get('FailureReason') or 'no FailureReason given'}. Its result is unknown, not "
                "'no drift'; look at the processing job's logs."
            )
        violations = self.hook.violations(execution) if status == "CompletedWithViolations" else []
        return {
            "source": "model_monitor",
            "schedule": self.schedule_name,
            "execution": execution.get("ProcessingJobArn"),
            "endpoint": execution.get("EndpointName"),
            "window": {"scheduled_time": scheduled.isoformat(), "since": since.isoformat()},
            "drift_detected": bool(violations),
            "drifted_features": sorted({v.get("feature_name", "?") for v in violations}),
            "violations": violations,
            "checks": sorted({v.get("constraint_check_type", "?") for v in violations}),
        }

    def check_data_capture(self) -> dict[str, Any] | None:
        from airflow_modelreg.domain.drift import DriftAccumulator

        assert self.capture_prefix and self.baseline_uri
        start, end = self.window()
        baseline = self.hook.load_baseline(self.baseline_uri, self.features, self.categorical_features)
        accumulator = DriftAccumulator(baseline, self.thresholds)
        files = self.hook.accumulate_capture(accumulator, self.capture_prefix, start, end)
        self.log.info(
            "%s rows (%s malformed lines) in %s capture files from %s to %s",
            accumulator.rows,
            accumulator.malformed,
            files,
            start.isoformat(),
            end.isoformat(),
        )
        if accumulator.rows < self.min_rows:
            self.log.info("Fewer than %s rows in the window: nothing to judge yet; waiting.", self.min_rows)
            return None
        report = accumulator.report(
            {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "files": files,
                "prefix": self.capture_prefix,
            }
        )
        report["source"] = "data_capture"
        report["baseline"] = self.baseline_uri
        self.log.info("Verdict: %s", report["drifted_features"] or "no drift")
        return report

    @contextlib.contextmanager
    def _configuration_errors_fail(self) -> Iterator[None]:
        """A wrong prefix, baseline or threshold will not fix itself: fail now, without retries."""
        try:
            yield
        except (InvalidInputError, NotFoundError) as error:
            raise AirflowFailException(str(error)) from error

    def poke(self, context: Context) -> bool:
        with self._configuration_errors_fail():
            report = (
                self.check_model_monitor() if self.source == "model_monitor" else self.check_data_capture()
            )
            if report is None:
                return False
            self._report = self.publish(context, report)
        return True

    def publish(self, context: Context, report: dict[str, Any]) -> dict[str, Any]:
        """Write the report (JSON, and HTML for data capture); return the verdict for XCom."""
        from airflow_modelreg.domain.drift_report import summarise

        ti = context["ti"]
        if self.report_prefix:
            self.hook.write_report(
                report, report_location(self.report_prefix, ti), f"Drift report: {ti.dag_id}"
            )
        verdict = summarise(report, f"{ti.dag_id}/{ti.run_id}/{ti.task_id}")
        persist_drift_links(context, self, endpoint_of_capture(self.capture_prefix), verdict)
        self.log.info("%s; report %s", verdict["reason"], verdict.get("report_uri"))
        return verdict

    # ---------------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> Any:
        persist_drift_links(context, self, endpoint_of_capture(self.capture_prefix))
        if not self.deferrable:
            super().execute(context)
            return self._report
        return self.resume(context, None, datetime.now(UTC).isoformat())

    def resume(self, context: Context, event: Any = None, started: str | None = None) -> Any:
        """Check; while there is nothing to judge, wait in the triggerer (no worker slot) and come back."""
        started = started or event["state"]["started"]
        if self.poke(context):
            return self._report
        waited = (datetime.now(UTC) - datetime.fromisoformat(started)).total_seconds()
        if waited > self.timeout:
            from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

            message = f"Nothing to judge within {self.timeout:.0f}s: {self._waiting_for()}."
            if self.soft_fail:
                raise AirflowSkipException(message)
            raise AirflowSensorTimeout(message)
        from airflow_modelreg.triggers.endpoint import WaitTrigger

        self.defer(
            trigger=WaitTrigger(seconds=float(self.poke_interval), state={"started": started}),
            method_name="resume",
        )

    def _waiting_for(self) -> str:
        if self.source == "model_monitor":
            return f"no finished execution of {self.schedule_name} in the window"
        return (
            f"fewer than {self.min_rows} captured rows under {self.capture_prefix} in {self.window_hours} h"
        )


def report_location(report_prefix: str, ti: Any) -> str:
    """Where a run's report goes: ``{prefix}/{dag_id}/{run_id}`` (the run id made safe for a key)."""
    safe_run = "".join(c if c.isalnum() or c in "-_." else "-" for c in ti.run_id)
    return f"{report_prefix.rstrip('/')}/{ti.dag_id}/{safe_run}"
