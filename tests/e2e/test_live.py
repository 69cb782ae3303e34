"""End to end on a real Airflow: DAG runs triggered and approvals answered through the REST API, deferred
sensors resumed by the triggerer process, and the approval page driven in headless Chromium."""

from __future__ import annotations

import time
from contextlib import contextmanager
from urllib.parse import quote

import pytest

from airflow_modelreg.testing.harness import USERS
from tests.e2e.browser import CHROMIUM, NO_CHROMIUM, Screenshots, chromium_page
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


@contextmanager
def required_action_page(live_airflow, dag_id: str, run_id: str, user: str):
    """Chromium on the Required Action page of ``dag_id``'s ``approve`` task in ``run_id``, signed in as
    ``user`` (through the login page, as a person arriving from the request's link)."""
    link = (
        f"{live_airflow.base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/approve/required_actions"
    )
    with chromium_page() as page:
        log_in(page, live_airflow.base_url, user, USERS[user], then=link)
        page.wait_for_url("**/required_actions**", timeout=30000)
        yield page


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_an_approver_approves_in_the_airflow_ui(live_airflow, rest, aws, pending_version, request):
    shots = Screenshots(request.node.name)  # before ``request`` names the approval request below
    run_id = _trigger(rest, "approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]})
    bob = rest.approver("bob")
    request = bob.wait_for("approve_version", timeout=120)
    with required_action_page(live_airflow, "approve_version", run_id, "bob") as page:
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
        page.locator("#element_modelreg_reason").fill("looks right in the UI")
        approve.click()
        shots.take(page, "after-approve")
    assert _wait_run(rest, "approve_version", run_id) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "by bob" in described["ApprovalDescription"]
    assert "looks right in the UI" in described["ApprovalDescription"]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_a_runs_reason_param_is_not_in_the_approvers_reason_box(live_airflow, rest, pending_version, request):
    """train_and_register's runs carry a ``reason`` param: the approver's Reason box still starts empty, and
    Approve stays disabled until they type."""
    shots = Screenshots(request.node.name)  # before ``request`` names the approval request below
    dag_id = "approve_with_reason_param"
    conf = {"arn": pending_version["arn"], "approvers": ["bob"], "reason": "scheduled training"}
    run_id = _trigger(rest, dag_id, conf)
    request = rest.approver("bob").wait_for(dag_id, timeout=120)
    with required_action_page(live_airflow, dag_id, run_id, "bob") as page:
        page.get_by_text(request.subject).first.wait_for(timeout=30000)
        reason = page.locator("#element_modelreg_reason")
        assert reason.input_value() == ""
        assert page.get_by_text("scheduled training").count() == 0
        assert page.get_by_test_id("hitl-option-Approve").is_disabled()
        shots.take(page, "reason-param")
        page.get_by_test_id("hitl-option-Reject").wait_for()
    # Leave the request answered (a reject, through the REST API), so the run ends.
    rest.approver("bob").reject(request, reason="checked the empty form")
    assert _wait_run(rest, dag_id, run_id) in ("success", "failed")
