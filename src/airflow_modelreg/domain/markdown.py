"""Put untrusted text (names, reasons, evidence, repository URLs) into Markdown that a browser or a mail client
renders: the text always shows as written and never becomes HTML, a link or formatting."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

# Characters that would let text become something else: a code span, a link or image (brackets), a table cell
# break (|), an escape. Each is shown literally when backslash-escaped; < > & become entities so no renderer
# ever sees a tag. Emphasis characters are left alone: at worst they style a word, and names like batch_auc
# stay readable in the Markdown source that Airflow's REST API returns.
_MARKDOWN_SPECIAL = re.compile(r"([\\`\[\]|])")


def text(value: Any) -> str:
    """``value`` as inline Markdown text: HTML-escaped, Markdown characters escaped, on one line."""
    raw = " ".join(str("-" if value is None else value).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(raw, quote=True))


def code(value: Any) -> str:
    """``value`` as an inline code span: shown verbatim, whatever backticks or tags it holds."""
    raw = " ".join(str("-" if value is None else value).split())
    longest = max((len(run) for run in re.findall(r"`+", raw)), default=0)
    fence = "`" * (longest + 1)
    # Angle brackets are harmless inside a code span, but some renderers of the UI allow raw HTML blocks;
    # entities inside a code span would show as "&lt;", so the brackets are swapped for look-alikes instead.
    raw = raw.replace("<", "\u2039").replace(">", "\u203a")
    padded = f" {raw} " if raw.startswith("`") or raw.endswith("`") else raw
    return f"{fence}{padded}{fence}"


def link(label: str, url: str) -> str:
    """A link only for http(s) URLs this provider builds; anything else is shown as code."""
    if not re.match(r"^https://[\w.\-]+(/[\w.\-/~%?=&#:+,@]*)?$", url or ""):
        return code(url)
    return f"[{text(label)}]({url.replace(')', '%29').replace(' ', '%20')})"


# An S3 location whose bucket name follows S3's rules (3-63 lowercase letters, digits, dots, hyphens).
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")


def s3_console_url(uri: str, region: str | None = None) -> str | None:
    """The S3 console's page of the object at ``uri`` (in ``region`` when known), or None for anything that
    is not an ``s3://bucket/key`` location."""
    found = _S3_URI.match(uri or "")
    if not found:
        return None
    bucket, key = found.groups()
    prefix = quote(key, safe="/")
    if region and _REGION.match(region):
        return f"https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={prefix}"
    return f"https://console.aws.amazon.com/s3/object/{bucket}?prefix={prefix}"


def s3_location(uri: Any, region: str | None = None) -> str:
    """An S3 location as code, followed by a link to its object in the S3 console (only code otherwise)."""
    url = s3_console_url(str(uri), region) if uri is not None else None
    return code(uri) if url is None else f"{code(uri)} ({link('open in S3', url)})"
