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
        if value:  # reading the audit with the ladder asked for: nothing is governed by it here
            from airflow_modelreg.domain.environments import EnvironmentLadder

            return EnvironmentLadder.from_config(value)
        return resolve_ladder(None)
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
    audit.add_argument(
        "--verify",
        action="store_true",
        help="check the audit log's hash chain; exit 1 naming each deleted, edited, inserted or moved event",
    )
    audit.add_argument("--environment", help="only events of this environment")
    audit.add_argument("--version", type=int, help="only events of this version")
    audit.add_argument(
        "--audit-log", help='s3://bucket/prefix of the audit log; default: the ladder\'s "audit_log"'
    )
    audit.add_argument("--aws-conn-id", default="aws_default", help="Airflow AWS connection of the registry")
    audit.add_argument("--prefix", default="/modelreg", help="Parameter Store prefix of the pointers")
    audit.add_argument("--ladder", help="ladder JSON, or @file; default: the modelreg_ladder Variable")
    args = parser.parse_args(argv)

    from airflow_modelreg.domain.errors import ModelRegError

    try:
        return _audit(args)
    except ModelRegError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _audit(args: argparse.Namespace) -> int:
    from airflow_modelreg.domain import audit_log
    from airflow_modelreg.domain.audit import render
    from airflow_modelreg.domain.errors import ModelRegError
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    ladder = None
    log_uri = args.audit_log
    if not log_uri:
        ladder = _ladder(args.ladder)
        log_uri = getattr(ladder, "audit_log_uri", None)
    if not log_uri:
        print(
            'error: no audit log: pass --audit-log s3://bucket/prefix or set "audit_log" in the ladder '
            "configuration (the modelreg_ladder Variable).",
            file=sys.stderr,
        )
        return 2

    from airflow_modelreg.hooks.audit_log import AuditLogHook, audit_trail

    log_hook = AuditLogHook(aws_conn_id=args.aws_conn_id, log_uri=log_uri)
    registry: ModelRegistryHook | None = ModelRegistryHook(aws_conn_id=args.aws_conn_id)
    try:
        events = audit_trail(args.group, log_hook=log_hook, registry_hook=registry)
    except ModelRegError as error:
        # The log stands on its own; the registry only adds notes on decisions made elsewhere.
        print(f"(registry not consulted: {error})", file=sys.stderr)
        events = log_hook.events(args.group)
    shown = [e for e in events if audit_log.matches(e, environment=args.environment, version=args.version)]
    print(render(shown, args.format))
    if not args.verify:
        return 0
    report = log_hook.verify_log(args.group)
    # Keep JSON and CSV output parseable: the verdict then goes to stderr.
    print(report.summary(), file=sys.stdout if args.format == "table" else sys.stderr)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
