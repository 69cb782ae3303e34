"""The drift report as an HTML page: a summary table and one bar chart (inline SVG) per drifted feature."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any


def _bars(expected: Sequence[float], observed: Sequence[float], labels: Sequence[str]) -> str:
    width, height, pad = 640, 220, 30
    n = max(len(expected), 1)
    slot = (width - 2 * pad) / n
    top = max([*expected, *observed, 1e-9])
    parts = [f'<svg width="{width}" height="{height + 40}" xmlns="http://www.w3.org/2000/svg" role="img">']
    for i, (e, o) in enumerate(zip(expected, observed, strict=True)):
        x = pad + i * slot
        for offset, value, colour in ((0.1, e, "#8fb3d9"), (0.5, o, "#e07b67")):
            h = (height - pad) * value / top
            parts.append(
                f'<rect x="{x + offset * slot:.1f}" y="{height - h:.1f}" width="{slot * 0.4:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{value:.3f}</title></rect>'
            )
        label = html.escape(str(labels[i]) if i < len(labels) else "")
        parts.append(
            f'<text x="{x + slot / 2:.1f}" y="{height + 14}" font-size="10" text-anchor="middle">{label}</text>'
        )
    parts.append(
        f'<text x="{pad}" y="{height + 34}" font-size="11"><tspan fill="#8fb3d9">&#9632; baseline</tspan> '
        '<tspan fill="#e07b67">&#9632; current window</tspan></text></svg>'
    )
    return "".join(parts)


def render_html(report: Mapping[str, Any], title: str = "Drift report") -> str:
    """A standalone page: what was compared, which features drifted, and a plot for each drifted one."""
    rows = []
    for name, result in report["features"].items():
        stat = f"KS {result['ks']:.3f}" if result["type"] == "numeric" else f"chi2 p={result['p_value']:.3g}"
        flag = "<b style='color:#b3261e'>drifted</b>" if result["drifted"] else "ok"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{result['type']}</td><td>{result['psi']:.3f}</td>"
            f"<td>{stat}</td><td>{flag}</td></tr>"
        )
    plots = []
    for name in report["drifted_features"]:
        result = report["features"][name]
        bins = result["bins"]
        labels = [f"<{bins[0]:g}"] + [f"≥{b:g}" for b in bins] if result["type"] == "numeric" else list(bins)
        plots.append(f"<h3>{html.escape(name)}</h3>{_bars(result['expected'], result['observed'], labels)}")
    window = report.get("window") or {}
    window_text = ", ".join(f"{html.escape(str(k))}: {html.escape(str(v))}" for k, v in window.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em;max-width:60em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>{report["rows"]} rows compared with the baseline; {report["malformed_lines"]} malformed lines skipped.
{window_text}</p>
<p><b>{len(report["drifted_features"])}</b> drifted feature(s): {html.escape(", ".join(report["drifted_features"]) or "none")}</p>
<table><tr><th>feature</th><th>type</th><th>PSI</th><th>test</th><th>result</th></tr>{"".join(rows)}</table>
{"".join(plots)}
</body></html>"""
