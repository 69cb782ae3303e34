"""The in-process harness never leaves a test waiting forever for an answer nobody will give."""

from __future__ import annotations

import time

import pytest

from airflow_modelreg.testing import harness
from tests.helpers import LADDER, put_artifact, register_operator


@pytest.fixture
def pending_version(airflow, aws, bucket, make_context, ladder_variable):
    ladder_variable(LADDER)
    return register_operator(put_artifact(aws, bucket)).execute(make_context())


def test_a_side_that_fails_before_the_request_exists_still_ends_the_run(airflow, pending_version):
    """An approver that fails at once (a server error while logging in, say) fails before dag.test() has
    created the run; the run must still end with that error, not wait for an answer forever."""

    def fails_at_once():
        raise RuntimeError("the approver could not log in")

    with pytest.raises(RuntimeError, match="could not log in"):
        airflow.run("approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]}, fails_at_once)
    assert not _running_runs("approve_version")


def test_a_request_nobody_is_left_to_answer_ends_the_run_with_an_error(airflow, pending_version, monkeypatch):
    monkeypatch.setattr(harness, "UNANSWERED_AFTER_SIDE_S", 4.0)

    def only_looks():
        bob = airflow.approver("bob")
        return bob.wait_for("approve_version")  # sees the request, answers nothing

    started = time.monotonic()
    with pytest.raises(TimeoutError, match="still awaited input"):
        airflow.run("approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]}, only_looks)
    assert not _running_runs("approve_version")
    assert time.monotonic() - started < 240  # the request's own five-minute timeout did not end it


def _running_runs(dag_id: str) -> list[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    with create_session() as session:
        return [
            run.run_id for run in session.query(DagRun).filter_by(dag_id=dag_id, state=DagRunState.RUNNING)
        ]


def test_an_answer_whose_resume_dag_test_overwrote_is_applied_once(airflow, aws, pending_version):
    """``dag.test()`` writes a task's parked state after the task returns; an answer taken in between is
    recorded but its resume is overwritten. The run must still finish with that answer, applied once."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState

    def answer_and_lose_the_resume():
        bob = airflow.approver("bob")
        request = bob.wait_for("approve_version")
        bob.approve(request, reason="looks right")
        with create_session() as session:  # what dag.test()'s late write of the parked state does
            ti = (
                session.query(TaskInstance)
                .filter_by(dag_id=request.dag_id, run_id=request.run_id, task_id=request.task_id)
                .one()
            )
            ti.state = TaskInstanceState.AWAITING_INPUT

    writes_before = aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0)
    dag_run = airflow.run(
        "approve_version", {"arn": pending_version["arn"], "approvers": ["bob"]}, answer_and_lose_the_resume
    )
    assert str(dag_run.state) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert (
        described["ModelApprovalStatus"] == "Approved" and "looks right" in described["ApprovalDescription"]
    )
    assert aws.usage()["calls"].get("sagemaker:UpdateModelPackage", 0) - writes_before == 1
