"""A contract check of the stand-in against botocore's own service models.

Every response the stand-in's additions (``moto_additions``) return is captured raw, before botocore parses
it (botocore drops members it does not know and never checks required ones or enums), and walked against the
operation's output shape: no member the model does not define, every required member present, each value of
its modelled type, strings within their enum and length bounds, lists and maps within their size bounds.
The responses are collected in every state the additions model (Creating, Updating, Failed, RollingBack,
SystemUpdating, Deleting; executions Completed, CompletedWithViolations, Failed, Stopped...), and the test
fails when an addition is not exercised here, so a new one cannot skip the check.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from typing import Any

import pytest
from botocore.model import Shape

from airflow_modelreg.testing import moto_additions
from tests.helpers import monitoring_schedule_config, put_alarm, variant

ROLE = "arn:aws:iam::123456789012:role/sagemaker"


def violations(shape: Shape, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (a JSON-decoded response body) breaks ``shape``; empty when it conforms."""
    if value is None:
        return [f"{path}: null (AWS omits a member it has no value for)"]
    kind = shape.type_name
    found: list[str] = []
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name}), got {type(value).__name__}"]
        for name in value:
            if name not in shape.members:
                found.append(f"{path}.{name}: not a member of {shape.name}")
        for name in shape.required_members:
            if name not in value:
                found.append(f"{path}.{name}: required by {shape.name} but missing")
        for name, member in shape.members.items():
            if name in value:
                found += violations(member, value[name], f"{path}.{name}")
        return found
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list ({shape.name}), got {type(value).__name__}"]
        found += _size(shape, len(value), path)
        for index, item in enumerate(value):
            found += violations(shape.member, item, f"{path}[{index}]")
        return found
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map ({shape.name}), got {type(value).__name__}"]
        found += _size(shape, len(value), path)
        for key, item in value.items():
            found += violations(shape.key, key, f"{path}<key {key!r}>")
            found += violations(shape.value, item, f"{path}[{key!r}]")
        return found
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string ({shape.name}), got {type(value).__name__} {value!r}"]
        if shape.enum and value not in shape.enum:
            found.append(f"{path}: {value!r} is not one of {shape.name}'s values {shape.enum}")
        return found + _size(shape, len(value), path)
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, int):
            return [f"{path}: expected an integer ({shape.name}), got {value!r}"]
        return found + _range(shape, value, path)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{path}: expected a number ({shape.name}), got {value!r}"]
        return found + _range(shape, value, path)
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if kind == "timestamp":
        # The JSON protocol sends epoch seconds; botocore also parses ISO 8601, which moto sometimes sends.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return []
        if isinstance(value, str):
            try:
                datetime.fromisoformat(value.replace("Z", "+00:00"))
                return []
            except ValueError:
                pass
        return [f"{path}: expected a timestamp, got {value!r}"]
    if kind == "blob":
        return [] if isinstance(value, str) else [f"{path}: expected base64 text for a blob, got {value!r}"]
    return [f"{path}: shape type {kind} is not checked by this contract test"]


def _size(shape: Shape, size: int, path: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        return [f"{path}: size {size} below {shape.name}'s minimum {low}"]
    if high is not None and size > high:
        return [f"{path}: size {size} above {shape.name}'s maximum {high}"]
    return []


def _range(shape: Shape, number: float, path: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if (low is not None and number < low) or (high is not None and number > high):
        return [f"{path}: {number} outside {shape.name}'s range [{low}, {high}]"]
    return []


class Recorder:
    """Keeps every raw successful response a client receives, by operation."""

    def __init__(self) -> None:
        self.responses: dict[str, list[tuple[Any, dict[str, Any]]]] = defaultdict(list)

    def __call__(self, operation_model, response_dict, **_: Any) -> None:
        if response_dict["status_code"] < 300:
            self.responses[operation_model.name].append((operation_model, response_dict))

    def attach(self, client) -> Any:
        client.meta.events.register("before-parse.*.*", self)
        return client


def _settle(aws, sm, wanted: str) -> None:
    """End the transition under way (transitions are held until settled here), and check where it got."""
    aws.set_endpoint_state("ep", settle_now=True)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == wanted


def _exercise(aws, recorder: Recorder, bucket: str) -> None:
    """Every addition, in every state it models."""
    sm = recorder.attach(aws.boto3_client("sagemaker"))
    runtime = recorder.attach(aws.boto3_client("sagemaker-runtime"))
    alarm = put_alarm(aws, "ep-5xx")
    for model in ("model-a", "model-b"):
        sm.create_model(ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "img"})
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 100,
        "DestinationS3Uri": f"s3://{bucket}/capture",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
    }
    sm.create_endpoint_config(
        EndpointConfigName="cfg-1",
        ProductionVariants=[variant("blue", "model-a", 1.0), variant("green", "model-b", 0.0)],
        ShadowProductionVariants=[variant("shadow", "model-b", 1.0)],
        DataCaptureConfig=capture,
    )
    sm.create_endpoint_config(
        EndpointConfigName="cfg-2",
        ProductionVariants=[variant("blue", "model-a", 0.5), variant("green", "model-b", 0.5)],
    )
    sm.describe_endpoint_config(EndpointConfigName="cfg-1")
    sm.describe_endpoint_config(EndpointConfigName="cfg-2")

    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1", Tags=[{"Key": "k", "Value": "v"}])
    sm.describe_endpoint(EndpointName="ep")  # Creating, with PendingDeploymentSummary
    sm.list_endpoints()
    _settle(aws, sm, "InService")
    runtime.invoke_endpoint(EndpointName="ep", Body=b"1,2,3", ContentType="text/csv")
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "green", "DesiredWeight": 0.5}]
    )
    sm.describe_endpoint(EndpointName="ep")  # Updating, desired weights
    _settle(aws, sm, "InService")
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2", DeploymentConfig=deployment)
    sm.describe_endpoint(EndpointName="ep")  # Updating to a new config
    aws.boto3_client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="x")
    _settle(aws, sm, "RollingBack")
    _settle(aws, sm, "InService")  # on the old config, with a FailureReason
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    sm.describe_endpoint(EndpointName="ep")
    _settle(aws, sm, "InService")
    aws.set_endpoint_state("ep", status="Failed", failure_reason="ping failed")
    sm.describe_endpoint(EndpointName="ep")
    sm.list_endpoints()
    sm.delete_endpoint(EndpointName="ep")
    sm.describe_endpoint(EndpointName="ep")  # Deleting

    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(
        ModelPackageGroupName="churn",
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={f"k{i}": "v" * 256 for i in range(50)},
        ModelLifeCycle={"Stage": "dev", "StageStatus": "Registered"},
        ClientToken="token-1",
    )["ModelPackageArn"]
    sm.create_model_package(ModelPackageGroupName="churn", ClientToken="token-1")
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="x" * 1024
    )
    sm.describe_model_package(ModelPackageName=arn)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "risk"}])
    sm.list_tags(ResourceArn=arn)
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    sm.delete_model_package(ModelPackageName=arn)

    sm.create_monitoring_schedule(
        MonitoringScheduleName="mon", MonitoringScheduleConfig=monitoring_schedule_config(bucket)
    )
    sm.describe_monitoring_schedule(MonitoringScheduleName="mon")  # before any execution
    for status, violations_, reason in (
        ("Completed", None, None),
        ("CompletedWithViolations", [{"feature_name": "age"}], None),
        ("Failed", None, "Baseline constraints not found"),
        ("Stopped", None, None),
        ("InProgress", None, None),
    ):
        aws.record_monitoring_execution("mon", violations_, status=status, failure_reason=reason)
        sm.describe_monitoring_schedule(MonitoringScheduleName="mon")
    sm.list_monitoring_schedules(EndpointName="ep")
    sm.list_monitoring_executions(MonitoringScheduleName="mon", MaxResults=2)
    sm.list_monitoring_executions(MonitoringScheduleName="mon", StatusEquals="Failed")
    sm.delete_monitoring_schedule(MonitoringScheduleName="mon")


