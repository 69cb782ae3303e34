"""ModelDriftSensor against the stand-in: data capture in S3 as SageMaker writes it, Model Monitor executions,
verdicts with and without drift, and the errors that must not be retried or mistaken for "no drift"."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk.exceptions import AirflowSensorTimeout, AirflowSkipException

from airflow_modelreg.demo.traffic import baseline_csv, write_capture
from airflow_modelreg.sensors.drift import ModelDriftSensor

NOW = datetime.now(UTC)


@pytest.fixture
def capture(aws, bucket):
    s3 = aws.boto3_client("s3")
    s3.put_object(Bucket=bucket, Key="churn/v1/baseline.csv", Body=baseline_csv().encode())

    def traffic(shift, rows=1500, broken_lines=0, when=None, encoding="BASE64"):
        for variant, seed in (("champion", 1), ("challenger", 2)):
            write_capture(
                s3,
                f"s3://{bucket}/capture",
                "churn-prod",
                variant,
                rows // 2,
                shift,
                when or NOW - timedelta(hours=1),
                seed=seed,
                broken_lines=broken_lines,
                encoding=encoding,
            )

    return traffic


def _sensor(bucket, **kwargs):
    kwargs.setdefault("min_rows", 1000)
    kwargs.setdefault("window_hours", 24)
    return ModelDriftSensor(
        task_id="detect_drift",
        source="data_capture",
        capture_prefix=f"s3://{bucket}/capture/churn-prod",
        baseline_uri=f"s3://{bucket}/churn/v1/baseline.csv",
        report_prefix=f"s3://{bucket}/reports",
        **kwargs,
    )


def _read(aws, bucket, uri):
    return (
        aws.boto3_client("s3")
        .get_object(Bucket=bucket, Key=uri.removeprefix(f"s3://{bucket}/"))["Body"]
        .read()
    )


@pytest.mark.parametrize("encoding", ["BASE64", "CSV"])
def test_drifted_capture_gives_a_drift_verdict_and_a_report(aws, bucket, capture, make_context, encoding):
    capture(shift=1.0, broken_lines=3, encoding=encoding)
    sensor = _sensor(bucket)
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    verdict = sensor._report
    assert verdict["drift_detected"] is True
    assert {"tenure_months", "monthly_charges"} <= set(verdict["drifted_features"])
    assert verdict["rows"] == 1500 and verdict["malformed_lines"] == 6  # three per file, two files
    report = json.loads(_read(aws, bucket, verdict["report_uri"]))
    assert report["malformed_lines"] == 6 and report["window"]["files"] == 2
    assert all(report["features"][f]["reasons"] for f in report["drifted_features"])
    page = _read(aws, bucket, verdict["report_html_uri"]).decode()
    assert "<b>Drift</b>" in page and page.count("<svg") == len(report["features"])
    assert "Decision rule" in page and "capture-1-" in page  # the files read are listed


def test_healthy_traffic_succeeds_with_no_drift(aws, bucket, capture, make_context):
    capture(shift=0.0)
    sensor = _sensor(bucket)
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    assert sensor._report["drift_detected"] is False and sensor._report["drifted_features"] == []
    assert sensor._report["reason"] == "no drift in 1,500 rows (data_capture)"
    assert b"<b>No drift</b>" in _read(aws, bucket, sensor._report["report_html_uri"])


def test_the_window_ends_now_so_fresh_traffic_is_seen(aws, bucket, capture, make_context):
    """Traffic of this very minute is in the window; traffic older than window_hours is not."""
    capture(shift=1.0, when=datetime.now(UTC))
    sensor = _sensor(bucket, window_hours=1)
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    assert sensor._report["drift_detected"] is True


def test_too_little_traffic_keeps_waiting(aws, bucket, capture, make_context):
    capture(shift=1.0, when=NOW - timedelta(hours=30))
    assert _sensor(bucket).poke(make_context(task_id="detect_drift")) is False


def test_a_missing_baseline_fails_without_retries(aws, bucket, capture, make_context):
    capture(shift=0.0)
    sensor = _sensor(bucket)
    sensor.baseline_uri = f"s3://{bucket}/churn/v9/baseline.csv"
    with pytest.raises(AirflowFailException, match="v9/baseline.csv"):
        sensor.poke(make_context(task_id="detect_drift"))


def test_deferred_waiting_ends_in_a_sensor_timeout_or_a_skip(aws, bucket, capture, make_context):
    long_ago = (datetime.now(UTC) - timedelta(hours=2)).isoformat()
    sensor = _sensor(bucket, timeout=60, deferrable=True)
    with pytest.raises(AirflowSensorTimeout, match="fewer than 1000 captured rows"):
        sensor.resume(make_context(task_id="detect_drift"), {"state": {"started": long_ago}})
    sensor = _sensor(bucket, timeout=60, deferrable=True, soft_fail=True)
    with pytest.raises(AirflowSkipException):
        sensor.resume(make_context(task_id="detect_drift"), {"state": {"started": long_ago}})


# ------------------------------------------------------------------------------------- Model Monitor
def _monitor_schedule(aws, bucket):
    aws.boto3_client("sagemaker").create_monitoring_schedule(
        MonitoringScheduleName="churn-prod-data-quality",
        MonitoringScheduleConfig={
            "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
            "MonitoringJobDefinition": {
                "MonitoringInputs": [
                    {"EndpointInput": {"EndpointName": "churn-prod", "LocalPath": "/opt/ml/input"}}
                ],
                "MonitoringOutputConfig": {
                    "MonitoringOutputs": [
                        {"S3Output": {"S3Uri": f"s3://{bucket}/monitoring", "LocalPath": "/opt/ml/output"}}
                    ]
                },
                "MonitoringResources": {
                    "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
                },
                "MonitoringAppSpecification": {"ImageUri": "monitor:latest"},
                "RoleArn": "arn:aws:iam::123456789012:role/monitor",
            },
        },
    )


def _monitor_sensor(**kwargs):
    return ModelDriftSensor(
        task_id="detect_drift", source="model_monitor", schedule_name="churn-prod-data-quality", **kwargs
    )


def test_model_monitor_violations_are_a_drift_verdict(aws, bucket, make_context):
    _monitor_schedule(aws, bucket)
    violations = [
        {
            "feature_name": "monthly_charges",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance 0.31 exceeds threshold 0.1",
        },
        {"feature_name": "support_calls", "constraint_check_type": "data_type_check", "description": "x"},
    ]
    aws.record_monitoring_execution("churn-prod-data-quality", violations)
    sensor = _monitor_sensor()
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    assert sensor._report["drifted_features"] == ["monthly_charges", "support_calls"]
    assert sensor._report["reason"] == "drift in monthly_charges, support_calls (model_monitor)"
    assert sensor._report["violations"] == violations
    assert sensor._report["checks"] == ["baseline_drift_check", "data_type_check"]


def test_model_monitor_execution_without_violations_is_a_no_drift_verdict(aws, bucket, make_context):
    _monitor_schedule(aws, bucket)
    aws.record_monitoring_execution("churn-prod-data-quality", None)
    sensor = _monitor_sensor()
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    assert sensor._report["drift_detected"] is False


def test_a_failed_model_monitor_execution_is_an_error_with_its_reason(aws, bucket, make_context):
    _monitor_schedule(aws, bucket)
    aws.record_monitoring_execution(
        "churn-prod-data-quality", None, status="Failed", failure_reason="Baseline constraints not found"
    )
    with pytest.raises(AirflowException, match="Failed: Baseline constraints not found") as raised:
        _monitor_sensor().poke(make_context(task_id="detect_drift"))
    assert not isinstance(raised.value, AirflowFailException)  # a later try may find a newer execution


def test_model_monitor_waits_for_an_execution_in_the_window(aws, bucket, make_context):
    _monitor_schedule(aws, bucket)
    assert _monitor_sensor().poke(make_context(task_id="detect_drift")) is False  # none yet
    aws.record_monitoring_execution("churn-prod-data-quality", None, status="InProgress")
    assert _monitor_sensor().poke(make_context(task_id="detect_drift")) is False  # not finished
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    aws.record_monitoring_execution("churn-prod-data-quality", None)
    assert _monitor_sensor(since=later).poke(make_context(task_id="detect_drift")) is False  # too old
