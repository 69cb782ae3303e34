"""Reference DAGs run for real (dag.test) on the stand-in, with people answering through the REST API."""

from __future__ import annotations

import json
import os
from datetime import UTC

import pytest

from tests.helpers import LADDER, PROD_LADDER, html_part, prepare_step, promote, read_pointer


@pytest.fixture
def demo_bucket(aws):
    aws.boto3_client("s3").create_bucket(Bucket="modelreg-demo")
    return "modelreg-demo"


def test_train_and_register_then_batch_inference_asks_the_next_environment(
    airflow,
    aws,
    demo_bucket,
    ladder_variable,
    make_context,
    smtp_server,
    monkeypatch,
):
    ladder_variable(LADDER)
    from airflow.models import Variable

    Variable.set("modelreg_approver_emails", json.dumps({"carol": "carol@example.com"}))
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", os.environ["AIRFLOW_CONN_SMTP_TEST"])

    def bob_approves():
        bob = airflow.approver("bob")
        bob.approve(bob.wait_for("train_and_register"), reason="good")

    run = airflow.run("train_and_register", {"reason": "test"}, bob_approves)
    assert str(run.state) == "success"
    version = airflow.xcom(run, "request_approval")
    assert version["status"] == "Approved" and version["metrics"]["auc"] > 0.6

    # dev approves it (at the operator level: the four-step DAG has its own test)
    promote(version["arn"], "dev", make_context)

    seen = {}

    def carol_approves_test():
        carol = airflow.approver("carol")
        request = carol.wait_for("batch_inference", "request_promotion.approve")
        seen["request"] = request
        carol.approve(request, reason="batch looks healthy")

    run = airflow.run("batch_inference", {"environment": "dev"}, carol_approves_test)
    assert str(run.state) == "success"
    scored = airflow.xcom(run, "score_batch")
    assert scored["rows"] == 2000 and scored["version"] == version["version"]
    assert seen["request"].subject == f"Promote churn version {version['version']} to test?"
    assert f"batch_auc: {scored['batch_auc']}" in seen["request"].body
    assert read_pointer(aws, "test")["approved_by"] == "carol"
    # carol was told by email, with the batch's evidence on the card
    ((recipients, message),) = smtp_server.messages
    assert recipients == ["carol@example.com"]
    assert f"batch_auc: {scored['batch_auc']}" in html_part(message)
    Variable.delete("modelreg_approver_emails")


def test_promotion_request_after_the_last_environment_is_skipped(aws, bucket, make_context):
    from airflow.sdk.exceptions import AirflowSkipException

    from tests.helpers import put_artifact, register_operator

    version = register_operator(put_artifact(aws, bucket)).execute(make_context())
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved"
    )
    with pytest.raises(AirflowSkipException, match="'prod' is the last environment"):
        prepare_step(version["arn"], None, make_context, from_environment="prod")


PROD_ONLY = {**PROD_LADDER, "registration_approvers": ["bob"]}


def test_drift_closes_the_loop_with_a_retrained_version_naming_the_report(
    airflow, aws, demo_bucket, ladder_variable, make_context
):
    from datetime import datetime

    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    from airflow_modelreg.demo.traffic import write_capture

    ladder_variable(PROD_ONLY)

    def bob_approves():
        bob = airflow.approver("bob")
        bob.approve(bob.wait_for("train_and_register"), reason="good")

    first = airflow.xcom(airflow.run("train_and_register", {}, bob_approves), "request_approval")
    promote(first["arn"], "prod", make_context, ladder=PROD_ONLY)

    s3 = aws.boto3_client("s3")
    now = datetime.now(UTC)
    write_capture(
        s3, "s3://modelreg-demo/capture/churn-prod", "churn-prod", "challenger", 3000, 1.0, now, seed=6
    )
    run = airflow.run("monitor_drift", {})
    assert str(run.state) == "success"
    drift = airflow.xcom(run, "detect_drift")
    assert drift["drifted_features"] and drift["report_uri"].startswith("s3://modelreg-demo/reports/")
    with create_session() as session:
        event = session.query(AssetEvent).order_by(AssetEvent.id.desc()).first()
        assert event.asset.uri == "modelreg://churn/drift"
        assert event.extra["report_uri"] == drift["report_uri"]

    def bob_approves_again():
        bob = airflow.approver("bob")
        bob.approve(bob.wait_for("train_and_register"), reason="retrained")

    retrain = airflow.run(
        "train_and_register",
        {"reason": event.extra["reason"], "drift_report": event.extra["report_uri"], "shift": 1.0},
        bob_approves_again,
    )
    second = airflow.xcom(retrain, "request_approval")
    assert second["version"] == first["version"] + 1
    props = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=second["arn"])[
        "CustomerMetadataProperties"
    ]
    assert props["modelreg:lineage:drift-report"] == drift["report_uri"]
    assert props["modelreg:lineage:reason"].startswith("drift in")
