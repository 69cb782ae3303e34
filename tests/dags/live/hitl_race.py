"""Test DAGs for the approval race (docs/hitl-race.md), loaded only by the live end-to-end stack.

Their tasks name executors that only that stack configures: ``LocalExecutor``, where Airflow 3.3.2's race
lives, and ``LateExitLocalExecutor`` (tests/e2e/late_exit.py), a LocalExecutor that reports a parked try's
exit only once the answer has resumed it, the order a busy machine produces by chance. (Listed in
tests/dags/.airflowignore so the in-process DAG bag, which has neither executor, skips this folder.)
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import DAG, Param

from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.hitl import ExactlyOnceApprovalOperator

LATE_EXIT = "LateExitLocalExecutor"
START = pendulum.datetime(2026, 1, 1, tz="UTC")
# A test whose approver failed ends instead of waiting forever.
TIMEOUT = timedelta(minutes=5)

with DAG(dag_id="plain_approval_late_exit", schedule=None, start_date=START):
    ApprovalOperator(task_id="approve", subject="Ship it?", executor=LATE_EXIT, response_timeout=TIMEOUT)

with DAG(dag_id="governed_approval_late_exit", schedule=None, start_date=START):
    ExactlyOnceApprovalOperator(
        task_id="approve", subject="Ship it?", executor=LATE_EXIT, response_timeout=TIMEOUT
    )

# A Reject fails the run; a person clears the task to ask again.
with DAG(dag_id="governed_approval_fail_on_reject", schedule=None, start_date=START):
    ExactlyOnceApprovalOperator(
        task_id="approve",
        subject="Ship it?",
        executor="LocalExecutor",
        fail_on_reject=True,
        response_timeout=TIMEOUT,
    )

# No connection to read answers with: a retry after the race must refuse to ask again (which would clear the
# answer), whatever try number its workload carries.
with DAG(dag_id="governed_approval_late_exit_no_api", schedule=None, start_date=START):
    ExactlyOnceApprovalOperator(
        task_id="approve",
        subject="Ship it?",
        executor=LATE_EXIT,
        response_timeout=TIMEOUT,
        airflow_api_conn_id="modelreg_api_not_defined",
    )


def registry_approval_dag(dag_id: str, executor: str, **dag_arguments: Any) -> RequestModelApprovalOperator:
    """A DAG whose ``approve`` task asks bob to decide on the version ``params.arn``, on ``executor``."""
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        render_template_as_native_obj=True,
        params={"arn": Param("", type="string")},
        **dag_arguments,
    ):
        return RequestModelApprovalOperator(
            task_id="approve",
            model_package_arn="{{ params.arn }}",
            approvers=["bob"],
            executor=executor,
            response_timeout=TIMEOUT,
        )


# A registry approval with a task after it: a Reject skips that task, the first time and after a Clear.
approve_then_continue = registry_approval_dag("approve_version_then_continue", "LocalExecutor")
approve_then_continue >> EmptyOperator(
    task_id="after_approval", dag=approve_then_continue.dag, executor="LocalExecutor"
)

# One approval per run, ten runs at a time, on the executor each test names.
for dag_id, executor in (
    ("approve_version_late_exit", LATE_EXIT),
    ("approve_version_local", "LocalExecutor"),
):
    registry_approval_dag(dag_id, executor, max_active_runs=10)
