"""The drift engine: streams SageMaker data-capture files into per-feature histograms and compares them with
a baseline. Plain Python and numpy (no Airflow, no boto3, no pandas).

Memory stays flat as rows grow: rows are parsed in chunks and folded into fixed-size histograms.
Numeric features: PSI on ten baseline-quantile bins and the Kolmogorov-Smirnov statistic on a fine grid of
baseline quantiles (a binned KS: exact up to the grid's resolution, 1/``ks_bins``). Categorical features:
PSI and the chi-square test against the baseline frequencies. Malformed lines are counted, never fatal.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airflow_modelreg.domain.errors import InvalidInputError

EPSILON = 1e-4  # smoothing for empty bins in PSI
DEFAULT_THRESHOLDS = {"psi": 0.2, "ks": 0.1, "chi2_p": 0.01}
PSI_BINS = 10
KS_BINS = 200
CHUNK_ROWS = 65536


@dataclass
class FeatureBaseline:
    """A feature's baseline. Numeric: a fine grid of baseline quantiles (for KS) whose every
    ``KS_BINS // PSI_BINS``-th edge also bounds the coarse PSI bins, so each value is binned once."""

    name: str
    kind: str  # "numeric" or "categorical"
    ks_edges: np.ndarray | None = None  # interior edges of the fine bins
    ks_expected_cdf: np.ndarray | None = None
    psi_starts: np.ndarray | None = None  # first fine bin of each PSI bin (np.add.reduceat indices)
    psi_expected: np.ndarray | None = None  # baseline share per PSI bin
    categories: list[str] = field(default_factory=list)  # categorical, with "__other__" last
    category_expected: np.ndarray | None = None

    @property
    def psi_edges(self) -> np.ndarray:
        assert self.ks_edges is not None and self.psi_starts is not None
        return self.ks_edges[self.psi_starts[1:] - 1]

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def _numeric(cls, name: str, ks_edges: np.ndarray, ks_cdf: np.ndarray) -> FeatureBaseline:
        """From fine edges and the baseline CDF at each fine bin; PSI bins nest the fine ones."""
        targets = np.linspace(0, 1, PSI_BINS + 1)[1:-1]
        chosen = np.unique(np.clip(np.searchsorted(ks_cdf[:-1], targets), 0, max(ks_edges.size - 1, 0)))
        starts = (
            np.concatenate([[0], chosen + 1]).astype(np.intp)
            if ks_edges.size
            else np.array([0], dtype=np.intp)
        )
        shares = np.diff(np.concatenate([[0.0], ks_cdf]))
        return cls(
            name,
            "numeric",
            ks_edges=ks_edges,
            ks_expected_cdf=ks_cdf,
            psi_starts=starts,
            psi_expected=np.add.reduceat(shares, starts),
        )

    @classmethod
    def numeric_from_values(cls, name: str, values: np.ndarray) -> FeatureBaseline:
        values = values[np.isfinite(values)]
        if values.size == 0:
            raise InvalidInputError(f"Baseline feature {name!r} has no numeric values.")
        ks_edges = np.unique(np.quantile(values, np.linspace(0, 1, KS_BINS + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(ks_edges, values, side="right"), minlength=ks_edges.size + 1)
        return cls._numeric(name, ks_edges, np.cumsum(counts) / counts.sum())

    @classmethod
    def numeric_from_buckets(cls, name: str, buckets: Sequence[Mapping[str, float]]) -> FeatureBaseline:
        """From Model Monitor's KLL buckets (``lower_bound``, ``upper_bound``, ``count``)."""
        if not buckets:
            raise InvalidInputError(f"Baseline feature {name!r} has no distribution buckets.")
        uppers = np.array([b["upper_bound"] for b in buckets], dtype=float)
        counts = np.array([b["count"] for b in buckets], dtype=float)
        return cls._numeric(name, uppers[:-1], np.cumsum(counts) / counts.sum())

    @classmethod
    def categorical(cls, name: str, counts: Mapping[str, float]) -> FeatureBaseline:
        categories = sorted(counts, key=lambda c: -counts[c])[:50]
        expected = np.array(
            [counts[c] for c in categories] + [sum(counts.values()) - sum(counts[c] for c in categories)]
        )
        return cls(
            name,
            "categorical",
            categories=[*categories, "__other__"],
            category_expected=expected / expected.sum(),
        )

    # -- state for the current window ------------------------------------------------------------
    def empty_counts(self) -> np.ndarray:
        if self.kind == "numeric":
            assert self.ks_edges is not None
            return np.zeros(self.ks_edges.size + 1, dtype=np.int64)
        return np.zeros(len(self.categories), dtype=np.int64)


@dataclass
class Baseline:
    features: list[FeatureBaseline]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.features]

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
        return cls(features)

    @classmethod
    def from_statistics(cls, statistics: Mapping[str, Any]) -> Baseline:
        """From Model Monitor's ``statistics.json`` (features in capture column order)."""
        features = []
        for feature in statistics.get("features", []):
            name = feature.get("name")
            if "numerical_statistics" in feature:
                kll = feature["numerical_statistics"].get("distribution", {}).get("kll", {})
                features.append(FeatureBaseline.numeric_from_buckets(name, kll.get("buckets", [])))
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


def psi(expected: np.ndarray, observed_counts: np.ndarray) -> float:
    actual = observed_counts / max(observed_counts.sum(), 1)
    e = np.clip(expected, EPSILON, None)
    a = np.clip(actual, EPSILON, None)
    return float(np.sum((a - e) * np.log(a / e)))


def validate_thresholds(thresholds: Mapping[str, Mapping[str, float]] | None) -> None:
    """Per-feature limits: ``psi`` > 0, ``ks`` in (0, 1], ``chi2_p`` in (0, 1); anything else is refused."""
    for feature, limits in (thresholds or {}).items():
        if not isinstance(limits, Mapping):
            raise InvalidInputError(
                f"Thresholds for {feature!r} are {limits!r}; expected e.g. {{'psi': 0.2}}."
            )
        for name, value in limits.items():
            if name not in DEFAULT_THRESHOLDS:
                raise InvalidInputError(
                    f"Unknown drift threshold {name!r} for {feature!r}: use {', '.join(DEFAULT_THRESHOLDS)}."
                )
            number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
            upper = math.inf if name == "psi" else 1.0
            if number is None or not math.isfinite(number) or not 0 < number <= upper:
                raise InvalidInputError(
                    f"Drift threshold {name}={value!r} for {feature!r} is out of range: expected a number in "
                    f"(0, {'inf' if upper == math.inf else '1'}]."
                )


class DriftAccumulator:
    """Folds captured rows into per-feature histograms; :meth:`report` compares them with the baseline."""

    def __init__(
        self, baseline: Baseline, thresholds: Mapping[str, Mapping[str, float]] | None = None
    ) -> None:
        self.baseline = baseline
        validate_thresholds(thresholds)
        self.thresholds = {
            name: {**DEFAULT_THRESHOLDS, **(thresholds or {}).get(name, {})} for name in baseline.names
        }
        self.counts = [f.empty_counts() for f in baseline.features]
        self.rows = 0
        self.malformed = 0
        self.malformed_examples: list[str] = []
        self._numeric = [i for i, f in enumerate(baseline.features) if f.kind == "numeric"]
        self._categorical = [i for i, f in enumerate(baseline.features) if f.kind == "categorical"]

    # -- input -----------------------------------------------------------------------------------
    def _bad(self, line: bytes, why: str) -> None:
        self.malformed += 1
        if len(self.malformed_examples) < 5:
            self.malformed_examples.append(f"{why}: {line[:120]!r}")

    def add_capture_lines(self, lines: Iterable[bytes]) -> None:
        """SageMaker data-capture JSON lines (CSV or JSON payloads); malformed lines are counted."""
        chunk: list[bytes] = []
        for line in lines:
            line = line.strip()
            if not line:
                continue
            payload = _captured_input(line)
            if payload is None:
                self._bad(line, "not a data-capture record")
                continue
            chunk.extend(payload) if isinstance(payload, list) else chunk.append(payload)
            if len(chunk) >= CHUNK_ROWS:
                self.add_csv_rows(chunk)
                chunk = []
        if chunk:
            self.add_csv_rows(chunk)

    def add_capture_stream(self, stream: Any, block_size: int = 8 * 1024 * 1024) -> None:
        """A data-capture file read in blocks: the CSV inputs of a whole block are found by one regular
        expression (C speed); a block with anything else (JSON payloads, broken lines) is handled line
        by line, so every malformed line is still counted."""
        remainder = b""
        while True:
            block = stream.read(block_size)
            if not block:
                break
            block = remainder + block
            cut = block.rfind(b"\n")
            if cut < 0:
                remainder = block
                continue
            remainder = block[cut + 1 :]
            self._add_block(block[: cut + 1])
        if remainder.strip():
            self._add_block(remainder)

    def _add_block(self, block: bytes) -> None:
        rows = _CSV_INPUT.findall(block)
        lines = block.count(b"\n") + (0 if block.endswith(b"\n") else 1) - block.count(b"\n\n")
        if rows and len(rows) == lines and not any(b"\\n" in row for row in rows):
            for start in range(0, len(rows), CHUNK_ROWS):
                self.add_csv_rows(rows[start : start + CHUNK_ROWS])
        else:
            self.add_capture_lines(block.splitlines())

    def add_csv_rows(self, rows: list[bytes]) -> None:
        """Rows of comma-separated feature values in the baseline's column order."""
        width = len(self.baseline.features)
        if not rows:
            return
        if not self._categorical:
            # The common case in one C call: loadtxt refuses any row with another number of columns or
            # a value that is not a number, and then the chunk is checked row by row below.
            try:
                matrix = np.loadtxt(rows, delimiter=",", dtype=float, ndmin=2, comments=None)
            except ValueError:
                matrix = None
            if matrix is not None and matrix.shape == (len(rows), width):
                self.add_matrix(matrix)
                return
        numeric_rows, categorical_rows = [], []
        for row in rows:
            parts = row.split(b",")
            if len(parts) != width:
                self._bad(row, f"expected {width} values, found {len(parts)}")
                continue
            try:
                numeric_rows.append([float(parts[i]) for i in self._numeric])
            except ValueError:
                self._bad(row, "non-numeric value in a numeric feature")
                continue
            categorical_rows.append(
                [parts[i].decode("utf-8", "replace").strip('"') for i in self._categorical]
            )
        if numeric_rows:
            self._add_numeric(
                np.asarray(numeric_rows, dtype=float).reshape(len(numeric_rows), len(self._numeric))
            )
            self._add_categorical(categorical_rows)
            self.rows += len(numeric_rows)

    def add_matrix(self, matrix: np.ndarray) -> None:
        """Rows x features of numbers (all features numeric)."""
        self._add_numeric(matrix[:, self._numeric] if self._categorical else matrix)
        self.rows += matrix.shape[0]

    def _add_numeric(self, values: np.ndarray) -> None:
        for column, index in enumerate(self._numeric):
            feature, counts = self.baseline.features[index], self.counts[index]
            assert feature.ks_edges is not None
            counts += np.bincount(
                np.searchsorted(feature.ks_edges, values[:, column], side="right"), minlength=counts.size
            )

    def _add_categorical(self, rows: list[list[str]]) -> None:
        for column, index in enumerate(self._categorical):
            feature, counts = self.baseline.features[index], self.counts[index]
            position = {c: i for i, c in enumerate(feature.categories)}
            other = len(feature.categories) - 1
            for row in rows:
                counts[position.get(row[column], other)] += 1

    # -- output ------------------------------------------------------------------------------------
    def report(self, window: Mapping[str, Any] | None = None) -> dict[str, Any]:
        features: dict[str, Any] = {}
        for feature, counts in zip(self.baseline.features, self.counts, strict=True):
            limits = self.thresholds[feature.name]
            if feature.kind == "numeric":
                assert feature.psi_expected is not None and feature.ks_expected_cdf is not None
                assert feature.psi_starts is not None
                n = int(counts.sum())
                observed_cdf = np.cumsum(counts) / max(n, 1)
                ks = float(np.max(np.abs(observed_cdf - feature.ks_expected_cdf))) if n else 0.0
                psi_counts = np.add.reduceat(counts, feature.psi_starts)
                value_psi = psi(feature.psi_expected, psi_counts) if n else 0.0
                drifted = n > 0 and (value_psi > limits["psi"] or ks > limits["ks"])
                features[feature.name] = {
                    "type": "numeric",
                    "psi": round(value_psi, 4),
                    "ks": round(ks, 4),
                    "drifted": bool(drifted),
                    "thresholds": {"psi": limits["psi"], "ks": limits["ks"]},
                    "expected": feature.psi_expected.round(4).tolist(),
                    "observed": (psi_counts / max(n, 1)).round(4).tolist(),
                    "bins": [round(float(e), 4) for e in feature.psi_edges],
                }
            else:
                assert feature.category_expected is not None
                observed = counts
                n = int(observed.sum())
                expected_counts = np.clip(feature.category_expected * n, EPSILON, None)
                chi2 = float(np.sum((observed - expected_counts) ** 2 / expected_counts)) if n else 0.0
                p_value = chi2_sf(chi2, len(feature.categories) - 1) if n else 1.0
                value_psi = psi(feature.category_expected, observed) if n else 0.0
                drifted = n > 0 and (value_psi > limits["psi"] or p_value < limits["chi2_p"])
                features[feature.name] = {
                    "type": "categorical",
                    "psi": round(value_psi, 4),
                    "chi2": round(chi2, 4),
                    "p_value": float(f"{p_value:.4g}"),
                    "drifted": bool(drifted),
                    "thresholds": {"psi": limits["psi"], "chi2_p": limits["chi2_p"]},
                    "expected": feature.category_expected.round(4).tolist(),
                    "observed": (observed / max(n, 1)).round(4).tolist(),
                    "bins": feature.categories,
                }
        drifted_names = [name for name, result in features.items() if result["drifted"]]
        return {
            "rows": self.rows,
            "malformed_lines": self.malformed,
            "malformed_examples": self.malformed_examples,
            "window": dict(window or {}),
            "drifted_features": drifted_names,
            "drift_detected": bool(drifted_names),
            "features": features,
        }


# The CSV input of a data-capture record as SageMaker writes it (compact JSON, endpointInput first).
_CSV_INPUT = re.compile(
    rb'"endpointInput":\{"observedContentType":"text/csv[^"]*","mode":"INPUT","data":"([^"]*)","encoding":"CSV"\}'
)


def _captured_input(line: bytes) -> bytes | list[bytes] | None:
    """The input payload of one data-capture record, as CSV row(s); ``None`` if the line is not one."""
    marker = line.find(b'"endpointInput"')
    if marker < 0:
        return None
    fast = line.find(b'"data":"', marker)
    encoding_csv = line.find(b'"encoding":"CSV"', marker) >= 0 or line.find(b"text/csv", marker) >= 0
    if encoding_csv and fast >= 0:
        start = fast + 8
        end = line.find(b'"', start)
        if end < 0:
            return None
        data = line[start:end]
        return data.split(b"\\n") if b"\\n" in data else data
    try:  # JSON payloads (and CSV written with spaces): the slow, general path
        record = json.loads(line)
        captured = record["captureData"]["endpointInput"]
        text = str(captured["data"])
    except (ValueError, KeyError, TypeError):
        return None
    if captured.get("encoding") == "BASE64":
        import base64

        text = base64.b64decode(text).decode()
    if captured.get("observedContentType", "").startswith("application/json"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        instances = parsed.get("instances", parsed) if isinstance(parsed, dict) else parsed
        if instances and not isinstance(instances[0], list):
            instances = [instances]
        return [",".join(str(v) for v in row).encode() for row in instances]
    return [row.encode() for row in text.splitlines()]


def capture_record(values: Sequence[Any], output: float, event_id: str, inference_time: str) -> str:
    """One data-capture line as SageMaker writes it for a CSV request (used by tests and the demo)."""
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {
                    "observedContentType": "text/csv",
                    "mode": "INPUT",
                    "data": ",".join(str(v) for v in values),
                    "encoding": "CSV",
                },
                "endpointOutput": {
                    "observedContentType": "text/csv; charset=utf-8",
                    "mode": "OUTPUT",
                    "data": str(output),
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": event_id, "inferenceTime": inference_time},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )
