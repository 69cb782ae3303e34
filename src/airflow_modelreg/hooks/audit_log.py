"""Hook for the audit log of release events: append-only, one write-once S3 object per event.

The log's layout and logic live in :mod:`airflow_modelreg.audit_store` (no Airflow there, so the command line
reads the log without importing Airflow); this is the Airflow hook over it.
"""

from __future__ import annotations

from typing import Any

from airflow_modelreg.audit_store import (  # noqa: F401 - re-exported: the hook's module is where users look
    DECISIONS,
    SEGMENT_SIZE,
    AuditLogStore,
    audit_trail,
    parse_log_uri,
)
from airflow_modelreg.hooks.base import ModelRegBaseHook


class AuditLogHook(AuditLogStore, ModelRegBaseHook):
    """Append release events of model package groups to a tamper-evident log in S3, read and verify it.

    :param log_uri: ``s3://bucket/prefix`` where the log lives (one folder per group under it).

    Additional arguments (``aws_conn_id``, ``region_name``, ``verify``, ``config``) are passed down to
    :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def __init__(self, *args: Any, log_uri: str, **kwargs: Any) -> None:
        kwargs["client_type"] = "s3"
        super().__init__(*args, **kwargs)
        self.log_uri = log_uri
        self.bucket, self.prefix = parse_log_uri(log_uri)
