"""The drift engine's compiled reader (numba): SageMaker's compact CSV and base64-of-CSV capture lines,
read straight from the bytes of a block into per-feature grid counts, in one pass and without a Python step
or a polars column per row. Imported only when numba is installed (the ``numba`` extra) and a capture is
large enough to repay its fixed cost (see :class:`~airflow_modelreg.domain.drift.DriftAccumulator`).

It takes a line only when it can read it exactly as the reference reader does (``json``, then
``base64.b64decode(validate=True)`` and strict UTF-8, then ``csv`` and ``float``):

* the line is the template (:func:`template`) of a record ``json`` read, the block's first that is one:
  every byte outside the contents of its string values equal to that record's (keys, punctuation, the
  input's content type and encoding), the payload where that record's was;
* the free contents are printable ASCII with no quote and no escape: a control character (a raw tab inside
  a JSON string is no JSON), a byte above 127 (maybe not UTF-8) or a carriage return sends the line to the
  exact reader;
* base64: groups of four alphabet characters, padding only in the last group, no escape (``\\/``);
* the body is exactly one value per feature, commas between, each a plain decimal number
  (``-?digits[.digits][e[+-]digits]``, at most 18 digits) whose value is exact with one IEEE operation:
  the digits as an integer below 2**53, times or divided by a power of ten up to 1e22 (Clinger's fast
  path: both operands are exact, so the one rounding is the correctly rounded result ``float`` gives).

Every other line is returned, as a span of the block, to the caller, which reads it with another layout
or with ``json``. Values are binned with the same operations, in the same order, as ``drift._cells``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_SIXBITS = np.full(256, -1, dtype=np.int8)
_SIXBITS[np.frombuffer(_ALPHABET, dtype=np.uint8)] = np.arange(64, dtype=np.int8)
# Two base64 characters at once (first << 8 | second) to their twelve bits; -1 when either is no base64.
_first, _second = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
_TWELVEBITS = (
    np.where(
        (_SIXBITS[_first] >= 0) & (_SIXBITS[_second] >= 0),
        (_SIXBITS[_first].astype(np.int16) << 6) | _SIXBITS[_second].astype(np.int16),
        -1,
    )
    .astype(np.int16)
    .ravel()
)
del _first, _second
_POWERS = np.array([10.0**k for k in range(23)])  # each exact in a double
_EXACT = 2**53
_SPACES = np.uint64(0x2020202020202020)
_HIGH_BITS = np.uint64(0x8080808080808080)
# OR-ed into the word a scan starts in: bytes before the start become "@", which no test below flags.
_BEFORE = np.array([sum(0x40 << (8 * i) for i in range(j)) for j in range(8)], dtype=np.uint64)

QUOTE, NEWLINE, COMMA, MINUS, PLUS, DOT, BACKSLASH = 34, 10, 44, 45, 43, 46, 92
PADDING = 61
SPANS = 4096  # lines handed back per call; the caller calls again from where it stopped


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _decode(block, i, out):
    """base64 from ``block[i]`` up to the next quote, into ``out``: (decoded length or -1, the quote's index)."""
    m = 0
    limit = out.shape[0] - 4
    while True:
        high = np.int32(_TWELVEBITS[(np.int32(block[i]) << 8) | block[i + 1]])
        low = np.int32(_TWELVEBITS[(np.int32(block[i + 2]) << 8) | block[i + 3]])
        if (high | low) < 0:
            break
        if m > limit:
            return -1, i
        v = (high << 12) | low
        out[m] = (v >> 16) & 255
        out[m + 1] = (v >> 8) & 255
        out[m + 2] = v & 255
        m += 3
        i += 4
    if block[i] == QUOTE:
        return m, i
    # The last group: "xx==" or "xxx=", then the quote (Python ignores the padding's spare bits too).
    a = np.int32(_SIXBITS[block[i]])
    b = np.int32(_SIXBITS[block[i + 1]])
    if a < 0 or b < 0 or m > limit:
        return -1, i
    if block[i + 2] == PADDING and block[i + 3] == PADDING and block[i + 4] == QUOTE:
        out[m] = ((a << 2) | (b >> 4)) & 255
        return m + 1, i + 4
    c = np.int32(_SIXBITS[block[i + 2]])
    if c >= 0 and block[i + 3] == PADDING and block[i + 4] == QUOTE:
        v = (a << 18) | (b << 12) | (c << 6)
        out[m] = (v >> 16) & 255
        out[m + 1] = (v >> 8) & 255
        return m + 2, i + 4
    return -1, i


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _values(text, p, values):
    """``values.shape[0]`` plain decimal numbers from ``text[p]``, commas between, into ``values``: the index
    after the last one, or -1. ``text`` holds a byte after them that is no digit (a quote, a line end, 0)."""
    width = values.shape[0]
    for f in range(width):
        c = text[p]
        # An empty value is missing, as csv and float("") read it (compares, not a tuple, in compiled code).
        if c == COMMA or c == QUOTE or c == 0:  # noqa: SIM109
            values[f] = np.nan
            if f < width - 1:
                if c != COMMA:
                    return -1
                p += 1
            continue
        negative = c == MINUS
        if negative:
            p += 1
        start = p
        digits = np.int64(0)
        d = np.uint64(text[p] - 48)
        while d < 10:
            digits = digits * 10 + np.int64(d)
            p += 1
            d = np.uint64(text[p] - 48)
        whole = p - start
        fraction = 0
        if text[p] == DOT:
            p += 1
            d = np.uint64(text[p] - 48)
            while d < 10:
                digits = digits * 10 + np.int64(d)
                fraction += 1
                p += 1
                d = np.uint64(text[p] - 48)
            if fraction == 0:
                return -1
        if whole == 0 or whole + fraction > 18:
            return -1
        exponent = -fraction
        if (text[p] | 32) == 101:  # e or E
            p += 1
            below = text[p] == MINUS
            if below or text[p] == PLUS:
                p += 1
            start = p
            written = 0
            d = np.uint64(text[p] - 48)
            while d < 10 and p - start < 6:
                written = written * 10 + np.int64(d)
                p += 1
                d = np.uint64(text[p] - 48)
            if p == start:
                return -1
            exponent += -written if below else written
        if digits >= _EXACT:
            return -1
        if digits == 0:
            x = 0.0
        elif exponent >= 0:
            if exponent > 22:
                return -1
            x = float(digits) * _POWERS[exponent]
        else:
            if exponent < -22:
                return -1
            x = float(digits) / _POWERS[-exponent]
        values[f] = -x if negative else x
        if f < width - 1:
            if text[p] != COMMA:
                return -1
            p += 1
    return p


@njit(cache=True, nogil=True, boundscheck=False, inline="always")
def _load(words, p):
    """The eight bytes from ``p`` as one little-endian word, from the aligned words around them."""
    shift = np.uint64((p & 7) * 8)
    k = p >> 3
    if shift == 0:
        return words[k]
    return (words[k] >> shift) | (words[k + 1] << (np.uint64(64) - shift))


@njit(cache=True, nogil=True, boundscheck=False)
def _scan(
    words,
    block,
    start,
    stop,
    lits,
    chunks,
    bounds,
    base64,
    lo,
    scale,
    counts,
    missing,
    minimum,
    maximum,
    spans,
    text,
    values,
):
    """Lines of ``block[start:stop]`` (it ends with a line end; ``block`` has 8 readable bytes after ``stop``
    and ``words`` is the same memory as 64-bit words) that are the template: ``lits[:bounds[0]]`` (the
    prefix), the payload, then each next literal of ``lits`` (up to ``bounds[k]``) with a free string's
    content between two. Each line read is added to ``counts`` (features x cells), ``minimum`` and
    ``maximum`` (an empty value to ``missing``); each other line's span goes to ``spans`` (start, end pairs; lines that follow each other
    make one span). Returns (rows, spans, where it stopped): before ``stop`` when ``spans`` is full."""
    width = lo.shape[0]
    top = counts.shape[1] - 1
    lp = bounds[0]
    segments = bounds.shape[0]
    rows = 0
    taken = 0
    s = start
    while s < stop:
        ok = s + lp <= stop
        i = 0
        q = s
        if s + lp + 8 <= stop:  # eight bytes at a time (the line end is further on)
            while i + 8 <= lp:
                if _load(words, q) != chunks[i]:
                    ok = False
                    break
                q += 8
                i += 8
        while ok and i < lp:
            if block[q] != lits[i]:
                ok = False
                break
            q += 1
            i += 1
        q = s + lp
        if ok:
            if base64:
                m, q = _decode(block, q, text)
                if m > 0:  # an empty body is no row: the exact reader says so
                    text[m] = 0
                    ok = _values(text, 0, values) == m
                else:
                    ok = False
            elif block[q] == QUOTE:  # an empty body
                ok = False
            else:
                q = _values(block, q, values)
                ok = q > 0
        # The rest of the line: each literal exactly, each free string's content printable ASCII without a
        # quote or an escape (a line end stops every loop: it is in no literal, and it is not printable).
        k = 1
        while ok and k < segments:
            i = bounds[k - 1]
            if q + bounds[k] - i + 8 <= stop:  # eight bytes at a time (the line end is further on)
                while i + 8 <= bounds[k]:
                    if _load(words, q) != chunks[i]:
                        ok = False
                        break
                    q += 8
                    i += 8
            while ok and i < bounds[k]:
                if block[q] != lits[i]:
                    ok = False
                    break
                q += 1
                i += 1
            if ok and k < segments - 1:
                c = block[q]
                while (c - 32) & 255 < 96 and c != QUOTE and c != BACKSLASH:
                    q += 1
                    c = block[q]
            k += 1
        if ok and block[q] == NEWLINE:
            e = q
        else:
            ok = False
            # The line's end, eight bytes at a time: a word flags when one of its bytes is below 32 (the line
            # end among them) or above 127; the lowest flagged byte is a true one (a borrow runs upwards).
            e = s
            while True:
                w = words[e >> 3] | _BEFORE[e & 7]
                while ((w - _SPACES) | w) & _HIGH_BITS == 0:
                    e = ((e >> 3) + 1) << 3
                    w = words[e >> 3]
                while (block[e] - 32) & 255 < 96:
                    e += 1
                if block[e] == NEWLINE:
                    break
                e += 1
        if ok:
            for f in range(width):
                x = values[f]
                if x != x:
                    missing[f] += 1
                    continue
                position = (x - lo[f]) * scale[f] + 1.0
                if position < 0.0:
                    position = 0.0
                elif position > top:
                    position = float(top)
                counts[f, int(position)] += 1
                if x < minimum[f]:
                    minimum[f] = x
                if x > maximum[f]:
                    maximum[f] = x
            rows += 1
        elif taken and spans[2 * taken - 1] == s - 1:  # straight after the last span: one span
            spans[2 * taken - 1] = e
        else:
            if taken * 2 == spans.shape[0]:
                return rows, taken, s
            spans[2 * taken] = s
            spans[2 * taken + 1] = e
            taken += 1
        s = e + 1
    return rows, taken, s


def template(prefix: bytes, suffix: bytes, rest: bytes) -> list[bytes] | None:
    """The literal parts of lines like one whose input payload follows ``prefix`` and is followed by ``suffix``
    then ``rest``: the prefix, then the suffix and ``rest`` cut around the content of each string that is an
    object's value (a key is a literal; so is every byte outside strings). None when ``rest`` holds an escape
    or a byte that is not printable ASCII (those lines go to the exact reader)."""
    parts, current, i = [prefix], bytearray(suffix), 0
    while i < len(rest):
        c = rest[i]
        if c == BACKSLASH or not 32 <= c < 128:
            return None
        if c != QUOTE:
            current.append(c)
            i += 1
            continue
        close = rest.find(b'"', i + 1)
        if close < 0 or b"\\" in rest[i:close]:
            return None
        if (
            rest[close + 1 :].lstrip(b" \t\r\n")[:1] == b":"
        ):  # a key (json allows whitespace before the colon)
            current += rest[i : close + 1]
        else:  # a value: its content is free
            current.append(QUOTE)
            parts.append(bytes(current))
            current = bytearray(b'"')
        i = close + 1
    parts.append(bytes(current))
    return parts


class LineReader:
    """Reads blocks of capture lines for one baseline's numeric features (every feature numeric)."""

    def __init__(self, lo: np.ndarray, scale: np.ndarray, cells: int) -> None:
        width = len(lo)
        self.lo = np.ascontiguousarray(lo, dtype=np.float64)
        self.scale = np.ascontiguousarray(scale, dtype=np.float64)
        self.counts = np.zeros((width, cells), dtype=np.int64)
        self.missing = np.zeros(width, dtype=np.int64)
        self.minimum = np.full(width, np.inf)
        self.maximum = np.full(width, -np.inf)
        self._spans = np.empty(2 * SPANS, dtype=np.int64)
        self._text = np.zeros(64 * 1024, dtype=np.uint8)  # a decoded body; a longer one is handed back
        self._values = np.empty(width, dtype=np.float64)

    def read(
        self, buffer: np.ndarray, stop: int, parts: list[bytes], base64: bool
    ) -> tuple[int, list[tuple[int, int]]]:
        """Lines of ``buffer[:stop]`` (``buffer[stop - 1]`` is a line end; ``buffer`` is 8-byte aligned, a
        multiple of 8 long, with at least 8 bytes after ``stop``) made as :func:`template` ``parts`` says.
        Adds what it reads to ``counts``, ``missing``, ``minimum`` and ``maximum``; returns the rows read and
        the spans of the lines it did not read."""
        words = buffer.view(np.uint64)
        joined = b"".join(parts)
        lits = np.frombuffer(joined, dtype=np.uint8)
        # chunks[i]: the eight bytes of the literals from i, as one word (what _load gives for a match)
        padded = np.frombuffer(joined + bytes(8), dtype=np.uint8)
        chunks = (
            np.lib.stride_tricks.sliding_window_view(padded, 8)[: len(joined)].copy().view(np.uint64).ravel()
        )
        bounds = np.cumsum([len(part) for part in parts]).astype(np.int64)
        rows, start = 0, 0
        handed: list[tuple[int, int]] = []
        while start < stop:
            read, taken, start = _scan(
                words, buffer, start, stop, lits, chunks, bounds, base64, self.lo, self.scale,
                self.counts, self.missing, self.minimum, self.maximum, self._spans, self._text, self._values,
            )  # fmt: skip
            rows += int(read)
            handed.extend(
                (first, last) for first, last in self._spans[: 2 * taken].reshape(taken, 2).tolist()
            )
        return rows, handed

    def take_counts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The counts, missing values, minima and maxima so far (a feature with no value has minimum inf and
        maximum -inf); starts again from none."""
        taken = (self.counts, self.missing, self.minimum, self.maximum)
        self.counts = np.zeros_like(self.counts)
        self.missing = np.zeros_like(self.missing)
        self.minimum = np.full_like(self.minimum, np.inf)
        self.maximum = np.full_like(self.maximum, -np.inf)
        return taken
