"""The approval race of Airflow 3.3.2 (docs/hitl-race.md), end to end on the live stack.

The first tests make the race happen every time: the ``LateExitLocalExecutor`` (tests/e2e/late_exit.py)
reports the parked try's exit only once the answer has resumed it, the order a busy machine produces by
chance. Plain ``ApprovalOperator`` then fails after a correct answer, on Airflow's own code path; the
provider's operators apply that answer on the next try, once. The last test answers at several delays on
Airflow's LocalExecutor and on compose's CeleryExecutor, with no arranged order: every run succeeds and
every version carries one decision.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from airflow_modelreg.testing.approver import PendingRequest, ScriptedApprover
from tests.e2e.late_exit import marker_name
from tests.e2e.live_rest import (
    clear,
    event_logs,
    hitl_detail,
    task_instance,
    trigger,
    unpause,
    wait_run,
    xcom,
)
from tests.helpers import put_artifact, register_operator

# One live Airflow per session: every e2e test runs on the same xdist worker (make test's --dist loadgroup).
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]

STALE_REPORT = "finished with state success, but the task instance's state attribute is"


def answer_after_the_parked_exit(
    live_airflow, bob: ScriptedApprover, dag_id: str, run_id: str
) -> PendingRequest:
    """Wait for the request, then for the parked try's exit (held by the executor), then approve."""
    request = bob.wait_for(dag_id, timeout=180)
    assert request.run_id == run_id
    marker = live_airflow.late_exit_markers / marker_name(dag_id, run_id, "approve", 1)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert time.monotonic() < deadline, "the parked try's worker never exited"
        time.sleep(0.1)
    bob.approve(request, reason="ship it")
    return request


def test_airflow_fails_a_plain_approval_when_the_parked_tries_exit_is_read_after_the_answer(
    live_airflow, rest
):
    dag_id = "plain_approval_late_exit"
    run_id = trigger(rest, dag_id, {})
    answer_after_the_parked_exit(live_airflow, rest.approver("bob"), dag_id, run_id)

    assert wait_run(rest, dag_id, run_id) == "failed"
    # The answer was taken and recorded...
    detail = hitl_detail(rest, dag_id, run_id, "approve")
    assert detail["response_received"] and detail["chosen_options"] == ["Approve"]
    assert detail["responded_by_user"]["name"] == "bob"
    # ...and the scheduler failed the resumed try on the parked try's report (scheduler_job_runner.py).
    mismatches = event_logs(rest, dag_id, run_id, "state mismatch")
    assert len(mismatches) == 1 and STALE_REPORT in mismatches[0]["extra"]
    assert task_instance(rest, dag_id, run_id, "approve")["try_number"] == 1


def test_a_governed_approval_applies_that_answer_on_its_next_try_without_asking_again(live_airflow, rest):
    dag_id = "governed_approval_late_exit"
    run_id = trigger(rest, dag_id, {})
    bob = rest.approver("bob")
    request = answer_after_the_parked_exit(live_airflow, bob, dag_id, run_id)

    assert wait_run(rest, dag_id, run_id) == "success"
    # The race happened (and can happen once more: the resumed try's workload may start as the retry).
    assert len(event_logs(rest, dag_id, run_id, "state mismatch")) >= 1
    assert task_instance(rest, dag_id, run_id, "approve")["try_number"] >= 2
    # The second try completed with bob's answer: nobody was asked again, the answer was not cleared.
    result = xcom(rest, dag_id, run_id, "approve")
    assert result["chosen_options"] == ["Approve"] and result["responded_by_user"]["name"] == "bob"
    detail = hitl_detail(rest, dag_id, run_id, "approve")
    assert detail["response_received"] and detail["responded_by_user"]["name"] == "bob"
    assert request.run_id not in {pending.run_id for pending in bob.pending(dag_id)}


def test_a_registry_approval_hit_by_the_race_records_one_decision(
    live_airflow, rest, aws, bucket, make_context
):
    version = register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())
    writes_before = aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0)
    dag_id = "approve_version_late_exit"
    run_id = trigger(rest, dag_id, {"arn": version["arn"]})
    answer_after_the_parked_exit(live_airflow, rest.approver("bob"), dag_id, run_id)

    assert wait_run(rest, dag_id, run_id) == "success"
    assert len(event_logs(rest, dag_id, run_id, "state mismatch")) >= 1
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "by bob" in described["ApprovalDescription"] and "ship it" in described["ApprovalDescription"]
    assert aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0) - writes_before == 1
    assert xcom(rest, dag_id, run_id, "approve")["decision"]["by"]["name"] == "bob"


def test_a_task_cleared_after_a_reject_failed_it_asks_again_and_takes_the_new_answer(live_airflow, rest):
    dag_id = "governed_approval_fail_on_reject"
    run_id = trigger(rest, dag_id, {})
    bob = rest.approver("bob")
    request = bob.wait_for(dag_id, timeout=180)
    assert request.run_id == run_id
    bob.reject(request, reason="not this one")
    assert wait_run(rest, dag_id, run_id) == "failed"
    rejected_in = task_instance(rest, dag_id, run_id, "approve")
    assert rejected_in["state"] == "failed"

    # A person clears the failed task to ask again: the recorded Reject must not be applied a second time.
    clear(rest, dag_id, run_id, ["approve"])
    again = bob.wait_for(dag_id, timeout=180)
    assert again.run_id == run_id
    assert task_instance(rest, dag_id, run_id, "approve")["try_number"] > rejected_in["try_number"]
    bob.approve(again, reason="now it is")

    assert wait_run(rest, dag_id, run_id) == "success"
    result = xcom(rest, dag_id, run_id, "approve")
    assert result["chosen_options"] == ["Approve"] and result["responded_by_user"]["name"] == "bob"


