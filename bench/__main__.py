"""``make bench``: run every benchmark, print the comparisons, and write BENCHMARKS.md."""

from __future__ import annotations

import datetime
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="modelreg-bench-"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    from bench import (
        approval_wait,
        audit,
        drift_decisions,
        drift_engine,
        drift_fanout,
        lifecycle,
        parse_cost,
        registry_view,
        resolve,
    )
    from bench.common import machine

    only = set(sys.argv[1:])  # ``python -m bench drift_engine`` reruns one benchmark
    sections = ROOT / ".bench"
    sections.mkdir(exist_ok=True)
    modules = (
        approval_wait,
        parse_cost,
        resolve,
        audit,
        drift_engine,
        drift_decisions,
        drift_fanout,
        lifecycle,
        registry_view,
    )
    for module in modules:
        name = module.__name__.rsplit(".", 1)[1]
        if only and name not in only:
            continue
        started = time.monotonic()
        section = module.run()
        stamp = f"_Measured {datetime.date.today()} in {time.monotonic() - started:.0f} s on {machine()}._"
        (sections / f"{name}.md").write_text(f"{section}\n\n{stamp}")
        print(f"{name}: {time.monotonic() - started:.0f}s", flush=True)
    # BENCHMARKS.md holds the latest result of every benchmark, each stamped with when and where it ran: a
    # benchmark not run on this checkout keeps the section BENCHMARKS.md has for it (in the modules' order).
    published = published_sections(ROOT / "BENCHMARKS.md")
    kept = []
    for position, module in enumerate(modules):
        path = sections / f"{module.__name__.rsplit('.', 1)[1]}.md"
        if path.exists():
            kept.append(path.read_text())
        elif position < len(published):
            kept.append(published[position])
    document = "\n\n".join(
        [
            "# Benchmarks",
            "Measured by `make bench`. Medians of several runs where noted; every comparison is measured side "
            "by side in the same run, so read the ratios.",
            *kept,
        ]
    )
    (ROOT / "BENCHMARKS.md").write_text(document + "\n")
    print(document)
    return 0


def published_sections(document: Path) -> list[str]:
    """The ``## `` sections of a BENCHMARKS.md, in order (none when it does not exist)."""
    if not document.exists():
        return []
    return [f"## {part.strip()}" for part in document.read_text().split("\n## ")[1:]]


if __name__ == "__main__":
    sys.exit(main())
