"""The drift engine: SageMaker data-capture files folded into mergeable per-feature histograms, compared with
a baseline on effect sizes. numpy, polars and (optional) numba; no Airflow, no boto3, no pandas.

Three parts:

* :class:`Baseline`: what the training data looked like. A numeric feature is a histogram on a fixed grid
  of ``GRID_CELLS`` equal cells between the baseline's 0.1% and 99.9% quantiles, plus one cell below and
  one above; a categorical feature is its most frequent categories.
* :class:`CaptureProfile`: what the capture window looked like, as integer counts on the baseline's cells
  (plus row, missing-value and malformed-line counts, minimum and maximum). Profiles of any split of the
  data merge into exactly the profile of the whole (:meth:`CaptureProfile.merge`), so the work can be
  fanned out over processes or Airflow workers and reduced. A profile is JSON-serialisable (XCom).
* :func:`compare`: the report, feature by feature: PSI, a normalised distance, KS or chi-square p-values,
  and the decision (``domain/drift_rules.py``).

:class:`DriftAccumulator` reads capture JSON lines into a profile. Memory stays flat as rows grow: input
is read in blocks. Two readers take SageMaker's compact layout without a Python step per row:

* the compiled reader (``drift_kernel.py``, numba, the ``numba`` extra): CSV and base64-CSV capture of
  numeric features, straight from the block's bytes to grid counts in one pass, each line matched byte for
  byte against the block's first line (but the contents of its string values); what it cannot read
  exactly goes to ``json``. It is used once the accumulator has read ``COMPILED_AFTER_BYTES`` (numba's
  imports and the cached reader cost 0.4-0.9 s of CPU per process), or always with ``engine="numba"``;
* the polars path: polars cuts out every input payload, decodes base64 and parses the CSV (or the JSON
  lists of numbers), numpy bins the values (one multiply, one clip and one ``bincount`` per block).

Anything else (other key orders, JSON payloads that are not lists of numbers, broken lines) goes through
``json`` line by line; malformed lines are counted and a few are kept as examples, never fatal.

What a line gives does not depend on the block it is read in: a fast path takes payloads only when every
row of them reads, and any other payload is read on its own, as ``json``, ``base64.b64decode(validate=True)``
with strict UTF-8, and ``csv`` read it. A request is read whole or is ONE malformed line with no rows (never
half read); an empty request (empty CSV or base64 payload) is no row and not malformed; an empty JSON payload
is malformed (no JSON); a JSON ``null`` is a missing value, a JSON category is spelt as Python's ``json``
reads it (``2.50`` is "2.5", ``true`` is "true"). Left: the compact JSON fast path reads numbers JSON does
not (``01``, ``+2``, ``.5``, ``nan``) as polars does, and the polars path checks how each line starts and
ends, not that it holds a single record (the compiled reader checks every byte).
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import importlib.util
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airflow_modelreg.domain.drift_rules import decision_rule, limits_for, validate_thresholds
from airflow_modelreg.domain.errors import InvalidInputError

GRID_CELLS = 1024  # equal cells between the baseline's 0.1% and 99.9% quantiles (plus one below, one above)
GRID_QUANTILES = (0.001, 0.999)
PSI_BINS = 10
TOP_CATEGORIES = 50  # categories kept by name; the rest of the baseline's are "__other__"
KNOWN_CATEGORIES = 10_000  # baseline categories remembered to tell "new" from "rare"
# Unseen category names tallied by name per feature (the report shows the ten most frequent). Any split of
# the data merges into exactly the single-pass tallies while a feature has at most this many distinct unseen
# names; past it the most frequent are kept at each merge, so a name frequent overall but rare in every part
# may be missing. The NEW bin's count stays exact either way.
NEW_NAMES_KEPT = 1000
EPSILON = 1e-4  # share given to an empty bin in PSI
# A Model Monitor baseline is read from its KLL sketch when the sketch holds at least this many items (each a
# sample of the data, weighted by its level), else from its ten equal buckets, compared bucket by bucket.
SKETCH_ITEMS = 200
BLOCK_BYTES = 16 * 1024 * 1024
# The engines that read capture: "polars" (native columns, then numpy), "numba" (the compiled reader of
# drift_kernel, for CSV and base64-CSV capture of numeric features), "auto" (numba once the accumulator has
# read COMPILED_AFTER_BYTES, when it is installed; polars before, and for everything else).
ENGINES = ("auto", "numba", "polars")
COMPILED_AFTER_BYTES = 64 * 1024 * 1024
COMPILED_LAYOUTS = 4  # line layouts (templates) the compiled reader takes in one block
LAYOUT_LINES = 16  # lines searched for one to take a layout from
MALFORMED_EXAMPLES = 5
OTHER, NEW = "__other__", "__new__"


# ------------------------------------------------------------------------------------------- baseline
@dataclass
class FeatureBaseline:
    """One feature of the baseline. Numeric: shares of the baseline on the grid cells (``lo``..``hi``);
    categorical: shares of the top categories, of the other known ones, and (always 0) of new ones."""

    name: str
    kind: str  # "numeric" or "categorical"
    expected: np.ndarray  # baseline share per cell (numeric) or per category bin (categorical)
    count: int  # rows of the baseline (for p-values)
    lo: float = 0.0
    hi: float = 1.0
    std: float = 0.0
    integer: bool = False  # numeric values are whole numbers (labels read "3-5", not "2.51-5.49")
    categories: list[str] = field(default_factory=list)  # categorical: top categories, OTHER, NEW
    known: frozenset[str] | None = None  # every baseline category; None when there were too many
    # Numeric from Model Monitor's buckets: the first cell of each bucket (below the range, each bucket, above
    # it). The baseline says nothing finer than its buckets, so capture is compared with it bucket by bucket.
    buckets: np.ndarray | None = None

    @property
    def scale(self) -> float:
        return GRID_CELLS / (self.hi - self.lo)

    @property
    def cells(self) -> int:
        return GRID_CELLS + 2 if self.kind == "numeric" else len(self.categories)

    @classmethod
    def numeric_from_values(
        cls, name: str, values: np.ndarray, weights: np.ndarray | None = None, count: int | None = None
    ) -> FeatureBaseline:
        """From the values themselves, or a weighted sample of them (``weights``: how many values each
        stands for, as in a KLL sketch; ``count``: the sample size its p-values assume)."""
        values = np.asarray(values, dtype=float)
        weighted = weights is not None
        weights = np.asarray(weights, dtype=float) if weights is not None else np.ones(values.size)
        finite = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
        values, weights = values[finite], weights[finite]
        if values.size == 0:
            raise InvalidInputError(f"Baseline feature {name!r} has no numeric values.")
        if weighted:
            order = np.argsort(values, kind="stable")
            cumulative = np.cumsum(weights[order]) / weights.sum()
            lo, hi = (
                float(values[order[min(int(np.searchsorted(cumulative, q)), values.size - 1)]])
                for q in GRID_QUANTILES
            )
            std = float(
                np.sqrt(np.average((values - np.average(values, weights=weights)) ** 2, weights=weights))
            )
        else:
            lo, hi = (float(q) for q in np.quantile(values, GRID_QUANTILES))
            std = float(values.std())
        if hi <= lo:
            lo, hi = float(values.min()), float(values.max())
        if hi <= lo:  # a constant feature: any change lands outside the single value's cell
            hi = lo + 1.0
        feature = cls(
            name,
            "numeric",
            expected=np.zeros(GRID_CELLS + 2),
            count=int(values.size) if count is None else int(count),
            lo=lo,
            hi=hi,
            std=std,
            integer=bool(np.all(values == np.round(values))),
        )
        cells = _cells(values, lo, feature.scale)
        counts = np.bincount(cells, weights=weights if weighted else None, minlength=GRID_CELLS + 2)
        feature.expected = counts / counts.sum()
        return feature

    @classmethod
    def numeric_from_sketch(
        cls, name: str, levels: Sequence[Sequence[float]], std: float | None = None, integer: bool = False
    ) -> FeatureBaseline:
        """From Model Monitor's KLL sketch (``distribution.kll.sketch.data``: one list of items per level,
        an item of level h standing for 2**h values): far finer than its ten buckets."""
        values = np.array([v for level in levels for v in level], dtype=float)
        weights = np.array([2.0**h for h, level in enumerate(levels) for _ in level])
        # It stands for sum(weights) rows but says no more than a sample of its effective size (Kish's):
        # the p-values and the sampling allowance take it as that.
        effective = weights.sum() ** 2 / max(float((weights**2).sum()), 1.0)
        feature = cls.numeric_from_values(name, values, weights, count=max(int(effective), 1))
        feature.std = _positive(std) or feature.std
        feature.integer = integer or feature.integer
        return feature

    @classmethod
    def numeric_from_buckets(
        cls,
        name: str,
        buckets: Sequence[Mapping[str, float]],
        std: float | None = None,
        integer: bool = False,
    ) -> FeatureBaseline:
        """From Model Monitor's KLL buckets (``lower_bound``, ``upper_bound``, ``count``): each bucket's
        count is spread evenly over the grid cells it covers, and capture is compared with the baseline at the
        buckets' resolution (:attr:`buckets`). Equal buckets (Model Monitor's) fill whole cells: the grid's
        cells are a whole number per bucket, and a value on the top bucket's upper bound is in that bucket."""
        lowers, uppers, counts = _buckets(name, buckets)
        lo, top = float(lowers.min()), float(uppers.max())
        widths = uppers - lowers
        contiguous = bool(np.allclose(lowers[1:], uppers[:-1], rtol=1e-9, atol=0))
        equal = bool(top > lo and contiguous and np.allclose(widths, widths[0], rtol=1e-9) and widths[0] > 0)
        per_bucket = GRID_CELLS // len(lowers) if equal else 0
        # With equal buckets, bucket k is cells 1 + k * per_bucket ... (k + 1) * per_bucket.
        hi = (
            lo + GRID_CELLS * float(widths[0]) / per_bucket if per_bucket else (top if top > lo else lo + 1.0)
        )
        feature = cls(
            name, "numeric", expected=np.zeros(GRID_CELLS + 2), count=int(counts.sum()), lo=lo, hi=hi
        )
        shares = np.zeros(GRID_CELLS + 2)
        starts = []
        for k, (low, high, count) in enumerate(zip(lowers, uppers, counts, strict=True)):
            if per_bucket:
                first, last = 1 + k * per_bucket, (k + 1) * per_bucket
            else:
                first, last = (int(c) for c in _cells(np.array([low, high]), lo, feature.scale))
                last = max(min(last, GRID_CELLS), first)  # the top bucket's upper bound closes the grid
            shares[first : last + 1] += count / (last - first + 1)
            starts.append(first)
        # Cell 0 is below the range; from the cell after the top bucket's last (which holds its upper bound),
        # above it.
        above = (len(lowers) * per_bucket + 2) if per_bucket else GRID_CELLS + 1
        feature.buckets = np.unique(np.array([0, *starts, min(above, GRID_CELLS + 1)], dtype=np.intp))
        feature.expected = shares / max(shares.sum(), 1.0)
        centres = (lowers + uppers) / 2
        mean = float(np.average(centres, weights=counts))
        # Model Monitor's std_dev when it is one (a positive number); else the buckets'.
        feature.std = _positive(std) or float(np.sqrt(np.average((centres - mean) ** 2, weights=counts)))
        feature.integer = integer
        return feature

    @classmethod
    def categorical(cls, name: str, counts: Mapping[str, float]) -> FeatureBaseline:
        if not counts:
            raise InvalidInputError(f"Baseline feature {name!r} has no categories.")
        ordered = sorted(counts, key=lambda c: (-counts[c], c))
        top = ordered[:TOP_CATEGORIES]
        total = float(sum(counts.values()))
        expected = np.array([counts[c] for c in top] + [total - sum(counts[c] for c in top), 0.0]) / total
        return cls(
            name,
            "categorical",
            expected=expected,
            count=int(total),
            categories=[*top, OTHER, NEW],
            known=frozenset(ordered) if len(ordered) <= KNOWN_CATEGORIES else None,
        )

    def psi_starts(self) -> np.ndarray:
        """First cell of each PSI bin: cuts where the baseline's cumulative share crosses each tenth (at a
        bucket's first cell, for a baseline of buckets)."""
        if self.buckets is not None:
            cumulative = np.cumsum(np.add.reduceat(self.expected, self.buckets))
            targets = np.linspace(0, 1, PSI_BINS + 1)[1:-1]
            after = np.unique(np.searchsorted(cumulative, targets - 1e-12, side="left") + 1)
            cuts = self.buckets[after[after < self.buckets.size]]
            return np.unique(np.concatenate([[0], cuts])).astype(np.intp)
        cumulative = np.cumsum(self.expected)
        targets = np.linspace(0, 1, PSI_BINS + 1)[1:-1]
        cuts = np.unique(np.searchsorted(cumulative, targets, side="left") + 1)
        cuts = cuts[(cuts > 0) & (cuts < self.expected.size)]
        if self.integer and cuts.size:  # one cut per integer boundary, so no bin holds no whole number
            _, first = np.unique(np.ceil([self.cell_edge(int(c)) for c in cuts]), return_index=True)
            cuts = cuts[np.sort(first)]
        return np.concatenate([[0], cuts]).astype(np.intp)

    def cell_edge(self, cell: int) -> float:
        """The lower edge of grid cell ``cell`` (cell 1 starts at ``lo``; cell 0 is everything below)."""
        return self.lo + (cell - 1) / self.scale

    def describe(self) -> dict[str, Any]:
        return (
            {"kind": "numeric", "lo": self.lo, "hi": self.hi}
            if self.kind == "numeric"
            else {"kind": "categorical", "categories": self.categories}
        )


