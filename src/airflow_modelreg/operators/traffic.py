"""Move traffic between the variants of an endpoint in steps, baking each step while CloudWatch alarms are
watched, and put the weights back when one fires."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_modelreg.domain.deployment import validate_shift_plan
from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError, RegistryError
from airflow_modelreg.domain.validation import group_from_arn, version_from_arn
from airflow_modelreg.hooks.endpoint import IN_PROGRESS, SETTLED_OK, WAITING_FOR_SERVICE
from airflow_modelreg.hooks.release import event_key
from airflow_modelreg.operators.deploy import EndpointOperatorBase
from airflow_modelreg.operators.register import airflow_run_of, run_key_of
from airflow_modelreg.triggers.endpoint import EndpointInServiceTrigger, TrafficBakeTrigger, endpoint_event

if TYPE_CHECKING:
    from airflow.sdk import Context

# Where a shift keeps the weights it started from, across the tries of its task (Airflow's task state store
# outlives a try; XCom is cleared when a task is retried).
ORIGINAL_WEIGHTS_KEY = "modelreg_shift_original_weights"


class ShiftTrafficOperator(EndpointOperatorBase):
    """Move traffic from one variant to another in steps (for example 10 -> 50 -> 100 percent).

    Each weight change puts the endpoint in ``Updating``; the step bakes only once the endpoint is InService
    again, for ``bake_seconds`` while the named CloudWatch alarms are checked (deferrable, neither the wait
    nor the bake costs a worker slot, and the bake ends at a wall-clock deadline that survives a triggerer
    restart). When an alarm fires, the weights return to those the shift started from, the rollback is
    recorded in the audit log (also when restoring the weights fails), and the task fails naming the alarm.

    The starting weights are recorded once, when the shift first starts, in Airflow's task state store: a
    retry of a half-shifted task rolls back to the true originals, not to the half-shifted weights it finds.

    Bound to an environment like a deployment: the endpoint must be one of its endpoints, and the variant that
    receives traffic must serve a version the environment may serve now (its current version, or the one
    before it); anything else is refused before a weight changes.

    :param environment: the environment the endpoint serves (templated; required).
    :param endpoint_name: the endpoint (templated).
    :param to_variant: the variant that receives traffic.
    :param from_variant: the variant that gives it up.
    :param steps: percent of traffic on ``to_variant`` at each step, increasing, ending at 100.
    :param alarms: CloudWatch alarms that stop and roll back the shift.
    :param max_wait_seconds: how long each wait for the endpoint to be InService may take.
    :param bake_seconds: how long each step below 100 percent bakes while the alarms are checked, in seconds
        (templated; default 600; the last step does not bake).
    :param poll_interval: seconds between looks at the endpoint and at the alarms (default 15).
    :param deferrable: wait and bake in the triggerer, without a worker slot (default: ``[operators]
        default_deferrable``).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "environment", "endpoint_name", "to_variant", "from_variant", "alarms", "bake_seconds"
    )
    ui_color = "#f4cccc"

    def __init__(
        self,
        *,
        endpoint_name: str,
        to_variant: str,
        from_variant: str,
        steps: Sequence[int] = (10, 50, 100),
        bake_seconds: float = 600,
        alarms: Sequence[str] = (),
        poll_interval: float = 15,
        max_wait_seconds: float = 3600,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.endpoint_name = endpoint_name
        self.to_variant = to_variant
        self.from_variant = from_variant
        self.steps = steps
        self.bake_seconds = bake_seconds
        self.alarms = alarms
        if isinstance(bake_seconds, (int, float)) and bake_seconds < 0:
            raise InvalidInputError(f"bake_seconds is {bake_seconds}; it cannot be negative.")
        self.poll_interval = poll_interval
        self.max_wait_seconds = max_wait_seconds
        self.deferrable = deferrable

    def weights_at(self, percent: int) -> dict[str, float]:
        return {self.to_variant: float(percent), self.from_variant: float(100 - percent)}

    # ---------------------------------------------------------------------------------- start
    def execute(self, context: Context) -> Any:
        try:
            plan = validate_shift_plan(self.steps)
            if self.to_variant == self.from_variant:
                raise InvalidInputError(f"to_variant and from_variant are both {self.to_variant!r}.")
            endpoint = self.hook.describe_endpoint(self.endpoint_name)
            if endpoint is None:
                raise InvalidInputError(f"Endpoint {self.endpoint_name!r} does not exist.")
            if endpoint["EndpointStatus"] == "Creating":  # no variants to read yet; a retry will find them
                raise AirflowException(
                    f"Endpoint {self.endpoint_name!r} is still Creating; nothing to shift yet."
                )
            weights = self.hook.weights_of(endpoint)
            for name in (self.to_variant, self.from_variant):
                if name not in weights:
                    raise InvalidInputError(
                        f"Unknown variant {name!r} on endpoint {self.endpoint_name!r}: it has "
                        f"{', '.join(sorted(weights))}."
                    )
            self.hook.alarm_states(list(self.alarms))  # refuse alarms that do not exist, before any write
        except (InvalidInputError, NotFoundError) as error:
            raise AirflowFailException(str(error)) from error  # a configuration error: retrying cannot help
        self.persist_link(context, self.endpoint_name)
        recorded = self.recorded_start(context)
        if recorded is not None:
            original = {name: float(weight) for name, weight in recorded["weights"].items()}
            self.log.info(
                "An earlier try started this shift from %s (the endpoint has %s now): those are the weights "
                "to restore.",
                original,
                weights,
            )
            if recorded.get("rollback"):  # that try could not finish rolling back: finish it (no check:
                rollback = recorded["rollback"]  # the weights go back to what served before the shift)
                return self.proceed(
                    context,
                    {
                        "plan": plan,
                        "index": plan.index(rollback["percent"]) if rollback["percent"] in plan else 0,
                        "original": original,
                        "phase": "rollback",
                        "alarms": rollback["alarms"],
                        "refused": rollback.get("refused"),
                    },
                )
        self.check_variant_serving(self.endpoint_name, endpoint, self.to_variant, verify_artifact=True)
        if recorded is None:
            original = weights
            self.record_start(context, {"endpoint": self.endpoint_name, "weights": original})
        return self.proceed(context, {"plan": plan, "index": 0, "original": original, "phase": "shift"})

    def refusal_since_start(self) -> str | None:
        """Check the receiving variant's version again after a bake (minutes long: it may have been revoked,
        rolled back out, or the environment's pointer moved on meanwhile); the refusal, audited, or None."""
        endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
        try:
            self.check_variant_serving(self.endpoint_name, endpoint, self.to_variant, verify_artifact=False)
        except AirflowFailException as refusal:
            return str(refusal)
        return None

    def recorded_start(self, context: Context) -> dict[str, Any] | None:
        """What the first try of this shift recorded (its starting weights), if this is a retry."""
        store = context.get("task_state_store")
        recorded = store.get(ORIGINAL_WEIGHTS_KEY) if store is not None else None
        if isinstance(recorded, dict) and recorded.get("endpoint") == self.endpoint_name:
            return recorded
        return None

    def record_start(self, context: Context, record: dict[str, Any]) -> None:
        store = context.get("task_state_store")
        if store is None:
            self.log.warning(
                "No task state store in this context: a retry of this task would take the weights it finds "
                "as the originals."
            )
            return
        store.set(ORIGINAL_WEIGHTS_KEY, record)

    # ------------------------------------------------------------------------------ the steps
    def proceed(self, context: Context, state: dict[str, Any]) -> Any:
        """Take the next step of the shift from ``state`` (plain values, carried through every trigger)."""
        phase = state["phase"]
        if phase in ("shift", "rollback"):
            return self.change_weights(context, state)
        if phase == "bake":
            percent = state["plan"][state["index"]]
            bake = float(self.bake_seconds) if percent < 100 else 0.0
            return self.bake(context, {**state, "bake_until": time.time() + bake})
        if phase == "rolled_back":
            return self.record_rollback(context, state, restored=True)
        raise AirflowFailException(f"Unknown phase {phase!r} in the shift's state {state}.")

    def change_weights(self, context: Context, state: dict[str, Any]) -> Any:
        """Set the weights of this step (or the originals, rolling back) once the endpoint accepts a change,
        then wait for it to be InService with them."""
        rolling_back = state["phase"] == "rollback"
        weights = state["original"] if rolling_back else self.weights_at(state["plan"][state["index"]])
        endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
        if endpoint.get("EndpointStatus") in IN_PROGRESS:
            self.log.info(
                "%s is %s: waiting before changing its weights (SageMaker refuses changes meanwhile).",
                self.endpoint_name,
                endpoint["EndpointStatus"],
            )
            return self.wait_in_service(context, state)
        try:
            self.hook.set_weights(self.endpoint_name, weights)
        except RegistryError as error:
            if "in-progress endpoint" in str(error):  # it started something between our describe and update
                return self.wait_in_service(context, state)
            if rolling_back:
                return self.record_rollback(context, state, restored=False, problem=str(error))
            raise
        if rolling_back:
            self.log.info("%s: weights set back to %s", self.endpoint_name, weights)
            return self.wait_in_service(context, {**state, "phase": "rolled_back"})
        self.log.info(
            "%s: %s%% of traffic on %s", self.endpoint_name, state["plan"][state["index"]], self.to_variant
        )
        return self.wait_in_service(context, {**state, "phase": "bake"})

    def wait_in_service(self, context: Context, state: dict[str, Any]) -> Any:
        """Wait for the endpoint to be InService (waiter model), then go on with ``state``."""
        if self.deferrable:
            self.defer(
                trigger=EndpointInServiceTrigger(
                    endpoint_name=self.endpoint_name,
                    waiter_delay=self.poll_interval,
                    waiter_max_attempts=max(1, math.ceil(self.max_wait_seconds / self.poll_interval)),
                    state=state,
                    **self.endpoint_connection,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="endpoint_ready",
            )
        try:
            endpoint = self.hook.wait_for(
                self.endpoint_name, "EndpointInService", self.poll_interval, self.max_wait_seconds
            )
        except RegistryError as error:
            return self.endpoint_ready(context, {"status": "error", "message": str(error), "state": state})
        return self.endpoint_ready(context, {**endpoint_event(endpoint), "state": state})

    def endpoint_ready(self, context: Context, event: dict[str, Any]) -> Any:
        state = event["state"]
        if event.get("status") in WAITING_FOR_SERVICE:  # moving again since the wait ended (maintenance...)
            return self.wait_in_service(context, state)
        if event.get("status") not in SETTLED_OK:
            problem = (
                event.get("message")
                or f"the endpoint is {event.get('status')} ({event.get('failure_reason') or 'no reason given'})"
            )
            if state["phase"] in ("rollback", "rolled_back"):
                return self.record_rollback(context, state, restored=False, problem=problem)
            raise AirflowException(f"Waiting for {self.endpoint_name} to be InService failed: {problem}")
        return self.proceed(context, state)

    def bake(self, context: Context, state: dict[str, Any]) -> Any:
        if self.deferrable:
            self.defer(
                trigger=TrafficBakeTrigger(
                    alarms=list(self.alarms),
                    bake_until=state["bake_until"],
                    **self.endpoint_connection,
                    botocore_config=self.botocore_config,
                    poll_interval=self.poll_interval,
                    state=state,
                ),
                method_name="step_complete",
            )
        while True:
            firing = [
                name
                for name, status in self.hook.alarm_states(list(self.alarms)).items()
                if status == "ALARM"
            ]
            if firing:
                return self.step_complete(context, {"status": "alarm", "alarms": firing, "state": state})
            remaining = state["bake_until"] - time.time()
            if remaining <= 0:
                return self.step_complete(context, {"status": "baked", "state": state})
            time.sleep(min(self.poll_interval, remaining))

    def step_complete(self, context: Context, event: dict[str, Any]) -> Any:
        state = event["state"]
        if event.get("status") == "alarm":
            return self.proceed(context, {**state, "phase": "rollback", "alarms": event["alarms"]})
        if event.get("status") != "baked":
            raise AirflowException(
                f"Watching the alarms of {self.endpoint_name} failed: {event.get('message')}"
            )
        refused = self.refusal_since_start()
        if refused:  # no further step: the starting weights go back, as when an alarm fires
            return self.proceed(context, {**state, "phase": "rollback", "alarms": [], "refused": refused})
        if state["index"] + 1 < len(state["plan"]):
            return self.proceed(context, {**state, "index": state["index"] + 1, "phase": "shift"})
        endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
        weights = self.hook.weights_of(endpoint)
        arn = self.version_of_variant(endpoint, self.to_variant)
        if arn:
            self.records.record(
                group_from_arn(arn),
                "traffic-shifted",
                key=event_key("traffic-shifted", run_key_of(context)),
                version=version_from_arn(arn),
                arn=arn,
                environment=self.environment,
                airflow_run=airflow_run_of(context),
                details={
                    "endpoint": self.endpoint_name,
                    "variant": self.to_variant,
                    "steps": state["plan"],
                    "weights": weights,
                },
            )
        store = context.get("task_state_store")
        if store is not None:
            store.delete(ORIGINAL_WEIGHTS_KEY)
        return {"endpoint": self.endpoint_name, "weights": weights, "steps": state["plan"]}

    # ------------------------------------------------------------------------------- rollback
    def record_rollback(
        self, context: Context, state: dict[str, Any], restored: bool, problem: str | None = None
    ) -> Any:
        """Record the rollback on the version the shift moved traffic to, whether or not the weights could be
        restored, then fail the task naming the alarm."""
        alarms, percent, original = state["alarms"], state["plan"][state["index"]], state["original"]
        outcome = (
            f"weights restored {original}" if restored else f"weights NOT restored to {original}: {problem}"
        )
        cause = state.get("refused") or f"CloudWatch alarm(s) {', '.join(alarms)} in ALARM"
        try:
            endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
            arn = self.version_of_variant(endpoint, self.to_variant) if endpoint else None
            if arn:
                self.records.record(
                    group_from_arn(arn),
                    "traffic-rolled-back",
                    # One record per outcome: a rollback that could not restore, then its retry that did.
                    key=event_key(
                        f"traffic-rolled-back:{'restored' if restored else 'not-restored'}",
                        run_key_of(context),
                    ),
                    version=version_from_arn(arn),
                    arn=arn,
                    environment=self.environment,
                    reason=f"{cause} at {percent}%: {outcome}"[:1000],
                    airflow_run=airflow_run_of(context),
                    details={
                        "endpoint": self.endpoint_name,
                        "variant": self.to_variant,
                        "restored_weights": original,
                        "restored": restored,
                    },
                )
        except Exception as error:  # the task fails below either way; say the audit record is missing
            self.log.error(
                "AUDIT: could not record the rollback of %s on its version: %s", self.endpoint_name, error
            )
        message = f"Traffic shift on {self.endpoint_name} rolled back at {percent}%: {cause}. "
        if restored:
            self.record_start(context, {"endpoint": self.endpoint_name, "weights": original})
            raise AirflowFailException(message + f"Weights restored to {original}.")
        # Not restored: a retry reads the same originals and this unfinished rollback, and finishes it.
        self.record_start(
            context,
            {
                "endpoint": self.endpoint_name,
                "weights": original,
                "rollback": {"alarms": list(alarms), "percent": percent, "refused": state.get("refused")},
            },
        )
        raise AirflowException(message + f"Restoring the weights to {original} failed: {problem}")
