"""``airflow-modelreg``: command-line access to the release process (``audit GROUP``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit


def _ladder(value: str | None):
    """The ladder to read the audit with: ``--ladder`` (JSON or @file), else the ``modelreg_ladder`` Variable,
    else the default. From an argument or the Variable's environment variable, Airflow is not imported."""
    from airflow_modelreg.domain.environments import EnvironmentLadder

    if value and value.startswith("@"):
        value = Path(value[1:]).read_text()
    if value:  # reading the audit with the ladder asked for: nothing is governed by it here
        return EnvironmentLadder.from_config(value)
    from_env = os.environ.get("AIRFLOW_VAR_MODELREG_LADDER")
    if from_env:
        return EnvironmentLadder.from_config(from_env)
    from airflow_modelreg.config import resolve_ladder

    try:
        return resolve_ladder(None)
    except Exception as error:  # no Airflow metadata database here: the default ladder is still useful
        print(f"(using the default ladder: {error})", file=sys.stderr)
        return EnvironmentLadder()


# Connection extras a plain boto3 session can honour; anything else (a role to assume, a profile, botocore
# settings) goes through the Amazon provider's AwsBaseHook.
_PLAIN_EXTRAS = {"region_name", "endpoint_url", "aws_session_token"}


def plain_clients(conn_id: str) -> tuple[Any, Any] | None:
    """boto3 S3 and SageMaker clients for an AWS connection given as an environment variable
    (``AIRFLOW_CONN_<ID>``, JSON or URI), built without importing Airflow, whose start-up costs seconds of
    CPU; ``None`` when the connection lives elsewhere (the metadata database, a secrets backend) or needs
    the Amazon provider's machinery."""
    raw = os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}")
    if not raw:
        return None
    if raw.lstrip().startswith("{"):
        document = json.loads(raw)
        conn_type, login, password = (
            document.get("conn_type"),
            document.get("login"),
            document.get("password"),
        )
        extra = document.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra) if extra.strip() else {}
    else:
        parsed = urlsplit(raw)
        conn_type = parsed.scheme.replace("-", "_")
        login = unquote(parsed.username) if parsed.username else None
        password = unquote(parsed.password) if parsed.password else None
        extra = dict(parse_qsl(parsed.query))
    if conn_type != "aws" or not isinstance(extra, dict) or set(extra) - _PLAIN_EXTRAS:
        return None
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(
        aws_access_key_id=login or None,
        aws_secret_access_key=password or None,
        aws_session_token=extra.get("aws_session_token"),
        region_name=extra.get("region_name"),
    )
    options: dict[str, Any] = {"config": Config(retries={"mode": "standard"})}
    if extra.get("endpoint_url"):
        options["endpoint_url"] = extra["endpoint_url"]
    return session.client("s3", **options), session.client("sagemaker", **options)


class _RegistryReader:
    """What the audit reads of the registry, through a plain boto3 SageMaker client."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def list_versions(self, group: str, status: str | None = None) -> Any:
        from airflow_modelreg.aws_calls import list_version_summaries

        return list_version_summaries(self.client, group, status)

    def describe_version(self, arn: str) -> dict[str, Any]:
        from airflow_modelreg.aws_calls import describe_version

        return describe_version(self.client, arn)


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

    from airflow_modelreg.audit_store import S3AuditLog, audit_trail

    clients = plain_clients(args.aws_conn_id)
    log_hook: Any
    registry: Any
    if clients is not None:
        log_hook, registry = S3AuditLog(clients[0], log_uri), _RegistryReader(clients[1])
    else:
        from airflow_modelreg.hooks.audit_log import AuditLogHook
        from airflow_modelreg.hooks.model_registry import ModelRegistryHook

        log_hook = AuditLogHook(aws_conn_id=args.aws_conn_id, log_uri=log_uri)
        registry = ModelRegistryHook(aws_conn_id=args.aws_conn_id)
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
