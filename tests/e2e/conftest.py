"""A real Airflow shaped like docker-compose.yaml (PostgreSQL, Redis, CeleryExecutor with two workers), on
loopback and talking to the stand-in, for end-to-end tests. One per test session: every e2e test runs on
the same xdist worker: each e2e module is marked ``xdist_group("live")`` (see LIVE)."""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path

import httpx
import pytest

from airflow_modelreg.testing.approver import ScriptedApprover
from airflow_modelreg.testing.harness import USERS, airflow_environment
from airflow_modelreg.testing.live import ComposeFile, ComposeStack, generated_secrets
from tests.conftest import DAG_FOLDERS, ROOT

# Executors the race tests choose per task, next to compose's CeleryExecutor (every other task's).
EXTRA_EXECUTORS = ("LocalExecutor", "LateExitLocalExecutor:tests.e2e.late_exit.LateExitLocalExecutor")
LIVE_DAGS = ROOT / "tests" / "dags" / "live"
# A user the simple auth manager knows but gives no role: every authorisation check refuses them (the
# registry view's 403). Added to compose's users for the live stack only.
OUTSIDER = "outsider"


def compose_base_environment(home: Path, dag_folders: list[Path]) -> dict[str, str]:
    """The harness's environment for a compose stack: without the SQLite-only connect arguments (the stack's
    metadata database is PostgreSQL)."""
    base = airflow_environment(home, dag_folders)
    for sqlite_only in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC",
    ):
        base.pop(sqlite_only)
    return base


def compose_users() -> str:
    """The simple auth manager's users as docker-compose.yaml declares them."""
    environment = ComposeFile(ROOT / "docker-compose.yaml").airflow_environment(generated_secrets())
    return environment["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]


@pytest.fixture(scope="session")
def live_airflow(standin):
    home = Path(tempfile.mkdtemp(prefix="modelreg-live-airflow-"))
    base = compose_base_environment(home, [*DAG_FOLDERS, LIVE_DAGS])
    late_exit_markers = home / "late-exit"
    late_exit_markers.mkdir()
    stack = ComposeStack(
        ROOT / "docker-compose.yaml",
        home,
        base_environment=base,
        people={**USERS, "admin": secrets.token_urlsafe(16), OUTSIDER: secrets.token_urlsafe(16)},
        extra_executors=EXTRA_EXECUTORS,
        aws_address=standin.endpoint_url.split("//", 1)[1],
        extra_environment={
            # The scheduler imports the late-exit executor from the repository's tests package.
            "PYTHONPATH": str(ROOT),
            "MODELREG_LATE_EXIT_DIR": str(late_exit_markers),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{compose_users()},{OUTSIDER}:",
        },
    )
    stack.late_exit_markers = late_exit_markers  # type: ignore[attr-defined]
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def rest(live_airflow):
    """An httpx client on the live API server, and a scripted approver factory."""
    client = httpx.Client(base_url=live_airflow.base_url, timeout=60)

    def approver(name: str) -> ScriptedApprover:
        return ScriptedApprover(client, name, USERS[name])

    client.approver = approver  # type: ignore[attr-defined]
    yield client
    client.close()


@pytest.fixture
def live_ladder_variable(rest, live_airflow):
    """Sets a ladder as the live Airflow's ``modelreg_ladder`` Variable (by the admin, through the REST API)
    for the test: ``live_ladder_variable(ladder)`` returns ``ladder``; the Variable is removed after the test."""
    token = rest.post(
        "/auth/token", json={"username": "admin", "password": live_airflow.people["admin"]}
    ).json()["access_token"]
    admin = {"Authorization": f"Bearer {token}"}

    def put(ladder: dict) -> dict:
        rest.delete("/api/v2/variables/modelreg_ladder", headers=admin)
        made = rest.post(
            "/api/v2/variables", json={"key": "modelreg_ladder", "value": json.dumps(ladder)}, headers=admin
        )
        assert made.status_code in (200, 201), made.text
        return ladder

    yield put
    rest.delete("/api/v2/variables/modelreg_ladder", headers=admin)
