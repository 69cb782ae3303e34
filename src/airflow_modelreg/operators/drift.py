"""Drift at scale with Airflow dynamic task mapping: list the capture window in batches, profile each batch
on any worker, merge the profiles and decide, and announce drift to the retraining Asset.

The work splits because a profile (``domain/drift.py``, :class:`CaptureProfile`) is integer counts on the
baseline's grid: profiles of any split of the data merge into exactly the profile of the whole. So one DAG
runs on one worker or on a Celery or Kubernetes fleet, with the same engine::

    batches = ListCaptureBatchesOperator(task_id="list_capture_batches", capture_prefix=...)
    profiles = ProfileCaptureOperator.partial(task_id="profile_capture", baseline_uri=...).expand(
        batch=batches.output
    )
    verdict = DecideDriftOperator(task_id="decide_drift", baseline_uri=..., profiles=profiles.output,
                                  window=batches.output["window"])
    AnnounceDriftOperator(task_id="announce_drift", verdict=verdict.output, outlets=[drift_asset])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSkipException, BaseOperator

from airflow_modelreg.domain.drift_rules import validate_thresholds
from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError
from airflow_modelreg.hooks.monitoring import DEFAULT_BATCH_BYTES, MonitoringHook
from airflow_modelreg.links.registry_view import (
    DRIFT_LINKS,
    RegistryDriftLink,
    endpoint_of_capture,
    persist_drift_links,
)
from airflow_modelreg.sensors.drift import report_location

if TYPE_CHECKING:
    from airflow.sdk import Context


def _fail_on_configuration_errors(error: InvalidInputError | NotFoundError) -> NoReturn:
    """A wrong prefix, baseline or threshold will not fix itself: fail now, without retries."""
    raise AirflowFailException(str(error)) from error


class ListCaptureBatchesOperator(AwsBaseOperator[MonitoringHook]):
    """List the capture files of the window in batches (one per hour folder of a variant, split at
    ``max_batch_bytes``); return the batches for ``expand`` and push the window as XCom ``window``.

    :param capture_prefix: ``s3://bucket/prefix/<endpoint>`` (templated).
    :param window_hours: how far back the window reaches.
    :param window_end: end of the window (ISO 8601, templated); by default the moment the task runs, so the
        window always includes fresh traffic and needs no logical date.
    :param max_batch_bytes: most bytes of capture one mapped task reads.
    """

    aws_hook_class = MonitoringHook
    template_fields: Sequence[str] = aws_template_fields(
        "capture_prefix", "window_end", "window_hours", "max_batch_bytes"
    )
    operator_extra_links = (RegistryDriftLink(),)

    def __init__(
        self,
        *,
        capture_prefix: str,
        window_hours: float = 24,
        window_end: str | None = None,
        max_batch_bytes: int = DEFAULT_BATCH_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.capture_prefix = capture_prefix
        self.window_hours = window_hours
        self.window_end = window_end
        self.max_batch_bytes = max_batch_bytes

    def execute(self, context: Context) -> list[dict[str, Any]]:
        persist_drift_links(context, self, endpoint_of_capture(self.capture_prefix))
        try:
            end = datetime.fromisoformat(self.window_end) if self.window_end else datetime.now(UTC)
            hours, max_bytes = float(self.window_hours), int(self.max_batch_bytes)
        except (TypeError, ValueError) as error:
            raise AirflowFailException(
                f"window_end {self.window_end!r}, window_hours {self.window_hours!r} or max_batch_bytes "
                f"{self.max_batch_bytes!r} is not valid: expected an ISO 8601 time and two positive numbers."
            ) from error
        end = end if end.tzinfo else end.replace(tzinfo=UTC)
        start = end - timedelta(hours=hours)
        try:
            batches = self.hook.capture_batches(self.capture_prefix, start, end, max_bytes)
        except (InvalidInputError, NotFoundError) as error:
            _fail_on_configuration_errors(error)
        window = {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "prefix": self.capture_prefix,
            "files": sum(len(batch["uris"]) for batch in batches),
            "bytes": sum(batch["bytes"] for batch in batches),
            "prefixes": sorted({batch["prefix"] for batch in batches}),
        }
        context["ti"].xcom_push(key="window", value=window)
        self.log.info(
            "%s capture files (%s bytes) in %s batches from %s to %s",
            window["files"],
            window["bytes"],
            len(batches),
            window["start"],
            window["end"],
        )
        return batches


class ProfileCaptureOperator(AwsBaseOperator[MonitoringHook]):
    """Profile one batch of capture files against the baseline; return the profile (JSON, for the reduce).

    :param baseline_uri: the baseline: a CSV dataset with a header, or Model Monitor's ``statistics.json``
        (templated).
    :param batch: one batch from :class:`ListCaptureBatchesOperator` (``{"uris": [...], ...}``); mapped.
    :param features: the baseline columns in capture order (default: all).
    :param categorical_features: the columns compared as categories.
    """

    aws_hook_class = MonitoringHook
    template_fields: Sequence[str] = aws_template_fields("baseline_uri")

    def __init__(
        self,
        *,
        baseline_uri: str,
        batch: Mapping[str, Any],
        features: Sequence[str] | None = None,
        categorical_features: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.baseline_uri = baseline_uri
        self.batch = batch
        self.features = features
        self.categorical_features = categorical_features

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_modelreg.domain.drift import DriftAccumulator

        try:
            baseline = self.hook.load_baseline(self.baseline_uri, self.features, self.categorical_features)
        except (InvalidInputError, NotFoundError) as error:
            _fail_on_configuration_errors(error)
        uris = list(self.batch.get("uris", []))
        accumulator = DriftAccumulator(baseline)
        self.hook.read_capture(accumulator, uris)
        self.log.info(
            "%s rows, %s malformed lines from %s files under %s",
            accumulator.rows,
            accumulator.malformed,
            len(uris),
            self.batch.get("prefix"),
        )
        return accumulator.profile.to_json()


class DecideDriftOperator(AwsBaseOperator[MonitoringHook]):
    """Merge the profiles of every batch, compare with the baseline, write the report, return the verdict.

    Succeeds with a verdict whether or not there is drift (``drift_detected``); a window with fewer than
    ``min_rows`` rows is "not enough traffic to judge", also without drift. Put the drift Asset on a
    downstream :class:`AnnounceDriftOperator`.

    :param profiles: the mapped :class:`ProfileCaptureOperator`'s output.
    :param window: the window listed (``ListCaptureBatchesOperator``'s XCom ``window``), for the report.
    :param baseline_uri: the baseline the profiles were made against: a CSV dataset with a header, or Model
        Monitor's ``statistics.json`` (templated).
    :param report_prefix: S3 prefix the report is written under, as ``<prefix>/<dag_id>/<run_id>/
        drift_report.json`` and ``.html`` (templated; default: no report is written).
    :param features: the baseline columns in capture order, for a CSV baseline (default: all).
    :param categorical_features: the columns of a CSV baseline compared as categories.
    :param thresholds: per-feature limits over the defaults, ``{"<feature>": {"psi": 0.2, "distance": 0.1,
        "new_categories": 0.01}}`` (the defaults shown); ``psi`` > 0, the others in (0, 1].
    :param min_rows: fewest rows the merged profiles must hold to be judged (default 1000); with fewer the
        verdict is "not enough traffic to judge", without drift.
    """

    aws_hook_class = MonitoringHook
    # XComArgs given for profiles and window resolve to their values; resolved values are not rendered as
    # templates, so captured text cannot inject Jinja.
    template_fields: Sequence[str] = aws_template_fields(
        "baseline_uri", "report_prefix", "profiles", "window"
    )
    operator_extra_links = DRIFT_LINKS

    def __init__(
        self,
        *,
        baseline_uri: str,
        profiles: Any,
        window: Any = None,
        report_prefix: str | None = None,
        features: Sequence[str] | None = None,
        categorical_features: Sequence[str] = (),
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        min_rows: int = 1000,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("trigger_rule", "none_failed")  # an empty window maps no profiling task
        super().__init__(**kwargs)
        validate_thresholds(thresholds)
        self.baseline_uri = baseline_uri
        self.profiles = profiles
        self.window = window
        self.report_prefix = report_prefix
        self.features = features
        self.categorical_features = categorical_features
        self.thresholds = thresholds
        self.min_rows = min_rows

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_modelreg.domain.drift import CaptureProfile, compare
        from airflow_modelreg.domain.drift_report import summarise

        try:
            baseline = self.hook.load_baseline(self.baseline_uri, self.features, self.categorical_features)
            # By position after one count: iterating a lazy XCom sequence probes past its end (a logged 404).
            found = self.profiles or []
            parts = [CaptureProfile.from_json(found[i]) for i in range(len(found)) if found[i]]
            merged = CaptureProfile.merge_all(parts, baseline)
        except (InvalidInputError, NotFoundError) as error:
            _fail_on_configuration_errors(error)
        window = dict(self.window or {})
        window["tasks"] = len(parts)
        report = compare(baseline, merged, self.thresholds, window)
        report["source"] = "data_capture"
        report["baseline"] = self.baseline_uri
        if merged.rows < self.min_rows:
            report["drift_detected"], report["drifted_features"] = False, []
            report["note"] = f"only {merged.rows} rows in the window (fewer than {self.min_rows}): not judged"
        ti = context["ti"]
        if self.report_prefix:
            self.hook.write_report(
                report, report_location(self.report_prefix, ti), f"Drift report: {ti.dag_id}"
            )
        verdict = summarise(report, f"{ti.dag_id}/{ti.run_id}/{ti.task_id}")
        if "note" in report:
            verdict["reason"] = f"no verdict: {report['note']}"
        persist_drift_links(context, self, verdict=verdict)
        self.log.info(
            "%s (%s profiles merged); report %s", verdict["reason"], len(parts), verdict.get("report_uri")
        )
        return verdict


class AnnounceDriftOperator(BaseOperator):
    """Update the outlet Assets with the drift verdict, only when there is drift; skip otherwise.

    Airflow updates a task's outlet Assets whenever the task succeeds, so the Asset that schedules
    retraining hangs on this small task, which skips itself on "no drift", rather than on the check.

    :param verdict: the verdict of :class:`ModelDriftSensor` or :class:`DecideDriftOperator` (an XComArg).
    """

    template_fields: Sequence[str] = ("verdict",)
    operator_extra_links = DRIFT_LINKS
    ui_color = "#f4cccc"

    def __init__(self, *, verdict: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verdict = verdict

    def execute(self, context: Context) -> dict[str, Any]:
        verdict = self.verdict if isinstance(self.verdict, Mapping) else {}
        persist_drift_links(context, self, verdict=verdict)
        if not verdict.get("drift_detected"):
            raise AirflowSkipException(f"Nothing to announce: {verdict.get('reason', 'no verdict')}.")
        extra = {
            key: verdict.get(key)
            for key in (
                "reason",
                "window",
                "drifted_features",
                "report_uri",
                "report_html_uri",
                "airflow_run",
            )
        }
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets or []:
                outlet_events[outlet].extra = extra
        self.log.warning("Drift detected: %s", extra["reason"])
        return extra
