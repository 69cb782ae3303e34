"""Deployments against the stand-in: A/B, shadow, blue/green with auto-rollback, traffic shifts, refusals."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.hooks.audit_log import AuditLogHook
from tests.helpers import (
    PROD_LADDER,
    governed_writes,
    promote,
    put_alarm,
    put_artifact,
    register_operator,
    write_calls,
)
from tests.operators.deploying import ab, deploy_operator, shift_operator, weights


@pytest.fixture
def versions(aws, bucket, make_context):
    """Versions of 'churn' with given statuses (distinct artifacts); each Approved one is promoted to prod
    in turn (prod runs the last, and ran the ones before). Returns their ARNs."""

    def make(*statuses):
        arns = []
        for index, status in enumerate(statuses):
            artifact = put_artifact(
                aws, bucket, key=f"churn/{index}/model.tar.gz", body=f"model-{index}".encode()
            )
            arn = register_operator(artifact, ladder=PROD_LADDER).execute(
                make_context(run_id=f"run-{index}")
            )["arn"]
            if status != "PendingManualApproval":
                aws.boto3_client("sagemaker").update_model_package(
                    ModelPackageArn=arn, ModelApprovalStatus=status
                )
            if status == "Approved":
                promote(arn, "prod", make_context, ladder=PROD_LADDER, run_id=f"promote-{index}")
            arns.append(arn)
        return arns

    return make


def _events(kind):
    return AuditLogHook(log_uri=PROD_LADDER["audit_log"]).events("churn", kind=kind)


def test_ab_endpoint_from_two_approved_versions_and_rerun_changes_nothing(aws, versions, make_context):
    a, b = versions("Approved", "Approved")
    result = deploy_operator(ab(a, b, 90, 10), data_capture_uri="s3://capture-bucket/churn-prod").execute(
        make_context(task_id="deploy")
    )
    assert result["changed"] is True
    assert [(v["name"], v["traffic_percent"]) for v in result["variants"]] == [
        ("champion", 90.0),
        ("challenger", 10.0),
    ]
    sm = aws.boto3_client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName="churn-prod")
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == result["config"]
    config = sm.describe_endpoint_config(EndpointConfigName=result["config"])
    assert [v["InitialVariantWeight"] for v in config["ProductionVariants"]] == [90.0, 10.0]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == "s3://capture-bucket/churn-prod"

    aws.reset_calls()
    again = deploy_operator(ab(a, b, 90, 10), data_capture_uri="s3://capture-bucket/churn-prod").execute(
        make_context(task_id="deploy")
    )
    assert again["changed"] is False and again["config"] == result["config"]
    assert {k: v for k, v in write_calls(aws).items() if k.startswith("sagemaker:Create")} == {}
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 1
    (deployed,) = [e for e in _events("deployed") if e["details"]["changed"]]
    assert deployed["environment"] == "prod" and deployed["arn"] == b
    assert [(v["name"], v["traffic_percent"]) for v in deployed["details"]["variants"]] == [
        ("champion", 90.0),
        ("challenger", 10.0),
    ]


def test_shadow_variant_is_deployed(aws, versions, make_context):
    a, b = versions("Approved", "Approved")
    op = deploy_operator(
        [{"name": "live", "model_package_arn": a}],
        shadow_variants=[{"name": "shadow", "model_package_arn": b}],
    )
    result = op.execute(make_context(task_id="deploy"))
    endpoint = aws.boto3_client("sagemaker").describe_endpoint(EndpointName="churn-prod")
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["shadow"]
    assert result["shadow_variants"][0]["version_arn"] == b


@pytest.mark.parametrize("status", ["PendingManualApproval", "Rejected"])
def test_unapproved_version_is_refused_before_any_write(aws, versions, make_context, status):
    a, b = versions("Approved", status)
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="was never promoted to 'prod'"):
        deploy_operator(ab(a, b, 90, 10)).execute(make_context(task_id="deploy"))
    assert governed_writes(aws) == {}


def test_changed_artifact_is_refused(aws, versions, bucket, make_context):
    (a,) = versions("Approved")
    aws.boto3_client("s3").put_object(Bucket=bucket, Key="churn/0/model.tar.gz", Body=b"tampered")
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="changed since registration"):
        deploy_operator([{"name": "live", "model_package_arn": a}]).execute(make_context(task_id="deploy"))
    assert {k for k in write_calls(aws) if k.startswith("sagemaker")} == set()


def test_blue_green_update_carries_the_requested_deployment_config(aws, versions, make_context):
    a, b = versions("Approved", "Approved")
    alarm = put_alarm(aws)
    deploy_operator([{"name": "live", "model_package_arn": a}]).execute(make_context(task_id="deploy"))
    result = deploy_operator(
        [{"name": "live", "model_package_arn": b}],
        routing="canary",
        step_percent=10,
        wait_seconds=120,
        rollback_alarms=[alarm],
    ).execute(make_context(task_id="deploy"))
    endpoint = aws.boto3_client("sagemaker").describe_endpoint(EndpointName="churn-prod")
    assert endpoint["EndpointConfigName"] == result["config"]
    assert endpoint["LastDeploymentConfig"] == {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 120,
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
            },
            "TerminationWaitInSeconds": 0,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": alarm}]},
    }


def test_blue_green_update_rolled_back_by_alarm_fails_the_task(aws, versions, make_context):
    a, b = versions("Approved", "Approved")
    alarm = put_alarm(aws)
    first = deploy_operator([{"name": "live", "model_package_arn": a}]).execute(
        make_context(task_id="deploy")
    )
    aws.boto3_client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="errors")
    with pytest.raises(AirflowFailException, match="was rolled back"):
        deploy_operator(
            [{"name": "live", "model_package_arn": b}],
            routing="linear",
            step_percent=25,
            rollback_alarms=[alarm],
        ).execute(make_context(task_id="deploy"))
    endpoint = aws.boto3_client("sagemaker").describe_endpoint(EndpointName="churn-prod")
    assert endpoint["EndpointConfigName"] == first["config"]


def test_canary_shift_reaches_full_traffic_when_alarms_stay_ok(aws, versions, make_context):
    a, b = versions("Approved", "Approved")
    alarm = put_alarm(aws)
    deploy_operator(ab(a, b, 100, 0)).execute(make_context(task_id="deploy"))
    result = shift_operator([alarm], bake_seconds=1.0).execute(make_context(task_id="shift"))
    assert result["weights"] == {"challenger": 100.0, "champion": 0.0}
    assert weights(aws) == {"champion": 0.0, "challenger": 100.0}
