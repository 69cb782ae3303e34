"""Lifecycle overhead: the demo's whole lifecycle (two versions registered, approved and promoted through four
environments, an A/B deploy with a canary shift, batch inference, drift detection, retraining), split into
the time the stand-in spent serving AWS calls, the time the scripted people spent looking at each request
before answering, and the rest: Airflow (``dag.test`` runs, the task runner, HITL polling) and this provider,
including the bake times and poll intervals the DAGs configure. Run as ``make demo`` runs it, several times."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import median, table

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3


def _one_run() -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="modelreg-bench-demo-"))
    (workdir / "dags").symlink_to(ROOT / "dags")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    completed = subprocess.run(
        [sys.executable, "-m", "airflow_modelreg.demo"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the demo failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return json.loads((workdir / ".demo" / "lifecycle.json").read_text())


def run() -> str:
    runs = []
    for index in range(RUNS):
        runs.append(_one_run())
        print(
            f"lifecycle run {index + 1}: {json.dumps({k: v for k, v in runs[-1].items() if k != 'calls_by_action'})}",
            flush=True,
        )
    parts = ("total_seconds", "aws_seconds", "people_seconds", "airflow_and_provider_seconds")
    medians = {part: median([r[part] for r in runs]) for part in parts}
    calls = median([r["aws_calls"] for r in runs])
    rows = [
        ["whole lifecycle", f"{medians['total_seconds']:.1f} s", "100%"],
        *[
            [label, f"{medians[part]:.1f} s", f"{100 * medians[part] / medians['total_seconds']:.0f}%"]
            for label, part in (
                (f"AWS calls ({calls:.0f}, served by the stand-in)", "aws_seconds"),
                ("people looking at requests (scripted, 3 s each)", "people_seconds"),
                ("Airflow and the provider", "airflow_and_provider_seconds"),
            )
        ],
    ]
    busiest = sorted(runs[0]["calls_by_action"].items(), key=lambda item: -item[1])[:8]
    return "\n".join(
        [
            f"## Lifecycle overhead (medians of {RUNS} demo runs)",
            "",
            (__doc__ or "").strip(),
            "",
            table(["part", "time", "share"], rows),
            "",
            "Most frequent calls in one run: "
            + ", ".join(f"{action} {count}" for action, count in busiest)
            + ".",
        ]
    )
