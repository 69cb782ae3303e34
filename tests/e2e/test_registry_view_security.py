"""The security review of issue 14, on the live stack (the review's probes, adopted): the drift-report route of
the real API server reads no object a drift verdict does not name, and a missing one is a 404; an answer with
a blank reason through Airflow's REST API decides nothing; the audit CSV download neutralises formulas.

The stand-in tests say the same in more detail (``tests/plugins/test_drift_report_route.py``,
``tests/operators/test_approval.py``, ``tests/test_cli.py``); these check it through Airflow's own server."""

from __future__ import annotations

import contextlib
import csv
import io
import time

import pytest

from airflow_modelreg import registry_view_paths as paths
from tests.e2e.live_rest import headers, run_path, trigger, wait_run
from tests.helpers import AUDIT_BUCKET, put_artifact, register_operator

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]

LADDER = {
    "registration_approvers": ["bob"],
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "prod", "approvers": ["dave"], "endpoints": ["churn-prod"]},
    ],
}
DAG_ID = "approve_with_reason_param"


@pytest.fixture
def ladder(live_ladder_variable):
    return live_ladder_variable(LADDER)


@pytest.fixture
def pending_version(aws, bucket, make_context):
    return register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())


def answer(rest, run_id: str, reason: str) -> None:
    """bob answers Approve with ``reason`` through the HITL REST API once the task waits for him."""
    task = f"{run_path(DAG_ID, run_id)}/taskInstances/approve"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if rest.get(task, headers=headers(rest)).json().get("state") == "awaiting_input":
            break
        time.sleep(1)
    response = rest.patch(
        f"{task}/-1/hitlDetails",
        json={"chosen_options": ["Approve"], "params_input": {"modelreg_reason": reason}},
        headers=headers(rest, "bob"),
    )
    assert response.status_code == 200, response.text


def test_the_drift_report_route_reads_no_object_a_verdict_does_not_name(rest, ladder, aws):
    s3 = aws.boto3_client("s3")
    with contextlib.suppress(Exception):
        s3.create_bucket(Bucket="other-team-bucket")
    s3.put_object(Bucket="other-team-bucket", Key="secret/drift_report.json", Body=b'{"secret": 1}')
    planted = b'<meta http-equiv="refresh" content="0;url=https://evil.example/">'
    s3.put_object(Bucket=AUDIT_BUCKET, Key="log/drift_report.html", Body=planted)
    bob = headers(rest, "bob")
    for uri in (
        "s3://other-team-bucket/secret/drift_report.json",
        f"s3://{AUDIT_BUCKET}/log/drift_report.html",
        f"s3://{AUDIT_BUCKET}/nope/drift_report.json",  # missing: a 404 page, not a 500
    ):
        got = rest.get(paths.drift_report_page(uri), headers=bob)
        assert got.status_code == 404, (uri, got.status_code, got.text[:200])
        assert "secret" not in got.text.replace("secret/", "") and "evil.example" not in got.text


def test_a_blank_reason_through_the_rest_api_decides_nothing(rest, ladder, aws, pending_version):
    run_id = trigger(rest, DAG_ID, {"arn": pending_version["arn"], "approvers": ["bob"], "reason": "x"})
    answer(rest, run_id, "   ")
    assert wait_run(rest, DAG_ID, run_id) == "failed"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert described["ModelApprovalStatus"] == "PendingManualApproval", described.get("ApprovalDescription")


def test_the_audit_csv_download_neutralises_a_formula_in_a_reason(rest, ladder, aws, pending_version):
    formula = '=HYPERLINK("http://evil.example","click")'
    run_id = trigger(rest, DAG_ID, {"arn": pending_version["arn"], "approvers": ["bob"], "reason": "x"})
    answer(rest, run_id, formula)
    assert wait_run(rest, DAG_ID, run_id) == "success"
    version = int(pending_version["arn"].rsplit("/", 1)[1])
    download = rest.get(paths.audit_csv("churn", version=version), headers=headers(rest, "bob"))
    reasons = [
        row["reason"] for row in csv.DictReader(io.StringIO(download.text)) if row["event"] == "decided"
    ]
    assert reasons == ["'" + formula], download.text[-400:]
