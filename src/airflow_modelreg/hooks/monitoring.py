"""Hook for model monitoring: Model Monitor executions and their violations, and data-capture files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from airflow_modelreg.domain.drift import Baseline, DriftAccumulator
from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError
from airflow_modelreg.domain.validation import parse_s3_uri
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws


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
        import json

        return list(json.loads(body).get("violations", []))

    # ------------------------------------------------------------------------------ data capture
    def capture_keys(self, prefix_uri: str, start: datetime, end: datetime) -> Iterator[tuple[str, str]]:
        """Capture files under ``prefix_uri`` (``.../<endpoint>``, all variants) for hours in [start, end)."""
        bucket, prefix = parse_s3_uri(prefix_uri.rstrip("/") + "/", "data capture prefix")
        variants = self._common_prefixes(bucket, prefix)
        hour = start.replace(minute=0, second=0, microsecond=0)
        while hour < end:
            for variant in variants:
                hour_prefix = f"{variant}{hour:%Y/%m/%d/%H}/"
                paginator = self.s3_client.get_paginator("list_objects_v2")
                for page in paginator.paginate(Bucket=bucket, Prefix=hour_prefix):
                    for item in page.get("Contents", []):
                        yield bucket, item["Key"]
            hour += timedelta(hours=1)

    def _common_prefixes(self, bucket: str, prefix: str) -> list[str]:
        page = call_aws(
            f"Listing s3://{bucket}/{prefix}",
            self.s3_client.list_objects_v2,
            Bucket=bucket,
            Prefix=prefix,
            Delimiter="/",
        )
        return [p["Prefix"] for p in page.get("CommonPrefixes", [])]

    def accumulate_capture(
        self, accumulator: DriftAccumulator, prefix_uri: str, start: datetime, end: datetime
    ) -> int:
        """Stream every capture file of the window into the accumulator; returns the number of files."""
        files = 0
        for bucket, key in self.capture_keys(prefix_uri, start, end):
            body = call_aws(f"s3://{bucket}/{key}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"]
            accumulator.add_capture_stream(body)
            files += 1
        return files

    def load_baseline(
        self, uri: str, features: Sequence[str] | None = None, categorical: Sequence[str] = ()
    ) -> Baseline:
        """A baseline from Model Monitor's ``statistics.json``, or from a CSV dataset with a header row."""
        bucket, key = parse_s3_uri(uri, "baseline URI")
        body = call_aws(f"Baseline {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"].read()
        if key.endswith(".json"):
            import json

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
        return Baseline.from_dataset(
            {
                name: columns[name] if name in categorical else [float(v) for v in columns[name]]
                for name in chosen
            },
            categorical=categorical,
        )
