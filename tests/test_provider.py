"""Airflow discovers the provider through its entry point, and every listed class imports."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys

from airflow_modelreg.get_provider_info import get_provider_info
from tests.conftest import AIRFLOW_ENV


def _airflow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env={**os.environ, **AIRFLOW_ENV},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_airflow_providers_list_shows_the_provider():
    result = _airflow("providers", "list", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert '"package_name": "airflow-modelreg"' in result.stdout


def test_every_module_and_link_in_provider_info_imports():
    info = get_provider_info()
    modules = [
        m
        for kind in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(kind, [])
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    for dotted in info.get("extra-links", []) + info.get("notifications", []):
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


def _json_output(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith(("[", "{"))]
    assert lines, result.stdout
    return json.loads(lines[-1])


def test_reference_dags_parse_without_import_errors(airflow):
    errors = _json_output(_airflow("dags", "list-import-errors", "--local", "--output", "json"))
    assert errors == []
    listed = {dag["dag_id"] for dag in _json_output(_airflow("dags", "list", "--local", "--output", "json"))}
    assert {"train_and_register"} <= listed


def test_admin_providers_links_to_the_readme_on_the_repository():
    """Airflow takes a provider's documentation link from its package's ``Documentation`` project URL
    (providers_discovery); without one, Admin > Providers links to airflow.apache.org/docs/airflow-modelreg/,
    which does not exist. The link is the README on the repository pyproject.toml declares."""
    import tomllib
    from importlib.metadata import metadata

    from tests.conftest import ROOT

    urls = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]
    assert urls["Documentation"] == f"{urls['Repository']}/blob/main/README.md"
    assert get_provider_info()["documentation-url"] == urls["Documentation"]
    # What Airflow reads: the installed distribution's metadata (make env installs it).
    declared = dict(
        entry.split(", ", 1) for entry in metadata("airflow-modelreg").get_all("Project-URL") or []
    )
    assert declared.get("Documentation") == urls["Documentation"], declared


def test_the_approver_aware_auth_manager_is_listed_and_imports():
    (dotted,) = get_provider_info()["auth-managers"]
    module, _, name = dotted.rpartition(".")
    assert hasattr(importlib.import_module(module), name), dotted
