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


def test_every_extra_link_an_operator_carries_is_registered_and_every_registered_link_is_carried():
    """Airflow's UI finds an operator's links through the provider's "extra-links": one an operator carries but
    the provider does not list would show nothing, one listed but carried by nobody is dead."""
    import inspect

    from airflow.sdk import BaseOperator

    info = get_provider_info()
    registered = set(info["extra-links"])
    modules = [
        m
        for kind in ("operators", "sensors")
        for entry in info.get(kind, [])
        for m in entry["python-modules"]
    ]
    carried: dict[str, set[str]] = {}
    for module in modules:
        for name, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass):
            if issubclass(cls, BaseOperator) and cls.__module__.startswith("airflow_modelreg."):
                for link in cls.operator_extra_links:
                    dotted = f"{type(link).__module__}.{type(link).__qualname__}"
                    carried.setdefault(dotted, set()).add(name)
    assert set(carried) <= registered, set(carried) - registered
    assert registered <= set(carried), registered - set(carried)
    for view_link in (
        "RegistryVersionLink",
        "RegistryEnvironmentLink",
        "RegistryEndpointLink",
        "RegistryDriftLink",
        "RegistryDriftReportLink",
    ):
        assert f"airflow_modelreg.links.registry_view.{view_link}" in registered
    # The console links stay beside the registry view's.
    assert {"RequestModelApprovalOperator", "ModelApprovalSensor", "CommitPromotionOperator"} <= carried[
        "airflow_modelreg.links.model_registry.ModelVersionLink"
    ]
    assert {"CompareVariantsOperator", "EndpointSensor", "DeployModelOperator"} <= carried[
        "airflow_modelreg.links.model_registry.EndpointLink"
    ]


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