@dataclass
class Baseline:
    features: list[FeatureBaseline]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def fingerprint(self) -> str:
        """Identifies the grid and categories: only profiles with the same fingerprint can be merged."""
        described = [[f.name, f.describe()] for f in self.features]
        text = json.dumps([GRID_CELLS, described], sort_keys=True, default=float)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_dataset(cls, columns: Mapping[str, Sequence[Any]], categorical: Iterable[str] = ()) -> Baseline:
        """From training data: ``{feature: values}`` in capture column order."""
        categorical = set(categorical)
        features = []
        for name, values in columns.items():
            if name in categorical:
                unique, counts = np.unique(np.asarray(values).astype(str), return_counts=True)
                features.append(
                    FeatureBaseline.categorical(
                        name, dict(zip(unique.tolist(), counts.tolist(), strict=True))
                    )
                )
            else:
                features.append(FeatureBaseline.numeric_from_values(name, np.asarray(values, dtype=float)))
        if not features:
            raise InvalidInputError("The baseline has no features.")
        return cls(features)

    @classmethod
    def from_statistics(cls, statistics: Mapping[str, Any]) -> Baseline:
        """From Model Monitor's ``statistics.json`` (features in capture column order)."""
        features = []
        for feature in statistics.get("features", []):
            name = feature.get("name")
            if "numerical_statistics" in feature:
                numbers = feature["numerical_statistics"]
                kll = numbers.get("distribution", {}).get("kll", {})
                integer = feature.get("inferred_type") == "Integral"
                levels = (kll.get("sketch") or {}).get("data") or []
                if sum(len(level) for level in levels) >= SKETCH_ITEMS:  # the sketch when it says more
                    features.append(
                        FeatureBaseline.numeric_from_sketch(name, levels, numbers.get("std_dev"), integer)
                    )
                else:
                    features.append(
                        FeatureBaseline.numeric_from_buckets(
                            name, kll.get("buckets", []), std=numbers.get("std_dev"), integer=integer
                        )
                    )
            elif "string_statistics" in feature:
                buckets = (
                    feature["string_statistics"]
                    .get("distribution", {})
                    .get("categorical", {})
                    .get("buckets", [])
                )
                features.append(FeatureBaseline.categorical(name, {b["value"]: b["count"] for b in buckets}))
            else:
                raise InvalidInputError(
                    f"statistics.json feature {name!r} has no numerical or string statistics."
                )
        if not features:
            raise InvalidInputError("statistics.json lists no features.")
        return cls(features)


def _cells(values: np.ndarray, lo: float, scale: float) -> np.ndarray:
    """Grid cell of each (finite) value: 0 below ``lo``, 1..GRID_CELLS inside, GRID_CELLS + 1 from ``hi``."""
    position = (values - lo) * scale + 1.0
    np.clip(position, 0, GRID_CELLS + 1, out=position)
    return position.astype(np.intp)  # truncation is floor here: every position is >= 0


