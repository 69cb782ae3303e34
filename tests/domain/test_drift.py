"""The drift engine on generated data: drift found where it is, not where it is not; every capture encoding
SageMaker writes read the same way; broken lines counted; partial results merge exactly."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_modelreg.domain.drift import (
    Baseline,
    CaptureProfile,
    DriftAccumulator,
    bin_labels,
    capture_record,
    chi2_sf,
    compare,
    kolmogorov_sf,
)
from airflow_modelreg.domain.errors import InvalidInputError

ENCODINGS = [
    ("BASE64", "text/csv"),
    ("CSV", "text/csv"),
    ("JSON", "application/json"),
    ("BASE64", "application/json"),
]


def _lines(matrix, categories=None, encoding="BASE64", content_type="text/csv"):
    for i, row in enumerate(matrix):
        values = [float(v) for v in np.round(row, 4)]
        if categories is not None:
            values.append(categories[i])
        yield capture_record(values, 0.5, f"e{i}", "2026-11-23T10:00:00Z", encoding, content_type).encode()


def _stream(lines):
    return io.BytesIO(b"\n".join(lines) + b"\n")


@pytest.fixture(scope="module")
def baseline():
    data = np.random.default_rng(1).normal(0, 1, (20000, 3))
    return Baseline.from_dataset({f"f{i}": data[:, i] for i in range(3)})


@pytest.mark.parametrize(("encoding", "content_type"), ENCODINGS)
def test_same_distribution_does_not_drift_in_any_capture_encoding(baseline, encoding, content_type):
    acc = DriftAccumulator(baseline)
    current = np.random.default_rng(2).normal(0, 1, (5000, 3))
    acc.add_capture_stream(_stream(_lines(current, None, encoding, content_type)))
    report = acc.report()
    assert report["rows"] == 5000 and report["malformed_lines"] == 0
    assert report["drift_detected"] is False
    assert all(f["psi"] < 0.05 and f["distance"] < 0.05 for f in report["features"].values())


def test_base64_capture_as_sagemaker_writes_it_by_default_is_read(baseline):
    """Ten BASE64 records (text/csv in observedContentType) are ten rows, not ten malformed lines."""
    lines = [
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {
                        "observedContentType": "text/csv",
                        "mode": "INPUT",
                        "data": base64.b64encode(f"{i / 10},0.5,-0.5".encode()).decode(),
                        "encoding": "BASE64",
                    },
                    "endpointOutput": {
                        "observedContentType": "text/csv; charset=utf-8",
                        "mode": "OUTPUT",
                        "data": base64.b64encode(b"0.7").decode(),
                        "encoding": "BASE64",
                    },
                },
                "eventMetadata": {"eventId": str(i), "inferenceTime": "2026-11-23T10:00:00Z"},
                "eventVersion": "0",
            },
            separators=(",", ":"),
        ).encode()
        for i in range(10)
    ]
    acc = DriftAccumulator(baseline)
    acc.add_capture_stream(_stream(lines))
    assert (acc.rows, acc.malformed) == (10, 0)
    assert acc.profile.minimum[0] == 0.0 and acc.profile.maximum[0] == 0.9


def test_every_encoding_gives_the_same_profile(baseline):
    current = np.random.default_rng(3).normal(0.4, 1.2, (3000, 3))
    profiles = []
    for encoding, content_type in ENCODINGS:
        acc = DriftAccumulator(baseline)
        acc.add_capture_stream(_stream(_lines(current, None, encoding, content_type)), block_size=65536)
        profiles.append(acc.profile.to_json())
    assert all(p == profiles[0] for p in profiles[1:])


def test_shifted_feature_drifts_alone_with_its_effect_size(baseline):
    current = np.random.default_rng(3).normal(0, 1, (5000, 3))
    current[:, 1] += 1.0
    acc = DriftAccumulator(baseline)
    acc.add_capture_stream(_stream(_lines(current)))
    report = acc.report({"start": "2026-11-23T10:00:00Z"})
    assert report["drifted_features"] == ["f1"]
    f1 = report["features"]["f1"]
    assert f1["ks"] == pytest.approx(0.38, abs=0.03)  # Phi(0.5) - Phi(-0.5)
    assert f1["distance"] == pytest.approx(1.0, abs=0.05)  # moved one standard deviation
    assert f1["p_value"] < 1e-6 and f1["reasons"]
    assert "PSI" in report["decision_rule"] and "p-values" in report["decision_rule"]


def test_broken_lines_are_counted_not_fatal(baseline):
    lines = list(_lines(np.random.default_rng(4).normal(0, 1, (100, 3))))
    lines[10] = b"{not json"
    lines[20] = capture_record([1, 2], 0.1, "short", "t").encode()  # two values for three features
    lines[30] = capture_record(["x", 1, 2], 0.1, "word", "t").encode()
    lines[40] = lines[40].replace(b'"data":"', b'"data":"!!', 1)  # not base64
    lines[50] = capture_record([1, 2, 3], 0.1, "png", "t", content_type="image/png").encode()
    acc = DriftAccumulator(baseline)
    acc.add_capture_lines(lines)
    report = acc.report()
    assert report["malformed_lines"] == 5 and report["rows"] == 95
    assert len(report["malformed_examples"]) == 5


def test_payloads_with_several_rows_and_records_in_another_key_order(baseline):
    rows = np.random.default_rng(5).normal(0, 1, (6, 3)).round(3)
    csv_rows = "\n".join(",".join(str(v) for v in row) for row in rows[:3])
    several = [
        capture_record([0], 0, "a", "t", "CSV").replace('"0"', json.dumps(csv_rows), 1).encode(),
        json.dumps(
            {"eventVersion": "0", "captureData": {"endpointInput": {
                "encoding": "BASE64", "mode": "INPUT", "observedContentType": "application/json",
                "data": base64.b64encode(json.dumps({"instances": [{"features": list(r)} for r in rows[3:5].tolist()]}).encode()).decode(),
            }}}
        ).encode(),
        capture_record(list(rows[5]), 0, "c", "t", "JSON", "application/json").encode(),
    ]  # fmt: skip
    acc = DriftAccumulator(baseline)
    acc.add_capture_lines(several)
    assert (acc.rows, acc.malformed) == (6, 0)
    assert acc.profile.minimum[0] == rows[:, 0].min() and acc.profile.maximum[2] == rows[:, 2].max()


def test_categorical_shift_and_new_categories_are_caught():
    rng = np.random.default_rng(5)
    plans = ["a", "b", "c"]
    base = Baseline.from_dataset(
        {"x": rng.normal(size=5000), "plan": rng.choice(plans, 5000, p=[0.6, 0.3, 0.1])}, categorical=["plan"]
    )

    def report(choices):
        acc = DriftAccumulator(base)
        acc.add_capture_stream(_stream(_lines(rng.normal(size=(len(choices), 1)), list(choices))))
        return acc.report()["features"]["plan"]

    same = report(rng.choice(plans, 3000, p=[0.6, 0.3, 0.1]))
    moved = report(rng.choice(plans, 3000, p=[0.2, 0.3, 0.5]))
    new = report(rng.choice(["a", "b", "c", "enterprise"], 3000, p=[0.55, 0.3, 0.1, 0.05]))
    assert not same["drifted"]
    assert moved["drifted"] and moved["p_value"] < 1e-6 and moved["distance"] > 0.1
    assert new["drifted"] and new["new_share"] == pytest.approx(0.05, abs=0.015)
    assert list(new["new_categories"]) == ["enterprise"] and "new categories" in new["reasons"][-1]


def test_missing_values_are_counted_per_feature(baseline):
    acc = DriftAccumulator(baseline)
    acc.add_csv_rows([b"0.1,,0.3", b"0.2,0.1,", b"nan,0.5,0.5"])
    report = acc.report()
    assert report["rows"] == 3 and report["malformed_lines"] == 0
    assert [report["features"][f"f{i}"]["missing"] for i in range(3)] == [1, 1, 1]
    assert [report["features"][f"f{i}"]["rows"] for i in range(3)] == [2, 2, 2]


def test_statistics_json_baseline_matches_the_dataset_baseline():
    values = np.random.default_rng(1).normal(0, 1, 20000)
    edges = np.quantile(values, np.linspace(0, 1, 101))
    counts, _ = np.histogram(values, bins=edges)
    statistics = {
        "features": [
            {
                "name": "f0",
                "inferred_type": "Fractional",
                "numerical_statistics": {
                    "std_dev": float(values.std()),
                    "distribution": {
                        "kll": {
                            "buckets": [
                                {"lower_bound": float(lo), "upper_bound": float(hi), "count": float(c)}
                                for lo, hi, c in zip(edges[:-1], edges[1:], counts, strict=True)
                            ]
                        }
                    },
                },
            }
        ]
    }
    shifted = np.random.default_rng(6).normal(0.8, 1, (4000, 1))
    results = []
    for base in (Baseline.from_statistics(statistics), Baseline.from_dataset({"f0": values})):
        acc = DriftAccumulator(base)
        acc.add_matrix(shifted)
        results.append(acc.report()["features"]["f0"])
    assert results[0]["drifted"] and results[1]["drifted"]
    assert results[0]["ks"] == pytest.approx(results[1]["ks"], abs=0.02)
    assert results[0]["distance"] == pytest.approx(results[1]["distance"], abs=0.05)


def test_p_value_functions_against_known_values():
    assert chi2_sf(3.841, 1) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(18.307, 10) == pytest.approx(0.05, abs=1e-3)
    assert chi2_sf(0.0, 3) == 1.0
    # Kolmogorov's distribution: P(sqrt(n) D > 1.358) = 0.05 for large samples
    assert kolmogorov_sf(1.358 / np.sqrt(10**6 / 2), 10**6, 10**6) == pytest.approx(0.05, abs=2e-3)


def test_decisions_follow_effect_size_not_sample_size():
    """At a million rows a 0.05 sd shift has a p-value of ~0 but stays unflagged; 0.25 sd is caught at 10,000."""
    rng = np.random.default_rng(8)
    base = Baseline.from_dataset({"x": rng.normal(size=100_000)})
    small = DriftAccumulator(base)
    small.add_matrix(rng.normal(0.05, 1, (1_000_000, 1)))
    tiny_shift = small.report()["features"]["x"]
    assert not tiny_shift["drifted"] and tiny_shift["p_value"] < 1e-10
    assert tiny_shift["distance"] == pytest.approx(0.05, abs=0.01)
    large = DriftAccumulator(base)
    large.add_matrix(rng.normal(0.25, 1, (10_000, 1)))
    assert large.report()["features"]["x"]["drifted"]


def test_block_reader_matches_the_line_reader_and_counts_broken_lines(baseline):
    current = np.random.default_rng(7).normal(0.3, 1, (3000, 3))
    lines = list(_lines(current))
    lines[5] = b"garbage"
    by_line, by_block = DriftAccumulator(baseline), DriftAccumulator(baseline)
    by_line.add_capture_lines(lines)
    by_block.add_capture_stream(io.BytesIO(b"\n".join(lines) + b"\n"), block_size=4096)
    assert by_block.report() == by_line.report()
    assert by_block.report()["malformed_lines"] == 1


class _ShortReads:
    """A stream with ``read(n)`` only (no ``readinto``) that returns fewer bytes than asked, as a network
    body may."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._data.read(min(n, 777) if n > 0 else n)


