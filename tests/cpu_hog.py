"""A bounded CPU hog for ``make test-under-load``: one busy process per core, for at most ``limit_s``.

Each process stops by itself when its time is up, so an interrupted test run leaves no hog behind for
long; the test session stops them all when it ends."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys

BUSY_LOOP = (
    "import sys, time\nend = time.monotonic() + float(sys.argv[1])\nwhile time.monotonic() < end:\n    pass\n"
)


class CpuHog:
    def __init__(self, processes: int | None = None, limit_s: float = 3600) -> None:
        self.count = processes or os.cpu_count() or 1
        self.limit_s = limit_s
        self.processes: list[subprocess.Popen] = []

    def start(self) -> CpuHog:
        for _ in range(self.count):
            self.processes.append(
                subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(self.limit_s)], start_new_session=True)
            )
        return self

    def running(self) -> int:
        return sum(1 for process in self.processes if process.poll() is None)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        self.processes.clear()
