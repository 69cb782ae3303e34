"""The compiled capture reader (``domain/drift_kernel.py``, numba) against the reference reader of
``test_drift_fuzz.py``: SageMaker's compact CSV and base64 capture lines, clean or damaged byte by byte, must
give exactly the reference's profile (rows, malformed lines, counts per cell, minimum and maximum: values
exactly as ``float`` reads them), whatever the block size; clean lines must be read by the compiled reader
itself, not handed back to the polars path; and ``engine="auto"`` must switch to it by size alone."""

from __future__ import annotations

import base64
import io
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_modelreg.domain import drift
from airflow_modelreg.domain.drift import GRID_CELLS, Baseline, DriftAccumulator, capture_record
from airflow_modelreg.domain.errors import InvalidInputError
from tests.domain.test_drift_fuzz import EXAMPLES, FUZZ, reference_profile, summary

pytest.importorskip("numba", reason="the compiled reader needs numba (the oldest-versions matrix has none)")
from airflow_modelreg.domain.drift_kernel import LineReader  # noqa: E402

_rng = np.random.default_rng(5)
BASELINE = Baseline.from_dataset({f"f{i}": _rng.normal(0, 1, 4000) for i in range(3)})
WIDE = Baseline.from_dataset({f"f{i}": _rng.normal(0, 1e6, 4000) for i in range(3)})

# Numbers as clients write them: every spelling float() reads, the plain ones the compiled reader takes
# (at most 18 digits, exact with one operation) and those past it (17 significant digits and an exponent,
# 2**53 + 1, 1e23, subnormals, ...), plus what float() refuses or CSV reads as missing.
EDGES = [
    "0", "-0", "0.0", "-0.0", "00012", "1.", ".5", "+1", "-.5", "1e400", "-1e400", "1e-400", "nan", "NaN",
    "inf", "-inf", " 1", "1 ", "", "1_0", "9007199254740993", "9007199254740992", "0.1e23", "1e22", "1e23",
    "123456789012345678", "1234567890123456789", "4.9e-324", "2.2250738585072014e-308", "1e-22", "1e-23",
    "0.000000000000000000001", "1e0000005", "1E+05", "1e+", "1e", "--1", "1-", "1.2.3", "0x10", "١",
]  # fmt: skip
numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.4f}"),
    st.floats(-1e6, 1e6).map(lambda x: f"{x:.17g}"),
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: f"{x:e}"),
    st.integers(-(10**20), 10**20).map(str),
    st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{1,20})?([eE][-+]?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(EDGES),
)
# Bytes a damaged line may gain: quotes, escapes, separators, padding, control characters, non-ASCII.
NOISE = [b'"', b"\\", b",", b"=", b".", b"e", b"-", b"+", b" ", b"0", b"9", b"A", b"/", b"\t", b"\r", b"\x00",
         b"\x7f", b"\x80", b"\xc3\xa9", b"\xff", b"}", b"{"]  # fmt: skip


@st.composite
def capture_line(draw) -> bytes:
    values = draw(st.lists(numbers, min_size=2, max_size=4))  # one short, three right, one long
    if draw(st.integers(0, 3)):
        values = (values * 2)[:3]
    encoding = draw(st.sampled_from(["CSV", "BASE64"]))
    line = capture_record([], 0.5, "e1", "2026-11-23T10:00:00Z", encoding).encode()
    body = ",".join(values).encode()
    data = base64.b64encode(body) if encoding == "BASE64" else body
    line = line.replace(b'"data":""', b'"data":"' + data + b'"', 1)  # the input's: it comes first
    damage = draw(st.integers(0, 9))
    if damage == 0:  # a byte inserted or replaced, anywhere
        at = draw(st.integers(0, len(line)))
        noise = draw(st.sampled_from(NOISE))
        cut = at + draw(st.integers(0, 1))
        line = line[:at] + noise + line[cut:]
    elif damage == 1:  # a byte lost
        at = draw(st.integers(0, len(line) - 1))
        line = line[:at] + line[at + 1 :]
    elif damage == 2:  # cut short
        line = line[: draw(st.integers(0, len(line) - 1))]
    return line


