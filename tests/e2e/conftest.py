"""A real Airflow (four processes on loopback) talking to the stand-in, for end-to-end tests."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx
import pytest

from airflow_modelreg.testing.approver import ScriptedApprover
from airflow_modelreg.testing.harness import USERS, airflow_environment, migrate_database
from airflow_modelreg.testing.live import LiveAirflow, free_port
from tests.conftest import DAG_FOLDERS
from tests.helpers import LADDER


@pytest.fixture(scope="session")
def live_airflow(standin):
    home = Path(tempfile.mkdtemp(prefix="modelreg-live-airflow-"))
    port = free_port()
    env = airflow_environment(home, DAG_FOLDERS, base_url=f"http://127.0.0.1:{port}")
    env.update(standin.environment())
    env.update(
        {
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # Only the DAGs a test triggers run (it unpauses them): scheduled reference DAGs would compete
            # for the one SQLite database and make the tests' timing depend on the clock.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW_VAR_MODELREG_LADDER": json.dumps(LADDER),
        }
    )
    migrate_database(env)
    airflow = LiveAirflow(env, port, home / "process-logs")
    try:
        airflow.start()
    except Exception:
        airflow.stop()
        raise
    yield airflow
    airflow.stop()


@pytest.fixture
def rest(live_airflow):
    """An httpx client on the live API server, and a scripted approver factory."""
    client = httpx.Client(base_url=live_airflow.base_url, timeout=60)

    def approver(name: str) -> ScriptedApprover:
        return ScriptedApprover(client, name, USERS[name])

    client.approver = approver  # type: ignore[attr-defined]
    yield client
    client.close()
