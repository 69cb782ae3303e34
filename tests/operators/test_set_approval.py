"""SetModelApprovalOperator: automated decisions, recorded with their reason."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from tests.helpers import LADDER, put_artifact, register_operator

AUTOMATION = {**LADDER, "automated_registration_approval": True}


@pytest.fixture
def version(aws, bucket, make_context):
    return register_operator(put_artifact(aws, bucket), metrics={"auc": 0.7}).execute(make_context())


def _describe(aws, arn):
    return aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)


def test_gate_rejects_below_threshold(aws, version, make_context):
    op = SetModelApprovalOperator(
        task_id="gate",
        model_package_arn=version["arn"],
        quality_gate={"minimums": {"auc": 0.8}},
        ladder=LADDER,
    )
    result = op.execute(make_context(task_id="gate"))
    assert result["status"] == "Rejected"
    described = _describe(aws, version["arn"])
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "auc=0.7 is below the minimum 0.8" in described["ApprovalDescription"]
    assert "by airflow:train_and_register" in described["ApprovalDescription"]


def test_passing_gate_leaves_the_version_for_a_person(aws, version, make_context):
    op = SetModelApprovalOperator(
        task_id="gate",
        model_package_arn=version["arn"],
        quality_gate={"minimums": {"auc": 0.5}},
        ladder=LADDER,
    )
    assert op.execute(make_context(task_id="gate"))["decision"] is None
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"


def test_explicit_status_with_reason(aws, version, make_context):
    op = SetModelApprovalOperator(
        task_id="set", model_package_arn=version["arn"], status="Rejected", reason="superseded", ladder=LADDER
    )
    op.execute(make_context(task_id="set"))
    assert "Reason: superseded" in _describe(aws, version["arn"])["ApprovalDescription"]


def test_automated_approval_only_where_the_ladder_allows_it(aws, version, make_context):
    def approve(ladder):
        return SetModelApprovalOperator(
            task_id="gate",
            model_package_arn=version["arn"],
            quality_gate={"minimums": {"auc": 0.5}},
            approve_on_pass=True,
            ladder=ladder,
        ).execute(make_context(task_id="gate"))

    with pytest.raises(AirflowFailException, match="does not allow automated approval"):
        approve(LADDER)
    assert _describe(aws, version["arn"])["ModelApprovalStatus"] == "PendingManualApproval"
    assert approve(AUTOMATION)["status"] == "Approved"
    assert "Approved by airflow:train_and_register" in _describe(aws, version["arn"])["ApprovalDescription"]
