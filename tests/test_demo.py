"""The demo from anywhere but a checkout: a clear error, and nothing of the user's touched."""

from __future__ import annotations

import subprocess
import sys


def test_the_demo_outside_a_checkout_says_where_to_run_it_and_deletes_nothing(tmp_path):
    mine = tmp_path / ".demo" / "notes.txt"
    mine.parent.mkdir()
    mine.write_text("the user's own file")
    ran = subprocess.run(
        [sys.executable, "-m", "airflow_modelreg.demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 2
    assert "clone the repository and run `make demo` there" in ran.stderr
    assert mine.read_text() == "the user's own file"
