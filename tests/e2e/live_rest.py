"""Talking to the live Airflow's REST API as its users do: log in, trigger runs, read states and logs."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote, urlencode

from airflow_modelreg.testing.harness import USERS


def headers(rest: Any, user: str = "alice") -> dict[str, str]:
    response = rest.post("/auth/token", json={"username": user, "password": USERS[user]})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def log_in(page: Any, base_url: str, user: str, password: str, then: str) -> None:
    """Sign in through the Airflow UI's login form (Playwright ``page``) and land on ``then``."""
    page.goto(f"{base_url}/auth/login?{urlencode({'next': then})}")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def unpause(rest: Any, dag_id: str, user: str = "alice", timeout: float = 120) -> dict[str, str]:
    """Wait until the DAG processor has parsed ``dag_id``, then unpause it (compose pauses new DAGs)."""
    auth = headers(rest, user)
    deadline = time.monotonic() + timeout
    while rest.get(f"/api/v2/dags/{dag_id}", headers=auth).status_code != 200:
        assert time.monotonic() < deadline, f"{dag_id} was never parsed by the DAG processor"
        time.sleep(0.5)
    unpaused = rest.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}, headers=auth)
    assert unpaused.status_code == 200, unpaused.text
    return auth


def trigger(rest: Any, dag_id: str, conf: dict[str, Any], user: str = "alice") -> str:
    auth = unpause(rest, dag_id, user)
    response = rest.post(
        f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}, headers=auth
    )
    assert response.status_code == 200, response.text
    return response.json()["dag_run_id"]


def run_path(dag_id: str, run_id: str) -> str:
    return f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"


def wait_run(rest: Any, dag_id: str, run_id: str, timeout: float = 180) -> str:
    auth = headers(rest)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = rest.get(run_path(dag_id, run_id), headers=auth).json()["state"]
        if state in ("success", "failed"):
            return state
        time.sleep(0.5)
    raise TimeoutError(f"{dag_id}/{run_id} did not finish within {timeout:.0f}s")


def task_instance(rest: Any, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
    response = rest.get(f"{run_path(dag_id, run_id)}/taskInstances/{task_id}", headers=headers(rest))
    response.raise_for_status()
    return response.json()


def hitl_detail(rest: Any, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict[str, Any]:
    path = f"{run_path(dag_id, run_id)}/taskInstances/{task_id}/{map_index}/hitlDetails"
    response = rest.get(path, headers=headers(rest))
    response.raise_for_status()
    return response.json()


def xcom(rest: Any, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
    path = f"{run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}"
    response = rest.get(path, params={"deserialize": "true"}, headers=headers(rest))
    response.raise_for_status()
    return response.json()["value"]


def event_logs(rest: Any, dag_id: str, run_id: str, event: str) -> list[dict[str, Any]]:
    response = rest.get(
        "/api/v2/eventLogs",
        params={"dag_id": dag_id, "run_id": run_id, "event": event},
        headers=headers(rest),
    )
    response.raise_for_status()
    return response.json()["event_logs"]


def clear(
    rest: Any,
    dag_id: str,
    run_id: str,
    task_ids: list[str] | None = None,
    user: str = "alice",
    include_downstream: bool = False,
) -> None:
    """Clear a run's tasks (all of them when ``task_ids`` is None) as the UI's Clear button does."""
    body: dict[str, Any] = {
        "dry_run": False,
        "dag_run_id": run_id,
        "only_failed": False,
        "reset_dag_runs": True,
        "include_downstream": include_downstream,
    }
    if task_ids is not None:
        body["task_ids"] = task_ids
    response = rest.post(f"/api/v2/dags/{dag_id}/clearTaskInstances", json=body, headers=headers(rest, user))
    assert response.status_code == 200, response.text
    assert response.json()["task_instances"], f"nothing was cleared in {dag_id}/{run_id}"
