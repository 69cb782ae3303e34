"""Resolve "the model approved for environment X" for inference pipelines and deployments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError, NotFoundError
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX
from airflow_modelreg.domain.validation import validate_group_name
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import ReleaseRecords
from airflow_modelreg.links.registry_view import RELEASE_LINKS, RegistryEnvironmentLink, persist_version_links

if TYPE_CHECKING:
    from airflow.sdk import Context


class ResolveApprovedModelOperator(AwsBaseOperator[ModelRegistryHook]):
    """Return the version approved for an environment, and the version it ran before (its champion).

    Reads the environment's pointer and accepts it only when the pointer, the version's own record and the
    audit log agree (anything else is refused and recorded as tampering); the version must still be
    Approved and, by default, its artifact in S3 must still hash to the SHA-256 recorded at registration.
    The previous version is the newest earlier one of the environment's history that still qualifies
    (never one rolled back out), or ``None``.

    A few calls whatever the group's size: one pointer read, one describe, one audit-log lookup (and the
    artifact's bytes when verifying).

    :param group: the model package group (templated).
    :param environment: the environment (templated).
    :param verify_artifact: re-hash the artifact in S3 (default on: a model is verified wherever it is used).
    :param parameter_prefix: Parameter Store prefix of the environment pointers,
        ``<prefix>/<group>/<environment>`` (templated; default ``/modelreg``).
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable, which must match it
        when set).
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields("group", "environment", "parameter_prefix")
    operator_extra_links = RELEASE_LINKS

    def __init__(
        self,
        *,
        group: str,
        environment: str,
        parameter_prefix: str = DEFAULT_PREFIX,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        verify_artifact: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.environment = environment
        self.parameter_prefix = parameter_prefix
        self.ladder = ladder
        self.verify_artifact = verify_artifact

    def execute(self, context: Context) -> dict[str, Any]:
        ladder = resolve_ladder(self.ladder)
        group = validate_group_name(self.group)
        env = ladder.get(self.environment)
        records = ReleaseRecords.of_task(self, ladder, self.parameter_prefix)
        RegistryEnvironmentLink.persist(context, self, group=group, environment=env.name)
        try:
            pointer = records.current(group, env.name)
            if pointer is None:
                raise NotFoundError(
                    f"No version is approved for {env.name!r} in {group}: nothing was promoted there yet."
                )
            usable, why = records.usable(pointer.arn, rehash=self.verify_artifact)
            if not usable:
                raise GovernanceError(
                    f"Refused: {env.name!r} points to {pointer.arn}, but {why}. Promote or roll back to an "
                    "approved version."
                )
            previous = records.previous_good(group, env.name, pointer, rehash=False)
        except GovernanceError as refusal:
            records.refusal(group, f"resolve the model approved for {env.name}", str(refusal))
            raise AirflowFailException(str(refusal)) from refusal
        described = self.hook.describe_version(pointer.arn)
        persist_version_links(context, self, described, env.name)
        container = (described.get("InferenceSpecification") or {}).get("Containers", [{}])[0]
        self.log.info("%s runs %s version %s", env.name, group, pointer.version)
        return {
            "group": pointer.group,
            "environment": pointer.environment,
            "version": pointer.version,
            "arn": pointer.arn,
            "digest": pointer.digest,
            "status": described.get("ModelApprovalStatus"),
            "artifact": container.get("ModelDataUrl"),
            "image": container.get("Image"),
            "content_types": (described.get("InferenceSpecification") or {}).get("SupportedContentTypes", []),
            "approved_by": pointer.approved_by,
            "approved_at": pointer.approved_at,
            "action": pointer.action,
            "previous_arn": previous.arn if previous else None,
            "previous_version": previous.version if previous else None,
        }