@pytest.mark.parametrize("block_size", [64, 4096, 1 << 20], ids=["block shorter than a line", "4 KB", "1 MB"])
@pytest.mark.parametrize("reads", ["readinto", "short reads"])
@pytest.mark.parametrize("ending", [b"\n", b""], ids=["final line end", "no final line end"])
def test_the_block_reader_reads_every_line_once_whatever_the_stream_and_block(
    baseline, block_size, reads, ending
):
    current = np.random.default_rng(11).normal(0.3, 1, (2000, 3))
    lines = list(_lines(current, None, "BASE64", "text/csv"))
    lines[7] = b"garbage"
    data = b"\n".join(lines) + ending
    by_line, by_block = DriftAccumulator(baseline), DriftAccumulator(baseline)
    by_line.add_capture_lines(lines)
    by_block.add_capture_stream(io.BytesIO(data) if reads == "readinto" else _ShortReads(data), block_size)
    assert by_block.report() == by_line.report()
    assert by_block.report()["rows"] == 1999 and by_block.report()["malformed_lines"] == 1


def test_rows_with_too_many_and_too_few_values_are_each_counted(baseline):
    rows = [b"0.1,0.2,0.3"] * 10 + [b"0.1,0.2,0.3,0.4", b"0.1,0.2"]  # the totals balance; the rows do not
    acc = DriftAccumulator(baseline)
    acc.add_csv_rows(rows)
    assert acc.report()["rows"] == 10 and acc.report()["malformed_lines"] == 2