def test_without_the_api_connection_a_retry_after_the_race_refuses_to_clear_the_answer(live_airflow, rest):
    dag_id = "governed_approval_late_exit_no_api"
    run_id = trigger(rest, dag_id, {})
    answer_after_the_parked_exit(live_airflow, rest.approver("bob"), dag_id, run_id)

    # The race failed the resumed try; the next one (whatever try number its workload carries) cannot read
    # the answer and must not ask again, which would clear it: it fails, and the answer stays for later.
    assert wait_run(rest, dag_id, run_id) == "failed"
    assert len(event_logs(rest, dag_id, run_id, "state mismatch")) >= 1
    detail = hitl_detail(rest, dag_id, run_id, "approve")
    assert detail["response_received"] and detail["chosen_options"] == ["Approve"]
    assert detail["responded_by_user"]["name"] == "bob"


def test_a_recorded_reject_skips_what_follows_again_after_a_clear(
    live_airflow, rest, aws, bucket, make_context
):
    version = register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())
    writes_before = aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0)
    dag_id = "approve_version_then_continue"
    run_id = trigger(rest, dag_id, {"arn": version["arn"]})
    bob = rest.approver("bob")
    request = bob.wait_for(dag_id, timeout=180)
    assert request.run_id == run_id
    bob.reject(request, reason="not this one")
    assert wait_run(rest, dag_id, run_id) == "success"
    assert task_instance(rest, dag_id, run_id, "after_approval")["state"] == "skipped"

    # Clearing the approval and what follows: the registry holds this run's Reject; it ends the same way.
    clear(rest, dag_id, run_id, ["approve"], include_downstream=True)
    assert wait_run(rest, dag_id, run_id) == "success"
    assert task_instance(rest, dag_id, run_id, "approve")["try_number"] >= 2
    assert task_instance(rest, dag_id, run_id, "after_approval")["state"] == "skipped"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=version["arn"])
    assert (
        described["ModelApprovalStatus"] == "Rejected" and "not this one" in described["ApprovalDescription"]
    )
    assert aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0) - writes_before == 1


DELAYS = (0.0, 0.5, 1.0, 3.0)


def answer_each_at_its_delay(
    bob: ScriptedApprover, dag_id: str, delays: dict[str, float], timeout: float
) -> None:
    """Approve each run's request ``delays[run_id]`` seconds after it was first seen awaiting input, once."""
    due: dict[str, tuple[float, PendingRequest]] = {}
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(answered) < len(delays):
        assert time.monotonic() < deadline, f"{len(delays) - len(answered)} requests never got their answer"
        for request in bob.pending(dag_id):
            if request.run_id in answered and request.run_id in delays:
                raise AssertionError(f"{request.run_id} asked again after it was answered")
            if request.run_id in delays and request.run_id not in due and request.state == "awaiting_input":
                due[request.run_id] = (request.seen_at + delays[request.run_id], request)
        for run_id, (at, request) in due.items():
            if run_id not in answered and time.monotonic() >= at:
                bob.approve(request, reason=f"answered {delays[run_id]}s after the request")
                answered.add(run_id)
        time.sleep(0.05)


@pytest.mark.parametrize(
    "dag_id", ["approve_version_local", "approve_version"], ids=["LocalExecutor", "CeleryExecutor"]
)
def test_answers_at_any_moment_after_the_request_are_applied_exactly_once(
    live_airflow, rest, aws, bucket, make_context, dag_id, request
):
    runs_per_delay = request.config.getoption("--approval-timing-runs")
    artifact = put_artifact(aws, bucket)
    versions = [
        register_operator(artifact, registered_by="alice").execute(make_context(run_id=f"manual__timing-{n}"))
        for n in range(len(DELAYS) * runs_per_delay)
    ]
    writes_before = aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0)
    auth = unpause(rest, dag_id)
    delays: dict[str, float] = {}
    arns: dict[str, str] = {}
    for number, version in enumerate(versions):
        response = rest.post(
            f"/api/v2/dags/{dag_id}/dagRuns",
            json={"logical_date": None, "conf": {"arn": version["arn"], "approvers": ["bob"]}},
            headers=auth,
        )
        assert response.status_code == 200, response.text
        run_id = response.json()["dag_run_id"]
        delays[run_id] = DELAYS[number % len(DELAYS)]
        arns[run_id] = version["arn"]

    answer_each_at_its_delay(rest.approver("bob"), dag_id, delays, timeout=600)

    outcomes: dict[str, Any] = {run_id: wait_run(rest, dag_id, run_id, timeout=300) for run_id in delays}
    assert [run for run, state in outcomes.items() if state != "success"] == []
    sagemaker = aws.boto3_client("sagemaker")
    for run_id, arn in arns.items():
        described = sagemaker.describe_model_package(ModelPackageName=arn)
        assert described["ModelApprovalStatus"] == "Approved"
        assert f"answered {delays[run_id]}s after the request" in described["ApprovalDescription"]
    assert aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0) - writes_before == len(versions)
    # How often Airflow's race struck (the runs above succeeded all the same), for the record.
    tries = Counter(task_instance(rest, dag_id, run_id, "approve")["try_number"] for run_id in delays)
    hit = sum(1 for run_id in delays if event_logs(rest, dag_id, run_id, "state mismatch"))
    print(f"\n{dag_id}: {len(delays)} runs succeeded, {hit} hit by the race; tries per run: {dict(tries)}")
