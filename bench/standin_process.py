"""The stand-in in its own process, so the benchmarked process measures only itself."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from airflow_modelreg.testing.standin import StandInClient


class StandInProcess:
    def __enter__(self) -> StandInClient:
        self.url_file = Path(tempfile.mktemp())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "airflow_modelreg.testing.standin", "--url-file", str(self.url_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not self.url_file.exists() or not self.url_file.read_text():
            if time.monotonic() > deadline:
                raise TimeoutError("the stand-in did not start")
            time.sleep(0.1)
        client = StandInClient(self.url_file.read_text())
        os.environ.update(client.environment())
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
        return client

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)
        self.url_file.unlink(missing_ok=True)
