"""A scripted approver: answers human-in-the-loop requests through Airflow's REST API, as a person would.

It logs in as a real user of the simple auth manager (``POST /auth/token``), finds pending requests
(``GET /api/v2/dags/~/dagRuns/~/hitlDetails``) and answers them (``PATCH .../hitlDetails``). It talks to
a running API server over HTTP, or in-process to the same FastAPI application (for ``dag.test()`` runs).

It answers as soon as the task is ``awaiting_input``: the provider's operators apply an answer given at any
moment exactly once (``airflow_modelreg.operators.hitl``, ``docs/hitl-race.md``), so nothing waits for
Airflow to settle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from airflow_modelreg.domain.approval import REASON_FIELD

SERVER_ERROR_ATTEMPTS = 5


class ApprovalRefused(Exception):
    """The API refused an answer (for example 403: the user is not an assigned approver)."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"HTTP {status_code}: {detail}")
        self.status_code = status_code
        self.detail = detail


@dataclass
class PendingRequest:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    state: str | None
    # When this approver first saw the request awaiting input (time.monotonic()).
    seen_at: float
    subject: str
    body: str | None
    assigned_users: list[dict[str, str]]
    # The form's fields as Airflow serves them: name -> {"value", "description", "schema", ...}.
    params: dict[str, Any] = field(default_factory=dict)


class ScriptedApprover:
    """Answer HITL requests as ``username`` through the REST API.

    :param client: an ``httpx.Client`` (with ``base_url`` of a running API server) or a FastAPI
        ``TestClient`` of ``airflow.api_fastapi.app.create_app()``.
    """

    def __init__(self, client: Any, username: str, password: str) -> None:
        self.client = client
        self.username = username
        # Time between seeing a request and answering it, summed (a person's time, not Airflow's).
        self.looked_seconds = 0.0
        response = self._send("post", "/auth/token", json={"username": username, "password": password})
        if response.status_code >= 300:
            raise ApprovalRefused(response.status_code, f"login as {username} failed: {response.text}")
        self._headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request, sent again after a server error.

        A 5xx rolled its transaction back (SQLite busy on a loaded machine, say): a person would reload the
        page or press the button again."""
        for attempt in range(SERVER_ERROR_ATTEMPTS):
            response = getattr(self.client, method)(path, **kwargs)
            if response.status_code < 500 or attempt == SERVER_ERROR_ATTEMPTS - 1:
                return response
            time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def pending(self, dag_id: str | None = None, task_id: str | None = None) -> list[PendingRequest]:
        params: dict[str, Any] = {"response_received": "false"}
        if task_id:
            params["task_id"] = task_id
        path = f"/api/v2/dags/{dag_id or '~'}/dagRuns/~/hitlDetails"
        response = self._send("get", path, params=params, headers=self._headers)
        response.raise_for_status()
        found = []
        for item in response.json().get("hitl_details", []):
            ti = item["task_instance"]
            found.append(
                PendingRequest(
                    dag_id=ti["dag_id"],
                    run_id=ti["dag_run_id"],
                    task_id=ti["task_id"],
                    map_index=ti.get("map_index", -1),
                    state=ti.get("state"),
                    seen_at=time.monotonic(),
                    subject=item.get("subject", ""),
                    body=item.get("body"),
                    assigned_users=item.get("assigned_users") or [],
                    params=item.get("params") or {},
                )
            )
        return found

    def wait_for(
        self, dag_id: str | None = None, task_id: str | None = None, timeout: float = 900.0, poll: float = 0.2
    ) -> PendingRequest:
        """Wait until a matching request is ``awaiting_input`` (polled every ``poll`` seconds), and return it.

        The default bound is generous: on a loaded 2-core machine the tasks before an approval (training,
        scoring a batch) can take minutes, and a person does not give up after two."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for request in self.pending(dag_id, task_id):
                if request.state == "awaiting_input":
                    return request
            time.sleep(poll)
        raise TimeoutError(f"No approval request for dag={dag_id} task={task_id} within {timeout:.0f}s")

    def answer(self, request: PendingRequest, option: str, reason: str = "") -> dict[str, Any]:
        path = (
            f"/api/v2/dags/{request.dag_id}/dagRuns/{request.run_id}/taskInstances/"
            f"{request.task_id}/{request.map_index}/hitlDetails"
        )
        response = self._send(
            "patch",
            path,
            json={"chosen_options": [option], "params_input": {REASON_FIELD: reason}},
            headers=self._headers,
        )
        if response.status_code >= 300:
            raise ApprovalRefused(response.status_code, response.text)
        self.looked_seconds += time.monotonic() - request.seen_at
        return response.json()

    def approve(self, request: PendingRequest, reason: str = "") -> dict[str, Any]:
        return self.answer(request, "Approve", reason)

    def reject(self, request: PendingRequest, reason: str = "") -> dict[str, Any]:
        return self.answer(request, "Reject", reason)