def _profile(lines: list[bytes], baseline: Baseline, engine: str, block_size: int):
    acc = DriftAccumulator(baseline, engine=engine)
    acc.add_capture_stream(io.BytesIO(b"\n".join(lines) + b"\n"), block_size=block_size)
    return acc.profile


@pytest.mark.parametrize("baseline", [BASELINE, WIDE], ids=["unit", "wide"])
@settings(FUZZ, max_examples=EXAMPLES * 2)
@given(data=st.data())
def test_compiled_reader_matches_reference_reader(baseline, data):
    lines = data.draw(st.lists(capture_line(), min_size=1, max_size=30), label="lines")
    block_size = data.draw(st.sampled_from([64, 300, 4096, 1 << 20]), label="block_size")
    expected = summary(reference_profile(lines, baseline))
    assert summary(_profile(lines, baseline, "numba", block_size)) == expected


def _clean_capture(rows: int, encoding: str, seed: int = 0) -> bytes:
    values = np.random.default_rng(seed).normal(size=(rows, 3)).round(4).tolist()
    lines = (capture_record(v, 0.5, str(i), "2026-11-23T10:00:00Z", encoding) for i, v in enumerate(values))
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize("encoding", ["CSV", "BASE64"])
def test_sagemaker_lines_are_read_by_the_compiled_reader_itself(encoding):
    """Clean lines in SageMaker's layout are not handed back: the speed BENCHMARKS.md reports is this path's."""
    data = _clean_capture(2000, encoding)
    found = drift._compiled_template(data[: data.index(b"\n")])
    assert found is not None
    form, parts = found
    memory = np.zeros((len(data) + 16) // 8 + 1, dtype=np.uint64).view(np.uint8)
    memory[: len(data)] = np.frombuffer(data, dtype=np.uint8)
    features = BASELINE.features
    reader = LineReader(
        np.array([f.lo for f in features]), np.array([f.scale for f in features]), GRID_CELLS + 2
    )
    rows, handed_back = reader.read(memory, len(data), parts, encoding == "BASE64")
    assert (rows, handed_back) == (2000, [])
    assert summary(_profile(data.splitlines(), BASELINE, "numba", 1 << 20)) == summary(
        _profile(data.splitlines(), BASELINE, "polars", 1 << 20)
    )


def test_a_damaged_line_is_handed_back_with_its_neighbours_read():
    good = _clean_capture(3, "CSV").splitlines()
    bad = good[1].replace(b'"data":"', b'"data":"\t', 1)
    lines = [good[0], bad, good[2]]
    acc = DriftAccumulator(BASELINE, engine="numba")
    acc.add_capture_stream(io.BytesIO(b"\n".join(lines) + b"\n"))
    assert (acc.rows, acc.malformed) == (2, 1)
    assert summary(acc.profile) == summary(reference_profile(lines, BASELINE))


def test_auto_switches_to_the_compiled_reader_by_size_and_gives_the_same_profile(monkeypatch):
    data = _clean_capture(3000, "BASE64")
    monkeypatch.setattr(drift, "COMPILED_AFTER_BYTES", len(data) // 2)
    auto = DriftAccumulator(BASELINE)
    auto.add_capture_stream(io.BytesIO(data), block_size=len(data) // 8)
    assert auto._reader is not None  # switched part way through the stream
    small = DriftAccumulator(BASELINE)
    small.add_capture_stream(io.BytesIO(data[: len(data) // 4]), block_size=len(data) // 8)
    assert small._reader is None  # below the size: never pays numba's fixed cost
    polars = DriftAccumulator(BASELINE, engine="polars")
    polars.add_capture_stream(io.BytesIO(data), block_size=len(data) // 8)
    assert summary(auto.profile) == summary(polars.profile)
    assert auto.rows == 3000 and math.isfinite(auto.profile.minimum[0])


def test_an_unknown_engine_is_refused_before_reading():
    with pytest.raises(InvalidInputError, match="Unknown drift engine 'rust'"):
        DriftAccumulator(BASELINE, engine="rust")
