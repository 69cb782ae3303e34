"""``airflow-modelreg``: command-line access to the release process (``audit GROUP``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _ladder(value: str | None):
    from airflow_modelreg.config import resolve_ladder

    if value and value.startswith("@"):
        value = Path(value[1:]).read_text()
    try:
        return resolve_ladder(value)
    except Exception as error:  # no Airflow metadata database here: the default ladder is still useful
        if value:
            raise
        print(f"(using the default ladder: {error})", file=sys.stderr)
        from airflow_modelreg.domain.environments import EnvironmentLadder

        return EnvironmentLadder()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airflow-modelreg", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    audit = commands.add_parser("audit", help="who registered, approved, promoted and rolled back what, when")
    audit.add_argument("group", help="model package group")
    audit.add_argument("--format", choices=("table", "json", "csv"), default="table")
    audit.add_argument("--aws-conn-id", default="aws_default", help="Airflow AWS connection of the registry")
    audit.add_argument("--prefix", default="/modelreg", help="Parameter Store prefix of the pointers")
    audit.add_argument("--ladder", help="ladder JSON, or @file; default: the modelreg_ladder Variable")
    args = parser.parse_args(argv)

    from airflow_modelreg.domain.audit import render
    from airflow_modelreg.domain.errors import ModelRegError
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    try:
        events = ModelRegistryHook(aws_conn_id=args.aws_conn_id).audit(
            args.group, _ladder(args.ladder), args.prefix
        )
    except ModelRegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(events, args.format))
    return 0


if __name__ == "__main__":
    sys.exit(main())