# -------------------------------------------------------------------------------------------- profile
@dataclass
class CaptureProfile:
    """Counts of one part of the capture window, on a baseline's cells. Merging is exact and associative."""

    fingerprint: str
    counts: list[np.ndarray]  # per feature: int64 per grid cell / category bin
    missing: list[int]  # per feature: empty or NaN values
    minimum: list[float | None]  # per numeric feature (None for categorical or no values)
    maximum: list[float | None]
    new_names: list[dict[str, int]]  # per categorical feature: unseen categories by name (NEW_NAMES_KEPT)
    rows: int = 0
    malformed: int = 0
    malformed_examples: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @classmethod
    def empty(cls, baseline: Baseline) -> CaptureProfile:
        width = len(baseline.features)
        return cls(
            baseline.fingerprint,
            [np.zeros(f.cells, dtype=np.int64) for f in baseline.features],
            [0] * width,
            [None] * width,
            [None] * width,
            [{} for _ in range(width)],
        )

    def merge(self, other: CaptureProfile) -> CaptureProfile:
        """The profile of both parts (self first, then other)."""
        if other.fingerprint != self.fingerprint:
            raise InvalidInputError(
                f"Cannot merge drift profiles of different baselines ({self.fingerprint} and {other.fingerprint}): "
                "every part must be profiled against the same baseline."
            )
        return CaptureProfile(
            self.fingerprint,
            [a + b for a, b in zip(self.counts, other.counts, strict=True)],
            [a + b for a, b in zip(self.missing, other.missing, strict=True)],
            [_extreme(min, a, b) for a, b in zip(self.minimum, other.minimum, strict=True)],
            [_extreme(max, a, b) for a, b in zip(self.maximum, other.maximum, strict=True)],
            [_add_names(a, b) for a, b in zip(self.new_names, other.new_names, strict=True)],
            self.rows + other.rows,
            self.malformed + other.malformed,
            (self.malformed_examples + other.malformed_examples)[:MALFORMED_EXAMPLES],
            self.sources + other.sources,
        )

    @classmethod
    def merge_all(cls, profiles: Iterable[CaptureProfile], baseline: Baseline) -> CaptureProfile:
        merged = cls.empty(baseline)
        for profile in profiles:
            profile.check(baseline)
            merged = merged.merge(profile)
        return merged

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (for XCom): counts as run-length pairs of zeros, so sparse grids stay small."""
        return {
            "fingerprint": self.fingerprint,
            "rows": self.rows,
            "malformed": self.malformed,
            "malformed_examples": self.malformed_examples,
            "counts": [_pack(c) for c in self.counts],
            "missing": self.missing,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "new_names": self.new_names,
            "sources": self.sources,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CaptureProfile:
        try:
            return cls(
                str(data["fingerprint"]),
                [_unpack(c) for c in data["counts"]],
                [int(m) for m in data["missing"]],
                [None if v is None else float(v) for v in data["minimum"]],
                [None if v is None else float(v) for v in data["maximum"]],
                [{str(k): int(v) for k, v in names.items()} for names in data["new_names"]],
                int(data["rows"]),
                int(data["malformed"]),
                list(data.get("malformed_examples", [])),
                list(data.get("sources", [])),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInputError(
                f"Not a drift profile ({error!r}): expected CaptureProfile.to_json()."
            ) from error

    def check(self, baseline: Baseline) -> None:
        """Refuse a profile that cannot be of ``baseline``: another grid, or counts of the wrong shape or sign
        (a profile read from XCom or a file is checked before it is merged or compared)."""
        if self.fingerprint != baseline.fingerprint:
            raise InvalidInputError("This drift profile was computed against another baseline.")
        width = len(baseline.features)
        shaped = (
            len(self.counts) == width
            and all(len(c) == f.cells for c, f in zip(self.counts, baseline.features, strict=True))
            and all(len(x) == width for x in (self.missing, self.minimum, self.maximum, self.new_names))
        )
        if not shaped or self.rows < 0 or self.malformed < 0 or any((c < 0).any() for c in self.counts):
            raise InvalidInputError(
                "Not a drift profile of this baseline: counts of the wrong shape or sign."
            )


def _extreme(pick: Any, a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else pick(a, b)


def _add_names(a: Mapping[str, int], b: Mapping[str, int]) -> dict[str, int]:
    merged = dict(Counter(a) + Counter(b))
    if len(merged) > NEW_NAMES_KEPT:  # the total stays exact in the NEW bin; only names are dropped
        merged = dict(sorted(merged.items(), key=lambda item: (-item[1], item[0]))[:NEW_NAMES_KEPT])
    return merged


def _pack(counts: np.ndarray) -> list[int]:
    """Counts with each run of zeros written as ``-run_length`` (counts are never negative)."""
    packed: list[int] = []
    zeros = 0
    for value in counts.tolist():
        if value == 0:
            zeros += 1
            continue
        if zeros:
            packed.append(-zeros)
            zeros = 0
        packed.append(value)
    if zeros:
        packed.append(-zeros)
    return packed


def _unpack(packed: Sequence[int]) -> np.ndarray:
    values: list[int] = []
    for value in packed:
        values.extend([0] * -int(value) if value < 0 else [int(value)])
    return np.array(values, dtype=np.int64)


# ------------------------------------------------------------------------------------------- comparing
def compare(
    baseline: Baseline,
    profile: CaptureProfile,
    thresholds: Mapping[str, Mapping[str, float]] | None = None,
    window: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The drift report: per feature its effect sizes, p-value and decision; JSON-serialisable."""
    validate_thresholds(thresholds, baseline.names)
    profile.check(baseline)
    features: dict[str, Any] = {}
    for index, feature in enumerate(baseline.features):
        limits = limits_for(feature.name, thresholds)
        counts = profile.counts[index]
        compare_one = _compare_numeric if feature.kind == "numeric" else _compare_categorical
        result = compare_one(feature, counts, limits, profile, index)
        result["missing"] = profile.missing[index]
        features[feature.name] = result
    drifted = [name for name, result in features.items() if result["drifted"]]
    return {
        "rows": profile.rows,
        "malformed_lines": profile.malformed,
        "malformed_examples": profile.malformed_examples,
        "window": dict(window or {}),
        "sources": profile.sources,
        "drifted_features": drifted,
        "drift_detected": bool(drifted),
        "decision_rule": decision_rule()
        + "".join(
            f" For {feature}: {', '.join(f'{k} {v:g}' for k, v in limits.items())}."
            for feature, limits in (thresholds or {}).items()
        ),
        "features": features,
    }


def _compare_numeric(
    feature: FeatureBaseline,
    counts: np.ndarray,
    limits: Mapping[str, float],
    profile: CaptureProfile,
    index: int,
) -> dict[str, Any]:
    n = int(counts.sum())
    observed = counts / max(n, 1)
    starts = feature.psi_starts()
    psi_expected, psi_observed = np.add.reduceat(feature.expected, starts), np.add.reduceat(observed, starts)
    # The comparison's resolution: each grid cell, or each of the baseline's buckets.
    groups = feature.buckets if feature.buckets is not None else np.arange(GRID_CELLS + 2)
    cdf_e = np.cumsum(np.add.reduceat(feature.expected, groups))
    cdf_o = np.cumsum(np.add.reduceat(observed, groups))
    ks = float(np.max(np.abs(cdf_o - cdf_e))) if n else 0.0
    # Wasserstein-1 inside the range (the trapezoid rule on each cell or bucket), in baseline standard
    # deviations, less what sampling alone gives on average: |F_n - F_m| at each x is about normal with
    # variance F(1 - F)(1/n + 1/m), whose mean absolute value is sqrt(2/pi) times its standard deviation.
    widths = np.diff(groups)[1:] / feature.scale  # the groups between below-range and above-range
    mid_o, mid_e = (cdf_o[:-2] + cdf_o[1:-1]) / 2, (cdf_e[:-2] + cdf_e[1:-1]) / 2
    wasserstein = float((np.abs(mid_o - mid_e) * widths).sum()) if n else 0.0
    noise = (
        math.sqrt(2 / math.pi * (1 / n + 1 / max(feature.count, 1)))
        * float((np.sqrt(np.clip(mid_e * (1 - mid_e), 0, None)) * widths).sum())
        if n
        else 0.0
    )
    if feature.std > 0:
        distance = max(wasserstein - noise, 0.0) / feature.std
    else:
        distance = 0.0 if wasserstein <= noise else math.inf
    value_psi = psi(psi_expected, psi_observed) if n else 0.0
    reasons = []
    if n and value_psi > limits["psi"]:
        reasons.append(f"PSI {value_psi:.3f} > {limits['psi']:g}")
    if n and distance > limits["distance"]:
        reasons.append(f"distance {distance:.3f} > {limits['distance']:g}")
    edges = [feature.cell_edge(int(cell)) for cell in starts[1:]]
    return {
        "type": "numeric",
        "rows": n,
        "psi": round(value_psi, 4),
        "distance": round(distance, 4),
        "wasserstein": float(f"{wasserstein:.4g}"),
        "sampling_noise": float(f"{noise:.4g}"),
        "ks": round(ks, 4),
        "p_value": float(f"{kolmogorov_sf(ks, n, feature.count):.3g}") if n else 1.0,
        "drifted": bool(reasons),
        "reasons": reasons,
        "thresholds": {"psi": limits["psi"], "distance": limits["distance"]},
        "expected": psi_expected.round(4).tolist(),
        "observed": psi_observed.round(4).tolist(),
        "bins": [float(f"{edge:.6g}") for edge in edges],
        "labels": bin_labels(edges, feature.integer),
        "baseline": {"std": float(f"{feature.std:.4g}"), "rows": feature.count},
        "range": {"min": profile.minimum[index], "max": profile.maximum[index]},
    }


