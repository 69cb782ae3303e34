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
    # BENCHMARKS.md holds the latest result of every benchmark, each stamped with when and where it ran.
    found = [sections / f"{m.__name__.rsplit('.', 1)[1]}.md" for m in modules]
    document = "\n\n".join(
        [
            "# Benchmarks",
            "Measured by `make bench`. Medians of several runs where noted; every comparison is measured side "
            "by side in the same run, so read the ratios.",
            *[path.read_text() for path in found if path.exists()],
        ]
    )
    (ROOT / "BENCHMARKS.md").write_text(document + "\n")
    print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