@pytest.mark.parametrize("encoding", ["BASE64", "CSV"])
def test_a_short_row_among_captured_rows_is_malformed_and_an_empty_value_is_missing(baseline, encoding):
    """The fast path parses a whole block at once: a row short of a value must not pass for a row with a
    missing value, in SageMaker's default BASE64 capture as in CSV capture."""
    rows = [[0.1, 0.2, 0.3]] * 50
    lines = [capture_record(r, 0.5, f"e{i}", "t", encoding).encode() for i, r in enumerate(rows)]
    lines[7] = capture_record([0.1, 0.2], 0.5, "short", "t", encoding).encode()
    lines[9] = capture_record([0.1, "", 0.3], 0.5, "gap", "t", encoding).encode()
    acc = DriftAccumulator(baseline)
    acc.add_capture_stream(_stream(lines))
    report = acc.report()
    assert (report["rows"], report["malformed_lines"]) == (49, 1)
    assert [report["features"][f"f{i}"]["missing"] for i in range(3)] == [0, 1, 0]


# ------------------------------------------------------------------------------- mergeable profiles
MIXED = Baseline.from_dataset(
    {
        "x": np.random.default_rng(11).normal(size=4000),
        "n": np.random.default_rng(12).poisson(2, 4000),
        "plan": np.random.default_rng(13).choice(["a", "b", "c"], 4000),
    },
    categorical=["plan"],
)


