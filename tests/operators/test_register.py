"""RegisterModelVersionOperator against the stand-in: idempotency, lineage, digest, gate, bad input."""

from __future__ import annotations

import hashlib
import json

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.quality_gate import QualityGate
from airflow_modelreg.hooks.audit_log import AuditLogHook
from tests.helpers import IMAGE, LADDER, put_artifact, register_operator, write_calls


def _versions(aws, group="churn"):
    return aws.boto3_client("sagemaker").list_model_packages(ModelPackageGroupName=group)[
        "ModelPackageSummaryList"
    ]


def test_register_creates_pending_version_with_lineage_metrics_and_digest(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket, body=b"weights" * 1000)
    result = register_operator(artifact, group_description="Churn propensity").execute(make_context())

    assert result["status"] == "PendingManualApproval"
    assert result["version"] == 1
    assert result["digest"] == hashlib.sha256(b"weights" * 1000).hexdigest()
    assert result["metrics"] == {"auc": 0.91, "accuracy": 0.88}
    json.dumps(result)  # XCom-serialisable

    sm = aws.boto3_client("sagemaker")
    group = sm.describe_model_package_group(ModelPackageGroupName="churn")
    assert group["ModelPackageGroupDescription"] == "Churn propensity"
    version = sm.describe_model_package(ModelPackageName=result["arn"])
    container = version["InferenceSpecification"]["Containers"][0]
    assert container == {"Image": IMAGE, "ModelDataUrl": artifact}
    assert version["MetadataProperties"]["CommitId"] == "3f2a9c1"
    assert version["MetadataProperties"]["GeneratedBy"].startswith("airflow:train_and_register/manual__")
    props = version["CustomerMetadataProperties"]
    assert props[md.REGISTERED_BY] == "alice"
    assert props[md.ARTIFACT_SHA256] == result["digest"]
    report_uri = version["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    bucket_name, key = report_uri.removeprefix("s3://").split("/", 1)
    report = json.loads(aws.boto3_client("s3").get_object(Bucket=bucket_name, Key=key)["Body"].read())
    assert report == {"metrics": {"auc": {"value": 0.91}, "accuracy": {"value": 0.88}}}


def test_retry_of_the_same_dag_run_returns_the_first_version(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    first = register_operator(artifact).execute(make_context())
    retry = register_operator(artifact).execute(make_context(try_number=2))
    assert retry["arn"] == first["arn"]
    assert len(_versions(aws)) == 1
    other_run = register_operator(artifact).execute(make_context(run_id="manual__2026-11-24T00:00:00+00:00"))
    assert other_run["version"] == 2


def test_a_retry_finds_the_first_version_in_a_few_calls_whatever_the_group_size(aws, bucket, make_context):
    for index in range(8):
        register_operator(put_artifact(aws, bucket, key=f"old/{index}", body=f"{index}".encode())).execute(
            make_context(run_id=f"older-{index}")
        )
    artifact = put_artifact(aws, bucket)
    first = register_operator(artifact).execute(make_context())
    aws.reset_calls()
    retry = register_operator(artifact).execute(make_context(try_number=2))
    assert retry["arn"] == first["arn"]
    calls = aws.calls()
    assert calls.get("sagemaker:DescribeModelPackage", 0) <= 1  # never one describe per recent version
    assert "sagemaker:ListModelPackages" not in calls
    assert len(_versions(aws)) == 9


def test_client_token_covers_a_crash_before_the_audit_event(aws, bucket, make_context):
    """The first try created the version and stopped before its audit event: the retry gets the same
    version back through the ClientToken, records it once, and creates nothing more."""
    artifact = put_artifact(aws, bucket)
    aws.inject_faults(
        rate=1.0, kinds=["deny"], services=["s3"], writes_only=True, body_contains='"registered"'
    )
    with pytest.raises(Exception, match="AccessDenied"):
        register_operator(artifact).execute(make_context())
    aws.clear_faults()
    assert len(_versions(aws)) == 1
    retry = register_operator(artifact).execute(make_context(try_number=2))
    assert len(_versions(aws)) == 1 and retry["version"] == 1
    registered = AuditLogHook(log_uri=LADDER["audit_log"]).events("churn", kind="registered")
    assert [e["arn"] for e in registered] == [retry["arn"]]


@pytest.mark.parametrize(
    "change", ["new bytes at the same URI", "another artifact", "other metrics", "no metrics at all"]
)
def test_a_retry_with_other_inputs_is_refused(aws, bucket, make_context, change):
    artifact = put_artifact(aws, bucket)
    first = register_operator(artifact).execute(make_context())
    kwargs = {}
    if change == "new bytes at the same URI":
        put_artifact(aws, bucket, body=b"retrained")
    elif change == "another artifact":
        artifact = put_artifact(aws, bucket, key="churn/other/model.tar.gz", body=b"retrained")
    elif change == "other metrics":
        kwargs["metrics"] = {"auc": 0.5, "accuracy": 0.5}
    else:  # the evaluation produced nothing this time: not the version registered with metrics
        kwargs["metrics"] = None
    with pytest.raises(AirflowFailException, match="inputs differ"):
        register_operator(artifact, **kwargs).execute(make_context(try_number=2))
    assert [v["ModelPackageArn"] for v in _versions(aws)] == [first["arn"]]


def test_lineage_is_recorded_and_reserved_keys_are_refused(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    result = register_operator(
        artifact, lineage={"reason": "drift detected", "drift-report": ""}, custom_metadata={"team": "growth"}
    ).execute(make_context())
    props = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=result["arn"])[
        "CustomerMetadataProperties"
    ]
    assert props["modelreg:lineage:reason"] == "drift detected" and props["team"] == "growth"
    assert "modelreg:lineage:drift-report" not in props  # empty means none
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="reserved prefix"):
        register_operator(artifact, custom_metadata={"modelreg:lineage:reason": "x"}).execute(
            make_context(run_id="other")
        )
    assert {c for c in write_calls(aws) if not c.startswith("s3:PUT /modelreg-audit/")} == set()


def test_evaluation_report_from_s3(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    aws.boto3_client("s3").put_object(
        Bucket=bucket,
        Key="eval/report.json",
        Body=json.dumps(
            {"binary_classification_metrics": {"auc": {"value": 0.93, "standard_deviation": 0.01}}}
        ),
    )
    result = register_operator(
        artifact, metrics=None, evaluation_report_uri=f"s3://{bucket}/eval/report.json"
    ).execute(make_context())
    assert result["metrics"] == {"auc": 0.93}


def test_gate_failure_registers_rejected_with_the_reason(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    gate = QualityGate(minimums={"auc": 0.95})
    result = register_operator(artifact, quality_gate=gate).execute(make_context())
    assert result["status"] == "Rejected"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=result["arn"])
    assert "auc=0.91 is below the minimum 0.95" in described["ApprovalDescription"]


def test_gate_failure_can_refuse_to_register(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match="not registered"):
        register_operator(artifact, quality_gate={"minimums": {"auc": 0.95}}, on_gate_failure="fail").execute(
            make_context()
        )
    assert write_calls(aws) == {}


def test_gate_must_beat_the_approved_version(aws, bucket, make_context):
    artifact = put_artifact(aws, bucket)
    first = register_operator(artifact).execute(make_context())
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=first["arn"], ModelApprovalStatus="Approved"
    )
    gate = {"must_beat_approved_by": {"auc": 0.02}}
    worse = register_operator(artifact, metrics={"auc": 0.92}, quality_gate=gate).execute(
        make_context(run_id="r2")
    )
    better = register_operator(artifact, metrics={"auc": 0.95}, quality_gate=gate).execute(
        make_context(run_id="r3")
    )
    assert worse["status"] == "Rejected"
    assert "does not beat the approved 0.91 by 0.02" in worse["quality_gate"]
    assert better["status"] == "PendingManualApproval"
