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
    from bench import approval_wait, drift_engine, lifecycle, parse_cost, resolve
    from bench.common import machine

    only = set(sys.argv[1:])
    sections = []
    for module in (approval_wait, parse_cost, resolve, drift_engine, lifecycle):
        name = module.__name__.rsplit(".", 1)[1]
        if only and name not in only:
            continue
        started = time.monotonic()
        sections.append(module.run())
        print(f"{name}: {time.monotonic() - started:.0f}s", flush=True)
    document = "\n\n".join(
        [
            "# Benchmarks",
            f"Measured by `make bench` on {datetime.date.today()}: {machine()}. Medians of several runs where "
            "noted; every comparison is measured side by side in the same run, so read the ratios.",
            *sections,
        ]
    )
    if not only:
        (ROOT / "BENCHMARKS.md").write_text(document + "\n")
    print(document)
    return 0


if __name__ == "__main__":
    sys.exit(main())