def _mixed_lines(seed: int, rows: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    values = np.column_stack([rng.normal(0.3, 1.5, rows), rng.poisson(2.5, rows)])
    plans = rng.choice(["a", "b", "c", "d", "e", ""], rows).tolist()
    lines = list(_lines(values, plans))
    for i in range(0, rows, 37):
        lines[i] = b"broken line %d" % i
    return lines


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(0, 600), max_size=6))
def test_profiles_of_any_split_merge_into_the_single_pass_profile(seed, cuts):
    lines = _mixed_lines(seed, 600)
    whole = DriftAccumulator(MIXED)
    whole.add_capture_lines(lines)
    bounds = [0, *sorted(cuts), len(lines)]
    parts = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        part = DriftAccumulator(MIXED)
        part.add_capture_lines(lines[start:end])
        # each part travels as JSON (an XCom) before the reduce
        parts.append(CaptureProfile.from_json(json.loads(json.dumps(part.profile.to_json()))))
    merged = CaptureProfile.merge_all(parts, MIXED)
    assert merged.to_json() == whole.profile.to_json()
    assert compare(MIXED, merged) == whole.report()


def test_profiles_of_different_baselines_do_not_merge(baseline):
    with pytest.raises(InvalidInputError, match="different baselines"):
        CaptureProfile.empty(baseline).merge(CaptureProfile.empty(MIXED))


def test_a_profile_is_small_enough_for_xcom():
    acc = DriftAccumulator(MIXED)
    acc.add_capture_lines(_mixed_lines(1, 5000))
    assert len(json.dumps(acc.profile.to_json())) < 20_000


