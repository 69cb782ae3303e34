"""Shared base of the provider's hooks: the Amazon provider's ``AwsBaseHook`` with safe retry defaults."""

from __future__ import annotations

import hashlib
import inspect
import sys
import threading
from functools import cached_property
from types import FrameType
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config

from airflow_modelreg.aws_calls import call_aws  # noqa: F401 - the hooks import it from here
from airflow_modelreg.domain.validation import parse_s3_uri

# AWS throttles and sometimes answers 5xx; botocore's "standard" mode retries both with backoff. Used
# unless the connection's ``config_kwargs`` (or the operator's ``botocore_config``) set retries.
DEFAULT_RETRIES = {"mode": "standard", "max_attempts": 10}

_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()
_MAX_CLIENTS = 64


def _fingerprint(conn_config: Any) -> str:
    """What distinguishes one connection from another (its id, credentials, role, extra), hashed."""
    fields = {
        "conn_id": getattr(conn_config, "conn_id", None),
        "key": getattr(conn_config, "aws_access_key_id", None),
        "secret": getattr(conn_config, "aws_secret_access_key", None),
        "token": getattr(conn_config, "aws_session_token", None),
        "role": getattr(conn_config, "role_arn", None),
        "region": getattr(conn_config, "region_name", None),
        "extra": getattr(conn_config, "extra_config", None),
        "profile": getattr(conn_config, "profile_name", None),
    }
    return hashlib.sha256(repr(sorted(fields.items(), key=lambda kv: kv[0])).encode()).hexdigest()


def forget_clients(assumed_roles_only: bool = False) -> None:
    """Drop the clients this process keeps, or only those of connections that assume a role (whose
    temporary credentials the issuer may have revoked): the next hook builds its own."""
    with _CLIENTS_LOCK:
        for key in list(_CLIENTS):
            if not assumed_roles_only or key[-1]:
                del _CLIENTS[key]


def _config_key(config: Config) -> str:
    """A botocore ``Config`` by value: it has no ``__repr__`` of its own, and its default one shows the
    object's address, which would make every hook's config look new."""
    return repr(sorted((name, repr(getattr(config, name, None))) for name in Config.OPTION_DEFAULTS))


class ModelRegBaseHook(AwsBaseHook):
    """``AwsBaseHook`` whose clients retry throttling and 5xx errors unless configured otherwise, and are
    shared within a process.

    A task of this provider reaches several services through several hooks (the registry, Parameter Store,
    the audit log in S3...). Building a boto3 client loads the service's model afresh for each new session,
    which costs far more than the calls a task makes; so clients are kept per process, keyed by everything
    that makes them differ (service, connection, region, endpoint, botocore config, TLS verification).
    boto3 clients are thread-safe, and clients of an assumed role refresh their own credentials.
    """

    # The Amazon provider names the calling operator (or executor) in each client's user agent by walking
    # ``inspect.stack()``, which reads the source lines of every frame on the stack: 0.1-0.3 s of CPU each
    # time a hook builds its botocore config, more than most tasks spend on their AWS calls. The same walk
    # over the frame objects alone finds the same names.
    @staticmethod
    def _find_operator_class_name(target_function_name: str) -> str | None:
        frame: FrameType | None = sys._getframe(0)
        while frame is not None:
            if frame.f_code.co_name == target_function_name:
                return type(frame.f_locals["self"]).__name__
            frame = frame.f_back
        return None

    @staticmethod
    def _find_executor_class_name() -> str | None:
        frame: FrameType | None = sys._getframe(0)
        while frame is not None:
            classes = [name for name, obj in frame.f_globals.items() if inspect.isclass(obj)]
            if "BaseExecutor" in classes:
                return classes[-1]
            frame = frame.f_back
        return None

    def _get_config(self, config: Config | None = None) -> Config:
        config = super()._get_config(config)
        # A copy every time: botocore rewrites a client's retries dict in place ("max_attempts": 10 becomes
        # "total_max_attempts": 11), which would change the shared default and any config a DAG passes.
        return config.merge(Config(retries=dict(config.retries or DEFAULT_RETRIES)))

    def get_client_type(
        self, region_name: str | None = None, config: Config | None = None, deferrable: bool = False
    ):
        if deferrable:
            return super().get_client_type(region_name=region_name, config=config, deferrable=deferrable)
        service = self._resolve_service_name(is_resource_type=False)
        key = (
            service,
            region_name,
            self.conn_config.get_service_endpoint_url(service_name=service),
            _config_key(self._get_config(config)),
            str(self.verify),
            _fingerprint(self.conn_config),
            bool(getattr(self.conn_config, "role_arn", None)),  # last: forget_clients(assumed_roles_only)
        )
        with _CLIENTS_LOCK:
            client = _CLIENTS.get(key)
        if client is None:
            client = super().get_client_type(region_name=region_name, config=config, deferrable=deferrable)
            with _CLIENTS_LOCK:
                if len(_CLIENTS) >= _MAX_CLIENTS:
                    _CLIENTS.pop(next(iter(_CLIENTS)))
                client = _CLIENTS.setdefault(key, client)
        return client

    def sibling(self, client_type: str) -> AwsBaseHook:
        """A hook for another service on the same connection, region and botocore config."""
        return ModelRegBaseHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self._region_name,
            verify=self._verify,
            config=self._config,
            client_type=client_type,
        )

    @cached_property
    def s3_client(self) -> Any:
        return self.sibling("s3").conn

    def write_s3_text(self, uri: str, text: str, content_type: str) -> None:
        """Write ``text`` to the S3 object ``uri`` (reports, evaluation documents)."""
        bucket, key = parse_s3_uri(uri)
        call_aws(
            f"Writing {uri}",
            self.s3_client.put_object,
            Bucket=bucket,
            Key=key,
            Body=text.encode(),
            ContentType=content_type,
        )
