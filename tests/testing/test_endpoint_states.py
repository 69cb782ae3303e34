"""Endpoint states in the stand-in, as the SageMaker API reference documents them (DescribeEndpoint's
EndpointStatus, UpdateEndpoint, UpdateEndpointWeightsAndCapacities, DeleteEndpoint)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers import advance_endpoint, variant

ARN = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/ep"


def _error(excinfo) -> tuple[str, str]:
    error = excinfo.value.response["Error"]
    return error["Code"], error["Message"]


@pytest.fixture
def sm(aws, held_transitions):
    return aws.boto3_client("sagemaker")


@pytest.fixture
def configs(sm, models):
    """Two configs of two variants (a: 100/0, b: 50/50) on two models."""
    for config, (wa, wb) in (("cfg-a", (1.0, 0.0)), ("cfg-b", (0.5, 0.5))):
        sm.create_endpoint_config(
            EndpointConfigName=config,
            ProductionVariants=[
                variant(name, model, weight)
                for name, model, weight in (("blue", "model-a", wa), ("green", "model-b", wb))
            ],
            DataCaptureConfig={
                "EnableCapture": True,
                "InitialSamplingPercentage": 100,
                "DestinationS3Uri": "s3://capture-bucket/ep",
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            },
        )
    return ["cfg-a", "cfg-b"]


@pytest.fixture
def endpoint(aws, sm, configs):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
    advance_endpoint(aws, "ep", "InService")
    return "ep"


def _weights(sm, key="CurrentWeight"):
    return {v["VariantName"]: v[key] for v in sm.describe_endpoint(EndpointName="ep")["ProductionVariants"]}


def test_creating_shows_the_pending_deployment_and_no_variants_yet(aws, sm, configs):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
    creating = sm.describe_endpoint(EndpointName="ep")
    assert creating["EndpointStatus"] == "Creating"
    assert creating["PendingDeploymentSummary"]["EndpointConfigName"] == "cfg-a"
    assert "ProductionVariants" not in creating
    advance_endpoint(aws, "ep", "InService")
    settled = sm.describe_endpoint(EndpointName="ep")
    assert "PendingDeploymentSummary" not in settled
    # A weight of 0 is reported as 0 (moto drops it), capture as the summary DescribeEndpoint documents.
    assert _weights(sm) == {"blue": 1.0, "green": 0.0}
    assert settled["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": "s3://capture-bucket/ep",
        "KmsKeyId": "",
    }


def test_weight_change_passes_through_updating_and_applies_when_it_settles(aws, sm, endpoint):
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep",
        DesiredWeightsAndCapacities=[
            {"VariantName": "blue", "DesiredWeight": 0.9},
            {"VariantName": "green", "DesiredWeight": 0.1},
        ],
    )
    updating = sm.describe_endpoint(EndpointName="ep")
    assert updating["EndpointStatus"] == "Updating"
    assert "PendingDeploymentSummary" not in updating  # only for a new endpoint config
    assert _weights(sm) == {"blue": 1.0, "green": 0.0}
    assert _weights(sm, "DesiredWeight") == {"blue": 0.9, "green": 0.1}
    advance_endpoint(aws, "ep", "InService")
    assert _weights(sm) == {"blue": 0.9, "green": 0.1}


@pytest.mark.parametrize("second", ["weights", "config", "delete"])
def test_a_second_change_during_an_update_is_refused(sm, endpoint, second):
    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "green", "DesiredWeight": 0.5}]
    )
    with pytest.raises(ClientError) as excinfo:
        if second == "weights":
            sm.update_endpoint_weights_and_capacities(
                EndpointName="ep",
                DesiredWeightsAndCapacities=[{"VariantName": "green", "DesiredWeight": 1.0}],
            )
        elif second == "config":
            sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
        else:
            sm.delete_endpoint(EndpointName="ep")
    assert _error(excinfo) == ("ValidationException", f'Cannot update in-progress endpoint "{ARN}".')


def test_config_update_shows_the_pending_config_until_it_settles(aws, sm, endpoint):
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
    updating = sm.describe_endpoint(EndpointName="ep")
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == "cfg-a"  # still serving the old config
    pending = updating["PendingDeploymentSummary"]
    assert pending["EndpointConfigName"] == "cfg-b"
    assert [(v["VariantName"], v["DesiredWeight"]) for v in pending["ProductionVariants"]] == [
        ("blue", 0.5),
        ("green", 0.5),
    ]
    advance_endpoint(aws, "ep", "InService")
    settled = sm.describe_endpoint(EndpointName="ep")
    assert settled["EndpointConfigName"] == "cfg-b" and "PendingDeploymentSummary" not in settled
    assert _weights(sm) == {"blue": 0.5, "green": 0.5}


def test_unknown_variant_in_a_weight_change_is_refused(sm, endpoint):
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "red", "DesiredWeight": 1.0}]
        )
    assert _error(excinfo)[0] == "ValidationException" and '"red"' in _error(excinfo)[1]


def test_system_updating_is_injected_refuses_changes_and_ends(aws, sm, endpoint):
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "SystemUpdating"
    with pytest.raises(ClientError) as excinfo:
        sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
    assert _error(excinfo)[1] == f'Cannot update in-progress endpoint "{ARN}".'
    assert advance_endpoint(aws, "ep", "InService") == ["SystemUpdating", "InService"]


def test_a_failed_endpoint_accepts_only_a_delete(aws, sm, endpoint):
    aws.set_endpoint_state("ep", status="Failed", failure_reason="The primary container did not pass ping")
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointStatus"] == "Failed"
    assert described["FailureReason"] == "The primary container did not pass ping"
    for change in (
        lambda: sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-b"),
        lambda: sm.update_endpoint_weights_and_capacities(
            EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "green", "DesiredWeight": 1.0}]
        ),
    ):
        with pytest.raises(ClientError) as excinfo:
            change()
        assert _error(excinfo) == ("ValidationException", f'Cannot update failed endpoint "{ARN}".')
    sm.delete_endpoint(EndpointName="ep")
    assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
    assert "Cannot create already existing endpoint" in _error(excinfo)[1]
    advance_endpoint(aws, "ep", None)  # gone
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
    assert advance_endpoint(aws, "ep", "InService") == ["Creating", "InService"]


def test_an_injected_create_failure_ends_failed_with_its_reason(aws, sm, configs):
    aws.set_endpoint_state("ep", fail_next="Image could not be pulled")
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
    assert advance_endpoint(aws, "ep", "Failed") == ["Creating", "Failed"]
    assert sm.describe_endpoint(EndpointName="ep")["FailureReason"] == "Image could not be pulled"


def test_an_injected_update_failure_rolls_back_to_the_old_config(aws, sm, endpoint):
    aws.set_endpoint_state("ep", fail_next="Health check failed on the new fleet")
    sm.update_endpoint(EndpointName="ep", EndpointConfigName="cfg-b")
    seen = advance_endpoint(aws, "ep", "InService")
    assert seen[:2] == ["Updating", "RollingBack"]
    described = sm.describe_endpoint(EndpointName="ep")
    assert described["EndpointConfigName"] == "cfg-a"
    assert described["FailureReason"] == "Health check failed on the new fleet"


def test_delete_while_creating_is_refused(sm, configs):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
    with pytest.raises(ClientError) as excinfo:
        sm.delete_endpoint(EndpointName="ep")
    assert _error(excinfo)[1] == f'Cannot update in-progress endpoint "{ARN}".'


def test_listing_reports_settled_states(aws, sm, configs):
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
    assert [e["EndpointStatus"] for e in sm.list_endpoints()["Endpoints"]] == ["Creating"]
    advance_endpoint(aws, "ep", "InService")
    assert [e["EndpointStatus"] for e in sm.list_endpoints()["Endpoints"]] == ["InService"]


def test_transition_time_is_configurable(aws, sm, configs):
    before = aws.settings()["transition_seconds"]
    try:
        assert aws.settings(transition_seconds=30)["transition_seconds"] == 30
        sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg-a")
        assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
        aws.settings(transition_seconds=0)
        sm.create_endpoint(EndpointName="ep2", EndpointConfigName="cfg-b")
        assert sm.describe_endpoint(EndpointName="ep2")["EndpointStatus"] == "InService"
        # A transition under way keeps the time it started with.
        assert sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "Creating"
    finally:
        aws.settings(transition_seconds=before)
    with pytest.raises(RuntimeError, match="transition_seconds must be a number"):
        aws.settings(transition_seconds=-1)