def _compare_categorical(
    feature: FeatureBaseline,
    counts: np.ndarray,
    limits: Mapping[str, float],
    profile: CaptureProfile,
    index: int,
) -> dict[str, Any]:
    n = int(counts.sum())
    observed = counts / max(n, 1)
    expected = feature.expected
    expected_counts = np.clip(expected * n, EPSILON, None)
    chi2 = float(np.sum((counts - expected_counts) ** 2 / expected_counts)) if n else 0.0
    bins_seen = int(np.count_nonzero(expected))
    value_psi = psi(expected, observed) if n else 0.0
    distance = jensen_shannon(expected, observed, n, feature.count) if n else 0.0
    new_share = float(observed[-1]) if n else 0.0
    reasons = []
    if n and value_psi > limits["psi"]:
        reasons.append(f"PSI {value_psi:.3f} > {limits['psi']:g}")
    if n and distance > limits["distance"]:
        reasons.append(f"distance {distance:.3f} > {limits['distance']:g}")
    if n and new_share > limits["new_categories"]:
        reasons.append(f"{new_share:.1%} new categories > {limits['new_categories']:.0%}")
    new_names = sorted(profile.new_names[index].items(), key=lambda item: (-item[1], item[0]))[:10]
    return {
        "type": "categorical",
        "rows": n,
        "psi": round(value_psi, 4),
        "distance": round(distance, 4),
        "chi2": round(chi2, 4),
        "p_value": float(f"{chi2_sf(chi2, max(bins_seen - 1, 1)):.3g}") if n else 1.0,
        "new_share": round(new_share, 4),
        "new_categories": dict(new_names),
        "drifted": bool(reasons),
        "reasons": reasons,
        "thresholds": {k: limits[k] for k in ("psi", "distance", "new_categories")},
        "expected": expected.round(4).tolist(),
        "observed": observed.round(4).tolist(),
        "bins": feature.categories,
        "labels": [{OTHER: "other known", NEW: "new"}.get(c, c) for c in feature.categories],
        "baseline": {"rows": feature.count},
    }


def psi(expected: np.ndarray, observed: np.ndarray) -> float:
    """Population stability index of two share vectors (empty bins count as EPSILON)."""
    e = np.clip(expected, EPSILON, None)
    a = np.clip(observed, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def jensen_shannon(expected: np.ndarray, observed: np.ndarray, n: int, m: int) -> float:
    """Jensen-Shannon distance (base 2) minus its expected value between two samples of one distribution,
    about (k - 1) / (8 ln 2) * (1/n + 1/m) for k categories, so a wide feature at 1,000 rows does not
    look drifted by sampling noise alone."""
    mean = (expected + observed) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        part_e = np.where(expected > 0, expected * np.log2(expected / mean), 0.0)
        part_o = np.where(observed > 0, observed * np.log2(observed / mean), 0.0)
    divergence = float(np.sum(part_e) + np.sum(part_o)) / 2
    k = max(int(np.count_nonzero(expected > 0)), 1)
    bias = (k - 1) / (8 * math.log(2)) * (1 / max(n, 1) + 1 / max(m, 1))
    return math.sqrt(max(divergence - bias, 0.0))


def kolmogorov_sf(statistic: float, n: int, m: int) -> float:
    """Asymptotic p-value of the two-sample Kolmogorov-Smirnov statistic for samples of n and m."""
    if statistic <= 0 or n <= 0 or m <= 0:
        return 1.0
    effective = math.sqrt(n * m / (n + m))
    x = (effective + 0.12 + 0.11 / effective) * statistic  # Stephens' small-sample correction
    if x < 0.2:
        return 1.0
    total = 0.0
    for k in range(1, 101):
        term = math.exp(-2 * k * k * x * x)
        total += term if k % 2 else -term
        if term < 1e-16:
            break
    return min(max(2 * total, 0.0), 1.0)


def chi2_sf(statistic: float, dof: int) -> float:
    """P(X > statistic) for X ~ chi-square(dof): the regularised upper incomplete gamma Q(dof/2, x/2)."""
    if statistic <= 0 or dof <= 0:
        return 1.0
    a, x = dof / 2.0, statistic / 2.0
    gln = math.lgamma(a)
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1.0 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-14:
                break
        return max(0.0, 1.0 - total * math.exp(-x + a * math.log(x) - gln))
    b = x + 1 - a  # continued fraction for Q (Lentz)
    c, d = 1.0 / 1e-300, 1.0 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = 1e-300 if abs(d) < 1e-300 else d
        c = b + an / c
        c = 1e-300 if abs(c) < 1e-300 else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-14:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - gln) * h)


def bin_labels(edges: Sequence[float], integer: bool) -> list[str]:
    """Readable labels of the bins between ``edges`` (first bin unbounded below, last above): whole numbers
    for integer features ("3-5", "12", "1,000-1,999"), otherwise as many decimals as tell the edges apart
    ("< 1.23", "1.23 - 4.56"), in scientific notation when tiny or huge ("1.0e-09")."""
    if integer:
        starts = [
            math.ceil(e) for e in edges
        ]  # an integer v is in [a, b) exactly when ceil(a) <= v < ceil(b)
        labels = []
        bounds = [None, *starts, None]
        for low, high in zip(bounds[:-1], bounds[1:], strict=True):
            if low is None:
                labels.append(f"≤ {high - 1:,}" if high is not None else "all")
            elif high is None:
                labels.append(f"≥ {low:,}")
            else:
                labels.append(f"{low:,}" if high - 1 == low else f"{low:,}–{high - 1:,}")
        return labels
    if not edges:
        return ["all"]
    text = _numbers(edges)
    return (
        [f"< {text[0]}"]
        + [f"{a} – {b}" for a, b in zip(text[:-1], text[1:], strict=True)]
        + [f"≥ {text[-1]}"]
    )


def _numbers(values: Sequence[float]) -> list[str]:
    """The values with as many decimals as it takes to tell neighbours apart (two significant digits of
    the smallest gap), thousands separated: 0.25, 1,250, 0.0031."""
    gaps = [b - a for a, b in zip(values[:-1], values[1:], strict=True) if b > a]
    smallest = min(gaps) if gaps else max(abs(v) for v in values) or 1.0
    decimals = max(0, 1 - math.floor(math.log10(smallest)))
    largest = max(abs(v) for v in values)
    if decimals > 8 or largest >= 1e15:  # tiny or huge: significant digits, in scientific notation
        digits = max(2, math.floor(math.log10(largest or smallest)) - math.floor(math.log10(smallest)) + 2)
        return [f"{v:.{digits - 1}e}" for v in values]
    return [
        f"{v:,.{decimals}f}".replace("-0.00", "0.00") if round(v, decimals) == 0 else f"{v:,.{decimals}f}"
        for v in values
    ]


