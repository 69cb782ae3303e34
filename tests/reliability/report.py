"""Render ``.reliability/results.json`` (written by the reliability suite) into RELIABILITY.md.

Run by ``make reliability`` after ``pytest -m reliability``."""

from __future__ import annotations

import datetime
import json
import sys

from tests.reliability.conftest import OUTCOMES, RESULTS, ROOT

CLASSES = {
    "faults": (
        "Faults",
        "Throttling and 5xx injected by the stand-in on a share of all calls while the whole workflow runs "
        "(register, approve, promote through four environments, deploy, shift traffic). Survived: the step "
        "completed through botocore's standard retry mode, with no duplicate version, config or pointer write.",
    ),
    "crashes": (
        "Crashes",
        "A task stopped at each of its write boundaries (the stand-in refuses every write after the k-th, as "
        "a killed worker would never send them), then retried. Survived: the end state (registry, Parameter "
        "Store with its history, models, endpoint configs and endpoints) equals a clean run's.",
    ),
    "races": (
        "Races",
        "Concurrent promotions of different versions to one environment. Survived: one wins; refused: the "
        "other fails with a clear message; the pointer and the registry agree.",
    ),
    "bad_input": (
        "Bad input",
        "Invalid names, ARNs, environments, statuses, weights, thresholds, reports, artifacts and metadata. "
        "Refused: a clear error naming the value, and not one write reached AWS.",
    ),
    "bypass": (
        "Bypass attempts",
        "Attempts to get an ungoverned model into an environment. Refused: the attempt fails and leaves a "
        "record (an AUDIT log line, and on the version where a decision was taken).",
    ),
    "secrets": (
        "Secrets",
        "Connection credentials and extras looked for in task logs, XCom values and notifications. Survived: "
        "not found anywhere.",
    ),
}


def render(results: dict[str, list[dict[str, str]]]) -> str:
    lines = [
        "# Reliability",
        "",
        f"Produced by `make reliability` (the `reliability` marker of `make test`) on {datetime.date.today()}, "
        "against the local AWS stand-in over HTTP. Every row is a test that fails when the outcome differs.",
        "",
        "| class | tried | survived | refused | lost |",
        "|---|---|---|---|---|",
    ]
    for kind, (title, _) in CLASSES.items():
        cases = results.get(kind, [])
        counts = {outcome: sum(1 for case in cases if case["outcome"] == outcome) for outcome in OUTCOMES}
        lines.append(
            f"| {title} | {len(cases)} | {counts['survived']} | {counts['refused']} | {counts['lost']} |"
        )
    for kind, (title, method) in CLASSES.items():
        lines += ["", f"## {title}", "", method, "", "| case | outcome | detail |", "|---|---|---|"]
        for case in results.get(kind, []):
            detail = case["detail"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {case['case']} | {case['outcome']} | {detail} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    if not RESULTS.exists():
        print(f"{RESULTS} is missing: run pytest -m reliability first", file=sys.stderr)
        return 1
    (ROOT / "RELIABILITY.md").write_text(render(json.loads(RESULTS.read_text())))
    print(f"wrote {ROOT / 'RELIABILITY.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
