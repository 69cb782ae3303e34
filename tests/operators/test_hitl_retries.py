"""An approval task keeps the retries its race recovery needs, whatever a DAG's ``default_args`` say."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from airflow_modelreg.operators.hitl import GOVERNED_RETRIES, ExactlyOnceApprovalOperator


def _approval(dag_id, default_args=None, **kwargs):
    with DAG(dag_id, schedule=None, default_args=default_args or {}):
        return ExactlyOnceApprovalOperator(task_id="approve", subject="ship it?", **kwargs)


def test_default_args_cannot_take_away_the_retries_that_apply_a_raced_answer(caplog):
    task = _approval("no_retries", {"retries": 0, "retry_delay": timedelta(minutes=5)})
    assert task.retries == GOVERNED_RETRIES == 3
    assert "keeps 3 retries, not the 0 given" in caplog.text
    # A DAG's own delay is kept (the answer is then applied after it), and more retries stay more.
    assert task.retry_delay == timedelta(minutes=5)
    assert _approval("more", {"retries": 5}).retries == 5
    assert _approval("explicit", retries=1).retries == 3
    plain = _approval("plain")
    assert (plain.retries, plain.retry_delay) == (3, timedelta(0))
