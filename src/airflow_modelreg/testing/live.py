"""A real Airflow on loopback for end-to-end tests: API server, scheduler, DAG processor and triggerer as
separate processes (LocalExecutor on SQLite), each in its own process group so stopping leaves nothing."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

COMPONENTS = {
    "api-server": ["api-server", "--host", "127.0.0.1", "--port", "{port}"],
    "scheduler": ["scheduler"],
    "dag-processor": ["dag-processor"],
    "triggerer": ["triggerer"],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveAirflow:
    """Start with :meth:`start`, stop with :meth:`stop`; ``base_url`` is the API server's address."""

    def __init__(self, env: Mapping[str, str], port: int, logs: Path) -> None:
        self.env = {**os.environ, **env}
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.logs = logs
        self.processes: dict[str, subprocess.Popen] = {}

    def start(self, timeout: float = 180) -> LiveAirflow:
        self.logs.mkdir(parents=True, exist_ok=True)
        for name, args in COMPONENTS.items():
            command = [sys.executable, "-m", "airflow", *[a.format(port=self.port) for a in args]]
            log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.processes[name] = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.wait_healthy(timeout)
        return self

    def wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}: {self.tail(name)}")
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
        path = self.logs / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
