"""Which answer a try of an approval task applies, and when it asks again: the ledger each task instance keeps
in Airflow's task state store, read with the task instance's HITL record (as Airflow's REST API returns it).
The live stack runs the same paths end to end (tests/e2e/test_hitl_race.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.operators.hitl import AnswerLedger, TaskInstanceRef, unapplied_earlier_answer

ANSWERED_AT = "2026-12-05T10:00:00.123456Z"


class RecordedAirflow:
    """A task instance's HITL record and try history, as Airflow's REST API serves them."""

    def __init__(
        self, responded_at: str | None, try_number: int, tries: dict[int, dict[str, Any]], max_tries: int = 3
    ):
        self.detail = {
            "response_received": responded_at is not None,
            "responded_at": responded_at,
            "chosen_options": ["Reject"] if responded_at else None,
            "params_input": {},
            "responded_by_user": {"id": "bob", "name": "bob"} if responded_at else None,
            "task_instance": {"try_number": try_number, "max_tries": max_tries},
        }
        self.tries = tries

    def hitl_detail(self, ti: TaskInstanceRef) -> dict[str, Any]:
        return self.detail

    def earlier_try(self, ti: TaskInstanceRef, try_number: int) -> dict[str, Any] | None:
        return self.tries.get(try_number)


def _apply(ledger: AnswerLedger, responded_at: Any, error: BaseException | None = None) -> None:
    def apply() -> str:
        if error is not None:
            raise error
        return "applied"

    ledger.concluding({"responded_at": responded_at}, apply)


def test_an_answer_no_try_applied_is_applied_by_a_retry_and_asked_again_after_a_clear(make_context):
    context = make_context(task_id="approve", try_number=2)
    ledger = AnswerLedger.of(context)
    ledger.asking()
    # Try 1 asked and was answered, and Airflow failed it before it applied the answer (the race): the retry
    # applies the answer.
    retried = RecordedAirflow(ANSWERED_AT, try_number=2, tries={})
    event, why = unapplied_earlier_answer(context["ti"], retried, ledger)
    assert event is not None and event["chosen_options"] == ["Reject"], why
    assert event["responded_at"] == datetime(2026, 12, 5, 10, 0, 0, 123456, tzinfo=UTC)
    # A person cleared the task instead (more max_tries): the ledger cannot prove the answer was never
    # applied (Airflow may have emptied it), so the person is asked again rather than an old answer applied.
    cleared = RecordedAirflow(
        ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}}, max_tries=4
    )
    event, why = unapplied_earlier_answer(context["ti"], cleared, ledger)
    assert event is None and "cleared since: asking again" in why


@pytest.mark.parametrize("emptied", ["the whole ledger", "the conclusion"])
def test_an_emptied_ledger_never_makes_an_old_answer_apply_again(make_context, emptied):
    """Airflow empties a task's state store on success with ``[state_store] clear_on_success``, drops it
    after its retention, and lets a user delete keys: the try history then decides, and asks again."""
    context = make_context(task_id="approve")
    ledger = AnswerLedger.of(context)
    ledger.asking()
    _apply(ledger, ANSWERED_AT)
    store = context["task_state_store"]
    for key in [AnswerLedger.CONCLUDED] + ([AnswerLedger.ASKED] if emptied == "the whole ledger" else []):
        store.delete(key)
    later = make_context(task_id="approve", try_number=2)
    succeeded = RecordedAirflow(
        ANSWERED_AT, try_number=2, tries={1: {"state": "success", "max_tries": 3}}, max_tries=4
    )
    event, why = unapplied_earlier_answer(later["ti"], succeeded, AnswerLedger.of(later))
    assert event is None and "asking again" in why
    rejected = RecordedAirflow(
        ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}}, max_tries=4
    )
    event, why = unapplied_earlier_answer(later["ti"], rejected, AnswerLedger.of(later))
    assert event is None and "cleared since: asking again" in why


@pytest.mark.parametrize(
    "ending",
    [None, AirflowFailException("Rejected, and the task fails on Reject")],
    ids=["applied to the end", "a deliberate failure"],
)
def test_an_answer_applied_to_the_end_is_never_applied_again_a_clear_asks(make_context, ending):
    context = make_context(task_id="approve")
    ledger = AnswerLedger.of(context)
    ledger.asking()
    # The resumed try gets the event's datetime; the REST record says the same instant in text.
    answered = datetime(2026, 12, 5, 10, 0, 0, 123456, tzinfo=UTC)
    if ending is None:
        _apply(ledger, answered)
    else:
        with pytest.raises(AirflowFailException):
            _apply(ledger, answered, ending)
    later = make_context(task_id="approve", try_number=2)
    # A person cleared the task since: Airflow raised its max_tries (3 -> 4).
    cleared = RecordedAirflow(
        ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}}, max_tries=4
    )
    event, why = unapplied_earlier_answer(later["ti"], cleared, AnswerLedger.of(later))
    assert event is None and "cleared since: asking again" in why
    assert not AnswerLedger.of(later).open_request()
    # Airflow retried it instead (its race failed the try that applied the answer): the same answer again,
    # to the same end (a Reject fails the task again), never a second question.
    retried = RecordedAirflow(ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}})
    event, why = unapplied_earlier_answer(later["ti"], retried, AnswerLedger.of(later))
    assert event is not None and event["chosen_options"] == ["Reject"] and "applying it again" in why


def test_an_ordinary_error_while_applying_leaves_the_answer_for_the_next_try(make_context):
    context = make_context(task_id="approve")
    ledger = AnswerLedger.of(context)
    ledger.asking()
    with pytest.raises(ConnectionError):
        _apply(ledger, ANSWERED_AT, ConnectionError("the registry did not answer"))
    assert ledger.open_request()
    retry = make_context(task_id="approve", try_number=2)
    airflow = RecordedAirflow(ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}})
    event, _ = unapplied_earlier_answer(retry["ti"], airflow, AnswerLedger.of(retry))
    assert event is not None


def test_a_new_request_is_open_until_its_answer_is_concluded(make_context):
    ledger = AnswerLedger.of(make_context(task_id="approve"))
    assert not ledger.open_request()  # nothing asked yet
    ledger.asking()
    assert ledger.open_request()
    _apply(ledger, ANSWERED_AT)
    assert not ledger.open_request()
    ledger.asking()  # cleared and asked again: the earlier conclusion does not close the new request
    assert ledger.open_request()
    assert ledger.concluded("2026-12-05T11:00:00+00:00") is None and ledger.concluded(ANSWERED_AT) is not None


def test_without_a_task_state_store_the_try_history_decides(make_context):
    context = make_context(task_id="approve", try_number=2)
    context.pop("task_state_store")
    ledger = AnswerLedger.of(context)
    assert not ledger.available
    raced = RecordedAirflow(ANSWERED_AT, try_number=2, tries={})  # the raced try left no history
    assert unapplied_earlier_answer(context["ti"], raced, ledger)[0] is not None
    cleared = RecordedAirflow(
        ANSWERED_AT, try_number=2, tries={1: {"state": "failed", "max_tries": 3}}, max_tries=4
    )
    event, why = unapplied_earlier_answer(context["ti"], cleared, ledger)
    assert event is None and "cleared since" in why
