"""The stand-in's additions to moto, each behaving as the AWS API reference documents."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from airflow_modelreg.testing import moto_additions
from tests.helpers import advance_endpoint, monitoring_schedule_config, put_alarm


def _error(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def sm(aws):
    return aws.boto3_client("sagemaker")


def _config(sm, name, model, **extra):
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "primary",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
        **extra,
    )


def test_create_endpoint_passes_through_creating(aws, sm, models, held_transitions):
    _config(sm, "cfg-1", "model-a")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    assert advance_endpoint(aws, "ep", "InService")[0] == "Creating"


def test_update_endpoint_switches_config_through_updating(aws, sm, models, held_transitions):
    _config(sm, "cfg-1", "model-a")
    _config(sm, "cfg-2", "model-b")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    advance_endpoint(aws, "ep", "InService")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Updating"
    advance_endpoint(aws, "ep", "InService")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointConfigName"] == "cfg-2"


def test_update_endpoint_refuses_while_in_progress(aws, sm, models, held_transitions):
    _config(sm, "cfg-1", "model-a")
    _config(sm, "cfg-2", "model-b")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2")
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert "Cannot update in-progress endpoint" in message


def test_update_unknown_endpoint_is_a_validation_error_naming_it(aws, sm, models, held_transitions):
    _config(sm, "cfg-1", "model-a")
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="nope", EndpointConfigName="cfg-1")
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert message == "Could not find endpoint 'arn:aws:sagemaker:us-east-1:123456789012:endpoint/nope'."


def test_update_endpoint_unknown_config(aws, sm, models, held_transitions):
    _config(sm, "cfg-1", "model-a")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    advance_endpoint(aws, "ep", "InService")
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="missing")
    assert "Could not find endpoint configuration" in _error(excinfo)[1]


def test_blue_green_update_keeps_deployment_config_and_rolls_back_on_alarm(aws, sm, models, held_transitions):
    put_alarm(aws, "ep-5xx")
    _config(sm, "cfg-1", "model-a")
    _config(sm, "cfg-2", "model-b")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    advance_endpoint(aws, "ep", "InService")
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 60,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "ep-5xx"}]},
    }
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-2", DeploymentConfig=deployment)
    aws.boto3_client("cloudwatch").set_alarm_state(
        AlarmName="ep-5xx", StateValue="ALARM", StateReason="errors"
    )
    seen = advance_endpoint(aws, "ep", "InService")
    described = sm.describe_endpoint(EndpointName="ep")
    assert "RollingBack" in seen
    assert described["EndpointConfigName"] == "cfg-1"  # rolled back to the old config
    assert "ep-5xx" in described["FailureReason"]
    assert described["LastDeploymentConfig"] == deployment


def test_shadow_variants_are_kept_on_configs_and_endpoints(aws, sm, models, held_transitions):
    shadow = {
        "VariantName": "shadow",
        "ModelName": "model-b",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }
    _config(sm, "cfg-1", "model-a", ShadowProductionVariants=[shadow])
    assert sm.describe_endpoint_config(EndpointConfigName="cfg-1")["ShadowProductionVariants"] == [shadow]
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-1")
    advance_endpoint(aws, "ep", "InService")
    variants = sm.describe_endpoint(EndpointName="ep")["ShadowProductionVariants"]
    assert [v["VariantName"] for v in variants] == ["shadow"]


def test_shadow_variant_of_unknown_model_is_refused(aws, sm, models, held_transitions):
    shadow = {
        "VariantName": "shadow",
        "ModelName": "ghost",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    with pytest.raises(ClientError) as excinfo:
        _config(sm, "cfg-1", "model-a", ShadowProductionVariants=[shadow])
    assert "Could not find model" in _error(excinfo)[1]


@pytest.fixture
def group(sm):
    sm.create_model_package_group(ModelPackageGroupName="churn")
    return "churn"


def test_client_token_returns_the_first_version(sm, group):
    first = sm.create_model_package(ModelPackageGroupName=group, ClientToken="tok-1")["ModelPackageArn"]
    again = sm.create_model_package(ModelPackageGroupName=group, ClientToken="tok-1")["ModelPackageArn"]
    other = sm.create_model_package(ModelPackageGroupName=group, ClientToken="tok-2")["ModelPackageArn"]
    assert first == again
    assert other != first
    listed = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert len(listed) == 2


def test_delete_model_package_and_versions_are_not_reused(sm, group):
    arns = [sm.create_model_package(ModelPackageGroupName=group)["ModelPackageArn"] for _ in range(3)]
    sm.delete_model_package(ModelPackageName=arns[1])
    with pytest.raises(ClientError) as excinfo:
        sm.describe_model_package(ModelPackageName=arns[1])
    assert "does not exist" in _error(excinfo)[1]
    newest = sm.create_model_package(ModelPackageGroupName=group)["ModelPackageArn"]
    assert newest.endswith("/4")
    assert sm.describe_model_package(ModelPackageName=arns[2])["ModelPackageVersion"] == 3
    with pytest.raises(ClientError):
        sm.delete_model_package(ModelPackageName=arns[1])


def test_tags_on_model_package_arn(sm, group):
    arn = sm.create_model_package(ModelPackageGroupName=group)["ModelPackageArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "risk"}, {"Key": "tier", "Value": "1"}])
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "tier", "Value": "2"}])
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "risk", "tier": "2"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "tier", "Value": "2"}]


def test_update_model_package_merges_metadata_and_keeps_status(sm, group):
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties={"a": "1"},
    )["ModelPackageArn"]
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="ok")
    sm.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"b": "2"},
        ModelLifeCycle={"Stage": "prod", "StageStatus": "Approved", "StageDescription": "promoted"},
    )
    described = sm.describe_model_package(ModelPackageName=arn)
    assert described["ModelApprovalStatus"] == "Approved"
    assert described["ApprovalDescription"] == "ok"
    assert described["CustomerMetadataProperties"] == {"a": "1", "b": "2"}
    assert described["ModelLifeCycle"]["Stage"] == "prod"
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataPropertiesToRemove=["a"])
    assert sm.describe_model_package(ModelPackageName=arn)["CustomerMetadataProperties"] == {"b": "2"}


def _schedule(sm, bucket, name="churn-monitor", endpoint="ep"):
    sm.create_monitoring_schedule(
        MonitoringScheduleName=name, MonitoringScheduleConfig=monitoring_schedule_config(bucket, endpoint)
    )
    return name


def test_monitoring_schedule_create_describe_list(sm, bucket):
    name = _schedule(sm, bucket)
    described = sm.describe_monitoring_schedule(MonitoringScheduleName=name)
    assert described["MonitoringScheduleStatus"] == "Scheduled"
    assert described["EndpointName"] == "ep"
    summaries = sm.list_monitoring_schedules(EndpointName="ep")["MonitoringScheduleSummaries"]
    assert [s["MonitoringScheduleName"] for s in summaries] == [name]
    assert sm.list_monitoring_schedules(EndpointName="other")["MonitoringScheduleSummaries"] == []
    with pytest.raises(ClientError) as excinfo:
        _schedule(sm, bucket)
    assert _error(excinfo)[0] == "ResourceInUse"


def test_unknown_monitoring_schedule_is_resource_not_found(sm):
    with pytest.raises(ClientError) as excinfo:
        sm.describe_monitoring_schedule(MonitoringScheduleName="nope")
    assert _error(excinfo)[0] == "ResourceNotFound"


def test_recorded_execution_with_violations_is_listed_with_its_report(aws, sm, bucket):
    name = _schedule(sm, bucket)
    violations = [
        {
            "feature_name": "age",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance 0.4 exceeds threshold 0.1",
        }
    ]
    recorded = aws.record_monitoring_execution(name, violations)
    aws.record_monitoring_execution(name, None)  # a later clean execution
    executions = sm.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
    assert [e["MonitoringExecutionStatus"] for e in executions] == [
        "Completed",
        "CompletedWithViolations",
    ] or [e["MonitoringExecutionStatus"] for e in executions] == ["CompletedWithViolations", "Completed"]
    with_violations = sm.list_monitoring_executions(
        MonitoringScheduleName=name, StatusEquals="CompletedWithViolations"
    )["MonitoringExecutionSummaries"]
    assert len(with_violations) == 1
    job = sm.describe_processing_job(
        ProcessingJobName=with_violations[0]["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    report_uri = job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    assert report_uri == recorded["ReportUri"]
    key = report_uri.removeprefix(f"s3://{bucket}/") + "/constraint_violations.json"
    body = aws.boto3_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert b"baseline_drift_check" in body
    last = sm.describe_monitoring_schedule(MonitoringScheduleName=name)["LastMonitoringExecutionSummary"]
    assert last["MonitoringScheduleName"] == name


def _client(aws, **retries):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sagemaker",
        endpoint_url=aws.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries=retries),
    )


def test_call_counting_and_injected_throttling(aws, group):
    aws.inject_faults(rate=1.0, kinds=["throttle"], services=["sagemaker"], actions=["ListModelPackages"])
    client = _client(aws, mode="standard", max_attempts=2)
    with pytest.raises(ClientError) as excinfo:
        client.list_model_packages(ModelPackageGroupName=group)
    assert _error(excinfo)[0] == "ThrottlingException"
    client.describe_model_package_group(ModelPackageGroupName=group)  # other actions are not faulted
    aws.clear_faults()
    client.list_model_packages(ModelPackageGroupName=group)
    calls = aws.calls()
    # max_attempts counts retries: the first try and two retries are throttled, then one clean call.
    assert calls["sagemaker:ListModelPackages"] == 3 + 1
    assert calls["sagemaker:DescribeModelPackageGroup"] == 1


def test_five_xx_faults_are_retried_by_standard_mode(aws, group):
    aws.inject_faults(rate=0.3, kinds=["5xx"], services=["sagemaker"], seed=3)
    client = _client(aws, mode="standard", max_attempts=10)
    for _ in range(4):
        client.list_model_packages(ModelPackageGroupName=group)
    assert aws.calls()["sagemaker:ListModelPackages"] > 4  # some were failed and retried


def test_install_is_idempotent():
    moto_additions.install()
    moto_additions.install()
    from moto.sagemaker.responses import SageMakerResponse

    assert SageMakerResponse.update_endpoint is moto_additions._update_endpoint


def test_customer_metadata_is_limited_to_fifty_entries(sm, group):
    fifty = {f"k{i}": "v" for i in range(50)}
    arn = sm.create_model_package(
        ModelPackageGroupName=group,
        ModelApprovalStatus="PendingManualApproval",
        CustomerMetadataProperties=fifty,
    )["ModelPackageArn"]
    with pytest.raises(ClientError) as excinfo:
        sm.create_model_package(
            ModelPackageGroupName=group, CustomerMetadataProperties={**fifty, "one-more": "v"}
        )
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '{")
    assert message.endswith(
        "at 'customerMetadataProperties' failed to satisfy constraint: "
        "Member must have length less than or equal to 50"
    )
    # An update that would leave the version with 51 entries is refused, and changes nothing.
    with pytest.raises(ClientError, match="Member must have length less than or equal to 50"):
        sm.update_model_package(
            ModelPackageArn=arn, ModelApprovalStatus="Approved", CustomerMetadataProperties={"k50": "v"}
        )
    described = sm.describe_model_package(ModelPackageName=arn)
    assert len(described["CustomerMetadataProperties"]) == 50
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"k0": "replaced"})  # still 50
    with pytest.raises(ClientError, match="Map value must satisfy constraint"):
        sm.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"k0": "x" * 257})


def test_approval_description_is_limited_to_1024_characters(sm, group):
    arn = sm.create_model_package(ModelPackageGroupName=group)["ModelPackageArn"]
    sm.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus="Approved", ApprovalDescription="x" * 1024
    )
    with pytest.raises(ClientError) as excinfo:
        sm.update_model_package(ModelPackageArn=arn, ApprovalDescription="y" * 1025)
    code, message = _error(excinfo)
    assert code == "ValidationException"
    assert message.endswith(
        "at 'approvalDescription' failed to satisfy constraint: Member must have length less than or equal to 1024"
    )
    assert sm.describe_model_package(ModelPackageName=arn)["ApprovalDescription"] == "x" * 1024


def test_parameter_store_keeps_the_last_hundred_versions(aws):
    """moto already models it: the 101st version drops the oldest, unless the oldest carries a label."""
    ssm = aws.boto3_client("ssm")
    for value in range(1, 102):
        ssm.put_parameter(Name="/p", Value=str(value), Type="String", Overwrite=True)
    history = [
        p["Version"]
        for page in ssm.get_paginator("get_parameter_history").paginate(Name="/p")
        for p in page["Parameters"]
    ]
    assert history == list(range(2, 102))
    ssm.label_parameter_version(Name="/p", ParameterVersion=2, Labels=["first-kept"])
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name="/p", Value="102", Type="String", Overwrite=True)
    code, message = _error(excinfo)
    assert code == "ParameterMaxVersionLimitExceeded"
    assert "Version 2, the oldest version, can't be deleted because it has a label" in message


def test_failed_and_stopped_executions_carry_no_report(aws, sm, bucket):
    name = _schedule(sm, bucket)
    failed = aws.record_monitoring_execution(
        name, [{"feature_name": "age"}], status="Failed", failure_reason="Baseline constraints not found"
    )
    aws.record_monitoring_execution(name, None, status="Stopped")
    executions = sm.list_monitoring_executions(MonitoringScheduleName=name)["MonitoringExecutionSummaries"]
    statuses = {e["MonitoringExecutionStatus"]: e for e in executions}
    assert set(statuses) == {"Failed", "Stopped"}
    assert statuses["Failed"]["FailureReason"] == "Baseline constraints not found"
    listed = aws.boto3_client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    assert not [
        item for item in listed if item["Key"].startswith(failed["ReportUri"].removeprefix(f"s3://{bucket}/"))
    ]
    job = sm.describe_processing_job(
        ProcessingJobName=statuses["Failed"]["ProcessingJobArn"].rsplit("/", 1)[1]
    )
    assert job["ProcessingJobStatus"] == "Failed"
    with pytest.raises(RuntimeError, match="needs a failure_reason"):
        aws.record_monitoring_execution(name, None, status="Failed")
    with pytest.raises(RuntimeError, match="Unknown MonitoringExecutionStatus 'Broken'"):
        aws.record_monitoring_execution(name, None, status="Broken")


def test_the_command_line_serves_and_creates_the_buckets_compose_needs(tmp_path):
    """``python -m airflow_modelreg.testing.standin --bucket ...`` as docker-compose runs it: the audit log's
    bucket exists as soon as the URL is printed."""
    import subprocess
    import sys
    import time

    import boto3

    url_file = tmp_path / "url"
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_modelreg.testing.standin", "--url-file", str(url_file)]
        + ["--bucket", "modelreg-audit", "--bucket", "models"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not (url_file.exists() and url_file.read_text()):
            assert process.poll() is None, "the stand-in exited"
            assert time.monotonic() < deadline, "the stand-in did not start serving"
            time.sleep(0.1)
        s3 = boto3.client(
            "s3",
            endpoint_url=url_file.read_text(),
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        assert {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]} == {"modelreg-audit", "models"}
    finally:
        process.terminate()
        process.wait(timeout=30)
