"""Deployment rules: production and shadow variants, weights, blue/green routing, traffic-shift plans, and
names derived from the request so that deploying the same thing twice is a no-op."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.validation import validate_entity_name, validate_model_package_arn

ROUTING_TYPES = {"all_at_once": "ALL_AT_ONCE", "canary": "CANARY", "linear": "LINEAR"}


@dataclass(frozen=True)
class VariantSpec:
    """One variant of an endpoint: an approved version served with a weight on some instances."""

    name: str
    model_package_arn: str
    weight: float = 1.0
    instance_type: str = "ml.m5.large"
    instance_count: int = 1

    @classmethod
    def from_mapping(cls, value: Mapping[str, Any] | VariantSpec) -> VariantSpec:
        if isinstance(value, VariantSpec):
            return value
        unknown = set(value) - {"name", "model_package_arn", "weight", "instance_type", "instance_count"}
        if unknown:
            raise InvalidInputError(f"Unknown variant field(s) {sorted(unknown)} in {dict(value)!r}.")
        if "name" not in value or "model_package_arn" not in value:
            raise InvalidInputError(f"A variant needs 'name' and 'model_package_arn': {dict(value)!r}.")
        return cls(**value)

    def validate(self) -> None:
        validate_entity_name(self.name, "variant name")
        validate_model_package_arn(self.model_package_arn)
        if (
            isinstance(self.weight, bool)
            or not isinstance(self.weight, (int, float))
            or not math.isfinite(self.weight)
        ):
            raise InvalidInputError(f"Variant {self.name!r} has weight {self.weight!r}; expected a number.")
        if self.weight < 0:
            raise InvalidInputError(f"Variant {self.name!r} has negative weight {self.weight}.")
        if not isinstance(self.instance_type, str) or not self.instance_type.startswith("ml."):
            raise InvalidInputError(
                f"Variant {self.name!r} has instance type {self.instance_type!r}: SageMaker instance types start "
                "with 'ml.' (for example 'ml.m5.large')."
            )
        if not isinstance(self.instance_count, int) or self.instance_count < 1:
            raise InvalidInputError(
                f"Variant {self.name!r} has instance count {self.instance_count!r}; expected at least 1."
            )


def validate_variants(production: Sequence[VariantSpec], shadow: Sequence[VariantSpec] = ()) -> None:
    """Names unique across production and shadow variants; weights valid and not all zero."""
    if not production:
        raise InvalidInputError("A deployment needs at least one production variant.")
    names: list[str] = []
    for variant in [*production, *shadow]:
        variant.validate()
        if variant.name in names:
            raise InvalidInputError(f"Variant name {variant.name!r} is used twice; names must be unique.")
        names.append(variant.name)
    if all(variant.weight == 0 for variant in production):
        raise InvalidInputError(
            "All production variant weights are zero: at least one variant must receive traffic."
        )
    if len(shadow) > 1:
        raise InvalidInputError(f"SageMaker allows one shadow variant; {len(shadow)} were given.")


def traffic_shares(variants: Sequence[VariantSpec]) -> dict[str, float]:
    total = sum(variant.weight for variant in variants)
    return {variant.name: round(100 * variant.weight / total, 2) for variant in variants}


def model_name(group: str, version: int, digest: str | None) -> str:
    """The SageMaker model for a version: derived, so the same version is one model whoever deploys it."""
    suffix = f"-v{version}" + (f"-{digest[:8]}" if digest else "")
    return f"{group[: 63 - len(suffix)].rstrip('-')}{suffix}"


def config_name(endpoint: str, request: Mapping[str, Any]) -> str:
    """The endpoint config for a request: the same request always names the same config."""
    digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{endpoint[:50].rstrip('-')}-{digest}"


def deployment_config(
    routing: str,
    alarms: Sequence[str] = (),
    step_percent: int | None = None,
    wait_seconds: int = 300,
    termination_wait_seconds: int = 0,
) -> dict[str, Any] | None:
    """A blue/green ``DeploymentConfig``: ``all_at_once``, ``canary`` (one step of ``step_percent``) or
    ``linear`` (steps of ``step_percent``), with ``AutoRollbackConfiguration`` on the named alarms."""
    if routing not in ROUTING_TYPES:
        raise InvalidInputError(f"Unknown routing {routing!r}: use {', '.join(ROUTING_TYPES)}.")
    traffic: dict[str, Any] = {"Type": ROUTING_TYPES[routing], "WaitIntervalInSeconds": int(wait_seconds)}
    if routing in ("canary", "linear"):
        if not isinstance(step_percent, int) or not 0 < step_percent < 100:
            raise InvalidInputError(
                f"A {routing} deployment needs step_percent between 1 and 99; got {step_percent!r}."
            )
        key = "CanarySize" if routing == "canary" else "LinearStepSize"
        traffic[key] = {"Type": "CAPACITY_PERCENT", "Value": step_percent}
    config: dict[str, Any] = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": traffic,
            "TerminationWaitInSeconds": int(termination_wait_seconds),
        }
    }
    if alarms:
        config["AutoRollbackConfiguration"] = {"Alarms": [{"AlarmName": name} for name in alarms]}
    return config


def validate_shift_plan(steps: Sequence[Any]) -> list[int]:
    """Percent of traffic for the new variant at each step: increasing, ending at 100."""
    if not steps:
        raise InvalidInputError("A traffic shift needs at least one step.")
    plan: list[int] = []
    for step in steps:
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not 0 < step <= 100:
            raise InvalidInputError(f"Traffic step {step!r} is not a percentage in (0, 100].")
        if plan and step <= plan[-1]:
            raise InvalidInputError(f"Traffic steps must increase; {step} follows {plan[-1]}.")
        plan.append(int(step))
    if plan[-1] != 100:
        raise InvalidInputError(f"The last traffic step must be 100; the plan {plan} ends at {plan[-1]}.")
    return plan


def as_dicts(variants: Sequence[VariantSpec]) -> list[dict[str, Any]]:
    return [asdict(variant) for variant in variants]
