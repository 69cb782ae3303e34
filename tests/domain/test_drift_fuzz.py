"""Property test of the drift engine's capture reading against a reference reader (the oracle below).

THE ORACLE (``reference_rows``), one capture line at a time, no blocks, no fast paths:

* a line that is blank after ``strip()`` is skipped (neither a row nor malformed);
* the line must be UTF-8 and ``json.loads`` must give a dict with ``captureData.endpointInput.data`` (a str);
  ``encoding`` defaults to ``CSV``; otherwise the record is ONE malformed line;
* ``BASE64``: ``base64.b64decode(data, validate=True)`` then strict UTF-8 decoding; failing either: malformed.
  ``CSV``/``JSON``: the data string itself (already unescaped by ``json.loads``);
* the body is JSON when the encoding is ``JSON`` or the content type holds ``json``; CSV when the encoding is
  ``CSV``, or the content type is missing or empty, holds ``csv`` or starts with ``text/``; anything else
  (``image/png`` in base64) is malformed;
* a CSV body: ``csv.reader`` rows (blank rows skipped); a JSON body: ``json.loads`` then the documented shapes
  (``[[...],...]``, one flat ``[...]``, ``{"instances"|"inputs"|"data"|"features": ...}``, rows given as
  ``{"features": [...]}``);
* each row must have exactly one value per baseline feature. Numeric feature: JSON null, "" or NaN is
  missing; a JSON number is its float; a string (CSV field or JSON string) is ``float(s.strip())``; a
  boolean or anything ``float`` refuses makes the RECORD malformed. Categorical feature: JSON null or "" is
  missing; a JSON string is itself (as the JSON parser unescaped it); a JSON int is ``str(int)``; a JSON
  float is ``repr(float)``; true/false are "true"/"false"; a CSV field is itself;
* a record any of whose rows is bad is ONE malformed line and adds no row (never half read).

The rows the oracle reads are folded with the engine's own ``_fold`` (binning is not under test here, the
reading is), and the whole profile (rows, malformed, counts per cell, missing, min, max, new category
names) must equal the engine's, whatever the block size and order of lines.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_modelreg.domain.drift import Baseline, CaptureProfile, DriftAccumulator, numba_installed

_rng = np.random.default_rng(3)
NUMERIC = Baseline.from_dataset({f"f{i}": _rng.normal(0, 1, 4000) for i in range(3)})
CATEGORIES = ["a", "b", "2", "é", "x/y", "a,b", 'q"t']
MIXED = Baseline.from_dataset(
    {
        "x": _rng.normal(0, 1, 4000),
        "y": _rng.normal(0, 1, 4000),
        "c": _rng.choice(CATEGORIES, 4000),
    },
    categorical=["c"],
)
BASELINES = {"numeric": NUMERIC, "mixed": MIXED}

# Generation features to leave out (comma-separated names in DRIFT_FUZZ_AVOID), to look past a known
# discrepancy for the next one. Empty by default: the test covers everything (DRIFT_FUZZ_EXAMPLES sets
# the examples: a few dozen in ``make test``, a few hundred to hunt).
AVOID = set(filter(None, os.environ.get("DRIFT_FUZZ_AVOID", "").split(",")))
EXAMPLES = int(os.environ.get("DRIFT_FUZZ_EXAMPLES", "40"))
# Every property test of capture reading: generated files are large and slow to read line by line.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=False,
)
# Both readers of capture, each on its own: polars (then json), and the compiled one (numba, when installed;
# the oldest-versions matrix has no numba). "auto" is one of them for any input, by size.
ENGINES = [
    "polars",
    pytest.param("numba", marks=pytest.mark.skipif(not numba_installed(), reason="numba is not installed")),
]


# ------------------------------------------------------------------------------------------- oracle
class Bad(Exception):
    pass


def _numeric(value, from_json: bool) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise Bad("boolean in a numeric feature")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return math.nan
        try:
            return float(text)
        except ValueError as error:
            raise Bad("not a number") from error
    raise Bad("not a scalar")


def _category(value, from_json: bool):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value if value != "" else None
    raise Bad("not a scalar")


def _json_body_rows(value):
    if isinstance(value, dict):
        for key in ("instances", "inputs", "data", "features"):
            if key in value:
                return _json_body_rows(value[key])
        raise Bad("no instances")
    if not isinstance(value, list) or not value:
        raise Bad("not a list")
    if all(isinstance(item, list | dict) for item in value):
        rows = []
        for item in value:
            row = item.get("features", item) if isinstance(item, dict) else item
            if not isinstance(row, list):
                raise Bad("row not a list")
            rows.append(row)
        return rows
    return [value]


def reference_record(line: bytes, baseline: Baseline):
    """(rows, malformed) of one line: rows as lists of (float | str | None) in feature order."""
    if not line.strip():
        return [], 0
    try:
        record = json.loads(line.decode("utf-8"))
        captured = record["captureData"]["endpointInput"]
        data = captured["data"]
        if not isinstance(data, str):
            raise Bad("data not a string")
        encoding = str(captured.get("encoding", "CSV")).upper()
        content_type = str(captured.get("observedContentType", "")).lower()
        if encoding == "BASE64":
            body = base64.b64decode(data.encode("ascii"), validate=True).decode("utf-8")
        else:
            body = data
        width = len(baseline.features)
        rows = []
        if encoding == "JSON" or "json" in content_type:
            for row in _json_body_rows(json.loads(body)):
                if len(row) != width:
                    raise Bad("width")
                rows.append(
                    [
                        _numeric(v, True) if f.kind == "numeric" else _category(v, True)
                        for v, f in zip(row, baseline.features, strict=True)
                    ]
                )
        elif (
            encoding == "CSV" or not content_type or "csv" in content_type or content_type.startswith("text/")
        ):
            for row in csv.reader(io.StringIO(body, newline="")):
                if not row:
                    continue
                if len(row) != width:
                    raise Bad("width")
                rows.append(
                    [
                        _numeric(v, False) if f.kind == "numeric" else (v if v != "" else None)
                        for v, f in zip(row, baseline.features, strict=True)
                    ]
                )
        else:
            raise Bad("content type")
        return rows, 0
    except (Bad, ValueError, KeyError, TypeError, UnicodeError, binascii.Error, csv.Error):
        return [], 1


def reference_profile(lines: list[bytes], baseline: Baseline) -> CaptureProfile:
    acc = DriftAccumulator(baseline)
    rows: list[list] = []
    malformed = 0
    for line in lines:
        got, bad = reference_record(line, baseline)
        rows.extend(got)
        malformed += bad
    numeric = [i for i, f in enumerate(baseline.features) if f.kind == "numeric"]
    categorical = [i for i, f in enumerate(baseline.features) if f.kind == "categorical"]
    if rows:
        matrix = np.array([[r[i] for i in numeric] for r in rows], dtype=float).reshape(
            len(rows), len(numeric)
        )
        acc._fold(matrix, [[r[i] for r in rows] for i in categorical])
    acc.profile.malformed = malformed
    return acc.profile


def summary(profile: CaptureProfile) -> dict:
    return {
        "rows": profile.rows,
        "malformed": profile.malformed,
        "counts": [c.tolist() for c in profile.counts],
        "missing": profile.missing,
        "minimum": profile.minimum,
        "maximum": profile.maximum,
        "new_names": profile.new_names,
    }


# ------------------------------------------------------------------------------------------ writer
def _json_string(text: str, draw) -> str:
    """A JSON string literal as some writer might produce it: optional \\/ and \\uXXXX escapes."""
    out = ['"']
    style = draw(st.sampled_from(["plain", "slash", "unicode", "ascii"]))
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n" if style != "unicode" else "\\u000a")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            out.append(f"\\u{ord(ch):04x}")
        elif ch == "/" and style == "slash":
            out.append("\\/")
        elif style == "unicode" and draw(st.booleans()):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) < 0x10000 else json.dumps(ch)[1:-1])
        elif (style == "ascii" or "nonascii" in AVOID) and ord(ch) > 0x7F:
            out.append(json.dumps(ch)[1:-1])
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


NUMBER_TEXTS = st.sampled_from(
    ["0", "1", "-1", "0.5", "-0.25", "1.5e-1", "2E+0", "1e-3", "-1.25e0", "3", "12345.678", "-0", "0.0001"]
)


@st.composite
def numeric_value(draw, json_body: bool, good_only: bool = False):
    """(text as written in the body) for a numeric feature."""
    kinds = ["num"] * 8 + ["null", "empty", "string_num", "nan", "inf", "space"]
    kind = draw(st.sampled_from(kinds + ([] if good_only else ["string_bad", "bool"])))
    if kind == "num":
        return draw(NUMBER_TEXTS)
    if json_body:
        return {
            "null": "null",
            "empty": '""',
            "string_num": '"0.5"',
            "string_bad": '"abc"',
            "bool": draw(st.sampled_from(["true", "false"])),
            "nan": "NaN",
            "inf": draw(st.sampled_from(["Infinity", "-Infinity"])),
            "space": "0.5",
        }[kind]
    return {
        "null": "",
        "empty": "",
        "string_num": "0.5",
        "string_bad": "abc",
        "bool": "true",
        "nan": draw(st.sampled_from(["nan", "NaN"])),
        "inf": draw(st.sampled_from(["inf", "-inf", "Infinity"])),
        "space": " 0.5",
    }[kind]


@st.composite
def category_value(draw, json_body: bool):
    kind = draw(
        st.sampled_from(
            ["known"] * 5
            + ["new", "code", "empty"]
            + [k for k in ["null", "float", "bool"] if "cat_" + k not in AVOID]
        )
    )
    if kind in ("known", "new"):
        name = (
            draw(st.sampled_from(CATEGORIES))
            if kind == "known"
            else draw(
                st.sampled_from(
                    ["zz", "new cat", "ü/ß", "c,d"] + ([] if "newline_cat" in AVOID else ["a\nb"])
                )
            )
        )
        if json_body:
            return _json_string(name, draw)
        if any(ch in name for ch in ',"\n'):
            return '"' + name.replace('"', '""') + '"'
        return name
    if kind == "code":
        return draw(st.sampled_from(["2", "3"]))
    if kind == "null":
        return "null" if json_body else ""
    if kind == "empty":
        return '""' if json_body else ""
    if kind == "float":
        return draw(st.sampled_from(["2.0", "2.50", "1e2"])) if json_body else "2.0"
    return draw(st.sampled_from(["true", "false"]))


@st.composite
def body(draw, baseline: Baseline, json_body: bool):
    nrows = draw(st.integers(0 if not json_body and "empty_csv" not in AVOID else 1, 3))
    rows = []
    for _ in range(nrows):
        good_only = nrows > 1 and "halfread" in AVOID
        width_change = draw(st.sampled_from([0] * 12 + ([] if good_only else [-1, 1])))
        values = [
            draw(numeric_value(json_body, good_only))
            if f.kind == "numeric"
            else draw(category_value(json_body))
            for f in baseline.features
        ]
        if width_change < 0:
            values = values[:-1]
        elif width_change > 0:
            values.append(values[0])
        rows.append(values)
    if json_body:
        sep = draw(st.sampled_from([",", ", "]))
        texts = ["[" + sep.join(r) + "]" for r in rows]
        shape = draw(st.sampled_from(["instances", "inputs", "list", "flat", "features", "empty"]))
        if shape == "flat" and len(texts) == 1:
            return texts[0]
        if shape == "features":
            return '{"instances":' + "[" + sep.join('{"features":' + t + "}" for t in texts) + "]}"
        if shape == "list":
            return "[" + sep.join(texts) + "]"
        if shape == "empty":
            return draw(
                st.sampled_from(([] if "empty_json" in AVOID else [""]) + ["[]", '{"instances": []}'])
            )
        key = "instances" if shape == "instances" else "inputs"
        return "{" + json.dumps(key) + ":" + draw(st.sampled_from(["", " "])) + "[" + sep.join(texts) + "]}"
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(",".join(r) for r in rows)
    if "trailing_nl" not in AVOID and draw(st.booleans()) and rows:
        text += draw(st.sampled_from(["\n", "\r\n", "\n\n"]))
    return text


def _b64(raw: bytes, draw) -> str:
    text = base64.b64encode(raw).decode()
    damage = draw(
        st.sampled_from(
            ["none"] * 10 + [d for d in ["bad_char", "strip_pad", "noncanonical"] if d not in AVOID]
        )
    )
    if damage == "bad_char":
        i = draw(st.integers(0, len(text)))
        return text[:i] + "#" + text[i:]
    if damage == "strip_pad":
        return text.rstrip("=")
    if damage == "noncanonical" and text.endswith("=") and not text.endswith("=="):
        # last data char of a 2-byte tail has 2 unused bits: set them
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        c = text[-2]
        return text[:-2] + alphabet[alphabet.index(c) | 1] + "="
    return text


@st.composite
def record_line(draw, baseline: Baseline) -> bytes:
    encoding, content_type = draw(
        st.sampled_from(
            [
                ("CSV", "text/csv"),
                ("JSON", "application/json"),
                ("BASE64", "text/csv"),
                ("BASE64", "application/json"),
            ]
        )
    )
    if draw(st.booleans()):
        content_type += draw(st.sampled_from(["; charset=utf-8", ";charset=UTF-8"]))
    json_body = "json" in content_type
    text = draw(body(baseline, json_body))
    if encoding == "BASE64":
        raw = text.encode()
        if "nonutf8_b64" not in AVOID and draw(st.integers(0, 15)) == 0:
            raw = b"\xff" + raw  # not UTF-8
        data = _b64(raw, draw)
    else:
        data = text
    data_literal = _json_string(data, draw)
    if encoding == "BASE64" and "\\" not in data_literal and "/" in data and draw(st.booleans()):
        data_literal = data_literal.replace("/", "\\/")
    colon = draw(st.sampled_from([":", ": "]))
    comma = draw(st.sampled_from([",", ", "]))
    input_items = [
        ("observedContentType", json.dumps(content_type)),
        ("mode", '"INPUT"'),
        ("data", data_literal),
        ("encoding", json.dumps(encoding)),
    ]
    if draw(st.integers(0, 4)) == 0:
        input_items = draw(st.permutations(input_items))

    def obj(items):
        return "{" + comma.join(json.dumps(k) + colon + v for k, v in items) + "}"

    output = obj(
        [
            ("observedContentType", '"text/csv; charset=utf-8"'),
            ("mode", '"OUTPUT"'),
            ("data", '"MC41"' if encoding == "BASE64" else '"0.5"'),
            ("encoding", '"BASE64"' if encoding == "BASE64" else '"CSV"'),
        ]
    )
    meta_items = [("eventId", '"e1"'), ("inferenceTime", '"2026-11-23T10:00:00Z"')]
    if draw(st.booleans()):
        meta_items.append(("inferenceId", '"id-1"'))
    capture_items = [("endpointInput", obj(input_items)), ("endpointOutput", output)]
    top = [("captureData", obj(capture_items)), ("eventMetadata", obj(meta_items)), ("eventVersion", '"0"')]
    if draw(st.integers(0, 6)) == 0:
        top = draw(st.permutations(top))
    line = obj(top).encode()
    damage = draw(
        st.sampled_from(["none"] * 14 + [d for d in ["cut", "cut_after_input", "nonutf8"] if d not in AVOID])
    )
    if damage == "cut":
        limit = len(line) - 1
        if "cut_after_input" in AVOID:
            limit = min(limit, max(line.find(b'"encoding"'), 1))
        line = line[: draw(st.integers(1, limit))]
    elif damage == "cut_after_input":
        i = line.find(b'"endpointOutput"')
        if i > 0:
            line = line[: i + draw(st.integers(0, 20))]
    elif damage == "nonutf8":
        i = line.find(b'"eventId"')
        line = line[:i] + b'"x":"\xfe\xff",' + line[i:]
    return line


@st.composite
def capture_file(draw, baseline: Baseline):
    lines = draw(st.lists(record_line(baseline), min_size=1, max_size=25))
    # blank lines, sometimes several identical compact lines (so homogeneous fast-path blocks happen)
    out = []
    for line in lines:
        out.extend([line] * draw(st.sampled_from([1, 1, 1, 4])))
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.sampled_from([b"", b"   ", b"\r"])))
    return out


def engine_profile(
    lines: list[bytes], baseline: Baseline, block_size: int, crlf: bool, trailing: bool, engine: str
):
    acc = DriftAccumulator(baseline, engine=engine)
    sep = b"\r\n" if crlf else b"\n"
    data = sep.join(lines) + (sep if trailing else b"")
    acc.add_capture_stream(io.BytesIO(data), block_size=block_size)
    return acc.profile


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", sorted(BASELINES))
@FUZZ
@given(data=st.data())
def test_capture_reading_matches_reference_reader(kind, engine, data):
    baseline = BASELINES[kind]
    lines = data.draw(capture_file(baseline), label="lines")
    lines = data.draw(st.permutations(lines), label="order")
    block_size = data.draw(st.sampled_from([1, 7, 64, 300, 1000, 4096, 1 << 20]), label="block_size")
    crlf = data.draw(st.booleans(), label="crlf")
    trailing = data.draw(st.booleans(), label="trailing")
    expected = summary(reference_profile(lines, baseline))
    got = summary(engine_profile(lines, baseline, block_size, crlf, trailing, engine))
    assert got == expected


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", sorted(BASELINES))
@FUZZ
@given(data=st.data())
def test_capture_reading_does_not_depend_on_blocks_or_order(kind, engine, data):
    """Engine against itself: the oracle's opinions aside, the result must not depend on blocks or order."""
    baseline = BASELINES[kind]
    lines = data.draw(capture_file(baseline), label="lines")
    order = data.draw(st.permutations(lines), label="order")
    block_size = data.draw(st.sampled_from([1, 7, 64, 300, 1000, 4096]), label="block_size")
    whole = DriftAccumulator(baseline)
    for line in lines:  # one line at a time: no homogeneous block larger than a line
        whole.add_capture_lines([line])
    got = summary(engine_profile(order, baseline, block_size, False, True, engine))
    assert got == summary(whole.profile)
