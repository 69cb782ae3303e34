"""Hook for model monitoring: Model Monitor executions and their violations, data-capture files, drift
baselines and reports. numpy and polars are imported when a method needs them, never when a DAG is parsed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError
from airflow_modelreg.domain.validation import parse_s3_uri
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws

if TYPE_CHECKING:
    from airflow_modelreg.domain.drift import Baseline, DriftAccumulator

# A mapped profiling task reads at most this many bytes of capture (about 500,000 records of 20 features).
DEFAULT_BATCH_BYTES = 256 * 1024 * 1024


class MonitoringHook(ModelRegBaseHook):
    """SageMaker Model Monitor results and endpoint data capture, through an Airflow AWS connection."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    # ----------------------------------------------------------------------------- Model Monitor
    def latest_execution(self, schedule_name: str) -> dict[str, Any] | None:
        page = call_aws(
            f"Executions of monitoring schedule {schedule_name!r}",
            self.conn.list_monitoring_executions,
            MonitoringScheduleName=schedule_name,
            SortBy="ScheduledTime",
            SortOrder="Descending",
            MaxResults=1,
        )
        executions = page.get("MonitoringExecutionSummaries", [])
        return executions[0] if executions else None

    def violations(self, execution: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The ``constraint_violations.json`` of an execution (found through its processing job's output)."""
        job_name = execution["ProcessingJobArn"].rsplit("/", 1)[1]
        job = call_aws(
            f"Processing job {job_name}", self.conn.describe_processing_job, ProcessingJobName=job_name
        )
        outputs = job.get("ProcessingOutputConfig", {}).get("Outputs", [])
        if not outputs:
            raise NotFoundError(f"Monitoring job {job_name} has no output location.")
        uri = outputs[0]["S3Output"]["S3Uri"].rstrip("/") + "/constraint_violations.json"
        bucket, key = parse_s3_uri(uri)
        body = call_aws(f"Violations {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"].read()
        return list(json.loads(body).get("violations", []))

    # ------------------------------------------------------------------------------ data capture
    def capture_files(self, prefix_uri: str, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
        """Capture files under ``prefix_uri`` (``s3://.../<endpoint>``, every variant) in the hour folders
        ``<variant>/yyyy/mm/dd/hh/`` that overlap [start, end): ``{"uri", "bytes", "prefix"}`` each."""
        bucket, prefix = parse_s3_uri(prefix_uri.rstrip("/") + "/", "data capture prefix")
        variants = self._common_prefixes(bucket, prefix)
        paginator = self.s3_client.get_paginator("list_objects_v2")
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            for variant in variants:
                hour_prefix = f"{variant}{hour:%Y/%m/%d/%H}/"
                for page in paginator.paginate(Bucket=bucket, Prefix=hour_prefix):
                    for item in page.get("Contents", []):
                        yield {
                            "uri": f"s3://{bucket}/{item['Key']}",
                            "bytes": int(item.get("Size", 0)),
                            "prefix": f"s3://{bucket}/{hour_prefix}",
                        }
            hour += timedelta(hours=1)

    def capture_keys(self, prefix_uri: str, start: datetime, end: datetime) -> Iterator[tuple[str, str]]:
        """(bucket, key) of each capture file of the window (see :meth:`capture_files`)."""
        for found in self.capture_files(prefix_uri, start, end):
            yield parse_s3_uri(found["uri"])

    def capture_batches(
        self, prefix_uri: str, start: datetime, end: datetime, max_bytes: int = DEFAULT_BATCH_BYTES
    ) -> list[dict[str, Any]]:
        """The window's capture files in batches for parallel profiling: one batch per hour folder of a
        variant, split further so no batch holds more than ``max_bytes`` (a bigger file is a batch alone)."""
        if not isinstance(max_bytes, int) or max_bytes <= 0:
            raise InvalidInputError(f"max_batch_bytes is {max_bytes!r}; expected a positive number of bytes.")
        batches: list[dict[str, Any]] = []
        for found in self.capture_files(prefix_uri, start, end):
            last = batches[-1] if batches else None
            if (
                last is None
                or last["prefix"] != found["prefix"]
                or last["bytes"] + found["bytes"] > max_bytes
            ):
                last = {"prefix": found["prefix"], "uris": [], "bytes": 0}
                batches.append(last)
            last["uris"].append(found["uri"])
            last["bytes"] += found["bytes"]
        return batches

    def _common_prefixes(self, bucket: str, prefix: str) -> list[str]:
        def every_page() -> list[str]:
            paginator = self.s3_client.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
            return [found["Prefix"] for page in pages for found in page.get("CommonPrefixes", [])]

        return call_aws(f"Listing s3://{bucket}/{prefix}", every_page)

    def read_capture(self, accumulator: DriftAccumulator, uris: Sequence[str]) -> None:
        """Stream each capture file into the accumulator (read in blocks: memory does not grow with size)."""
        for uri in uris:
            bucket, key = parse_s3_uri(uri)
            body = call_aws(uri, self.s3_client.get_object, Bucket=bucket, Key=key)["Body"]
            accumulator.add_capture_stream(body, source=uri)

    def accumulate_capture(
        self, accumulator: DriftAccumulator, prefix_uri: str, start: datetime, end: datetime
    ) -> int:
        """Stream every capture file of the window into the accumulator; returns the number of files."""
        uris = [found["uri"] for found in self.capture_files(prefix_uri, start, end)]
        self.read_capture(accumulator, uris)
        return len(uris)

    # ------------------------------------------------------------------------------- baselines
    def load_baseline(
        self, uri: str, features: Sequence[str] | None = None, categorical: Sequence[str] = ()
    ) -> Baseline:
        """A baseline from Model Monitor's ``statistics.json``, or from a CSV dataset with a header row."""
        from airflow_modelreg.domain.drift import Baseline

        bucket, key = parse_s3_uri(uri, "baseline URI")
        body = call_aws(f"Baseline {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".json"):
            return Baseline.from_statistics(json.loads(body))
        reader = csv.reader(io.StringIO(body.decode()))
        header = next(reader, None)
        if not header:
            raise InvalidInputError(f"Baseline {uri} is empty.")
        columns: dict[str, list[str]] = {name: [] for name in header}
        for row in reader:
            for name, value in zip(header, row, strict=False):
                columns[name].append(value)
        chosen = list(features or header)
        missing = [name for name in chosen if name not in columns]
        if missing:
            raise InvalidInputError(f"Baseline {uri} has no column(s) {missing}; it has {header}.")
        try:
            numbers = {name: [float(v) for v in columns[name]] for name in chosen if name not in categorical}
        except ValueError as error:
            raise InvalidInputError(
                f"Baseline {uri}: {error}; list text columns in categorical_features."
            ) from error
        return Baseline.from_dataset(
            {name: columns[name] if name in categorical else numbers[name] for name in chosen},
            categorical=categorical,
        )

    # --------------------------------------------------------------------------------- reports
    def write_report(self, report: dict[str, Any], base_uri: str, title: str) -> dict[str, str]:
        """Write the report as JSON and as a self-contained HTML page under ``base_uri``."""
        from airflow_modelreg.domain.drift_report import render_html

        uris = {
            "report_uri": f"{base_uri}/drift_report.json",
            "report_html_uri": f"{base_uri}/drift_report.html",
        }
        report.update(uris)
        self.write_s3_text(uris["report_uri"], json.dumps(report, indent=2, default=str), "application/json")
        if "features" in report:
            self.write_s3_text(uris["report_html_uri"], render_html(report, title), "text/html")
        else:
            report.pop("report_html_uri")
            uris.pop("report_html_uri")
        return uris
