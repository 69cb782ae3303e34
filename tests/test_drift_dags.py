"""The drift DAGs run for real (dag.test) on the stand-in: ``monitor_drift`` on a healthy hour and without a
logical date (as a REST API trigger makes it), and ``monitor_drift_fanout`` fanning out over capture prefixes
with dynamic task mapping, reducing to the same verdict one pass gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from airflow_modelreg.demo.traffic import baseline_csv, write_capture
from tests.helpers import AUDIT_BUCKET, promote, register_operator

BUCKET = "modelreg-demo"
CAPTURE = f"s3://{BUCKET}/capture/churn-prod"
PROD_ONLY = {
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "registration_approvers": ["bob"],
    "environments": [{"name": "prod", "approvers": ["dave"]}],
}


@pytest.fixture
def prod_model(airflow, aws, ladder_variable, make_context):
    """A version approved and promoted to prod, with its baseline.csv beside the artifact."""
    ladder_variable(PROD_ONLY)
    s3 = aws.boto3_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="churn/v1/model.tar.gz", Body=b"model")
    s3.put_object(Bucket=BUCKET, Key="churn/v1/baseline.csv", Body=baseline_csv().encode())
    version = register_operator(f"s3://{BUCKET}/churn/v1/model.tar.gz", ladder=PROD_ONLY).execute(
        make_context()
    )
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved"
    )
    promote(version["arn"], "prod", make_context, ["dave"], ladder=PROD_ONLY)
    return s3


def _traffic(s3, shift, hours_ago=(0,), variants=("champion", "challenger"), rows=1200):
    now = datetime.now(UTC)
    for h in hours_ago:
        for seed, variant in enumerate(variants, start=1):
            write_capture(
                s3, CAPTURE, "churn-prod", variant, rows, shift, now - timedelta(hours=h), seed=seed + 10 * h
            )


def _drift_events():
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        return [e.extra for e in session.query(AssetEvent).all() if e.asset.uri == "modelreg://churn/drift"]


def _map_indexes(run, task_id):
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id)
        return sorted((ti.map_index, str(ti.state)) for ti in rows)


def test_a_healthy_hour_without_a_logical_date_is_a_green_run_that_retrains_nothing(airflow, prod_model):
    """The REST API triggers runs without a logical date (no data_interval_end to template)."""
    _traffic(prod_model, shift=0.0)
    before = len(_drift_events())
    run = airflow.dag("monitor_drift").test(logical_date=None)
    assert str(run.state) == "success", airflow.task_states(run)
    verdict = airflow.xcom(run, "detect_drift")
    assert verdict["drift_detected"] is False and verdict["rows"] == 2400
    assert airflow.task_states(run)["announce_drift"] == "skipped"
    assert len(_drift_events()) == before  # nothing asks for retraining


def test_fanout_maps_one_task_per_capture_prefix_and_decides_like_one_pass(airflow, aws, prod_model):
    _traffic(prod_model, shift=1.0, hours_ago=(0, 1), variants=("challenger",))
    _traffic(prod_model, shift=0.0, hours_ago=(0,), variants=("champion",), rows=400)
    run = airflow.dag("monitor_drift_fanout").test(logical_date=None)
    assert str(run.state) == "success", airflow.task_states(run)
    # three prefixes: challenger at two hours, champion at one
    assert _map_indexes(run, "profile_capture") == [(0, "success"), (1, "success"), (2, "success")]
    verdict = airflow.xcom(run, "decide_drift")
    assert verdict["drift_detected"] is True and verdict["rows"] == 2800
    assert verdict["window"]["tasks"] == 3 and len(verdict["window"]["prefixes"]) == 3

    # the same window read in one pass by the sensor gives the same report
    sensor_run = airflow.dag("monitor_drift").test(logical_date=None)
    one_pass = airflow.xcom(sensor_run, "detect_drift")
    s3 = aws.boto3_client("s3")

    def report(uri):
        body = json.loads(
            s3.get_object(Bucket=BUCKET, Key=uri.removeprefix(f"s3://{BUCKET}/"))["Body"].read()
        )
        return {
            name: {k: f[k] for k in ("psi", "distance", "p_value", "drifted")}
            for name, f in body["features"].items()
        }

    assert report(verdict["report_uri"]) == report(one_pass["report_uri"])
    events = _drift_events()
    assert events and events[-1]["report_uri"] == one_pass["report_uri"]
    assert any(e["report_uri"] == verdict["report_uri"] for e in events)


def test_fanout_over_an_empty_window_gives_no_verdict_and_stays_green(airflow, prod_model):
    run = airflow.dag("monitor_drift_fanout").test(logical_date=None, run_conf={"window_hours": 1})
    assert str(run.state) == "success", airflow.task_states(run)
    states = airflow.task_states(run)
    assert states["decide_drift"] == "success" and states["announce_drift"] == "skipped"
    assert airflow.xcom(run, "decide_drift")["reason"].startswith("no verdict: only 0 rows")
