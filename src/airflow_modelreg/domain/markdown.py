"""Put untrusted text (names, reasons, evidence, repository URLs) into Markdown that a browser or a mail client
renders: the text always shows as written and never becomes HTML, a link or formatting."""

from __future__ import annotations

import html
import re
from typing import Any

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
