"""Shared base of the provider's hooks: the Amazon provider's ``AwsBaseHook`` with safe retry defaults."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import ClientError

from airflow_modelreg.domain.errors import NotFoundError, RegistryError
from airflow_modelreg.domain.validation import parse_s3_uri

# AWS throttles and sometimes answers 5xx; botocore's "standard" mode retries both with backoff. Used
# unless the connection's ``config_kwargs`` (or the operator's ``botocore_config``) set retries.
DEFAULT_RETRIES = {"mode": "standard", "max_attempts": 10}


class ModelRegBaseHook(AwsBaseHook):
    """``AwsBaseHook`` whose clients retry throttling and 5xx errors unless configured otherwise."""

    def _get_config(self, config: Config | None = None) -> Config:
        config = super()._get_config(config)
        if config.retries is None:
            config = config.merge(Config(retries=DEFAULT_RETRIES))
        return config

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


def call_aws(what: str, call: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Call an AWS API, turning its error into one that names the resource involved."""
    try:
        return call(**kwargs)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code in ("ResourceNotFound", "NoSuchKey", "NoSuchBucket", "ParameterNotFound", "404") or (
            "does not exist" in message or "Could not find" in message or "not found" in message
        ):
            raise NotFoundError(f"{what}: not found ({code}: {message})") from error
        raise RegistryError(f"{what} failed: {code}: {message}") from error