def test_bin_labels_are_readable():
    assert bin_labels([1.0, 12.0, 24.0], integer=True) == ["≤ 0", "1–11", "12–23", "≥ 24"]
    assert bin_labels([-1.2816, -0.25, 0.0031, 0.26], integer=False) == [
        "< -1.28",
        "-1.28 – -0.25",
        "-0.25 – 0.00",
        "0.00 – 0.26",
        "≥ 0.26",
    ]
    assert bin_labels([1250.4, 30000.0], integer=False)[1] == "1,250 – 30,000"


def test_json_capture_with_several_instances_and_other_body_shapes(baseline):
    def record(body):
        return capture_record([0], 0, "e", "t", "JSON", "application/json").replace(
            json.dumps(json.dumps({"instances": [[0]]}))[1:-1], json.dumps(json.dumps(body))[1:-1], 1
        )

    rows = np.random.default_rng(9).normal(0, 1, (7, 3)).round(3).tolist()
    lines = [
        record({"instances": rows[0:2]}).encode(),  # two rows in one request
        record({"instances": [rows[2]]}).encode(),
        record({"instances": [{"features": rows[3]}]}).encode(),  # another shape: read by json
        record(rows[4]).encode(),  # a bare list is one row
        record({"inputs": rows[5:7]}).encode(),
    ]
    for shuffled in (lines, lines[::-1]):
        acc = DriftAccumulator(baseline)
        acc.add_capture_stream(_stream(shuffled))
        assert (acc.rows, acc.malformed) == (7, 0)
        assert acc.profile.maximum[1] == max(r[1] for r in rows)


def test_json_capture_of_numeric_category_codes_counts_them_by_code():
    """JSON bodies as clients write them (``[0.5, 2]``, a space after each comma): a category code must
    not be read as " 2" and reported as a new category."""
    rng = np.random.default_rng(21)
    codes = ["1", "2", "3"]
    base = Baseline.from_dataset(
        {"x": rng.normal(size=3000), "code": rng.choice(codes, 3000)}, categorical=["code"]
    )
    lines = [
        capture_record([float(x), int(c)], 0.5, f"e{i}", "t", "JSON", "application/json").encode()
        for i, (x, c) in enumerate(zip(rng.normal(size=600), rng.choice(codes, 600), strict=True))
    ]
    assert b", " in lines[0]
    acc = DriftAccumulator(base)
    acc.add_capture_stream(_stream(lines))
    feature = acc.report()["features"]["code"]
    assert (acc.rows, acc.malformed) == (600, 0)
    assert feature["new_share"] == 0 and not feature["drifted"]


def _base64_csv_record(body: str) -> bytes:
    """A compact SageMaker capture line whose input is ``body`` (CSV text, any rows), BASE64-encoded."""
    line = capture_record([0.0], 0.5, "e", "2026-11-23T10:00:00Z", "BASE64", "text/csv")
    record = json.loads(line)
    record["captureData"]["endpointInput"]["data"] = base64.b64encode(body.encode()).decode()
    return json.dumps(record, separators=(",", ":")).encode()


def test_base64_payloads_of_several_rows_or_none_give_exactly_their_rows(baseline):
    """A request may carry several CSV rows, a trailing line end, CRLF, or nothing: the rows read from the
    captured payloads are exactly those rows, in a block that also holds ordinary one-row payloads (even
    when the count of payloads happens to equal the count of rows)."""
    rng = np.random.default_rng(5)
    rows = [",".join(f"{v:.4f}" for v in rng.normal(0.2, 1, 3)) for _ in range(400)]
    bodies = rows[:300] + [
        rows[300] + "\n" + rows[301],  # two rows in one request...
        "",  # ...and an empty one: as many payloads as rows
        rows[302] + "\n",
        rows[303] + "\r\n" + rows[304],
    ]
    expected = rows[:305]
    captured, plain = DriftAccumulator(baseline), DriftAccumulator(baseline)
    captured.add_capture_stream(io.BytesIO(b"\n".join(_base64_csv_record(b) for b in bodies) + b"\n"))
    plain.add_csv_rows([row.encode() for row in expected])
    assert captured.rows == plain.rows == 305
    assert captured.report()["features"] == plain.report()["features"]


