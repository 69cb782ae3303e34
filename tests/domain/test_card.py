"""The version card an approver reads in the Airflow UI (and by email): what it says, and how it says it."""

from __future__ import annotations

from airflow_modelreg.domain.versions import CardContext, version_card

VERSION = {
    "ModelPackageGroupName": "churn",
    "ModelPackageVersion": 3,
    "ModelPackageArn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/3",
    "ModelApprovalStatus": "PendingManualApproval",
    "MetadataProperties": {"CommitId": "3f2a9c1", "Repository": "https://git.example.com/ml/churn"},
    "CustomerMetadataProperties": {
        "modelreg:registered-by": "alice",
        "modelreg:registered-at": "2026-12-05T10:00:00+00:00",
        "modelreg:artifact-uri": "s3://modelreg-demo/churn/manual run/model.tar.gz",
        "modelreg:artifact-sha256": "ab" * 32,
        "modelreg:metric:auc": "0.91",
        "modelreg:quality-gate": "Quality gate passed",
        "modelreg:lineage:drift-report": "s3://modelreg-demo/drift-reports/r1.json",
        "modelreg:lineage:reason": "drift detected",
    },
}
ASKED = CardContext(environment=None, may_decide=["bob", "carol"], registrants=["alice"])


def card(context=ASKED, region="eu-west-1"):
    return version_card(
        VERSION, None, registry_url="https://console.aws.amazon.com/x", context=context, region=region
    )


def test_the_card_states_no_status_that_a_decision_makes_stale():
    """The card stays on the Required Action page after the answer: a status in it is wrong from then on
    (Airflow shows the answer, who gave it and when, beside it)."""
    text = card()
    assert "PendingManualApproval" not in text and "Status" not in text
    assert "Registered by **alice** at 2026-12-05T10:00:00+00:00" in text


def test_the_card_says_who_may_answer_and_that_anyone_else_is_refused():
    text = card()
    assert "**Who may decide:** bob, carol." in text
    assert "Airflow refuses an answer from anyone else" in text
    assert "The registrant (alice) may not approve." in text


def test_the_quality_gate_is_named_once():
    text = card()
    assert "Quality gate: passed" in text
    assert "Quality gate: Quality gate" not in text


def test_s3_locations_link_to_the_object_in_the_s3_console():
    text = card()
    artifact = (
        "https://eu-west-1.console.aws.amazon.com/s3/object/modelreg-demo?region=eu-west-1"
        "&prefix=churn/manual%20run/model.tar.gz"
    )
    report = (
        "https://eu-west-1.console.aws.amazon.com/s3/object/modelreg-demo?region=eu-west-1"
        "&prefix=drift-reports/r1.json"
    )
    assert f"`s3://modelreg-demo/churn/manual run/model.tar.gz` ([open in S3]({artifact}))" in text
    assert f"`s3://modelreg-demo/drift-reports/r1.json` ([open in S3]({report}))" in text
    assert "`drift detected`" in text  # other lineage stays text


def test_without_a_region_the_console_picks_one_and_odd_locations_stay_text():
    assert "https://console.aws.amazon.com/s3/object/modelreg-demo?prefix=drift-reports/r1.json" in card(
        region=None
    )
    odd = {**VERSION, "CustomerMetadataProperties": {"modelreg:artifact-uri": "s3://b/k)[x](javascript:1)"}}
    text = version_card(odd, None, context=ASKED, region="us-east-1")
    assert "javascript:1)" not in text.replace("`s3://b/k)[x](javascript:1)`", "")
