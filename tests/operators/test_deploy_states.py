"""Deployments against endpoints in every state SageMaker documents: an update in progress (ours or another),
maintenance (SystemUpdating), a Failed endpoint, an existing model that serves something else, and data
capture that records CSV as text."""

from __future__ import annotations

import base64
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tests.helpers import write_calls
from tests.operators.deploying import (
    ENDPOINT,
    ROLE,
    ab,
    approved_versions,
    deploy_operator,
    held_transitions,
    run_deferrable,
    weights,
)


@pytest.fixture
def versions(aws, bucket, make_context):
    return approved_versions(aws, bucket, make_context)


def _endpoint(aws):
    return aws.boto3_client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)


@pytest.mark.parametrize("busy", ["weight change", "maintenance"])
def test_deploy_waits_for_an_endpoint_in_progress_then_updates_it(aws, versions, make_context, busy):
    a, b = versions
    deploy_operator(ab(a, b, 90, 10)).execute(make_context(task_id="deploy"))
    with held_transitions(aws):
        if busy == "weight change":
            aws.boto3_client("sagemaker").update_endpoint_weights_and_capacities(
                EndpointName=ENDPOINT,
                DesiredWeightsAndCapacities=[{"VariantName": "challenger", "DesiredWeight": 50}],
            )
        else:
            aws.set_endpoint_state(ENDPOINT, status="SystemUpdating", seconds=3600)
        result = deploy_operator(ab(a, b, 50, 50)).execute(make_context(task_id="deploy"))
    endpoint = _endpoint(aws)
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == result["config"]
    assert result["changed"] is True


def test_a_retry_waits_for_its_own_update_instead_of_starting_another(aws, versions, make_context):
    a, b = versions
    first = deploy_operator(ab(a, b, 90, 10)).execute(make_context(task_id="deploy"))
    with held_transitions(aws):
        started = deploy_operator(ab(a, b, 0, 100), wait_for_completion=False).execute(
            make_context(task_id="deploy")
        )
        assert (
            aws.peek_endpoint(ENDPOINT)["PendingDeploymentSummary"]["EndpointConfigName"] == started["config"]
        )
        aws.reset_calls()
        retried = deploy_operator(ab(a, b, 0, 100)).execute(
            make_context(task_id="deploy")
        )  # worker died: retry
    assert retried["config"] == started["config"] != first["config"]
    assert "sagemaker:UpdateEndpoint" not in aws.calls()
    assert _endpoint(aws)["EndpointConfigName"] == started["config"]
    assert weights(aws) == {"champion": 0.0, "challenger": 100.0}


def test_a_failed_endpoint_is_deleted_and_created_again(aws, versions, make_context, capsys):
    a, b = versions
    deploy_operator(ab(a, b, 90, 10)).execute(make_context(task_id="deploy"))
    aws.set_endpoint_state(ENDPOINT, status="Failed", failure_reason="Instance ml.m5.large unhealthy")
    aws.reset_calls()
    capsys.readouterr()
    result = deploy_operator(ab(a, b, 50, 50)).execute(make_context(task_id="deploy"))
    logged = "".join(capsys.readouterr())
    endpoint = _endpoint(aws)
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == result["config"]
    calls = aws.calls()
    assert calls["sagemaker:DeleteEndpoint"] == 1 and calls["sagemaker:CreateEndpoint"] == 1
    assert "sagemaker:UpdateEndpoint" not in calls
    assert "AUDIT recovery" in logged and "Instance ml.m5.large unhealthy" in logged


def test_a_failed_endpoint_is_left_alone_when_recovery_is_off(aws, versions, make_context):
    a, b = versions
    deploy_operator(ab(a, b)).execute(make_context(task_id="deploy"))
    aws.set_endpoint_state(ENDPOINT, status="Failed", failure_reason="bad image")
    aws.reset_calls()
    with pytest.raises(
        AirflowFailException, match="is Failed \\(bad image\\). SageMaker accepts only DeleteEndpoint"
    ):
        deploy_operator(ab(a, b, 50, 50), recover_failed_endpoint=False).execute(
            make_context(task_id="deploy")
        )
    assert not {call for call in write_calls(aws) if call.startswith("sagemaker:")}