@pytest.fixture(scope="module")
def recorded(standin):
    standin.reset()
    standin.clear_faults()
    bucket = "contract-bucket"
    standin.boto3_client("s3").create_bucket(Bucket=bucket)
    recorder = Recorder()
    before = standin.settings()["transition_seconds"]
    standin.settings(transition_seconds=3600)  # each state lasts until the scenario has recorded it
    try:
        _exercise(standin, recorder, bucket)
    finally:
        standin.settings(transition_seconds=before)
    return recorder.responses


def _operation(method_name: str) -> str:
    return "".join(part.capitalize() for part in method_name.split("_"))


def test_every_addition_is_exercised(recorded):
    added = {_operation(name) for name in moto_additions._RESPONSE_METHODS} | {"InvokeEndpoint"}
    assert added - set(recorded) == set()


def test_json_responses_match_botocores_output_shapes(recorded):
    """The additions' responses, and moto's own ones the scenario needed on the way (CreateModel...)."""
    problems = []
    for operation, responses in sorted(recorded.items()):
        for operation_model, response in responses:
            if operation_model.service_model.resolved_protocol != "json":
                continue
            body = response["body"]
            shape = operation_model.output_shape
            if shape is None:  # an action that returns nothing
                if body.strip() not in (b"", b"{}"):
                    problems.append(f"{operation}: answers {body[:200]!r} where the model has no output")
                continue
            document = json.loads(body or b"{}")
            problems += [f"{operation} {problem}" for problem in violations(shape, document)]
    assert problems == [], "\n".join(problems)


def test_invoke_endpoint_answers_in_its_rest_shape(recorded):
    ((operation_model, response),) = recorded["InvokeEndpoint"]
    headers = {key.lower(): value for key, value in response["headers"].items()}
    shape = operation_model.output_shape
    for name, member in shape.members.items():
        location = member.serialization.get("location")
        header = member.serialization.get("name", "").lower()
        if name in shape.required_members and location is None:
            assert response["body"], f"{name} (the payload) is required"
        if location == "header" and header in headers:
            assert violations(member, headers[header]) == []
    assert headers["content-type"] == "text/csv; charset=utf-8"
    assert headers["x-amzn-invoked-production-variant"] == "blue"


def test_the_checker_catches_drift():
    """The walker itself: each kind of drift it exists for is reported."""
    import botocore.session

    shape = (
        botocore.session.get_session()
        .get_service_model("sagemaker")
        .operation_model("DescribeEndpoint")
        .output_shape
    )
    good = {
        "EndpointName": "ep",
        "EndpointArn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep",
        "EndpointStatus": "InService",
        "CreationTime": 1.0,
        "LastModifiedTime": "2026-11-23T00:00:00Z",
    }
    assert violations(shape, good) == []
    assert violations(shape, {**good, "EndpointStatus": "Ready"})  # not in the enum
    assert violations(shape, {k: v for k, v in good.items() if k != "EndpointArn"})  # required
    assert violations(shape, {**good, "Failurereason": "typo"})  # unknown member
    assert violations(shape, {**good, "ProductionVariants": [{"VariantName": "v", "CurrentWeight": "1"}]})
    assert violations(
        shape,
        {**good, "DataCaptureConfig": {"EnableCapture": True, "InitialSamplingPercentage": 100}},
    )  # the endpoint config's capture shape where DescribeEndpoint has its summary
