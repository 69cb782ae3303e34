"""Run reference DAGs for real in one process: an isolated Airflow home, a migrated database, users with
known passwords, ``dag.test()`` runs, and a scripted approver answering through the REST API.

Used by ``make demo`` and the tests. ``airflow_environment()`` must be applied to ``os.environ`` before
``airflow`` is first imported (Airflow reads its configuration at import).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_modelreg.testing.approver import ScriptedApprover

# People of the demo and the tests. Who may approve what is decided by the environment ladder
# (assigned_users); their Airflow roles (ROLES) only say what else they may do, as in docker-compose.yaml.
USERS: dict[str, str] = {
    "alice": "alice-pass",  # data scientist: trains and registers
    "bob": "bob-pass",  # ML lead: approves registrations and dev
    "carol": "carol-pass",  # QA: approves test and uat
    "dave": "dave-pass",  # release manager: approves prod
    "erin": "erin-pass",  # head of risk: the second prod approver where prod needs two
    "frank": "frank-pass",  # on-call lead: a third prod approver
    "mallory": "mallory-pass",  # not an approver of anything
}

# Airflow roles (ApproverAwareSimpleAuthManager): alice trains and triggers runs (``user``); the people who
# decide answer Required Actions and read, but cannot mark tasks, clear them or edit XCom (``approver``).
# mallory has the approver role too: that the ladder, not the role, keeps her out is what tests check.
AUTH_MANAGER = "airflow_modelreg.auth.ApproverAwareSimpleAuthManager"
ROLES: dict[str, str] = {"alice": "user"}
DEFAULT_ROLE = "approver"

# SQLite is shared by several Airflow processes in the end-to-end tests; its default 5 s busy timeout turns a
# long scheduler transaction into a 500 at the API server. Wait longer instead (see migrate_database for WAL).
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 20}


def airflow_environment(
    home: Path, dag_folders: Iterable[Path], users: Mapping[str, str] = USERS, base_url: str | None = None
) -> dict[str, str]:
    """Environment for an isolated Airflow: its own home and SQLite database, the given DAG folders as
    bundles, and simple-auth-manager users whose passwords are written to a file in the home."""
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(dict(users)))
    folders = [Path(folder).resolve() for folder in dag_folders]
    bundles = [
        {
            "name": f"dags-{index}" if index else "dags-folder",
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder), "refresh_interval": 0},
        }
        for index, folder in enumerate(folders)
    ]
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(folders[0]),
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": f"{__name__}.SQLITE_CONNECT_ARGS",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": f"{__name__}.SQLITE_CONNECT_ARGS",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__AUTH_MANAGER": AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
            f"{user}:{ROLES.get(user, DEFAULT_ROLE)}" for user in users
        ),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API__BASE_URL": base_url or "http://localhost:8080",
        # A fixed-length secret per home, so tokens survive restarts of the home's processes.
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret(home),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
    }
    return env


def _secret(home: Path) -> str:
    path = home / "jwt_secret"
    if not path.exists():
        path.write_text(os.urandom(48).hex())
    return path.read_text()


def migrate_database(env: Mapping[str, str]) -> None:
    """``airflow db migrate`` for the environment (a subprocess, so this process's config is untouched)."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    # Write-ahead logging lets readers (the API server, the UI) proceed while the scheduler writes; the
    # mode is stored in the database file, so every process opening it afterwards uses it.
    database = Path(env["AIRFLOW_HOME"]) / "airflow.db"
    if database.exists():
        import sqlite3

        with contextlib.closing(sqlite3.connect(database)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")


# How long a request may stay unanswered after a test's answering side is done before the run is ended.
UNANSWERED_AFTER_SIDE_S = 300.0


class InProcessAirflow:
    """Runs DAGs with ``dag.test()`` and answers approvals through the in-process REST application."""

    def __init__(self, dag_folders: Iterable[Path], users: Mapping[str, str] = USERS) -> None:
        self.dag_folders = [Path(folder) for folder in dag_folders]
        self.users = dict(users)
        self._dags: dict[str, Any] = {}
        self._approvers: list[ScriptedApprover] = []

    def dag(self, dag_id: str) -> Any:
        if dag_id not in self._dags:
            from airflow.dag_processing.dagbag import DagBag

            for folder in self.dag_folders:
                bag = DagBag(dag_folder=str(folder))
                if bag.import_errors:
                    raise RuntimeError(f"DAG import errors in {folder}: {bag.import_errors}")
                self._dags.update(bag.dags)
        return self._dags[dag_id]

    @cached_property
    def rest_client(self) -> Any:
        from airflow.api_fastapi.app import create_app
        from fastapi.testclient import TestClient

        return TestClient(create_app("all"))

    def approver(self, username: str) -> ScriptedApprover:
        approver = ScriptedApprover(self.rest_client, username, self.users[username])
        self._approvers.append(approver)
        return approver

    @property
    def person_seconds(self) -> float:
        """Time the scripted people spent between seeing requests and answering (a person's time, not Airflow's)."""
        return sum(approver.looked_seconds for approver in self._approvers)

    def run(
        self,
        dag_id: str,
        conf: Mapping[str, Any] | None = None,
        while_running: Callable[[], Any] | None = None,
        mark_success_pattern: str | None = None,
    ) -> Any:
        """Run a DAG to its end; ``while_running`` (answering approvals, say) runs in a thread meanwhile.

        Returns the finished DagRun; an exception raised by ``while_running`` is raised here.
        """
        outcome: dict[str, Any] = {}
        test_returned = threading.Event()

        def side() -> None:
            try:
                outcome["result"] = while_running() if while_running else None
                # Done answering, yet a request may still wait (a test that answers one approval of two):
                # after a while with nobody left to answer, that is an error, not a run to wait on forever.
                if self._awaits_input_unanswered(dag_id, test_returned, UNANSWERED_AFTER_SIDE_S):
                    raise TimeoutError(
                        f"{dag_id}: a task still awaited input {UNANSWERED_AFTER_SIDE_S:.0f} s after "
                        "everything the test answers was answered"
                    )
            except BaseException as error:  # handed to the caller below
                outcome["error"] = error
                # dag.test() would wait forever for the answer that will not come: end the run, and keep
                # ending it until dag.test() returns. Once is not enough: a side that fails early (a
                # server error before the request appeared) runs before dag.test() has created the run,
                # and on a busy machine the write itself can meet a locked database.
                while not test_returned.is_set():
                    with contextlib.suppress(Exception):
                        self.fail_running_runs(dag_id)
                    test_returned.wait(1.0)

        thread = threading.Thread(target=side, name=f"while-{dag_id}", daemon=True)
        keeper = threading.Thread(
            target=self._keep_answers_applied,
            args=(dag_id, test_returned),
            name=f"resume-{dag_id}",
            daemon=True,
        )
        if while_running:
            thread.start()
            keeper.start()
        try:
            dag_run = self.dag(dag_id).test(
                run_conf=dict(conf or {}), mark_success_pattern=mark_success_pattern
            )
        finally:
            test_returned.set()
        if while_running:
            thread.join(timeout=60)
            keeper.join(timeout=60)
        if "error" in outcome:
            raise outcome["error"]
        return dag_run

    @staticmethod
    def _awaiting_input(session: Any, dag_id: str, *also: Any) -> Any:
        """A query of the tasks of ``dag_id``'s running runs that await input (with ``also`` selected)."""
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.state import DagRunState, TaskInstanceState

        return (
            session.query(TaskInstance, *also)
            .join(DagRun, (DagRun.dag_id == TaskInstance.dag_id) & (DagRun.run_id == TaskInstance.run_id))
            .filter(
                TaskInstance.dag_id == dag_id,
                TaskInstance.state == TaskInstanceState.AWAITING_INPUT,
                DagRun.state == DagRunState.RUNNING,
            )
        )

    @staticmethod
    def _keep_answers_applied(dag_id: str, test_returned: threading.Event) -> None:
        """Resume a task whose answer ``dag.test()`` overwrote, as the answer's PATCH would have.

        ``dag.test()`` runs a task in-process and then sets the task's state to the one the task ended in
        (airflow/sdk/definitions/dag.py ``_run_task``: ``ti.set_state(taskrun_result.ti.state)``). An answer
        that arrives after the task parked but before that write is taken (the request says
        ``response_received``) and its resume (``scheduled``) is overwritten with ``awaiting_input``: the
        run would wait forever for an answer already given. A scheduler never does that write, so this is
        ``dag.test()``'s own race; the keeper resumes such a task once it has stayed so for a second, through
        the function the PATCH route calls.
        """
        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.models.trigger import handle_event_submit
        from airflow.triggers.base import TriggerEvent
        from airflow.utils.session import create_session

        seen: dict[str, int] = {}
        while not test_returned.wait(0.5):
            try:
                with create_session() as session:
                    parked_answered = (
                        InProcessAirflow._awaiting_input(session, dag_id, HITLDetail)
                        .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                        .filter(HITLDetail.responded_at.is_not(None))
                        .all()
                    )
                    # Counted over consecutive looks only: a task that left this state and came back
                    # (its resume applied, a later request) starts again from one.
                    seen = {str(ti.id): seen.get(str(ti.id), 0) + 1 for ti, _ in parked_answered}
                    for ti, detail in parked_answered:
                        if seen[str(ti.id)] >= 2:
                            payload = detail.as_resume_event_payload()
                            handle_event_submit(TriggerEvent(payload), task_instance=ti, session=session)
                            seen.pop(str(ti.id))
            except Exception:  # a locked database on a busy machine: look again
                continue

    @staticmethod
    def _awaits_input_unanswered(dag_id: str, test_returned: threading.Event, seconds: float) -> bool:
        """Whether a run of ``dag_id`` kept a task awaiting input for ``seconds`` before dag.test() returned."""
        from airflow.utils.session import create_session

        waited = 0.0
        while not test_returned.wait(2.0):
            try:
                with create_session() as session:
                    waiting = InProcessAirflow._awaiting_input(session, dag_id).count()
            except Exception:  # a locked database on a busy machine: look again
                continue
            waited = waited + 2.0 if waiting else 0.0
            if waited >= seconds:
                return True
        return False

    @staticmethod
    def fail_running_runs(dag_id: str) -> None:
        from airflow.models.dagrun import DagRun
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session
        from airflow.utils.state import DagRunState, State, TaskInstanceState

        with create_session() as session:
            for dag_run in session.query(DagRun).filter_by(dag_id=dag_id, state=DagRunState.RUNNING):
                dag_run.state = DagRunState.FAILED
                # Its unfinished tasks too: dag.test() recomputes the run's state from them.
                for ti in session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dag_run.run_id):
                    if ti.state not in State.finished:
                        ti.state = TaskInstanceState.FAILED

    @staticmethod
    def task_states(dag_run: Any) -> dict[str, str]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        with create_session() as session:
            rows = session.query(TaskInstance).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
            return {ti.task_id: str(ti.state) for ti in rows}

    @staticmethod
    def xcom(dag_run: Any, task_id: str) -> Any:
        from airflow.models.xcom import XComModel
        from airflow.utils.session import create_session

        with create_session() as session:
            row = (
                session.query(XComModel)
                .filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id, task_id=task_id, key="return_value")
                .one_or_none()
            )
            return None if row is None else XComModel.deserialize_value(row)
