"""Resolve "the model approved for environment X" for inference pipelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX, parameter_name
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

if TYPE_CHECKING:
    from airflow.sdk import Context


class ResolveApprovedModelOperator(AwsBaseOperator[ModelRegistryHook]):
    """Return the version approved for an environment (two API calls, whatever the group's size).

    Reads the environment's pointer in Parameter Store and checks that the registry still says Approved
    and that the digests agree; a revoked version fails with a clear message.

    :param group: the model package group (templated).
    :param environment: the environment (templated).
    :param verify_artifact: also re-hash the artifact in S3.
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields("group", "environment", "parameter_prefix")

    def __init__(
        self,
        *,
        group: str,
        environment: str,
        parameter_prefix: str = DEFAULT_PREFIX,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        verify_artifact: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.environment = environment
        self.parameter_prefix = parameter_prefix
        self.ladder = ladder
        self.verify_artifact = verify_artifact

    def execute(self, context: Context) -> dict[str, Any]:
        env = resolve_ladder(self.ladder).get(self.environment)
        pointers = ParameterStoreHook.for_environment(
            env, self.aws_conn_id, self.region_name, self.verify, self.botocore_config
        )
        name = parameter_name(self.parameter_prefix, self.group, env.name)
        try:
            resolved = self.hook.resolve_approved(name, pointers, verify_artifact=self.verify_artifact)
        except GovernanceError as refusal:
            self.log.error("AUDIT refusal: %s", refusal)
            raise AirflowFailException(str(refusal)) from refusal
        self.log.info("%s runs %s version %s", env.name, self.group, resolved["version"])
        return resolved
