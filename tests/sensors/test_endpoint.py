"""EndpointSensor against the stand-in: SystemUpdating is waited out, failures that waiting cannot fix fail
without retries, timeouts are sensor timeouts (so soft_fail skips)."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_modelreg.sensors.endpoint import EndpointSensor
from tests.helpers import one_variant_endpoint
from tests.operators.deploying import held_transitions, run_deferrable


@pytest.fixture
def endpoint(aws):
    one_variant_endpoint(aws)
    return "ep"


def _sensor(**kwargs):
    kwargs.setdefault("poke_interval", 0.1)
    kwargs.setdefault("timeout", 60)
    return EndpointSensor(task_id="wait", endpoint_name="ep", **kwargs)


def test_maintenance_is_waited_out(aws, endpoint, make_context):
    run_deferrable(_sensor(deferrable=True), make_context(task_id="wait"))
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    assert _sensor().poke(make_context(task_id="wait")) is False  # in progress, not failed
    with held_transitions(aws, "ep"):  # the maintenance ends once the sensor has seen it
        _sensor().execute(make_context(task_id="wait"))
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    with held_transitions(aws, "ep"):
        _, triggers = run_deferrable(_sensor(deferrable=True), make_context(task_id="wait"))
    assert triggers == ["EndpointInServiceTrigger"]


@pytest.mark.parametrize("status", ["Failed", "OutOfService", "UpdateRollbackFailed"])
def test_states_waiting_cannot_fix_fail_without_retries(aws, endpoint, make_context, status):
    run_deferrable(_sensor(deferrable=True), make_context(task_id="wait"))
    aws.set_endpoint_state("ep", status=status, failure_reason="broken")
    with pytest.raises(AirflowFailException, match=f"is {status}"):
        _sensor().execute(make_context(task_id="wait"))


def test_a_timeout_is_a_sensor_timeout_and_soft_fail_skips(aws, endpoint, make_context):
    run_deferrable(_sensor(deferrable=True), make_context(task_id="wait"))
    aws.set_endpoint_state("ep", status="SystemUpdating", seconds=3600)
    with pytest.raises(AirflowSensorTimeout):
        _sensor(timeout=0.5).execute(make_context(task_id="wait"))
    sensor = _sensor(deferrable=True, timeout=0.5)
    with pytest.raises(AirflowSensorTimeout):
        run_deferrable(sensor, make_context(task_id="wait"))
    with pytest.raises(AirflowSkipException):
        sensor = _sensor(deferrable=True, timeout=0.5, soft_fail=True)
        sensor.resume_execution(
            "execute_complete", {"event": {"status": "timeout", "message": "x"}}, make_context(task_id="wait")
        )
