"""When a feature has drifted: the decision rule, its thresholds and their validation.

Plain Python without numpy, so sensors and operators can check thresholds when a DAG file is parsed without
paying for numpy's import (the drift engine, ``domain/drift.py``, is imported when a task runs).

The rule decides on effect sizes, never on p-values. At millions of rows a chi-square or Kolmogorov-Smirnov
p-value is tiny for shifts far too small to matter, so a p-value trigger would fire on every healthy day.
The thresholds follow common practice: PSI 0.2 is the usual "significant shift" line, and 0.1 for the
normalised Wasserstein distance (numeric) and the Jensen-Shannon distance (categorical) is the default of
Evidently's data drift preset for large data. BENCHMARKS.md measures how often they fire on data without
drift, and which shifts they catch, from 1,000 to 10,000,000 rows.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

from airflow_modelreg.domain.errors import InvalidInputError

DEFAULT_THRESHOLDS: dict[str, float] = {"psi": 0.2, "distance": 0.1, "new_categories": 0.01}

# Upper bound of each threshold (all are > 0). A numeric distance is in standard deviations and may exceed 1
# (a categorical one, Jensen-Shannon, never does: a limit above 1 never fires there).
_UPPER = {"psi": math.inf, "distance": math.inf, "new_categories": 1.0}

DECISION_RULE = (
    "A feature has drifted when its population stability index (PSI, on ten bins holding a tenth of the "
    "baseline each) exceeds {psi}, or when its distance exceeds {distance}: for a numeric feature the "
    "Wasserstein-1 distance between the baseline and the window, in baseline standard deviations (0.1 "
    "means values moved a tenth of a standard deviation on average); for a categorical feature the "
    "Jensen-Shannon distance (base 2, 0 to 1). Both distances are corrected for sample size: what sampling "
    "alone gives on average, without drift, is taken off. A categorical feature also drifts when more than {new_categories:.0%} of its values are categories the baseline never saw. "
    "p-values (Kolmogorov-Smirnov, chi-square) are reported beside the effect sizes but never decide: at "
    "millions of rows they flag shifts too small to matter."
)


def decision_rule(thresholds: Mapping[str, float] | None = None) -> str:
    """The rule in words, with the given (or default) thresholds filled in."""
    return DECISION_RULE.format(**{**DEFAULT_THRESHOLDS, **(thresholds or {})})


def validate_thresholds(
    thresholds: Mapping[str, Mapping[str, float]] | None, features: Iterable[str] | None = None
) -> None:
    """Per-feature limits: ``psi`` and ``distance`` > 0, ``new_categories`` in (0, 1]; others are refused, as
    is a feature ``features`` (the baseline's, when known) does not name."""
    if thresholds is not None and not isinstance(thresholds, Mapping):
        raise InvalidInputError(
            f"Drift thresholds are {thresholds!r}; expected limits per feature, e.g. {{'f0': {{'psi': 0.2}}}}."
        )
    known = None if features is None else list(features)
    for feature, limits in (thresholds or {}).items():
        if not isinstance(limits, Mapping):
            hint = (
                f" Thresholds are per feature: {{'<feature>': {{{feature!r}: {limits!r}}}}}."
                if feature in DEFAULT_THRESHOLDS
                else ""
            )
            raise InvalidInputError(
                f"Thresholds for {feature!r} are {limits!r}; expected e.g. {{'psi': 0.2, 'distance': 0.1}}.{hint}"
            )
        if known is not None and feature not in known:
            raise InvalidInputError(
                f"Drift thresholds name feature {feature!r}, which the baseline does not have: "
                f"{', '.join(map(repr, known))}."
            )
        for name, value in limits.items():
            if name not in DEFAULT_THRESHOLDS:
                raise InvalidInputError(
                    f"Unknown drift threshold {name!r} for {feature!r}: use {', '.join(DEFAULT_THRESHOLDS)}. "
                    "Decisions use effect sizes; p-values are reported, not thresholded."
                )
            number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
            upper = _UPPER[name]
            if number is None or not math.isfinite(number) or not 0 < number <= upper:
                raise InvalidInputError(
                    f"Drift threshold {name}={value!r} for {feature!r} is out of range: expected a number "
                    + ("above 0." if upper == math.inf else "in (0, 1].")
                )


def limits_for(feature: str, thresholds: Mapping[str, Mapping[str, float]] | None) -> dict[str, float]:
    """The thresholds that apply to one feature: the defaults, overridden by the feature's own."""
    own = {name: float(value) for name, value in (thresholds or {}).get(feature, {}).items()}  # numpy: JSON
    return {**DEFAULT_THRESHOLDS, **own}
