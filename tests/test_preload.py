"""``airflow_modelreg.preload`` in ``airflow_local_settings.py`` (the README's recipe) leaves nothing of the
provider, the Amazon provider or the asset-URI handlers to import in the DAG processor's forked parses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT

# The DAG processor's parent (Airflow imports airflow_local_settings at start), then one forked parse per
# reference DAG file through the processor's own _parse_file; each child reports what it imported.
PARSE_IN_FORKS = r"""
import glob, json, os, sys
import structlog
from airflow.dag_processing import processor

log = structlog.get_logger()
files = sorted(glob.glob(os.path.join(sys.argv[1], "*.py")))
for path in files:
    processor._pre_import_airflow_modules(path, log)
report = {"parent_has_provider": "airflow_modelreg.preload" in sys.modules, "children": {}}
for path in files:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        before = set(sys.modules)
        result = processor._parse_file(
            processor.DagFileParseRequest(
                file=path, bundle_path=os.path.dirname(path), bundle_name="dags", callback_requests=[]
            ),
            log,
        )
        found = {
            "imported": sorted(set(sys.modules) - before),
            "dags": len(result.serialized_dags),
            "errors": dict(result.import_errors),
        }
        os.write(write, json.dumps(found).encode())
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 1 << 16):
        chunks.append(chunk)
    os.waitpid(pid, 0)
    report["children"][os.path.basename(path)] = json.loads(b"".join(chunks))
print(json.dumps(report))
"""

# What a parse may still import: the DAG file itself, what Airflow's serializer imports lazily for every DAG
# (an EmptyOperator DAG imports the same), and the timetable of a cron schedule.
AIRFLOW_SERIALIZATION = (
    "unusual_prefix_",
    "airflow.timetables.",
    "airflow.api",
    "airflow.models.",
    "airflow.providers.standard.",
    "airflow.providers.common.compat.openlineage",
)


def test_the_preload_recipe_leaves_every_forked_parse_only_the_dag_file(tmp_path):
    settings = tmp_path / "settings"
    settings.mkdir()
    (settings / "airflow_local_settings.py").write_text("import airflow_modelreg.preload  # noqa: F401\n")
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW__")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        PYTHONPATH=f"{settings}{os.pathsep}{env.get('PYTHONPATH', '')}",
    )
    ran = subprocess.run(
        [sys.executable, "-c", PARSE_IN_FORKS, str(ROOT / "dags")],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["parent_has_provider"]
    assert len(report["children"]) == len(list((ROOT / "dags").glob("*.py")))
    for name, child in report["children"].items():
        assert child["dags"] >= 1 and not child["errors"], (name, child["errors"])
        left = [m for m in child["imported"] if not m.startswith(AIRFLOW_SERIALIZATION)]
        assert left == [], f"{name}: a forked parse still imported {left}"