# ------------------------------------------------------------------------------------------ accumulating
class DriftAccumulator:
    """Reads captured requests into a :class:`CaptureProfile`; :meth:`report` compares it with the baseline."""

    def __init__(
        self,
        baseline: Baseline,
        thresholds: Mapping[str, Mapping[str, float]] | None = None,
        engine: str = "auto",
    ) -> None:
        validate_thresholds(thresholds, baseline.names)
        if engine not in ENGINES:
            raise InvalidInputError(f"Unknown drift engine {engine!r}: use one of {', '.join(ENGINES)}.")
        if engine == "numba" and not numba_installed():
            raise InvalidInputError(
                "The drift engine 'numba' needs numba: install airflow-modelreg[numba], or use 'auto'."
            )
        self.engine = engine
        self._bytes_read = 0
        self._reader: Any = None  # drift_kernel.LineReader, made on first use
        self.baseline = baseline
        self.thresholds = thresholds
        self.profile = CaptureProfile.empty(baseline)
        features = baseline.features
        self._numeric = [i for i, f in enumerate(features) if f.kind == "numeric"]
        self._categorical = [i for i, f in enumerate(features) if f.kind == "categorical"]
        self._lo = np.array([features[i].lo for i in self._numeric])
        self._scale = np.array([features[i].scale for i in self._numeric])
        self._offsets = np.arange(len(self._numeric), dtype=np.intp) * (GRID_CELLS + 2)
        self._positions = [
            {c: k for k, c in enumerate(features[i].categories[:-2])} for i in range(len(features))
        ]

    # Kept for callers that read the totals directly.
    @property
    def rows(self) -> int:
        return self.profile.rows

    @property
    def malformed(self) -> int:
        return self.profile.malformed

    def report(self, window: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return compare(self.baseline, self.profile, self.thresholds, window)

    # -- input: capture files ---------------------------------------------------------------------
    def add_capture_stream(
        self, stream: Any, block_size: int = BLOCK_BYTES, source: str | None = None
    ) -> None:
        """A data-capture file (anything with ``read(n)``; ``readinto`` is used when it has one), read in
        blocks of whole lines.

        One buffer serves every block: reading a fresh block, prefixing the previous block's partial line and
        cutting at the last line end made three new 16 MB objects a block, and the kernel's page faults for
        them were a tenth of the engine's CPU time. The compiled reader reads the buffer in place; the polars
        path copies each block once, into the ``bytes`` it takes."""
        if not isinstance(block_size, int) or isinstance(block_size, bool) or not 0 < block_size <= 1 << 30:
            raise InvalidInputError(
                f"block_size must be a whole number of bytes from 1 to 1 GiB (the buffer is that big), not {block_size!r}."
            )
        # The buffer holds ``size`` bytes of capture, plus 16 the compiled reader may look at past a line end.
        size = block_size
        buffer = bytearray(size + 16)
        filled = 0
        readinto = getattr(stream, "readinto", None)
        while True:
            if filled == size:  # one line longer than the buffer: make room for the rest of it
                buffer.extend(bytes(size))
                size *= 2
            with memoryview(buffer) as view:
                if readinto is not None:
                    got = readinto(view[filled:size]) or 0
                else:
                    chunk = stream.read(size - filled)
                    got = len(chunk)
                    view[filled : filled + got] = chunk
            if not got:
                break
            filled += got
            cut = buffer.rfind(b"\n", 0, filled)
            if cut < 0:
                continue
            self._add_buffer(buffer, cut)
            rest = filled - cut - 1
            buffer[:rest] = buffer[cut + 1 : filled]
            filled = rest
        with memoryview(buffer) as view:
            last = bytes(view[:filled])
        if last.strip():
            self._add_block(last)
        if source:
            self.profile.sources.append(source)

    def _add_buffer(self, buffer: bytearray, cut: int) -> None:
        """The whole lines of ``buffer[:cut]`` (``buffer[cut]`` is their last line end, and 16 bytes follow
        it): the compiled reader when it pays (:meth:`_compiled_reader`), else the polars path.

        The compiled reader takes the lines made like the first of the block's first lines that is a compact
        CSV or base64-CSV record; the lines it hands back are read again, made like the first of them that
        is one (a window may mix content types or writers), up to ``COMPILED_LAYOUTS`` layouts a block;
        what is left goes to ``json``, one line at a time (odd or broken lines: the polars path checks how
        a line starts and ends, not all of it, so it would take some the compiled reader refused)."""
        self._bytes_read += cut + 1
        reader = self._compiled_reader()
        found = _layout(buffer, cut + 1) if reader is not None else None
        if found is None:
            with memoryview(buffer) as view:  # one copy (slicing the bytearray first would make two)
                self._add_block(bytes(view[:cut]))
            return
        memory = np.frombuffer(buffer, dtype=np.uint8)
        memory = memory[: len(memory) // 8 * 8]
        if memory.ctypes.data % 8:  # malloc aligns to 16 here; if not, an aligned copy
            memory = _padded(memory[: cut + 1].tobytes())
        stop = cut + 1
        for _layout_number in range(COMPILED_LAYOUTS):
            form, parts = found
            rows, spans = reader.read(memory, stop, parts, form != "CSV")
            self._add_compiled(reader, rows)
            if not spans:
                return
            handed_back = b"\n".join(memory[start:end].tobytes() for start, end in spans) + b"\n"
            memory, stop = _padded(handed_back), len(handed_back)
            found = _layout(memory, stop)
            if found is None:
                break
        self._add_general(memory[: stop - 1].tobytes().split(b"\n"))

    def _add_compiled(self, reader: Any, rows: int) -> None:
        """What the compiled reader has counted, into the profile."""
        counts, missing, lows, highs = reader.take_counts()
        lows, highs = lows + 0.0, highs + 0.0  # -0.0 as 0.0, as in _fold
        profile = self.profile
        for k, index in enumerate(self._numeric):
            profile.counts[index] += counts[k]
            profile.missing[index] += int(missing[k])
            if lows[k] <= highs[k]:  # the feature had a value
                profile.minimum[index] = _extreme(min, profile.minimum[index], float(lows[k]))
                profile.maximum[index] = _extreme(max, profile.maximum[index], float(highs[k]))
        profile.rows += rows

    def _compiled_reader(self) -> Any:
        """The compiled reader (:mod:`drift_kernel`), when this accumulator uses it: ``engine="numba"``, or
        ``"auto"`` once it has read ``COMPILED_AFTER_BYTES`` and numba is installed (its fixed cost, 0.4-0.9 s
        of CPU per process, is repaid from about 180 MB of capture: BENCHMARKS.md); only for numeric
        features."""
        if self._reader is not None:
            return self._reader
        if self._categorical or self.engine == "polars":
            return None
        if self.engine == "auto" and (self._bytes_read < COMPILED_AFTER_BYTES or not numba_installed()):
            return None
        from airflow_modelreg.domain.drift_kernel import LineReader

        self._reader = LineReader(self._lo, self._scale, GRID_CELLS + 2)
        return self._reader

    def add_capture_lines(self, lines: Iterable[bytes]) -> None:
        """Data-capture JSON lines (without their line ends)."""
        block: list[bytes] = []
        size = 0
        for line in lines:
            block.append(line)
            size += len(line) + 1
            if size >= BLOCK_BYTES:
                self._add_lines(block)
                block, size = [], 0
        if block:
            self._add_lines(block)

    def _add_lines(self, lines: list[bytes]) -> None:
        """Lines without line ends, as a block of :meth:`add_capture_stream` reads them (either reader)."""
        data = b"\n".join(lines)
        self._add_buffer(bytearray(data + b"\n" + bytes(16)), len(data))

    def _add_block(self, block: bytes) -> None:
        """Whole lines (no final line end). The fast path takes a block whose every line is a compact
        record of one form; otherwise each line is read by ``json``, one record at a time."""
        sniffed = _sniff(block)
        if sniffed is not None:
            form, prefix, ending, _ = sniffed
            payloads = _extract(block, prefix, _SUFFIX[form], ending)
            if payloads is not None:
                self._add_payloads(form, payloads)
                return
        self._add_general(block.split(b"\n"))

    def _add_payloads(self, form: str, payloads: Any) -> None:
        """Input payloads of one form as a polars String Series (as captured: JSON-escaped). Every fast
        path takes payloads only when each of their rows reads; any other payload is read on its own
        (:meth:`_add_records`), so a request is read whole or is one malformed line."""
        import polars as pl

        if form == "JSON":
            self._add_json_series(payloads)
            return
        if form == "CSV":
            escaped = payloads.str.contains("\\", literal=True)
            if escaped.any():  # multi-row CSV ("\n"), quotes, other escapes: each request on its own
                self._add_records([_json_string(p) for p in payloads.filter(escaped).to_list()], False)
                payloads = payloads.filter(~escaped)
            # Without escapes each payload is one row (a raw line end cannot be in a JSON string).
            self._add_csv_series(payloads, returns=False)
            return
        # Base64 text never needs a JSON escape, so no payload is searched for one (nor for a quote,
        # which _extract leaves in for these forms): a payload polars does not decode (an escaped "/",
        # padding bits Python ignores) is decoded again by Python, and what still fails is a malformed line.
        try:
            decoded = payloads.str.decode("base64", strict=False).cast(pl.String, strict=False)
        except pl.exceptions.PolarsError:  # a payload that is base64 of text that is not UTF-8
            decoded = None
        if decoded is None:
            retried, decoded = payloads.to_list(), pl.Series([], dtype=pl.String)
        else:
            failed = decoded.is_null()
            retried = payloads.filter(failed).to_list() if failed.any() else []
            if retried:
                decoded = decoded.filter(~failed)
        bodies: list[str] = []
        for payload in retried:
            body = _base64_body(payload)
            if body is None:
                self._bad(payload.encode(), "payload is not valid base64 of UTF-8 text")
            else:
                bodies.append(body)
        if form == "BASE64-csv":
            self._add_csv_series(decoded)
            self._add_csv_bodies(bodies)
        else:
            self._add_json_bodies([*decoded.to_list(), *bodies])

    def _add_general(self, lines: list[bytes]) -> None:
        """Lines read with ``json``, one at a time: each is a record or one malformed line."""
        csv_bodies: list[str] = []
        json_bodies: list[str] = []
        for line in lines:
            if not line.strip():
                continue
            try:  # unstripped: json's whitespace is four characters, bytes.strip's six (\x0b, \x0c)
                record = json.loads(line.decode("utf-8"))
                captured = record["captureData"]["endpointInput"]
                data = captured["data"]
                if not isinstance(data, str):
                    raise TypeError("data is not a string")
                encoding = str(captured.get("encoding", "CSV")).upper()
                content_type = str(captured.get("observedContentType", "")).lower()
            except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
                self._bad(line, "not a data-capture record")
                continue
            if encoding == "BASE64":
                body = _base64_body(data, escaped=False)
                if body is None:
                    self._bad(line, "payload is not valid base64 of UTF-8 text")
                    continue
            else:
                body = data
            # A record that names no content type is CSV (SageMaker's default for tabular data).
            if encoding == "JSON" or "json" in content_type:
                json_bodies.append(body)
            elif (
                encoding == "CSV"
                or not content_type
                or "csv" in content_type
                or content_type.startswith("text/")
            ):
                csv_bodies.append(body)
            else:
                self._bad(line, f"content type {content_type!r} is neither CSV nor JSON")
        self._add_csv_bodies(csv_bodies)
        self._add_json_bodies(json_bodies)

    def _add_json_series(self, escaped: Any) -> None:
        """JSON payloads as captured (quotes escaped), in a polars Series. Bodies that open as the first
        body that opens so (``{"instances": [[``, ``{"inputs": [[`` or ``[[``) and hold only numbers become
        CSV rows in native code, still escaped (a number needs no escape); the others go through
        :meth:`_add_json_bodies`, as does the whole block when polars' float parser refuses a value or
        finds one missing (``null``, ``true``, a broken number: JSON reads them)."""
        opening = None
        for first in escaped.head(64).to_list():
            opening = _JSON_OPENING.match(first or "")
            if opening is not None:
                break
        if opening is None:
            self._add_json_bodies([_json_string(p) for p in escaped.to_list()])
            return
        head = opening.group(0)
        tail = "]]}" if head.startswith("{") else "]]"
        texts = escaped.str.strip_suffix(tail).str.strip_prefix(head)
        # A body that did not open and close so keeps one of its ends; one with a backslash holds a string
        # (its quotes are escaped) or an escape: no list of numbers.
        simple = (
            texts.str.len_bytes() == escaped.str.len_bytes() - len(head) - len(tail)
        ) & ~texts.str.contains("\\", literal=True)
        rows = texts.filter(simple)
        if self._categorical:  # a category code must be "2", not " 2" (clients write ", ")
            rows = rows.str.replace_all(" ", "", literal=True)
        count = len(rows)
        if count and rows.str.contains("]", literal=True).any():  # several rows in one request
            rows = rows.str.replace_all(r"\]\s*,\s*\[", "\n")
            count += int(rows.str.count_matches("\n", literal=True).sum())
        frame = self._parse_fast(_lines(rows, "\n"), count) if count else None
        if frame is not None and self._json_frame_ok(frame):
            self._add_frame(frame)
            rest = escaped.filter(~simple)
        else:
            rest = escaped
        if len(rest):
            self._add_json_bodies([_json_string(p) for p in rest.to_list()])

    def _json_frame_ok(self, frame: Any) -> bool:
        """A frame parsed from JSON numbers is what JSON reads: no value missing (``[1,,2]`` is no JSON),
        and each category a number JSON reads as an integer written as Python writes it ("2", not "2.50",
        "-0" or "null")."""
        if frame.null_count().sum_horizontal().item():
            return False
        for i in self._categorical:
            if not frame.get_column(frame.columns[i]).str.contains(r"^(?:0|-?[1-9][0-9]*)$").all():
                return False
        return True

    def _add_json_bodies(self, bodies: Sequence[str | None]) -> None:
        """JSON request bodies (``None``: a payload that was no JSON string, one malformed line each):
        ``[[...], ...]``, ``[...]`` (one row), ``{"instances"|"inputs"|"data"|"features": ...}``, rows as
        ``{"features": [...]}``. When every body is a list of lists of numbers (and no feature is
        categorical), one regular expression rewrites them all as CSV; otherwise each body on its own."""
        good = [body for body in bodies if body is not None]
        for _ in range(len(bodies) - len(good)):
            self._bad(b"", "JSON payload is not a valid JSON string")
        if not good:
            return
        if not self._categorical:
            try:
                texts = "\x00".join(good).encode()
            except UnicodeEncodeError:  # a lone surrogate: each body on its own
                texts = b""
            found = _JSON_NUMBERS.findall(texts.replace(b" ", b"")) if texts else []
            # an object's brace closes only an object: {"instances":[[1]] and [[1]]} are no JSON
            if len(found) == len(good) and all(bool(opens) == bool(closes) for opens, _, closes in found):
                text = b"\n".join(rows for _, rows, _ in found).replace(b"],[", b"\n")
                if not _BAD_NUMBER.search(text):
                    frame = self._parse_fast(text, text.count(b"\n") + 1)
                    if frame is not None and self._json_frame_ok(frame):
                        self._add_frame(frame)
                        return
        self._add_records(good, True)

    # -- input: rows --------------------------------------------------------------------------------
    def add_csv_rows(self, rows: list[bytes]) -> None:
        """Rows of comma-separated feature values in the baseline's column order (each row on its own)."""
        if rows:
            texts = [row.decode("utf-8", "replace") for row in rows]
            if not self._csv_fast(b"\n".join(rows) + b"\n", len(rows)):
                self._add_records(texts, False)

    def _add_csv_series(self, bodies: Any, returns: bool = True) -> None:
        """CSV request bodies in a polars String Series: all parsed by polars when each is one whole row,
        else each on its own. An empty body is no row (and no malformed line)."""
        empty = bodies.str.len_bytes() == 0
        if empty.any():
            bodies = bodies.filter(~empty)
        if len(bodies) and not self._csv_fast(_lines(bodies, "\n"), len(bodies), returns):
            self._add_records(bodies.to_list(), False)

    def _add_csv_bodies(self, bodies: list[str]) -> None:
        """CSV request bodies as Python strings: as :meth:`_add_csv_series`."""
        bodies = [body for body in bodies if body]
        if not bodies:
            return
        try:
            text = ("\n".join(bodies) + "\n").encode()
        except UnicodeEncodeError:  # a lone surrogate (an escape JSON allows): each body on its own
            text = b""
        if not text or not self._csv_fast(text, len(bodies)):
            self._add_records(bodies, False)

    def _csv_fast(self, text: bytes, rows: int, returns: bool = True) -> bool:
        """Add ``rows`` CSV rows, each ending in a line end, when polars finds exactly that many and every
        one has all its values; else add nothing and say so. Without quotes or carriage returns a row is a
        line, so ``rows`` lines (counted by polars) are exactly the rows ``csv`` reads, request by request.
        (A carriage return inside a line ends a row for ``csv``, not for polars: ``returns`` says one may be
        there; a compact CSV payload holds none, JSON escapes it.)"""
        if b'"' in text or (returns and b"\r" in text):
            return False
        frame = self._parse_fast(text, rows)
        if frame is None:
            return False
        # polars refuses a row with too many values and fills a short one (or a blank line) with nulls:
        # without nulls every row had all its values; with some, a count of commas tells short rows from
        # missing values (with one feature, no count can: those rows are read one by one).
        width = len(self.baseline.features)
        if frame.null_count().sum_horizontal().item() and (
            width == 1 or text.count(b",") != rows * (width - 1)
        ):
            return False
        self._add_frame(frame)
        return True

    def _parse_fast(self, text: bytes, rows: int) -> Any:
        import polars as pl

        features = self.baseline.features
        schema = {f"c{i}": (pl.Float64 if f.kind == "numeric" else pl.String) for i, f in enumerate(features)}
        try:
            frame = pl.read_csv(text, has_header=False, schema=schema, quote_char=None)
        except pl.exceptions.PolarsError:  # a value that is not a number, a ragged row: row by row instead
            return None
        return frame if frame.height == rows else None

    def _add_records(self, bodies: Sequence[str | None], as_json: bool) -> None:
        """Request bodies read one at a time (``None``: a payload that was no JSON string): a body whose
        every row reads adds them all; any other is one malformed line and adds no row."""
        numeric_rows: list[list[float]] = []
        categorical_rows: list[list[str | None]] = []
        read = self._json_record if as_json else self._csv_record
        for body in bodies:
            try:
                if body is None:
                    raise ValueError("payload is not a valid JSON string")
                rows = read(body)
            except (ValueError, TypeError, ArithmeticError, RecursionError, csv.Error) as error:
                text = (body or "").encode("utf-8", "replace")
                self._bad(text, f"{'JSON' if as_json else 'CSV'} request: {error}"[:100])
                continue
            for row in rows:
                numeric_rows.append([row[i] for i in self._numeric])
                categorical_rows.append([row[i] for i in self._categorical])
        if numeric_rows:
            matrix = np.array(numeric_rows, dtype=float).reshape(len(numeric_rows), len(self._numeric))
            self._fold(matrix, [[row[k] for row in categorical_rows] for k in range(len(self._categorical))])

    def _csv_record(self, body: str) -> list[list[Any]]:
        """The rows of one CSV request body, as ``csv`` reads them (blank rows skipped)."""
        features = self.baseline.features
        rows = []
        for values in csv.reader(io.StringIO(body, newline="")):
            if not values:
                continue
            if len(values) != len(features):
                raise ValueError(f"expected {len(features)} values, found {len(values)}")
            rows.append(
                [
                    _float(v) if f.kind == "numeric" else (v or None)
                    for v, f in zip(values, features, strict=True)
                ]
            )
        return rows

    def _json_record(self, body: str) -> list[list[Any]]:
        """The rows of one JSON request body, values as JSON reads them."""
        features = self.baseline.features
        rows = []
        for row in _json_rows(json.loads(body)):
            if len(row) != len(features):
                raise ValueError(f"expected {len(features)} values, found {len(row)}")
            rows.append(
                [
                    _json_number(v) if f.kind == "numeric" else _json_category(v)
                    for v, f in zip(row, features, strict=True)
                ]
            )
        return rows

    def _add_frame(self, frame: Any) -> None:
        numeric = (
            frame.select([frame.columns[i] for i in self._numeric]).to_numpy() if self._numeric else None
        )
        categorical = [frame.get_column(frame.columns[i]) for i in self._categorical]
        self._fold(numeric if numeric is not None else np.empty((frame.height, 0)), categorical)

    def add_matrix(self, matrix: np.ndarray) -> None:
        """Rows x features of numbers (every feature numeric)."""
        if self._categorical:
            raise InvalidInputError(
                "add_matrix takes numeric features only; this baseline has categorical ones."
            )
        self._fold(np.asarray(matrix, dtype=float), [])

    def _fold(self, numeric: np.ndarray, categorical: Sequence[Any]) -> None:
        """Add rows: ``numeric`` is rows x numeric features (NaN = missing), ``categorical`` one column of
        strings (a list or a polars Series, None or "" = missing) per categorical feature."""
        profile = self.profile
        rows = numeric.shape[0]
        if self._numeric and rows:
            missing = np.isnan(numeric)
            any_missing = bool(missing.any())
            position = numeric - self._lo
            position *= self._scale
            position += 1.0
            np.clip(position, 0, GRID_CELLS + 1, out=position)
            if any_missing:
                position[missing] = 0
            cells = position.astype(np.intp)
            cells += self._offsets
            if any_missing:
                cells[missing] = -1
                flat = cells.ravel(order="K")
                flat = flat[flat >= 0]
            else:
                flat = cells.ravel(order="K")  # polars hands over columns: no copy into row order
            totals = np.bincount(flat, minlength=len(self._numeric) * (GRID_CELLS + 2))
            missing_per = missing.sum(axis=0) if any_missing else np.zeros(len(self._numeric), dtype=int)
            lows = np.where(missing, np.inf, numeric).min(axis=0) if any_missing else numeric.min(axis=0)
            highs = np.where(missing, -np.inf, numeric).max(axis=0) if any_missing else numeric.max(axis=0)
            lows, highs = lows + 0.0, highs + 0.0  # -0.0 as 0.0: which zero min() keeps depends on order
            for k, index in enumerate(self._numeric):
                profile.counts[index] += totals[k * (GRID_CELLS + 2) : (k + 1) * (GRID_CELLS + 2)]
                profile.missing[index] += int(missing_per[k])
                if missing_per[k] < rows:
                    profile.minimum[index] = _extreme(min, profile.minimum[index], float(lows[k]))
                    profile.maximum[index] = _extreme(max, profile.maximum[index], float(highs[k]))
        for k, index in enumerate(self._categorical):
            self._fold_categories(index, categorical[k])
        profile.rows += rows

    def _fold_categories(self, index: int, column: Any) -> None:
        feature = self.baseline.features[index]
        tallies = _tally(column)
        counts, positions = self.profile.counts[index], self._positions[index]
        other, new = len(feature.categories) - 2, len(feature.categories) - 1
        unseen: dict[str, int] = {}
        for value, count in tallies.items():
            if value is None or value == "":
                self.profile.missing[index] += count
            elif value in positions:
                counts[positions[value]] += count
            elif feature.known is None or value in feature.known:
                counts[other] += count
            else:
                counts[new] += count
                unseen[value] = count
        if unseen:
            self.profile.new_names[index] = _add_names(self.profile.new_names[index], unseen)

    def _bad(self, line: bytes, why: str) -> None:
        self.profile.malformed += 1
        if len(self.profile.malformed_examples) < MALFORMED_EXAMPLES:
            self.profile.malformed_examples.append(f"{why}: {line[:120]!r}")


def _tally(column: Any) -> dict[str | None, int]:
    if isinstance(column, list):
        return dict(Counter(column))
    counted = column.value_counts()
    return dict(
        zip(
            counted.get_column(counted.columns[0]).to_list(),
            counted.get_column("count").to_list(),
            strict=True,
        )
    )


def _float(text: str) -> float:
    text = text.strip()
    return math.nan if text == "" else float(text)


def _json_rows(value: Any) -> list[list[Any]]:
    """The rows of one parsed JSON request body."""
    if isinstance(value, dict):
        for key in ("instances", "inputs", "data", "features"):
            if key in value:
                return _json_rows(value[key])
        raise ValueError("no instances")
    if not isinstance(value, list) or not value:
        raise ValueError("not a list")
    if all(isinstance(item, list | dict) for item in value):
        rows = []
        for item in value:
            row = item.get("features", item) if isinstance(item, dict) else item
            if not isinstance(row, list):
                raise ValueError("row is not a list")
            rows.append(row)
        return rows
    return [value]


def _json_number(value: Any) -> float:
    """A numeric feature's JSON value: null, "" and NaN are missing; a string holding a number is read."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{type(value).__name__} in a numeric feature")
    return _float(value) if isinstance(value, str) else float(value)


def _json_category(value: Any) -> str | None:
    """A categorical feature's JSON value as text, as JSON reads it: null and "" are missing, 2.50 is
    "2.5", true is "true"."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    raise ValueError(f"{type(value).__name__} in a categorical feature")


def _json_string(content: str) -> str | None:
    """A JSON string's content (as captured, escaped) unescaped; None when it is no JSON string's content
    (an invalid escape such as ``\\q`` or ``\\u00zz``): that record is no JSON line."""
    if "\\" not in content:
        return content
    try:
        return json.loads('"' + content + '"')
    except ValueError:
        return None


def _base64_body(data: str | None, escaped: bool = True) -> str | None:
    """The text a base64 payload holds (``escaped``: the payload as captured, JSON escapes in), as Python
    reads it (``validate=True``, strict UTF-8); None when it holds none."""
    if escaped and data is not None:
        data = _json_string(data)
    if data is None:
        return None
    try:
        return base64.b64decode(data.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None


# A number JSON does not read, among JSON rows written as CSV (only ``-+0-9.eE`` between commas and line
# ends): a leading "+", "." or zero, a "." or an exponent without digits after it.
_BAD_NUMBER = re.compile(rb"(?<![-+0-9.eE])(?:[+.eE]|-?0[0-9]|-[^0-9])|\.(?![0-9])|[eE](?![-+]?[0-9])")


# SageMaker's compact layout of a record's input, one line each (key order as SageMaker writes it). The
# payload is group 1; the rest of the line (the output, the event metadata) is not read. ``[^"]*`` (one
# excluded character) runs about twice as fast in ``re`` as a class of two.
_INPUT = rb'(?m)^\{"captureData":\{"endpointInput":\{"observedContentType":"'
_FORMS: dict[str, re.Pattern[bytes]] = {
    "CSV": re.compile(_INPUT + rb'[^"]*","mode":"INPUT","data":"([^"]*)","encoding":"CSV"\}.*$'),
    "BASE64-csv": re.compile(
        _INPUT + rb'text/csv[^"]*","mode":"INPUT","data":"([^"]*)","encoding":"BASE64"\}.*$'
    ),
    "BASE64-json": re.compile(
        _INPUT + rb'application/json[^"]*","mode":"INPUT","data":"([^"]*)","encoding":"BASE64"\}.*$'
    ),
    "JSON": re.compile(
        _INPUT + rb'[^"]*","mode":"INPUT","data":"([^"\\]*(?:\\.[^"\\]*)*)","encoding":"JSON"\}.*$'
    ),
}


# How a JSON body that is a list of rows opens, quotes escaped as captured (\\" inside a JSON string).
_JSON_OPENING = re.compile(r'(?:\{\\"(?:instances|inputs)\\":\s*)?\[\[\s*')

# A JSON body that is a list of lists of numbers (spaces removed); group 2 is the rows, "],[" between them,
# groups 1 and 3 the object's opening and closing brace, if any.
_JSON_NUMBERS = re.compile(
    rb'(?<![^\x00])(\{"(?:instances|inputs)":)?\[\[([-+0-9.eE,\[\]]*)\]\](\}?)(?=\x00|$)'
)


def _sniff(block: bytes) -> tuple[str, bytes, str, dict[str, Any]] | None:
    """The form of the block's first line, if it is a JSON record in one of the compact forms; the line's
    bytes up to its payload (the prefix every line of a homogeneous block shares); how it ends (its last
    key and value when they are short, as ``,"eventVersion":"0"}``: a line cut short does not); and its
    ``endpointInput`` as ``json`` read it."""
    first = (block[: block.find(b"\n")] if b"\n" in block else block).rstrip(b"\r")
    for name, pattern in _FORMS.items():
        match = pattern.match(first)
        if match:
            try:  # a key given twice: json reads the last, the fast paths the first
                record = json.loads(first, object_pairs_hook=_unique_keys)
            except (ValueError, RecursionError):
                return None
            captured = record["captureData"]["endpointInput"]
            # The reference reads a body of a JSON content type as JSON, whatever its encoding.
            if (
                name not in ("JSON", "BASE64-json")
                and "json" in str(captured.get("observedContentType", "")).lower()
            ):
                return None
            last = first.rfind(b',"')
            ending = first[last:] if len(first) - last <= 32 else first[-2:]
            return name, first[: match.start(1)], ending.decode(), captured
    return None


# What follows a payload of each form whose payloads hold no quote (CSV and base64 text).
_SUFFIX = {
    "CSV": '","encoding":"CSV"}',
    "JSON": '","encoding":"JSON"}',  # escaped quotes (\\") inside cannot end the payload early
    "BASE64-csv": '","encoding":"BASE64"}',
    "BASE64-json": '","encoding":"BASE64"}',
}


def _extract(block: bytes, prefix: bytes, suffix: str, ending: str) -> Any:
    """Every line's payload as a polars String Series, when every line starts with ``prefix`` and its
    payload (up to ``suffix``) holds no quote (JSON payloads: no unescaped one); else None. Native code throughout: about twice as fast as a
    regular expression over the block."""
    import polars as pl

    try:
        lines = pl.read_csv(
            block, has_header=False, separator="\x01", quote_char=None, schema={"line": pl.String}
        ).lazy()
    except pl.exceptions.PolarsError:  # not UTF-8, or a line holding the separator: the slow path decides
        return None
    line = pl.col("line")
    # str.find gives a byte offset (str.slice counts characters): the payload is cut from the line's bytes.
    start = len(prefix)
    end = line.str.find(suffix, literal=True)
    found = lines.select(
        ok=(
            line.str.starts_with(prefix.decode("utf-8", "replace"))
            & end.is_not_null()
            & line.str.ends_with(ending)
        ).fill_null(False),
        payload=line.cast(pl.Binary).bin.slice(start, end - start).cast(pl.String),
    ).collect()
    if not found.get_column("ok").all():
        return None
    payloads = found.get_column("payload")
    # A CSV payload holding a quote is not one row; base64 payloads are checked when they are decoded.
    if suffix.endswith('"CSV"}') and payloads.str.contains('"', literal=True).any():
        return None
    return payloads


def numba_installed() -> bool:
    """Whether the compiled reader can be used (numba is an optional dependency: the ``numba`` extra)."""
    return importlib.util.find_spec("numba") is not None


def _positive(number: Any) -> float | None:
    """``number`` as a float when it is a finite number above 0 (a statistics.json ``std_dev``); else None."""
    if (
        isinstance(number, int | float)
        and not isinstance(number, bool)
        and math.isfinite(number)
        and number > 0
    ):
        return float(number)
    return None


def _buckets(name: str, buckets: Sequence[Mapping[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Model Monitor's buckets of one feature, checked and in order: lower and upper bounds, counts."""
    if not buckets:
        raise InvalidInputError(f"Baseline feature {name!r} has no distribution buckets.")
    try:
        rows = sorted((float(b["lower_bound"]), float(b["upper_bound"]), float(b["count"])) for b in buckets)
    except (KeyError, TypeError, ValueError) as error:
        raise InvalidInputError(
            f"Baseline feature {name!r}: each bucket needs a numeric lower_bound, upper_bound and count ({error!r})."
        ) from error
    lowers, uppers, counts = (np.array(column) for column in zip(*rows, strict=True))
    if not (np.isfinite(lowers).all() and np.isfinite(uppers).all() and np.isfinite(counts).all()):
        raise InvalidInputError(
            f"Baseline feature {name!r} has a bucket bound or count that is not a finite number."
        )
    if (uppers < lowers).any() or (counts < 0).any():
        raise InvalidInputError(
            f"Baseline feature {name!r} has a bucket with upper < lower bound, or a negative count."
        )
    if counts.sum() <= 0:
        raise InvalidInputError(f"Baseline feature {name!r} has buckets that count no values.")
    if (lowers[1:] < uppers[:-1] - 1e-9 * np.maximum(np.abs(uppers[:-1]), 1.0)).any():
        raise InvalidInputError(f"Baseline feature {name!r} has overlapping buckets.")
    return lowers, uppers, counts


def _padded(data: bytes) -> np.ndarray:
    """``data`` in an 8-byte aligned array of whole words with at least 16 bytes after it (what the compiled
    reader reads)."""
    memory = np.zeros((len(data) + 16 + 7) // 8, dtype=np.uint64).view(np.uint8)
    memory[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    return memory


def _layout(memory: Any, stop: int) -> tuple[str, list[bytes]] | None:
    """The form and compiled reader's template of the first of ``memory[:stop]``'s first ``LAYOUT_LINES``
    lines that is a compact CSV or base64-CSV record (a bytearray or a uint8 array, whole lines)."""
    start = 0
    for _ in range(LAYOUT_LINES):
        if start >= stop:
            return None
        end = bytes(memory[start : min(stop, start + 65536)]).find(b"\n")
        if end < 0:
            return None
        found = _compiled_template(bytes(memory[start : start + end]))
        if found is not None:
            return found
        start += end + 1
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object's members, refusing a key given twice (a ``json`` object hook)."""
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("a key is given twice")
    return found


def _compiled_template(first: bytes) -> tuple[str, list[bytes]] | None:
    """The form and the compiled reader's template (``drift_kernel.template``) of lines like ``first``, when it
    is a compact CSV or base64-CSV record whose input payload is the one ``json`` reads (_sniff refused a key
    given twice: no later line that matches the template has one either); else None."""
    from airflow_modelreg.domain.drift_kernel import template

    sniffed = _sniff(first)
    if sniffed is None or sniffed[0] not in ("CSV", "BASE64-csv"):
        return None
    form, prefix, _, captured = sniffed
    end = first.find(b'"', len(prefix))
    suffix = _SUFFIX[form].encode()
    if first[end : end + len(suffix)] != suffix:
        return None
    if captured.get("data") != first[len(prefix) : end].decode("ascii", "replace"):
        return None
    parts = template(prefix, suffix, first[end + len(suffix) :])
    return None if parts is None else (form, parts)


def _lines(series: Any, terminator: str) -> bytes:
    """The strings of a polars Series, each followed by ``terminator``, as bytes (polars writes them)."""
    import polars as pl

    out = io.BytesIO()
    pl.DataFrame({"value": series}).write_csv(
        out, include_header=False, quote_style="never", line_terminator=terminator
    )
    return out.getvalue()


# ------------------------------------------------------------------------------------------ writing
def capture_record(
    values: Sequence[Any],
    output: float,
    event_id: str,
    inference_time: str,
    encoding: str = "BASE64",
    content_type: str = "text/csv",
) -> str:
    """One data-capture line as SageMaker writes it: ``BASE64`` (its default), or ``CSV``/``JSON`` when the
    endpoint config's ``CaptureContentTypeHeader`` lists the content type. ``content_type`` is the request's
    (``text/csv``: values as one CSV row; ``application/json``: ``{"instances": [values]}``)."""
    if content_type.startswith("application/json"):
        body = json.dumps({"instances": [list(values)]})
    else:
        body = ",".join(str(v) for v in values)
    if encoding == "BASE64":
        data = base64.b64encode(body.encode()).decode()
    elif encoding in ("CSV", "JSON"):
        data = body
    else:
        raise InvalidInputError(f"Unknown capture encoding {encoding!r}: use BASE64, CSV or JSON.")
    output_text = str(output)
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": content_type,
                    "mode": "INPUT",
                    "data": data,
                    "encoding": encoding,
                },
                "endpointOutput": {
                    "observedContentType": "text/csv; charset=utf-8",
                    "mode": "OUTPUT",
                    "data": base64.b64encode(output_text.encode()).decode()
                    if encoding == "BASE64"
                    else output_text,
                    "encoding": "BASE64" if encoding == "BASE64" else "CSV",
                },
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )
