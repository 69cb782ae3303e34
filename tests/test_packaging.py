"""The provider as a user installs it: ``uv build`` makes a wheel and an sdist; the wheel is installed with pip
into a clean virtualenv next to the oldest Airflow this provider supports (not the lock's), and every module
Airflow lists for it (``get_provider_info``) imports there. Needs the package index, as any install does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _floor(name: str) -> str:
    """The version pyproject.toml declares as the floor of ``name`` (``name>=floor``)."""
    from tests.matrix.lock_oldest import floors

    return next(pin.split("==")[1] for pin in floors() if pin.split("==")[0] == name)


# The floor pyproject.toml declares for apache-airflow; the lock runs the tests on a newer one.
OLDEST_AIRFLOW = _floor("apache-airflow")

IMPORT_EVERY_PROVIDER_MODULE = """
import importlib, json
from importlib.metadata import entry_points, version
from airflow_modelreg.get_provider_info import get_provider_info

info = get_provider_info()
modules = [m for kind in ("hooks", "operators", "sensors", "triggers") for entry in info[kind]
           for m in entry["python-modules"]]
classes = info["notifications"] + info["extra-links"]
for name in modules:
    importlib.import_module(name)
for path in classes:
    module, _, attribute = path.rpartition(".")
    getattr(importlib.import_module(module), attribute)
# The registry view's plugin, and its app built as the API server builds it (Airflow's own get_user).
plugins = [e.load() for e in entry_points(group="airflow.plugins")]
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.plugins.registry_app import create_app
from airflow_modelreg.plugins.registry_data import RegistryData

app = create_app(RegistryData("aws_default", EnvironmentLadder))
print(json.dumps({
    "airflow": version("apache-airflow"),
    "imported": len(modules) + len(classes),
    "entry_points": [e.value for e in entry_points(group="apache_airflow_provider")],
    "plugins": [p.name for p in plugins],
    "view_routes": len(app.routes),
}))
"""


def _uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    assert Path(found).exists(), "uv is not installed (make bootstraps it into .tools/)"
    return found


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [_uv(), "build", "--quiet", "--out-dir", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out


def test_uv_build_makes_a_wheel_and_an_sdist_with_the_typed_package(dist):
    (wheel,) = dist.glob("airflow_modelreg-*.whl")
    (sdist,) = dist.glob("airflow_modelreg-*.tar.gz")
    names = zipfile.ZipFile(wheel).namelist()
    for expected in (
        "airflow_modelreg/get_provider_info.py",
        "airflow_modelreg/py.typed",
        "airflow_modelreg/waiters/endpoint.json",
        "airflow_modelreg/schemas/modelreg_ladder.schema.json",
        "airflow_modelreg/plugins/templates/group.html",
    ):
        assert expected in names, f"{expected} is not in the wheel"
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "apache_airflow_provider" in declared and "[airflow.plugins]" in declared
    with tarfile.open(sdist) as archive:
        members = {Path(m).relative_to(Path(m).parts[0]).as_posix() for m in archive.getnames() if "/" in m}
    assert {"pyproject.toml", "src/airflow_modelreg/get_provider_info.py", "CHANGELOG.md"} <= members


@pytest.mark.slow(seconds=30)
def test_wheel_installs_with_pip_next_to_the_oldest_supported_airflow(dist, tmp_path):
    (wheel,) = dist.glob("airflow_modelreg-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [
            sys.executable,  # the locked pip, installing into the clean virtualenv
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--disable-pip-version-check",
            str(wheel),
            f"apache-airflow=={OLDEST_AIRFLOW}",
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert installed.returncode == 0, installed.stderr[-4000:]
    home = tmp_path / "airflow-home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env["AIRFLOW_HOME"] = str(home)
    ran = subprocess.run(
        [str(python), "-c", IMPORT_EVERY_PROVIDER_MODULE],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert ran.returncode == 0, ran.stderr[-4000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["airflow"] == OLDEST_AIRFLOW
    assert report["imported"] >= 20
    assert "airflow_modelreg.get_provider_info:get_provider_info" in report["entry_points"]
    assert "modelreg_registry_view" in report["plugins"] and report["view_routes"] >= 13


def test_the_version_matrix_is_locked_at_the_floors_pyproject_declares():
    """make test-oldest runs tests/matrix/oldest.txt: it must pin every Airflow package pyproject.toml
    declares at its floor, or a changed floor would go untested (make matrix-lock rewrites the file)."""
    from tests.matrix.lock_oldest import OUT, floors

    locked = {
        line.split("==")[0]: line.split("==")[1].split()[0]
        for line in OUT.read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    for pin in floors():
        name, floor = pin.split("==")
        assert locked.get(name) == floor, (
            f"{OUT.name} has {name} {locked.get(name)}, pyproject's floor is {floor}: run make matrix-lock"
        )
