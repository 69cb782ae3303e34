"""Human-in-the-loop whose answer is applied exactly once, whatever its timing.

Airflow 3.3.2 can fail the try that an answer resumes: the worker that parked the task reports "success"
to the executor, and when the scheduler reads that report only after it has queued the resumed try (same
try number), it takes the report for the resumed try and marks it failed ("state mismatch"; see
``docs/hitl-race.md``). The answer stays in Airflow's HITL record of the task instance, but the next try
would write its request again, which clears it: the person's answer is lost.

:class:`ExactlyOnceHITLOperator` closes that gap:

- it gives the task retries (at least ``retries=3``, whatever the DAG sets; ``retry_delay=0`` unless the DAG sets it: the person has
  answered, nothing is gained by waiting), so the failed try is followed by another;
- every try first reads the task instance's HITL record through Airflow's REST API (the worker has no
  other way to it: Airflow's task supervisor does not serve HITL reads); an answer there that no try
  applied is applied now (``execute_complete`` runs with it) instead of asking again, which would clear it;
- a timeout or a Reject with ``fail_on_reject`` fails the task without retries, so a retry never asks a
  second time what was already decided;
- a task a person cleared asks again: Airflow grants a cleared task instance new ``max_tries``, a retry
  does not, so an answer that failed the task (a Reject) is not applied a second time after a Clear.

The REST API is read with the Airflow connection ``modelreg_airflow_api`` (type ``http``: host = the API
server's base URL, login/password = an Airflow user allowed to read HITL details, a viewer is enough).
Without it, a retry fails (naming the connection) rather than ask again and clear an answer already given;
the first try works as Airflow's own operator does.

Subclasses keep the standard provider's interface (``execute`` prepares the request and calls
``super().execute(context)``, ``execute_complete`` applies the answer); ``execute_complete`` must be safe to
run for an answer that an earlier try started to apply (check the target system before writing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.standard.exceptions import HITLRejectException, HITLTimeoutError
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowFailException

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.definitions.mappedoperator import OperatorPartial

AIRFLOW_API_CONN_ID = "modelreg_airflow_api"
# Enough tries for the stale-report failure, for the one that can follow it (the resumed try's workload,
# dispatched before the failure, may start as the retry; the retry's own workload is then refused and its
# report fails the running try the same way), and one spare for an ordinary failure while applying.
GOVERNED_RETRIES = 3
# Tries that ended in these states applied their answer; a later try (a task cleared by a person) asks again.
APPLIED_STATES = frozenset({"success", "skipped"})


class HITLTimedOut(HITLTimeoutError, AirflowFailException):
    """Nobody answered within ``response_timeout``; retrying would only ask again."""


class HITLRejected(HITLRejectException, AirflowFailException):
    """The answer was Reject and the operator fails on Reject; retrying would only reject again."""


@dataclass(frozen=True)
class TaskInstanceRef:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int

    @classmethod
    def of(cls, ti: Any) -> TaskInstanceRef:
        return cls(ti.dag_id, ti.run_id, ti.task_id, ti.map_index if ti.map_index is not None else -1)

    @property
    def path(self) -> str:
        return (
            f"/api/v2/dags/{quote(self.dag_id, safe='')}/dagRuns/{quote(self.run_id, safe='')}"
            f"/taskInstances/{quote(self.task_id, safe='')}/{self.map_index}"
        )


class HITLRecordReader:
    """Reads a task instance's HITL record and its tries through Airflow's REST API, as a viewer."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.timeout = timeout
        self._headers: dict[str, str] | None = None

    @classmethod
    def from_connection(cls, conn_id: str = AIRFLOW_API_CONN_ID) -> HITLRecordReader | None:
        """The reader for an ``http`` connection, or ``None`` when the connection is not defined."""
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            return None
        host = conn.host or ""
        if "://" not in host:
            host = f"{conn.schema or 'http'}://{host}"
        if conn.port:
            host = f"{host}:{conn.port}"
        return cls(host, conn.login or "", conn.password or "")

    def _get(self, path: str) -> dict[str, Any] | None:
        import httpx

        with httpx.Client(base_url=self.base_url, timeout=self.timeout) as client:
            if self._headers is None:
                login = client.post(
                    "/auth/token", json={"username": self.username, "password": self.password}
                )
                login.raise_for_status()
                self._headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
            response = client.get(path, headers=self._headers)
            if response.status_code == 404:
                return None
            response.raise_for_status()
            return response.json()

    def hitl_detail(self, ti: TaskInstanceRef) -> dict[str, Any] | None:
        """The task instance's HITL record as it is now (request and response, if any)."""
        return self._get(f"{ti.path}/hitlDetails")

    def earlier_try(self, ti: TaskInstanceRef, try_number: int) -> dict[str, Any] | None:
        """Airflow's record of how an earlier try ended (``state``, ``max_tries``, ...), or ``None``.

        Airflow keeps none for a try failed while queued (the scheduler's stale-report failure)."""
        return self._get(f"{ti.path}/tries/{try_number}")


def answer_as_event(detail: Mapping[str, Any]) -> dict[str, Any]:
    """The event ``execute_complete`` receives on resume, from a REST HITL record with a response.

    The same fields as Airflow's ``HITLDetail.as_resume_event_payload`` (``responded_at`` a datetime)."""
    responded_at = detail.get("responded_at")
    return {
        "chosen_options": list(detail.get("chosen_options") or []),
        "params_input": dict(detail.get("params_input") or {}),
        "responded_at": datetime.fromisoformat(responded_at)
        if isinstance(responded_at, str)
        else responded_at,
        "responded_by_user": detail.get("responded_by_user"),
        "timedout": False,
    }


def unapplied_earlier_answer(ti: Any, reader: HITLRecordReader) -> tuple[dict[str, Any] | None, str]:
    """An answer given to this task instance (in an earlier try) that no try applied, as a resume event.

    Returns ``(None, why)`` when there is none: no request yet, no answer, the try that got the answer
    finished, or the task was cleared after that try ended (a person asks again, for example after a
    Reject that failed the task). The try number is Airflow's, read with the record: a try's workload can
    start after the scheduler moved the task instance on to the next try.
    """
    ref = TaskInstanceRef.of(ti)
    detail = reader.hitl_detail(ref)
    if not detail:
        return None, "no request was made yet"
    if not detail.get("response_received"):
        return None, "no answer was given yet"
    task_instance = detail.get("task_instance") or {}
    current_try = int(task_instance.get("try_number") or 1)
    previous = reader.earlier_try(ref, current_try - 1) if current_try > 1 else None
    state = (previous or {}).get("state")
    if state in APPLIED_STATES:
        return None, f"try {current_try - 1} applied its answer and ended {state}: asking again"
    if previous is not None and was_cleared_since(previous, task_instance):
        return None, f"try {current_try - 1} ended {state} and the task was cleared since: asking again"
    return answer_as_event(detail), f"try {current_try - 1} ended {state or 'before applying it'}"


def was_cleared_since(earlier_try: Mapping[str, Any], task_instance: Mapping[str, Any]) -> bool:
    """Whether the task instance was cleared after ``earlier_try`` ended, rather than retried.

    A retry spends one of the task instance's ``max_tries``; a clear (the UI's Clear, the REST API's
    clearTaskInstances) grants a fresh set: Airflow sets ``max_tries`` to the cleared try's number plus the
    task's retries (``clear_task_instances`` in airflow/models/taskinstance.py), more than the ended try
    had. A scheduler that resets an orphaned try leaves it as it was, as a retry does.
    """
    before, now = earlier_try.get("max_tries"), task_instance.get("max_tries")
    return isinstance(before, int) and isinstance(now, int) and now > before


def governed_retries(retries: int | None, task_id: str | None) -> int:
    """The retries an approval task keeps: ``GOVERNED_RETRIES`` unless more are given.

    The recovery from Airflow's race is the next try: fewer retries (a DAG's ``default_args``, say) would
    fail a run whose person had answered. Lowering them is logged."""
    if retries is not None and retries < GOVERNED_RETRIES:
        logging.getLogger(__name__).warning(
            "%s keeps %d retries, not the %d given: a retry is how an answer Airflow's race failed "
            "gets applied (docs/hitl-race.md).",
            task_id,
            GOVERNED_RETRIES,
            retries,
        )
    return GOVERNED_RETRIES if retries is None else max(retries, GOVERNED_RETRIES)


class ExactlyOnceHITLOperator(HITLOperator):
    """A :class:`HITLOperator` whose answer is applied exactly once, even when Airflow fails the resumed try.

    :param retries: tries after a failure (default 3: Airflow 3.3.2 can fail the try an answer resumes).
    :param retry_delay: wait before a retry (default none: the person has answered already).
    :param airflow_api_conn_id: ``http`` connection to Airflow's REST API used by retries to read an
        earlier answer (default ``modelreg_airflow_api``).
    """

    def __init__(
        self,
        *,
        retries: int | None = None,
        retry_delay: timedelta | float | None = None,
        airflow_api_conn_id: str = AIRFLOW_API_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            retries=governed_retries(retries, kwargs.get("task_id")),
            retry_delay=timedelta(0) if retry_delay is None else retry_delay,
            **kwargs,
        )
        self.airflow_api_conn_id = airflow_api_conn_id

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:  # type: ignore[override]
        """``partial`` for dynamic task mapping, with the same retries floor as the constructor.

        The scheduler reads a mapped task's retries from its partial arguments, not from an instance, so
        the constructor's floor alone would leave mapped approvals without the retry that applies a raced
        answer."""
        mapped = super().partial(**kwargs)
        mapped.kwargs["retries"] = governed_retries(
            mapped.kwargs.get("retries"), mapped.kwargs.get("task_id")
        )
        if mapped.kwargs.get("retry_delay") is None:
            mapped.kwargs["retry_delay"] = timedelta(0)
        return mapped

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        reader = HITLRecordReader.from_connection(self.airflow_api_conn_id)
        if reader is None:
            if (ti.try_number or 1) > 1:
                # Asking again would clear an answer an earlier try may have been given; say why instead.
                raise AirflowFailException(
                    f"Try {ti.try_number} cannot read an answer given to an earlier try: connection "
                    f"{self.airflow_api_conn_id!r} is not defined (an http connection to Airflow's REST API "
                    "as a viewer, see docs/hitl-race.md). Define it, then clear this task."
                )
            return super().execute(context)
        event, why = unapplied_earlier_answer(ti, reader)
        if event is None:
            self.log.info("Asking: %s.", why)
            return super().execute(context)
        self.log.info(
            "Applying the answer %s given by %s at %s instead of asking again: %s.",
            event["chosen_options"],
            (event["responded_by_user"] or {}).get("name"),
            event["responded_at"],
            why,
        )
        return self.execute_complete(context, event)

    def process_trigger_event_error(self, event: dict[str, Any]) -> None:
        if event.get("error_type") == "timeout":
            raise HITLTimedOut(event)
        super().process_trigger_event_error(event)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        try:
            return super().execute_complete(context, event)
        except HITLRejectException as rejected:
            if isinstance(rejected, AirflowFailException):
                raise
            raise HITLRejected(str(rejected)) from rejected


class ExactlyOnceApprovalOperator(ExactlyOnceHITLOperator, ApprovalOperator):
    """Airflow's :class:`ApprovalOperator` (Approve or Reject) with the guarantees of :class:`ExactlyOnceHITLOperator`."""
