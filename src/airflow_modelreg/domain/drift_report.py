"""The drift report as one self-contained HTML page (inline CSS and SVG, nothing fetched), and the short
verdict that travels in XCom and Asset events.

The page says what was compared (the capture window and its files, linked), the verdict, the decision rule
with its thresholds, every feature's effect sizes beside its p-value, and a chart per feature: baseline and
window shares on the same bins, with readable labels. Rendered by Jinja2 with autoescaping on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import jinja2
from markupsafe import Markup

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:62em;color:#1f1f1f;padding:0 1em}
h1{margin-bottom:.2em}.muted{color:#5f6368}.verdict{font-size:1.2em;padding:.6em 1em;border-radius:6px}
.drift{background:#fce8e6;color:#a50e0e}.calm{background:#e6f4ea;color:#0d652d}
table{border-collapse:collapse;width:100%;margin:1em 0}td,th{border-bottom:1px solid #dadce0;padding:5px 8px;
text-align:right}td:first-child,th:first-child,td.l,th.l{text-align:left}tr.drifted td{background:#fef7f6}
.bar{display:inline-block;height:.7em;background:#8ab4f8;vertical-align:middle}.bar.over{background:#ee675c}
details{margin:.6em 0;border:1px solid #dadce0;border-radius:6px;padding:.4em .8em}summary{cursor:pointer}
code{font-size:.9em;word-break:break-all}.rule{background:#f8f9fa;padding:.8em 1em;border-radius:6px}
</style></head><body>
<h1>{{ title }}</h1>
<p class="muted">{{ report.rows | thousands }} rows compared with the baseline
{%- if report.baseline %} (<code>{{ report.baseline }}</code>){% endif %};
{{ report.malformed_lines | thousands }} malformed line(s) skipped.
{%- if window.start %} Window {{ window.start }} to {{ window.end }}.{% endif %}</p>
{% if report.drift_detected %}
<p class="verdict drift"><b>Drift</b> in {{ report.drifted_features | length }} of {{ report.features | length }}
feature(s): {{ report.drifted_features | join(", ") }}.</p>
{% else %}
<p class="verdict calm"><b>No drift</b> in {{ report.features | length }} feature(s).</p>
{% endif %}
<p class="rule"><b>Decision rule.</b> {{ report.decision_rule }}</p>
<table>
<tr><th>feature</th><th class="l">type</th><th>rows</th><th>missing</th><th>PSI</th><th>distance</th>
<th class="l">distance / threshold</th><th>p-value</th><th class="l">verdict</th></tr>
{% for name, f in report.features.items() %}
<tr class="{{ 'drifted' if f.drifted else '' }}"><td><a href="#f-{{ loop.index }}">{{ name }}</a></td>
<td class="l">{{ f.type }}</td><td>{{ f.rows | thousands }}</td><td>{{ f.missing | thousands }}</td>
<td>{{ '%.3f' | format(f.psi) }}</td><td>{{ '%.3f' | format(f.distance) }}</td>
<td class="l"><span class="bar {{ 'over' if f.distance > f.thresholds.distance else '' }}"
 style="width:{{ [f.distance / f.thresholds.distance * 4, 12] | min }}em"></span></td>
<td>{{ f.p_value | pvalue }}</td>
<td class="l">{{ ('drifted: ' ~ f.reasons | join('; ')) if f.drifted else 'ok' }}</td></tr>
{% endfor %}
</table>
<p class="muted">PSI: population stability index on ten baseline-decile bins. Distance: Wasserstein-1 in
baseline standard deviations (numeric) or Jensen-Shannon distance (categorical). p-value: two-sample
Kolmogorov-Smirnov (numeric) or chi-square (categorical), for reference only.</p>
{% for name, f in report.features.items() %}
<details id="f-{{ loop.index }}" {{ 'open' if f.drifted else '' }}>
<summary><b>{{ name }}</b> ({{ f.type }}): PSI {{ '%.3f' | format(f.psi) }}, distance
{{ '%.3f' | format(f.distance) }}{% if f.type == 'numeric' %}, KS {{ '%.3f' | format(f.ks) }}{% endif %}
{%- if f.drifted %} <b style="color:#a50e0e">drifted</b>{% endif %}</summary>
{{ chart(f) }}
{% if f.range and f.range.min is not none %}<p class="muted">Window values from {{ f.range.min | number }}
to {{ f.range.max | number }}; baseline standard deviation {{ f.baseline.std | number }}.</p>{% endif %}
{% if f.new_categories %}<p>New categories: {% for c, n in f.new_categories.items() %}<code>{{ c }}</code>
({{ n | thousands }}){{ ', ' if not loop.last }}{% endfor %}.</p>{% endif %}
</details>
{% endfor %}
{% if sources %}
<h2>Capture read</h2>
<ul>{% for s in sources %}<li><a href="{{ s.console }}"><code>{{ s.uri }}</code></a></li>{% endfor %}
{% if more_sources %}<li class="muted">and {{ more_sources }} more file(s)</li>{% endif %}</ul>
{% endif %}
{% if report.malformed_examples %}
<h2>Malformed lines (first {{ report.malformed_examples | length }})</h2>
<ul>{% for e in report.malformed_examples %}<li><code>{{ e }}</code></li>{% endfor %}</ul>
{% endif %}
</body></html>
"""

