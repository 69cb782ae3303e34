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
- which answers were applied is kept in the task instance's ledger (:class:`AnswerLedger`, in Airflow's task
  state store, kept across tries and clears): an answer whose application ended (in success, a skip, or a
  deliberate failure such as a Reject with ``fail_on_reject``, a refusal or a timeout) is asked again
  after a person clears the task, and applied again, to the same end, by a retry Airflow's race forces;
  an ordinary error while applying leaves the answer to the next try. The ledger can be emptied (Airflow's
  ``clear_on_success``, its retention, a user): it proves an answer was applied, never that it was not,
  and an answer it does not show is applied only on a retry, never after a Clear;
- a timeout or a Reject with ``fail_on_reject`` fails the task without retries, so a retry never asks a
  second time what was already decided.

The REST API is read with the Airflow connection ``modelreg_airflow_api`` (type ``http``: host = the API
server's base URL, login/password = an Airflow user allowed to read HITL details, a viewer is enough).
Without it every try logs a warning, and a try that finds a request open in the ledger (asked, no answer
applied) fails, naming the connection, rather than ask again and clear an answer already given; once the
connection is defined, clearing the task asks again.

Subclasses keep the standard provider's interface (``execute`` prepares the request and calls
``super().execute(context)``, ``execute_complete`` applies the answer); ``execute_complete`` must be safe to
run for an answer that an earlier try started to apply (check the target system before writing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.standard.exceptions import HITLRejectException, HITLTimeoutError
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

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
# Connections whose absence this process has warned about (a task process warns on each of its tries).
_WARNED_MISSING: set[str] = set()


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


class AnswerLedger:
    """What this task instance did with its requests, in Airflow's task state store (one per task instance,
    kept across tries and clears, unlike XCom, which each try starts without).

    ``asked``: the number of the request last opened. ``concluded``: the request number, the answer's
    ``responded_at`` and the task instance's ``max_tries`` once applying the answer ended for good: in
    success or skip, or in a deliberate failure (an ``AirflowFailException``: a Reject with
    ``fail_on_reject``, a refusal, a timeout). An ordinary error while applying concludes nothing: the next
    try applies the answer again. A concluded answer is asked again only after a Clear (Airflow raises
    ``max_tries`` when it clears a task instance, not when it retries one): a retry that follows it (Airflow's
    race can fail the try that concluded it) applies it again, to the same end.
    """

    ASKED = "modelreg.hitl.asked"
    CONCLUDED = "modelreg.hitl.concluded"

    def __init__(self, store: Any, max_tries: int | None = None) -> None:
        self.store = store
        self.max_tries = max_tries

    @classmethod
    def of(cls, context: Mapping[str, Any]) -> AnswerLedger:
        max_tries = getattr(context.get("ti"), "max_tries", None)
        return cls(context.get("task_state_store"), max_tries if isinstance(max_tries, int) else None)

    @property
    def available(self) -> bool:
        return self.store is not None

    def _get(self, key: str) -> dict[str, Any]:
        found = self.store.get(key) if self.store is not None else None
        return found if isinstance(found, dict) else {}

    def open_request(self) -> bool:
        """Whether a request was opened and no answer to it was concluded."""
        asked = self._get(self.ASKED).get("request")
        return asked is not None and self._get(self.CONCLUDED).get("request") != asked

    def concluded(self, responded_at: Any) -> dict[str, Any] | None:
        """The record of the answer given at ``responded_at`` if a try applied it to the end, else None."""
        at = _instant(responded_at)
        record = self._get(self.CONCLUDED)
        return record if at is not None and _instant(record.get("responded_at")) == at else None

    def asking(self) -> None:
        if self.store is not None:
            self.store.set(self.ASKED, {"request": int(self._get(self.ASKED).get("request") or 0) + 1})

    def concluding(self, event: Mapping[str, Any], apply: Any) -> Any:
        """Run ``apply`` (which applies ``event``) and record the answer as concluded unless it failed by an
        ordinary error."""
        try:
            result = apply()
        except (AirflowFailException, AirflowSkipException):
            self._conclude(event)
            raise
        self._conclude(event)
        return result

    def _conclude(self, event: Mapping[str, Any]) -> None:
        if self.store is None:
            return
        at = _instant(event.get("responded_at"))
        self.store.set(
            self.CONCLUDED,
            {
                "request": self._get(self.ASKED).get("request"),
                "responded_at": at.isoformat() if at is not None else None,
                "max_tries": self.max_tries,
            },
        )


def _instant(value: Any) -> datetime | None:
    """A ``responded_at`` as an aware datetime, from a datetime or the REST API's ISO text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


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


def unapplied_earlier_answer(
    ti: Any, reader: HITLRecordReader, ledger: AnswerLedger | None = None
) -> tuple[dict[str, Any] | None, str]:
    """An answer given to this task instance (in an earlier try) that no try applied, as a resume event.

    Returns ``(None, why)`` when there is none: no request yet, no answer, or the answer was applied to the
    end (the ledger says so; without one: the try that got it succeeded, or the task was cleared after it
    ended). A person who clears the task then is asked again, for example after a Reject that failed it. The
    try number is Airflow's, read with the record: a try's workload can start after the scheduler moved the
    task instance on to the next try.
    """
    ref = TaskInstanceRef.of(ti)
    detail = reader.hitl_detail(ref)
    if not detail:
        return None, "no request was made yet"
    if not detail.get("response_received"):
        return None, "no answer was given yet"
    task_instance = detail.get("task_instance") or {}
    current_try = int(task_instance.get("try_number") or 1)

    def previous_try() -> dict[str, Any] | None:
        return reader.earlier_try(ref, current_try - 1) if current_try > 1 else None

    if ledger is not None and ledger.available:
        concluded = ledger.concluded(detail.get("responded_at"))
        if concluded is not None:
            then, now = concluded.get("max_tries"), task_instance.get("max_tries")
            cleared = (
                now > then
                if isinstance(then, int) and isinstance(now, int)
                else (earlier := previous_try()) is not None and was_cleared_since(earlier, task_instance)
            )
            if cleared:
                return None, "the answer was applied, and the task was cleared since: asking again"
            return answer_as_event(detail), (
                "a try applied the answer, and Airflow retried the task since (its race fails the try an "
                "answer resumes): applying it again, to the same end"
            )
        # Not concluded in the ledger: the ledger may have been emptied (Airflow's [state_store]
        # clear_on_success, its retention, a user's delete), so the try history must agree before an
        # answer is applied; when in doubt, the person is asked again rather than an old answer applied.
    previous = previous_try()
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
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        dag = kwargs.get("dag") or DagContext.get_current()
        delay_given = any(
            "retry_delay" in (given or {})
            for given in (kwargs, kwargs.get("default_args"), getattr(dag, "default_args", None))
        )
        mapped = super().partial(**kwargs)
        mapped.kwargs["retries"] = governed_retries(
            mapped.kwargs.get("retries"), mapped.kwargs.get("task_id")
        )
        if not delay_given:  # Airflow fills in its default (5 minutes, or None on some versions)
            mapped.kwargs["retry_delay"] = timedelta(0)
        return mapped

    def execute(self, context: Context) -> Any:
        ti = context["ti"]
        ledger = AnswerLedger.of(context)
        reader = HITLRecordReader.from_connection(self.airflow_api_conn_id)
        if reader is None:
            if self.airflow_api_conn_id not in _WARNED_MISSING:  # once a process: dag.test runs many tries
                _WARNED_MISSING.add(self.airflow_api_conn_id)
                self.log.warning(
                    "Connection %r is not defined: an answer Airflow's race fails (docs/hitl-race.md) cannot be "
                    "applied by the next try. Define it (an http connection to Airflow's REST API as a viewer).",
                    self.airflow_api_conn_id,
                )
            if ledger.open_request() if ledger.available else (ti.try_number or 1) > 1:
                # Asking again would clear an answer the open request may have been given; say why instead.
                raise AirflowFailException(
                    f"This task asked before and no try applied an answer to it, and connection "
                    f"{self.airflow_api_conn_id!r} is not defined, so the answer (if one was given) cannot be "
                    "read: asking again would clear it. Define the connection (an http connection to Airflow's "
                    "REST API as a viewer, see docs/hitl-race.md), then clear this task: it asks again (a "
                    "Clear cannot tell an answer no try applied from one applied before, so it asks)."
                )
            ledger.asking()
            return super().execute(context)
        event, why = unapplied_earlier_answer(ti, reader, ledger)
        if event is None:
            self.log.info("Asking: %s.", why)
            ledger.asking()
            return super().execute(context)
        self.log.info(
            "Applying the answer %s given by %s at %s instead of asking again: %s.",
            event["chosen_options"],
            (event["responded_by_user"] or {}).get("name"),
            event["responded_at"],
            why,
        )
        return ledger.concluding(event, lambda: self.execute_complete(context, event))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """The answer (or the timeout) resumes the task: apply it, and record when that is concluded."""
        event = (next_kwargs or {}).get("event") or {}
        return AnswerLedger.of(context).concluding(
            event,
            lambda: super(ExactlyOnceHITLOperator, self).resume_execution(next_method, next_kwargs, context),
        )

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

    def end_as_rejected(self, context: Context, why: str) -> None:
        """End this try as a Reject ends it, for a Reject an earlier try recorded: fail with
        ``fail_on_reject``, else skip the tasks that follow (as ``ApprovalOperator.execute_complete`` in
        airflow/providers/standard/operators/hitl.py does for an answer it receives)."""
        if self.fail_on_reject:
            raise HITLRejected(why)
        relatives = (
            self.get_flat_relatives(upstream=False)
            if self.ignore_downstream_trigger_rules
            else self.get_direct_relatives(upstream=False)
        )
        following = [task for task in relatives if not task.is_teardown]
        if following:
            self.log.info("%s: skipping the tasks that follow.", why)
            self.skip(ti=context["ti"], tasks=following)
