"""The drift engine on generated data: drift found where it is, not where it is not; broken lines counted."""

from __future__ import annotations

import numpy as np
import pytest

from airflow_modelreg.domain.drift import Baseline, DriftAccumulator, capture_record, chi2_sf
from airflow_modelreg.domain.drift_report import render_html


def _lines(matrix, categories=None):
    for i, row in enumerate(matrix):
        values = list(np.round(row, 4))
        if categories is not None:
            values.append(categories[i])
        yield capture_record(values, 0.5, f"e{i}", "2026-11-23T10:00:00Z").encode()


@pytest.fixture
def baseline_data():
    rng = np.random.default_rng(1)
    return rng.normal(0, 1, (20000, 3))


def _baseline(data):
    return Baseline.from_dataset({f"f{i}": data[:, i] for i in range(data.shape[1])})


def test_same_distribution_does_not_drift(baseline_data):
    acc = DriftAccumulator(_baseline(baseline_data))
    acc.add_capture_lines(_lines(np.random.default_rng(2).normal(0, 1, (5000, 3))))
    report = acc.report()
    assert report["rows"] == 5000 and report["drift_detected"] is False
    assert all(f["psi"] < 0.05 and f["ks"] < 0.05 for f in report["features"].values())


def test_shifted_feature_drifts_alone(baseline_data):
    current = np.random.default_rng(3).normal(0, 1, (5000, 3))
    current[:, 1] += 1.0
    acc = DriftAccumulator(_baseline(baseline_data))
    acc.add_capture_lines(_lines(current))
    report = acc.report({"start": "2026-11-23T10:00:00Z"})
    assert report["drifted_features"] == ["f1"]
    assert report["features"]["f1"]["ks"] == pytest.approx(0.38, abs=0.03)  # Phi(0.5) - Phi(-0.5)
    html = render_html(report)
    assert html.count("<svg") == 1 and "f1" in html


def test_broken_lines_are_counted_not_fatal(baseline_data):
    lines = list(_lines(np.random.default_rng(4).normal(0, 1, (100, 3))))
    lines[10] = b"{not json"
    lines[20] = capture_record([1, 2], 0.1, "short", "t").encode()  # two values for three features
    lines[30] = capture_record(["x", 1, 2], 0.1, "word", "t").encode()
    acc = DriftAccumulator(_baseline(baseline_data))
    acc.add_capture_lines(lines)
    report = acc.report()
    assert report["malformed_lines"] == 3 and report["rows"] == 97
    assert len(report["malformed_examples"]) == 3


def test_categorical_feature_uses_chi_square_and_psi():
    rng = np.random.default_rng(5)
    base = Baseline.from_dataset(
        {"x": rng.normal(size=5000), "plan": rng.choice(["a", "b", "c"], 5000, p=[0.6, 0.3, 0.1])},
        categorical=["plan"],
    )
    same = DriftAccumulator(base)
    same.add_capture_lines(
        _lines(rng.normal(size=(3000, 1)), rng.choice(["a", "b", "c"], 3000, p=[0.6, 0.3, 0.1]))
    )
    moved = DriftAccumulator(base)
    moved.add_capture_lines(
        _lines(rng.normal(size=(3000, 1)), rng.choice(["a", "b", "c"], 3000, p=[0.2, 0.3, 0.5]))
    )
    assert same.report()["drifted_features"] == []
    result = moved.report()["features"]["plan"]
    assert result["drifted"] and result["p_value"] < 1e-6


def test_statistics_json_baseline_matches_the_dataset_baseline(baseline_data):
    values = baseline_data[:, 0]
    edges = np.quantile(values, np.linspace(0, 1, 101))
    counts, _ = np.histogram(values, bins=edges)
    statistics = {
        "features": [
            {
                "name": "f0",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(c)}
                                for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
                            ]
                        }
                    }
                },
            }
        ]
    }
    shifted = np.random.default_rng(6).normal(0.8, 1, (4000, 1))
    from_stats, from_data = (
        DriftAccumulator(Baseline.from_statistics(statistics)),
        DriftAccumulator(Baseline.from_dataset({"f0": values})),
    )
    for acc in (from_stats, from_data):
        acc.add_capture_lines(_lines(shifted))
    a, b = from_stats.report()["features"]["f0"], from_data.report()["features"]["f0"]
    assert a["drifted"] and b["drifted"]
    assert a["ks"] == pytest.approx(b["ks"], abs=0.02)


def test_chi_square_survival_function_known_values():
    assert chi2_sf(3.841, 1) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(18.307, 10) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(0.0, 3) == 1.0


def test_block_reader_matches_the_line_reader_and_counts_broken_lines(baseline_data):
    import io

    current = np.random.default_rng(7).normal(0.3, 1, (3000, 3))
    lines = list(_lines(current))
    lines[5] = b"garbage"
    by_line, by_block = DriftAccumulator(_baseline(baseline_data)), DriftAccumulator(_baseline(baseline_data))
    by_line.add_capture_lines(lines)
    by_block.add_capture_stream(io.BytesIO(b"\n".join(lines) + b"\n"), block_size=4096)
    assert by_block.report() == by_line.report()
    assert by_block.report()["malformed_lines"] == 1


def test_rows_with_too_many_and_too_few_values_are_each_counted(baseline_data):
    rows = [b"0.1,0.2,0.3"] * 10 + [b"0.1,0.2,0.3,0.4", b"0.1,0.2"]  # the totals balance; the rows do not
    acc = DriftAccumulator(_baseline(baseline_data))
    acc.add_csv_rows(rows)
    assert acc.report()["rows"] == 10 and acc.report()["malformed_lines"] == 2
