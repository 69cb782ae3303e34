"""ModelDriftSensor against the stand-in: data capture in S3, Model Monitor executions, the retraining loop."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_modelreg.demo.traffic import baseline_csv, write_capture
from airflow_modelreg.sensors.drift import ModelDriftSensor

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture
def capture(aws, bucket):
    s3 = aws.boto3_client("s3")
    s3.put_object(Bucket=bucket, Key="churn/v1/baseline.csv", Body=baseline_csv().encode())

    def traffic(shift, rows=1500, broken_lines=0):
        for variant, seed in (("champion", 1), ("challenger", 2)):
            write_capture(
                s3,
                f"s3://{bucket}/capture",
                "churn-prod",
                variant,
                rows // 2,
                shift,
                NOW - timedelta(hours=1),
                seed=seed,
                broken_lines=broken_lines,
            )

    return traffic


def _sensor(bucket, **kwargs):
    return ModelDriftSensor(
        task_id="detect_drift",
        source="data_capture",
        capture_prefix=f"s3://{bucket}/capture/churn-prod",
        baseline_uri=f"s3://{bucket}/churn/v1/baseline.csv",
        report_prefix=f"s3://{bucket}/reports",
        window_end=NOW.isoformat(),
        window_hours=24,
        **kwargs,
    )


def test_drifted_capture_fires_with_a_report_and_plots(aws, bucket, capture, make_context):
    capture(shift=1.0, broken_lines=3)
    sensor = _sensor(bucket)
    assert sensor.poke(make_context(task_id="detect_drift")) is True
    result = sensor._report
    assert "tenure_months" in result["drifted_features"] and "monthly_charges" in result["drifted_features"]
    assert result["rows"] == 1500 and result["malformed_lines"] == 6  # three per file, two files
    s3 = aws.boto3_client("s3")
    key = result["report_uri"].removeprefix(f"s3://{bucket}/")
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert report["malformed_lines"] == 6 and report["window"]["files"] == 2
    page = s3.get_object(Bucket=bucket, Key=key.replace(".json", ".html"))["Body"].read().decode()
    assert page.count("<svg") == len(report["drifted_features"])


def test_undrifted_capture_keeps_waiting(aws, bucket, capture, make_context):
    capture(shift=0.0)
    assert _sensor(bucket).poke(make_context(task_id="detect_drift")) is False


def test_capture_outside_the_window_is_ignored(aws, bucket, capture, make_context):
    capture(shift=1.0)
    sensor = _sensor(bucket)
    sensor.window_end = (NOW - timedelta(hours=30)).isoformat()
    assert sensor.poke(make_context(task_id="detect_drift")) is False  # fewer than min_rows in that window


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


def _monitor_sensor():
    return ModelDriftSensor(
        task_id="detect_drift", source="model_monitor", schedule_name="churn-prod-data-quality", since=None
    )


def test_model_monitor_violations_fire_the_sensor(aws, bucket, make_context):
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


def test_model_monitor_execution_without_violations_does_not_fire(aws, bucket, make_context):
    _monitor_schedule(aws, bucket)
    aws.record_monitoring_execution("churn-prod-data-quality", None)
    assert _monitor_sensor().poke(make_context(task_id="detect_drift")) is False