def test_base64_payloads_escaped_by_the_writer_or_broken_are_read_line_by_line(baseline):
    """A JSON writer may escape any character of a string (``\\u004d`` for "M", ``\\/`` for "/"): such
    base64 payloads are still rows. A payload that is not base64 (an escaped quote inside, a stray
    character) is one malformed line, and the good lines around it in the same block are all read."""
    rng = np.random.default_rng(8)
    rows = [",".join(f"{v:.4f}" for v in rng.normal(0, 1, 3)) for _ in range(600)]
    lines = [_base64_csv_record(row) for row in rows]
    for i in range(0, 600, 7):
        head, key, tail = lines[i].partition(b'"data":"')
        payload, quote, rest = tail.partition(b'"')
        lines[i] = head + key + payload.replace(b"M", b"\\u004d") + quote + rest
    lines[3] = lines[3].replace(b'"data":"', b'"data":"\\"', 1)  # an escaped quote opens the payload
    lines[8] = lines[8].replace(b'"data":"', b'"data":"#', 1)  # not a base64 character
    captured, plain = DriftAccumulator(baseline), DriftAccumulator(baseline)
    captured.add_capture_stream(_stream(lines))
    plain.add_csv_rows([row.encode() for i, row in enumerate(rows) if i not in (3, 8)])
    assert (captured.rows, captured.malformed) == (598, 2)
    assert captured.report()["features"] == plain.report()["features"]
    assert all("not valid base64" in example for example in captured.profile.malformed_examples)


def test_a_base64_payload_cut_short_by_a_broken_line_is_one_malformed_line(baseline):
    """A line whose payload ends in a lone backslash before the closing suffix (no JSON string's content)
    is counted as malformed; it does not stop the block."""
    good = [_base64_csv_record("0.1,0.2,0.3") for _ in range(5)]
    broken = good[0].replace(b'","encoding":"BASE64"}', b'\\\\\\","encoding":"BASE64"}', 1)
    acc = DriftAccumulator(baseline)
    acc.add_capture_stream(_stream([*good, broken.replace(b"\\\\\\", b"\\", 1)]))
    assert (acc.rows, acc.malformed) == (5, 1)


def test_json_bodies_with_nulls_strings_or_broken_numbers_are_read_as_json_reads_them():
    """In a block of ordinary JSON bodies: ``null`` is a missing value, a quoted string is that category,
    a body that is not JSON (``[[1,,2]]``) is one malformed line, and every other row is read."""
    rng = np.random.default_rng(22)
    base = Baseline.from_dataset(
        {"x": rng.normal(size=3000), "y": rng.normal(size=3000), "colour": rng.choice(["red", "blue"], 3000)},
        categorical=["colour"],
    )

    def record(body, i):
        return (
            capture_record([0.0], 0.5, f"e{i}", "t", "JSON", "application/json")
            .replace(
                json.dumps(json.dumps({"instances": [[0.0]]}))[1:-1], json.dumps(json.dumps(body))[1:-1], 1
            )
            .encode()
        )

    rows = [
        [round(float(v), 4), round(float(w), 4), str(c)]
        for v, w, c in zip(
            rng.normal(size=400), rng.normal(size=400), rng.choice(["red", "blue"], 400), strict=True
        )
    ]
    bodies = [{"instances": [row]} for row in rows]
    bodies[10] = {"instances": [[None, 0.5, "red"]]}
    bodies[20] = {"instances": [[0.25, 0.5, "green"]]}
    lines = [record(body, i) for i, body in enumerate(bodies)]
    lines[30] = lines[30].replace(b"[[", b"[[1,,", 1)
    acc = DriftAccumulator(base)
    acc.add_capture_stream(_stream(lines))
    assert (acc.rows, acc.malformed) == (399, 1)
    assert acc.profile.missing[0] == 1
    assert acc.report()["features"]["colour"]["new_categories"] == {"green": 1}
