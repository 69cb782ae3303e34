"""End to end on a real Airflow: DAG runs triggered and approvals answered through the REST API, deferred
sensors resumed by the triggerer process, and the approval page driven in headless Chromium."""

from __future__ import annotations

import shutil
import time
from urllib.parse import quote

import pytest

from airflow_modelreg.testing.harness import USERS
from tests.e2e.live_rest import log_in, task_instance
from tests.e2e.live_rest import trigger as _trigger
from tests.e2e.live_rest import wait_run as _wait_run
from tests.helpers import put_artifact, register_operator

# One live Airflow per session: every e2e test runs on the same xdist worker (make test's --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]


def _task_state(rest, dag_id, run_id, task_id):
    return task_instance(rest, dag_id, run_id, task_id)["state"]


@pytest.fixture
def pending_version(aws, bucket, make_context):
    return register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())


def test_approval_through_the_rest_api_lands_in_the_registry(live_airflow, rest, aws, pending_version):
    run_id = _trigger(rest, "approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]})
    bob = rest.approver("bob")
    request = bob.wait_for("approve_version", timeout=120)
    assert request.run_id == run_id
    bob.approve(request, reason="reviewed live")
    assert _wait_run(rest, "approve_version", run_id) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert (
        "by bob" in described["ApprovalDescription"] and "reviewed live" in described["ApprovalDescription"]
    )


def test_deferred_sensor_resumes_in_the_triggerer(live_airflow, rest, aws, pending_version):
    run_id = _trigger(rest, "wait_for_decision", {"arn": pending_version["arn"]})
    deadline = time.monotonic() + 90
    while _task_state(rest, "wait_for_decision", run_id, "wait") != "deferred":
        assert time.monotonic() < deadline, "the sensor never deferred"
        time.sleep(1)
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=pending_version["arn"], ModelApprovalStatus="Approved", ApprovalDescription="via CLI"
    )
    # Deferred, then done: only the triggerer process could have resumed it.
    assert _wait_run(rest, "wait_for_decision", run_id) == "success"


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install chromium)")
def test_an_approver_approves_in_the_airflow_ui(live_airflow, rest, aws, pending_version, tmp_path):
    from playwright.sync_api import sync_playwright

    run_id = _trigger(rest, "approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]})
    bob = rest.approver("bob")
    request = bob.wait_for("approve_version", timeout=120)
    link = f"{live_airflow.base_url}/dags/approve_version/runs/{quote(run_id, safe='')}/tasks/approve/required_actions"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        page = browser.new_page()
        log_in(page, live_airflow.base_url, "bob", USERS["bob"], then=link)
        page.wait_for_url("**/required_actions**", timeout=30000)
        # What the approver sees: the subject and the version card with metrics, digest and registrant.
        page.get_by_text(request.subject).first.wait_for(timeout=30000)
        for shown in (
            "Registered by",
            "alice",
            "auc",
            pending_version["digest"],
            "Open in the model registry",
        ):
            assert page.get_by_text(shown).first.is_visible(), f"{shown!r} is not on the approval page"
        approve = page.get_by_test_id("hitl-option-Approve")
        assert approve.is_disabled()  # a decision needs a reason
        page.locator("#element_reason").fill("looks right in the UI")
        approve.click()
        page.screenshot(path=str(tmp_path / "after-approve.png"), full_page=True)
        browser.close()
    assert _wait_run(rest, "approve_version", run_id) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "by bob" in described["ApprovalDescription"]
    assert "looks right in the UI" in described["ApprovalDescription"]
