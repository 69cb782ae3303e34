"""The reliability suite: every case records its outcome in a tally, written to ``.reliability/results.json``
at the end of the session; ``make reliability`` renders it into RELIABILITY.md."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / ".reliability" / "results.json"
OUTCOMES = ("survived", "refused", "lost")


class Tally:
    """Outcomes by class of trouble: ``survived`` (the job completed as a clean run would), ``refused``
    (a clear error before anything was written, or a bypass refused and recorded), ``lost`` (never expected:
    a case records ``lost`` only just before its test fails)."""

    def __init__(self) -> None:
        self.cases: dict[str, list[dict[str, str]]] = defaultdict(list)
        self._lock = threading.Lock()

    def record(self, kind: str, case: str, outcome: str, detail: str = "") -> None:
        assert outcome in OUTCOMES, outcome
        with self._lock:
            self.cases[kind].append({"case": case, "outcome": outcome, "detail": detail[:300]})

    def write(self) -> None:
        """Merge this process's cases into the results, case by case, under a file lock: every xdist worker
        writes its own share of each class, and a partial run (one class) keeps the others' last results."""
        import fcntl

        RESULTS.parent.mkdir(exist_ok=True)
        with open(RESULTS.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
            for kind, cases in self.cases.items():
                ours = {entry["case"] for entry in cases}  # a case may record several rounds: keep them all
                kept = [entry for entry in previous.get(kind, []) if entry["case"] not in ours]
                previous[kind] = kept + cases
            RESULTS.write_text(json.dumps(previous, indent=2, sort_keys=True))


_TALLY = Tally()


@pytest.fixture(scope="session")
def tally():
    yield _TALLY
    if _TALLY.cases:
        _TALLY.write()


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)
