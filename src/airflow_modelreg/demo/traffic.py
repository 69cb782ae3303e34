"""Endpoint traffic as SageMaker's data capture records it, for the demo, the tests and the benchmarks.

SageMaker base64-encodes captured payloads unless the endpoint config's ``CaptureContentTypeHeader`` lists
the content type as CSV or JSON, so BASE64 is the default here: the demo exercises the path real endpoints
take. ``encoding="CSV"`` or ``"JSON"`` (with ``content_type="application/json"``) write the other forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_modelreg.demo.training import FEATURES, generate
from airflow_modelreg.domain.drift import capture_record


def write_capture(
    s3: Any,
    capture_uri: str,
    endpoint: str,
    variant: str,
    rows: int,
    shift: float,
    when: datetime,
    seed: int = 99,
    broken_lines: int = 0,
    encoding: str = "BASE64",
    content_type: str = "text/csv",
) -> str:
    """Write one capture file for ``rows`` requests at ``when`` to
    ``{capture_uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/``, as SageMaker lays it out; returns its URI."""
    x, _ = generate(rows, seed, shift)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        capture_record([round(v, 4) for v in row], 0.5, f"{seed}-{i}", stamp, encoding, content_type)
        for i, row in enumerate(x.tolist())
    ]
    for i in range(broken_lines):
        lines.insert(i * 7, '{"captureData": {"endpointInput": truncated')
    bucket, _, prefix = capture_uri.removeprefix("s3://").partition("/")
    key = f"{prefix.rstrip('/')}/{endpoint}/{variant}/{when:%Y/%m/%d/%H}/capture-{seed}-{when:%M%S}.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=("\n".join(lines) + "\n").encode())
    return f"s3://{bucket}/{key}"


def baseline_csv(rows: int = 4000, seed: int = 7, shift: float = 0.0) -> str:
    """The training features as CSV with a header: the baseline drift is measured against."""
    x, _ = generate(rows, seed, shift)
    body = "\n".join(",".join(f"{v:.4f}" for v in row) for row in x.tolist())
    return ",".join(FEATURES) + "\n" + body + "\n"
