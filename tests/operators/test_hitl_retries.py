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


def test_mapped_approvals_keep_the_retries_the_scheduler_reads(caplog):
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG(
        "mapped", schedule=None, default_args={"retries": 0, "retry_delay": timedelta(minutes=5)}
    ) as dag:
        lowered = ExactlyOnceApprovalOperator.partial(task_id="lowered", subject="ship?").expand(
            body=["a", "b"]
        )
        more = ExactlyOnceApprovalOperator.partial(task_id="more", subject="ship?", retries=5).expand(
            body=["a", "b"]
        )
    with DAG("mapped_plain", schedule=None) as plain_dag:
        plain = ExactlyOnceApprovalOperator.partial(task_id="plain", subject="ship?").expand(body=["a"])
    assert (lowered.retries, more.retries, plain.retries) == (3, 5, 3)
    assert "lowered keeps 3 retries, not the 0 given" in caplog.text
    assert (lowered.retry_delay, plain.retry_delay) == (timedelta(minutes=5), timedelta(0))
    # What the scheduler sets max_tries from: the serialized DAG's mapped task.
    for source, task_id, retries in ((dag, "lowered", 3), (dag, "more", 5), (plain_dag, "plain", 3)):
        serialized = DagSerialization.from_dict(DagSerialization.to_dict(source))
        assert serialized.get_task(task_id).retries == retries
