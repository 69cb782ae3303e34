"""Move traffic between the variants of an endpoint in steps, baking each step while CloudWatch alarms are
watched, and put the weights back when one fires."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.domain.deployment import validate_shift_plan
from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.validation import group_from_arn, version_from_arn
from airflow_modelreg.hooks.release import event_key
from airflow_modelreg.operators.deploy import EndpointOperatorBase
from airflow_modelreg.operators.register import airflow_run_of, run_key_of
from airflow_modelreg.triggers.endpoint import TrafficBakeTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class ShiftTrafficOperator(EndpointOperatorBase):
    """Move traffic from one variant to another in steps (for example 10 -> 50 -> 100 percent).

    After each step the traffic bakes for ``bake_seconds`` while the named CloudWatch alarms are checked;
    deferrable, the bake costs no worker slot. When an alarm fires, the weights return to where they were
    before the shift, the rollback is recorded in the audit log, and the task fails naming the alarm.

    Bound to an environment like a deployment: the endpoint must be one of its endpoints, and the variant that
    receives traffic must serve a version the environment may serve now (its current version, or the one
    before it); anything else is refused before a weight changes.

    :param environment: the environment the endpoint serves (templated; required).
    :param endpoint_name: the endpoint (templated).
    :param to_variant: the variant that receives traffic.
    :param from_variant: the variant that gives it up.
    :param steps: percent of traffic on ``to_variant`` at each step, increasing, ending at 100.
    :param alarms: CloudWatch alarms that stop and roll back the shift.
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
        self.deferrable = deferrable

    def weights_at(self, percent: int) -> dict[str, float]:
        return {self.to_variant: float(percent), self.from_variant: float(100 - percent)}

    def execute(self, context: Context) -> dict[str, Any]:
        plan = validate_shift_plan(self.steps)
        if self.to_variant == self.from_variant:
            raise InvalidInputError(f"to_variant and from_variant are both {self.to_variant!r}.")
        endpoint = self.hook.describe_endpoint(self.endpoint_name)
        if endpoint is None:
            raise InvalidInputError(f"Endpoint {self.endpoint_name!r} does not exist.")
        weights = self.hook.weights_of(endpoint)
        for name in (self.to_variant, self.from_variant):
            if name not in weights:
                raise InvalidInputError(
                    f"Unknown variant {name!r} on endpoint {self.endpoint_name!r}: it has {', '.join(sorted(weights))}."
                )
        self.hook.alarm_states(list(self.alarms))  # refuse alarms that do not exist, before any write
        receiving = self.version_of_variant(endpoint, self.to_variant)
        self.check_serving(self.endpoint_name, [receiving] if receiving else [], verify_artifact=False)
        self.persist_link(context, self.endpoint_name)
        return self.run_step(context, plan, 0, weights)

    def run_step(self, context: Context, plan: list[int], index: int, original: dict[str, float]) -> Any:
        percent = plan[index]
        self.hook.set_weights(self.endpoint_name, self.weights_at(percent))
        self.log.info("%s: %s%% of traffic on %s", self.endpoint_name, percent, self.to_variant)
        if self.deferrable:
            self.defer(
                trigger=TrafficBakeTrigger(
                    alarms=list(self.alarms),
                    bake_seconds=float(self.bake_seconds) if percent < 100 else 0.0,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    botocore_config=self.botocore_config,
                    poll_interval=self.poll_interval,
                    state={"plan": plan, "index": index, "original": original},
                ),
                method_name="step_complete",
            )
        deadline = time.monotonic() + (float(self.bake_seconds) if percent < 100 else 0.0)
        while True:
            firing = [
                name for name, state in self.hook.alarm_states(list(self.alarms)).items() if state == "ALARM"
            ]
            if firing:
                return self.step_complete(
                    context, {"status": "alarm", "alarms": firing}, plan, index, original
                )
            if time.monotonic() >= deadline:
                return self.step_complete(context, {"status": "baked"}, plan, index, original)
            time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))

    def step_complete(
        self,
        context: Context,
        event: dict[str, Any],
        plan: list[int] | None = None,
        index: int | None = None,
        original: dict[str, float] | None = None,
    ) -> Any:
        if plan is None or index is None or original is None:  # resumed from the trigger's event
            state = event["state"]
            plan, index, original = state["plan"], state["index"], state["original"]
        if event.get("status") == "alarm":
            return self.roll_back(context, event["alarms"], plan[index], original)
        if event.get("status") != "baked":
            raise AirflowFailException(
                f"Watching the alarms of {self.endpoint_name} failed: {event.get('message')}"
            )
        if index + 1 < len(plan):
            return self.run_step(context, plan, index + 1, original)
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
                    "steps": plan,
                    "weights": weights,
                },
            )
        return {"endpoint": self.endpoint_name, "weights": weights, "steps": plan}

    def roll_back(self, context: Context, alarms: list[str], percent: int, original: dict[str, float]) -> Any:
        self.hook.set_weights(self.endpoint_name, original)
        endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
        arn = self.version_of_variant(endpoint, self.to_variant)
        if arn:
            self.records.record(
                group_from_arn(arn),
                "traffic-rolled-back",
                key=event_key("traffic-rolled-back", run_key_of(context)),
                version=version_from_arn(arn),
                arn=arn,
                environment=self.environment,
                reason=f"CloudWatch alarm(s) {', '.join(alarms)} in ALARM at {percent}%",
                airflow_run=airflow_run_of(context),
                details={
                    "endpoint": self.endpoint_name,
                    "variant": self.to_variant,
                    "restored_weights": original,
                },
            )
        raise AirflowFailException(
            f"Traffic shift on {self.endpoint_name} rolled back at {percent}%: CloudWatch alarm(s) "
            f"{', '.join(alarms)} in ALARM. Weights restored to {original}."
        )