_CHART = """<svg width="{{ width }}" height="{{ height + 58 }}" viewBox="0 0 {{ width }} {{ height + 58 }}"
 xmlns="http://www.w3.org/2000/svg" role="img" aria-label="baseline and window shares per bin">
{% for bar in bars %}
<rect x="{{ bar.x }}" y="{{ bar.y_e }}" width="{{ bar.w }}" height="{{ bar.h_e }}" fill="#8ab4f8">
<title>{{ bar.label }}: baseline {{ bar.e }}</title></rect>
<rect x="{{ bar.x + bar.w }}" y="{{ bar.y_o }}" width="{{ bar.w }}" height="{{ bar.h_o }}" fill="#ee675c">
<title>{{ bar.label }}: window {{ bar.o }}</title></rect>
<text x="{{ bar.x + bar.w }}" y="{{ height + 14 }}" font-size="10" text-anchor="end"
 transform="rotate(-30 {{ bar.x + bar.w }} {{ height + 14 }})">{{ bar.label }}</text>
{% endfor %}
<line x1="20" y1="{{ height }}" x2="{{ width - 10 }}" y2="{{ height }}" stroke="#9aa0a6"/>
<text x="20" y="{{ height + 54 }}" font-size="11"><tspan fill="#4285f4">&#9632; baseline</tspan>
<tspan dx="8" fill="#d93025">&#9632; capture window</tspan><tspan dx="8" fill="#5f6368">(share of rows per bin,
highest {{ top }})</tspan></text>
</svg>"""


def _thousands(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _pvalue(value: float) -> str:
    return "< 1e-300" if value == 0 else f"{value:.2g}"


def _number(value: Any) -> str:
    if not isinstance(value, int | float):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) < 1e15 else f"{value:,.4g}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(autoescape=True, undefined=jinja2.ChainableUndefined, trim_blocks=True)
    env.filters.update(thousands=_thousands, pvalue=_pvalue, number=_number)
    return env


_ENV = _environment()
_PAGE = _ENV.from_string(_TEMPLATE)
_SVG = _ENV.from_string(_CHART)


def _chart(feature: Mapping[str, Any]) -> str:
    expected, observed = feature["expected"], feature["observed"]
    labels = feature.get("labels") or [str(b) for b in feature.get("bins", [])]
    width, height = 680, 200
    slot = (width - 40) / max(len(expected), 1)
    top = max([*expected, *observed, 1e-9])
    bars = []
    for i, (e, o) in enumerate(zip(expected, observed, strict=True)):
        h_e, h_o = (height - 10) * e / top, (height - 10) * o / top
        bars.append(
            {
                "x": round(20 + i * slot + slot * 0.1, 1),
                "w": round(slot * 0.4, 1),
                "y_e": round(height - h_e, 1),
                "h_e": round(h_e, 1),
                "y_o": round(height - h_o, 1),
                "h_o": round(h_o, 1),
                "e": f"{e:.1%}",
                "o": f"{o:.1%}",
                "label": labels[i] if i < len(labels) else "",
            }
        )
    return _SVG.render(bars=bars, width=width, height=height, top=f"{top:.1%}")


def _console(uri: str) -> str:
    """The S3 console page of an ``s3://`` object or prefix (the report is read by people, in a browser)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    kind = "buckets" if key.endswith("/") or not key else "object"
    return f"https://s3.console.aws.amazon.com/s3/{kind}/{quote(bucket)}?prefix={quote(key)}"


def render_html(report: Mapping[str, Any], title: str = "Drift report", max_sources: int = 50) -> str:
    """The standalone page for a report made by :func:`airflow_modelreg.domain.drift.compare`."""
    window = report.get("window") or {}
    sources: Sequence[str] = report.get("sources") or window.get("prefixes") or []
    listed = [{"uri": uri, "console": _console(uri)} for uri in sources[:max_sources]]
    return _PAGE.render(
        title=title,
        report=report,
        window=window,
        sources=listed,
        more_sources=max(len(sources) - max_sources, 0),
        chart=lambda feature: Markup(_chart(feature)),  # built from escaped values by its own template
    )


def summarise(report: Mapping[str, Any], airflow_run: str) -> dict[str, Any]:
    """The verdict that travels in XCom and in the drift Asset's events (small, JSON, no histograms)."""
    drifted = list(report.get("drifted_features", []))
    source = report.get("source", "data_capture")
    if report.get("drift_detected"):
        reason = f"drift in {', '.join(drifted)} ({source})"
    else:
        reason = (
            f"no drift in {report.get('rows', 0):,} rows ({source})"
            if "rows" in report
            else f"no drift ({source})"
        )
    summary = {
        "drift_detected": bool(report.get("drift_detected")),
        "reason": reason,
        "window": report.get("window"),
        "drifted_features": drifted,
        "report_uri": report.get("report_uri"),
        "report_html_uri": report.get("report_html_uri"),
        "airflow_run": airflow_run,
        "source": source,
    }
    kept = ("rows", "malformed_lines", "violations", "checks", "execution", "endpoint")
    return {**summary, **{key: report[key] for key in kept if key in report}}
