"""Write tests/matrix/oldest.txt: the locked environment of the oldest versions this provider supports.

Apache Airflow and its providers (``apache-airflow*`` in pyproject.toml's dependencies) are pinned to their
declared floors; everything else keeps the version uv.lock has where that is compatible (uv reads the output
file's pins as preferences). ``make matrix-lock`` runs it; ``make test-oldest`` installs the result into
``.venv-oldest``. Run it again whenever pyproject.toml's floors or uv.lock change.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "matrix" / "oldest.txt"


def floors() -> list[str]:
    """``name==floor`` for every ``apache-airflow*`` runtime dependency declared with ``>=floor``."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = []
    for requirement in declared:
        found = re.match(r"(apache-airflow[a-z0-9-]*)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)", requirement)
        if found:
            pins.append(f"{found.group(1)}=={found.group(3)}")
    return pins


def main(uv: str) -> int:
    locked = subprocess.run(
        [uv, "export", "--frozen", "--no-hashes", "--no-emit-project", "--all-extras"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    with tempfile.TemporaryDirectory() as scratch:
        constraints = Path(scratch) / "floors.txt"
        constraints.write_text("\n".join(floors()) + "\n")
        preferences = Path(scratch) / "oldest.txt"
        preferences.write_text(locked)  # uv prefers the pins of an existing output file
        subprocess.run(
            [
                uv,
                "pip",
                "compile",
                "--quiet",
                "--universal",
                "--generate-hashes",
                "--all-extras",
                "--group",
                "dev",
                "pyproject.toml",
                "--constraint",
                str(constraints),
                "--output-file",
                str(preferences),
                "--custom-compile-command",
                "make matrix-lock",
            ],
            cwd=ROOT,
            check=True,
        )
        OUT.write_text(preferences.read_text())
    print(f"{OUT.relative_to(ROOT)}: " + ", ".join(floors()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "uv"))
