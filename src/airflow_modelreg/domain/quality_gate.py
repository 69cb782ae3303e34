"""The quality gate a version must pass before it is sent to a person for approval."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from airflow_modelreg.domain.errors import InvalidInputError


@dataclass(frozen=True)
class QualityGate:
    """Minimum (or maximum) metric values, and a margin by which to beat the currently approved version.

    :param minimums: metric -> lowest acceptable value.
    :param maximums: metric -> highest acceptable value (for losses, latencies, error rates).
    :param must_beat_approved_by: metric -> margin the candidate must improve on the approved version by.
        The direction follows ``lower_is_better``.
    :param lower_is_better: metrics for which a smaller value is an improvement.
    """

    minimums: Mapping[str, float] = field(default_factory=dict)
    maximums: Mapping[str, float] = field(default_factory=dict)
    must_beat_approved_by: Mapping[str, float] = field(default_factory=dict)
    lower_is_better: Collection[str] = ()

    def __post_init__(self) -> None:
        for kind in ("minimums", "maximums", "must_beat_approved_by"):
            for name, value in getattr(self, kind).items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise InvalidInputError(f"Quality gate {kind}[{name!r}] is {value!r}; expected a number.")
        for name, margin in self.must_beat_approved_by.items():
            if margin < 0:
                raise InvalidInputError(
                    f"Quality gate margin for {name!r} is {margin}; a margin cannot be negative."
                )

    @property
    def is_empty(self) -> bool:
        return not (self.minimums or self.maximums or self.must_beat_approved_by)

    def evaluate(
        self, metrics: Mapping[str, float], approved_metrics: Mapping[str, float] | None = None
    ) -> GateResult:
        """Check ``metrics`` against the gate; ``approved_metrics`` are those of the approved version."""
        failures: list[str] = []
        for name, minimum in self.minimums.items():
            if name not in metrics:
                failures.append(f"{name} is missing (minimum {minimum})")
            elif metrics[name] < minimum:
                failures.append(f"{name}={metrics[name]:g} is below the minimum {minimum:g}")
        for name, maximum in self.maximums.items():
            if name not in metrics:
                failures.append(f"{name} is missing (maximum {maximum})")
            elif metrics[name] > maximum:
                failures.append(f"{name}={metrics[name]:g} is above the maximum {maximum:g}")
        for name, margin in self.must_beat_approved_by.items():
            if not approved_metrics or name not in approved_metrics:
                continue  # nothing approved yet to beat: the first version only meets the bounds
            if name not in metrics:
                failures.append(f"{name} is missing (must beat the approved version)")
                continue
            baseline = approved_metrics[name]
            if name in self.lower_is_better:
                if metrics[name] > baseline - margin:
                    failures.append(
                        f"{name}={metrics[name]:g} does not beat the approved {baseline:g} by {margin:g} "
                        "(lower is better)"
                    )
            elif metrics[name] < baseline + margin:
                failures.append(
                    f"{name}={metrics[name]:g} does not beat the approved {baseline:g} by {margin:g}"
                )
        return GateResult(passed=not failures, failures=tuple(failures))


@dataclass(frozen=True)
class GateResult:
    passed: bool
    failures: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        return "passed" if self.passed else "failed: " + "; ".join(self.failures)
