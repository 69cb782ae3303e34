"""Hook for the SageMaker Model Registry: groups, versions (model packages), decisions, artifacts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from airflow_modelreg.aws_calls import describe_version, list_version_summaries
from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.errors import GovernanceError, NotFoundError, RegistryError
from airflow_modelreg.domain.validation import (
    parse_s3_uri,
    validate_approval_status,
    validate_group_name,
    validate_model_package_arn,
)
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws

_DIGEST_CHUNK = 1024 * 1024


class ModelRegistryHook(ModelRegBaseHook):
    """Interact with the SageMaker Model Registry through an Airflow AWS connection.

    A *group* is a model package group; a *version* is a versioned model package in it.
    Every method validates its arguments before calling AWS, and errors name the value at fault.

    Additional arguments (such as ``aws_conn_id``) may be specified and are passed down to the
    underlying :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    # ------------------------------------------------------------------------------------ groups
    def describe_group(self, group: str) -> dict[str, Any]:
        validate_group_name(group)
        return call_aws(
            f"Model package group {group!r}",
            self.conn.describe_model_package_group,
            ModelPackageGroupName=group,
        )

    def ensure_group(self, group: str, description: str | None = None) -> dict[str, Any]:
        """Create the group if it is missing (with its own description); return ``{"arn", "created"}``."""
        validate_group_name(group)
        try:
            return {"arn": self.describe_group(group)["ModelPackageGroupArn"], "created": False}
        except NotFoundError:
            pass
        kwargs: dict[str, Any] = {"ModelPackageGroupName": group}
        if description:
            kwargs["ModelPackageGroupDescription"] = description
        try:
            arn = call_aws(
                f"Creating model package group {group!r}", self.conn.create_model_package_group, **kwargs
            )["ModelPackageGroupArn"]
        except RegistryError as creating:
            # Another task may have created it between our describe and create: that is fine. Otherwise
            # the creation's own error (access denied, say) is the one worth reporting.
            try:
                return {"arn": self.describe_group(group)["ModelPackageGroupArn"], "created": False}
            except NotFoundError:
                raise creating from None
        self.log.info("Created model package group %s", group)
        return {"arn": arn, "created": True}

    # ---------------------------------------------------------------------------------- versions
    def register_version(self, group: str, *, client_token: str | None = None, **spec: Any) -> str:
        """Create a version in ``group`` from a ``CreateModelPackage`` request body; return its ARN."""
        validate_group_name(group)
        request: dict[str, Any] = {"ModelPackageGroupName": group, **spec}
        if client_token:
            request["ClientToken"] = client_token
        response = call_aws(
            f"Registering a version in group {group!r}", self.conn.create_model_package, **request
        )
        return response["ModelPackageArn"]

    def describe_version(self, arn: str) -> dict[str, Any]:
        return describe_version(self.conn, arn)

    def list_versions(
        self, group: str, status: str | None = None, newest_first: bool = True, page_size: int = 100
    ) -> Iterator[dict[str, Any]]:
        """Yield version summaries of ``group`` (paginated), optionally only those with ``status``."""
        return list_version_summaries(self.conn, group, status, newest_first, page_size)

    def latest_approved_version(self, group: str) -> dict[str, Any] | None:
        """The newest ``Approved`` version of ``group`` (described), or ``None``."""
        for summary in self.list_versions(group, status="Approved", page_size=1):
            return self.describe_version(summary["ModelPackageArn"])
        return None

    def set_approval_status(
        self,
        arn: str,
        status: str,
        description: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Record a decision on a version; returns the version as described afterwards."""
        validate_model_package_arn(arn)
        validate_approval_status(status)
        kwargs: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status}
        if description:
            kwargs["ApprovalDescription"] = description
        if metadata:
            kwargs["CustomerMetadataProperties"] = dict(metadata)
        call_aws(f"Setting {arn} to {status}", self.conn.update_model_package, **kwargs)
        self.log.info("Version %s is now %s", arn, status)
        return self.describe_version(arn)

    def update_version(self, arn: str, **fields: Any) -> None:
        """``UpdateModelPackage`` with the given fields (metadata, ``ModelLifeCycle``...)."""
        validate_model_package_arn(arn)
        call_aws(f"Updating {arn}", self.conn.update_model_package, ModelPackageArn=arn, **fields)

    def delete_version(self, arn: str) -> None:
        validate_model_package_arn(arn)
        call_aws(f"Deleting {arn}", self.conn.delete_model_package, ModelPackageName=arn)

    # ------------------------------------------------------------------------------ governance
    def check_artifact_unchanged(self, version: Mapping[str, Any], rehash: bool = True) -> None:
        """Refuse a version without a recorded SHA-256, or (``rehash``) whose artifact in S3 changed since."""
        props = version.get("CustomerMetadataProperties") or {}
        recorded, uri = props.get(md.ARTIFACT_SHA256), props.get(md.ARTIFACT_URI)
        if not recorded or not uri:
            raise GovernanceError(
                f"Refused: {version.get('ModelPackageArn')} has no recorded artifact digest; register it with "
                "RegisterModelVersionOperator so its artifact can be verified."
            )
        if rehash:
            actual = self.artifact_sha256(uri)
            if actual != recorded:
                raise GovernanceError(
                    f"Refused: the artifact {uri} of {version.get('ModelPackageArn')} changed since registration "
                    f"(SHA-256 {actual} != recorded {recorded}). Register the new artifact as a new version."
                )

    # ------------------------------------------------------------------------------ state events
    def route_state_changes_to_queue(self, queue_name: str, groups: list[str] | None = None) -> str:
        """Route "SageMaker Model Package State Change" events (of ``groups``, or all) to an SQS queue.

        Creates, if missing, the queue (with a policy letting EventBridge send to it), an EventBridge rule
        named after the queue (through the Amazon provider's ``EventBridgeHook``), and its target; running it
        again changes nothing. Returns the queue URL for ``ModelApprovalSensor``.
        """
        from airflow.providers.amazon.aws.hooks.eventbridge import EventBridgeHook
        from airflow.providers.amazon.aws.hooks.sqs import SqsHook

        for group in groups or []:
            validate_group_name(group)
        connection = {
            "aws_conn_id": self.aws_conn_id,
            "region_name": self._region_name,
            "verify": self._verify,
            "config": self._get_config(),  # this hook's retry defaults, for the provider's hooks too
        }
        sqs = SqsHook(**connection)
        events = EventBridgeHook(**connection)
        queue_url = call_aws(f"Creating SQS queue {queue_name!r}", sqs.create_queue, queue_name=queue_name)[
            "QueueUrl"
        ]
        queue_arn = call_aws(
            f"SQS queue {queue_name!r}",
            sqs.conn.get_queue_attributes,
            QueueUrl=queue_url,
            AttributeNames=["QueueArn"],
        )["Attributes"]["QueueArn"]
        pattern: dict[str, Any] = {
            "source": ["aws.sagemaker"],
            "detail-type": ["SageMaker Model Package State Change"],
        }
        if groups:
            pattern["detail"] = {"ModelPackageGroupName": list(groups)}
        rule_arn = call_aws(
            f"Creating EventBridge rule {queue_name!r}",
            events.put_rule,
            name=queue_name,
            event_pattern=json.dumps(pattern),
            state="ENABLED",
            description="Model registry decisions for airflow-modelreg",
        )["RuleArn"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        call_aws(
            f"Letting rule {queue_name!r} send to its queue",
            sqs.conn.set_queue_attributes,
            QueueUrl=queue_url,
            Attributes={"Policy": json.dumps(policy)},
        )
        call_aws(
            f"Targeting {queue_name!r} from its rule",
            events.conn.put_targets,
            Rule=queue_name,
            Targets=[{"Id": "modelreg-queue", "Arn": queue_arn}],
        )
        return queue_url

    # ---------------------------------------------------------------------------------- artifacts
    def artifact_sha256(self, uri: str) -> str:
        """SHA-256 of an S3 object, read as a stream (constant memory whatever the artifact's size)."""
        bucket, key = parse_s3_uri(uri, "model artifact URI")
        body = call_aws(f"Model artifact {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"]
        digest = hashlib.sha256()
        for chunk in body.iter_chunks(_DIGEST_CHUNK):
            digest.update(chunk)
        return digest.hexdigest()

    def read_verified_artifact(self, uri: str, sha256: str) -> bytes:
        """The artifact's bytes, refused (``GovernanceError``) unless they hash to ``sha256``: what a task
        that uses a resolved model should load, since the object could change after the resolve task
        verified it (``ResolveApprovedModelOperator`` returns ``artifact`` and ``digest``)."""
        bucket, key = parse_s3_uri(uri, "model artifact URI")
        body = call_aws(f"Model artifact {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)[
            "Body"
        ].read()
        actual = hashlib.sha256(body).hexdigest()
        if actual != sha256:
            raise GovernanceError(
                f"Refused: the artifact {uri} is not the approved one (SHA-256 {actual} != approved {sha256}); "
                "it changed after the version was resolved. Nothing was scored with it."
            )
        return body

    def check_artifact_exists(self, uri: str) -> None:
        bucket, key = parse_s3_uri(uri, "model artifact URI")
        call_aws(f"Model artifact {uri}", self.s3_client.head_object, Bucket=bucket, Key=key)

    def read_json(self, uri: str) -> Any:
        bucket, key = parse_s3_uri(uri)
        body = call_aws(f"S3 object {uri}", self.s3_client.get_object, Bucket=bucket, Key=key)["Body"].read()
        try:
            return json.loads(body)
        except ValueError as error:
            raise RegistryError(f"S3 object {uri} is not valid JSON: {error}") from error

    def write_json(self, uri: str, document: Any) -> None:
        self.write_s3_text(uri, json.dumps(document, indent=2), "application/json")