def test_a_create_that_fails_fails_the_task_with_its_reason(aws, versions, make_context):
    a, b = versions
    aws.set_endpoint_state(ENDPOINT, fail_next="CannotStartContainerError: image not found")
    with pytest.raises(AirflowFailException, match="endpoint is Failed \\(CannotStartContainerError"):
        deploy_operator(ab(a, b)).execute(make_context(task_id="deploy"))


@pytest.mark.parametrize("clash", ["another version", "another role"])
def test_an_existing_model_that_serves_something_else_is_refused(aws, versions, make_context, clash):
    a, b = versions
    plan = deploy_operator(ab(a, b)).plan()
    model_of_a = plan["production"][0][1]
    aws.boto3_client("sagemaker").create_model(
        ModelName=model_of_a,
        ExecutionRoleArn=ROLE if clash == "another version" else "arn:aws:iam::123456789012:role/other",
        Containers=[{"ModelPackageName": b if clash == "another version" else a}],
    )
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match=f"Refused: SageMaker model '{model_of_a}' already exists"):
        deploy_operator(ab(a, b)).execute(make_context(task_id="deploy"))
    assert "sagemaker:CreateEndpoint" not in aws.calls()


def test_data_capture_records_the_versions_content_types_as_text(aws, versions, make_context, bucket):
    a, b = versions
    result = deploy_operator(ab(a, b), data_capture_uri=f"s3://{bucket}/capture").execute(
        make_context(task_id="deploy")
    )
    config = aws.boto3_client("sagemaker").describe_endpoint_config(EndpointConfigName=result["config"])
    # The versions accept text/csv and answer text/csv (RegisterModelVersionOperator's defaults).
    assert config["DataCaptureConfig"]["CaptureContentTypeHeader"] == {"CsvContentTypes": ["text/csv"]}
    aws.invoke_endpoint_many(ENDPOINT, ["42,1,0.5"], content_type="text/csv")
    aws.flush_captures()
    s3 = aws.boto3_client("s3")
    (item,) = s3.list_objects_v2(Bucket=bucket, Prefix="capture/")["Contents"]
    record = json.loads(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
    captured = record["captureData"]["endpointInput"]
    assert captured["encoding"] == "CSV" and captured["data"] == "42,1,0.5"
    assert base64.b64encode(b"42,1,0.5").decode() != captured["data"]


def test_deferrable_deploy_waits_out_maintenance_in_the_triggerer(aws, versions, make_context):
    a, b = versions
    deploy_operator(ab(a, b, 90, 10)).execute(make_context(task_id="deploy"))
    with held_transitions(aws):
        aws.set_endpoint_state(ENDPOINT, status="SystemUpdating", seconds=3600)
        result, triggers = run_deferrable(
            deploy_operator(ab(a, b, 50, 50), deferrable=True), make_context(task_id="deploy")
        )
    assert triggers == [
        "EndpointInServiceTrigger",
        "EndpointInServiceTrigger",
    ]  # maintenance, then our update
    assert _endpoint(aws)["EndpointConfigName"] == result["config"]


def test_deferrable_deploy_recovers_a_failed_endpoint(aws, versions, make_context):
    a, b = versions
    deploy_operator(ab(a, b)).execute(make_context(task_id="deploy"))
    aws.set_endpoint_state(ENDPOINT, status="Failed", failure_reason="unhealthy")
    result, triggers = run_deferrable(
        deploy_operator(ab(a, b, 50, 50), deferrable=True), make_context(task_id="deploy")
    )
    assert triggers == ["EndpointDeletedTrigger", "EndpointInServiceTrigger"]
    assert _endpoint(aws)["EndpointConfigName"] == result["config"]


def test_a_configuration_error_fails_without_retries(aws, versions, make_context):
    a, b = versions
    with pytest.raises(AirflowFailException, match="capture_percent is 0"):
        deploy_operator(ab(a, b), data_capture_uri="s3://capture-bucket/x", capture_percent=0).execute(
            make_context(task_id="deploy")
        )
