"""Traffic shifts against endpoints that change state as SageMaker's do: every weight change passes through
Updating, maintenance can start at any time, a retry must know the weights the shift started from, and the
bake deadline must survive a triggerer restart."""

from __future__ import annotations

import threading
import time

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_modelreg.hooks.audit_log import AuditLogHook
from tests.helpers import PROD_LADDER, put_alarm
from tests.operators.deploying import (
    ENDPOINT,
    ab,
    approved_versions,
    deploy_operator,
    held_transitions,
    run_deferrable,
    shift_operator,
    transitions,
    weights,
)

ORIGINAL = {"champion": 100.0, "challenger": 0.0}


@pytest.fixture
def endpoint(aws, bucket, make_context):
    """churn-prod with champion (v1) at 100% and challenger (v2) at 0%; an alarm in OK."""
    a, b = approved_versions(aws, bucket, make_context)
    deploy_operator(ab(a, b, 100, 0)).execute(make_context(task_id="deploy"))
    return put_alarm(aws)


def _rollback_records() -> list[dict]:
    """The audit log's rollback events of 'churn', oldest first."""
    return AuditLogHook(log_uri=PROD_LADDER["audit_log"]).events("churn", kind="traffic-rolled-back")


def _fire(aws, alarm: str) -> None:
    aws.boto3_client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx")


def test_each_step_waits_for_in_service_before_baking(aws, endpoint, make_context):
    """Weight changes take longer than a bake: a step that baked while Updating would find the endpoint
    still in progress at the next step, and SageMaker would refuse its weight change."""
    with transitions(aws, 1.5):
        result = shift_operator([endpoint], bake_seconds=0.1).execute(make_context(task_id="shift"))
    assert result["weights"] == {"challenger": 100.0, "champion": 0.0}
    assert aws.calls()["sagemaker:UpdateEndpointWeightsAndCapacities"] == 3


def test_maintenance_before_a_step_is_waited_out(aws, endpoint, make_context):
    aws.set_endpoint_state(ENDPOINT, status="SystemUpdating", seconds=3600)
    with held_transitions(aws):
        result = shift_operator([endpoint]).execute(make_context(task_id="shift"))
    assert result["weights"] == {"challenger": 100.0, "champion": 0.0}


def test_a_rollback_that_must_wait_restores_the_weights_and_is_audited(aws, endpoint, make_context):
    """The alarm fires during the 50% bake, just as AWS starts maintenance on the endpoint: the rollback's
    weight change must wait for the maintenance to end (SageMaker refuses it meanwhile), then the weights
    return and the rollback is recorded."""
    fired = threading.Event()

    def alarm_and_maintenance_during_the_fifty_percent_bake():
        sm = aws.boto3_client("sagemaker")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            described = sm.describe_endpoint(EndpointName=ENDPOINT)
            current = {v["VariantName"]: v.get("CurrentWeight") for v in described["ProductionVariants"]}
            if described["EndpointStatus"] == "InService" and current.get("challenger") == 50.0:
                aws.set_endpoint_state(ENDPOINT, status="SystemUpdating", seconds=2)
                _fire(aws, endpoint)
                fired.set()
                return
            time.sleep(0.05)

    watcher = threading.Thread(target=alarm_and_maintenance_during_the_fifty_percent_bake, daemon=True)
    watcher.start()
    with pytest.raises(AirflowFailException, match="rolled back at 50%"):
        # The shift starts at 50%: a long bake the alarm can interrupt, with no 10% bake to sit through first.
        shift_operator([endpoint], steps=[50, 100], bake_seconds=60).execute(make_context(task_id="shift"))
    watcher.join()
    assert fired.is_set()
    assert weights(aws) == ORIGINAL
    (record,) = _rollback_records()
    assert endpoint in record["reason"] and f"weights restored {ORIGINAL}" in record["reason"]
    assert record["environment"] == "prod" and record["details"]["endpoint"] == ENDPOINT


def test_a_retry_of_a_half_shifted_task_rolls_back_to_the_true_originals(aws, endpoint, make_context):
    # The first try dies on its third weight change (the worker is killed): it leaves the endpoint at 50%.
    aws.inject_faults(
        rate=1.0, kinds=["deny"], actions=["UpdateEndpointWeightsAndCapacities"], writes_only=True, after=2
    )
    with pytest.raises(Exception, match="AccessDenied"):  # noqa: B017 - the worker's death, as AWS refuses
        shift_operator([endpoint], bake_seconds=0.1).execute(make_context(task_id="shift"))
    aws.clear_faults()
    assert weights(aws) == {"champion": 50.0, "challenger": 50.0}
    # The retry (same task and run, a new try) meets the alarm and rolls back: to 100/0, not to 50/50.
    _fire(aws, endpoint)
    with pytest.raises(AirflowFailException, match=f"Weights restored to {ORIGINAL}"):
        shift_operator([endpoint]).execute(make_context(task_id="shift", try_number=2))
    assert weights(aws) == ORIGINAL
    assert f"weights restored {ORIGINAL}" in _rollback_records()[-1]["reason"]


def test_a_rollback_that_cannot_restore_is_audited_and_finished_by_the_retry(aws, endpoint, make_context):
    # The alarm fires at the first step; the rollback's own weight change is refused.
    _fire(aws, endpoint)
    aws.inject_faults(
        rate=1.0, kinds=["deny"], actions=["UpdateEndpointWeightsAndCapacities"], writes_only=True, after=1
    )
    with pytest.raises(AirflowException, match="Restoring the weights to .* failed") as raised:
        shift_operator([endpoint]).execute(make_context(task_id="shift"))
    assert not isinstance(raised.value, AirflowFailException)  # retryable: the retry can finish it
    (record,) = _rollback_records()
    assert "weights NOT restored" in record["reason"] and endpoint in record["reason"]
    aws.clear_faults()
    assert weights(aws) == {"champion": 90.0, "challenger": 10.0}
    aws.reset_calls()
    with pytest.raises(AirflowFailException, match=f"Weights restored to {ORIGINAL}"):
        shift_operator([endpoint]).execute(make_context(task_id="shift", try_number=2))
    assert weights(aws) == ORIGINAL
    # The retry went straight to the rollback: one weight change, to the originals.
    assert aws.calls()["sagemaker:UpdateEndpointWeightsAndCapacities"] == 1
    assert f"weights restored {ORIGINAL}" in _rollback_records()[-1]["reason"]


def test_deferrable_shift_bakes_in_the_triggerer_across_restarts(aws, endpoint, make_context):
    """Every trigger is re-created from its serialized arguments before it runs (a restarted triggerer):
    the original weights and the bake deadlines travel in them."""
    result, triggers = run_deferrable(
        shift_operator([endpoint], deferrable=True), make_context(task_id="shift")
    )
    assert result["weights"] == {"challenger": 100.0, "champion": 0.0}
    assert triggers == ["EndpointInServiceTrigger", "TrafficBakeTrigger"] * 3


def test_deferrable_rollback_restores_the_originals_from_the_trigger_state(aws, endpoint, make_context):
    _fire(aws, endpoint)
    with pytest.raises(AirflowFailException, match="rolled back at 10%"):
        run_deferrable(shift_operator([endpoint], deferrable=True), make_context(task_id="shift"))
    assert weights(aws) == ORIGINAL
    assert len(_rollback_records()) == 1


def test_unknown_alarm_fails_without_retries(aws, endpoint, make_context):
    with pytest.raises(AirflowFailException, match="do not exist"):
        shift_operator(["no-such-alarm"]).execute(make_context(task_id="shift"))
    assert weights(aws) == ORIGINAL
