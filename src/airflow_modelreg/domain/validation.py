"""Validation of names, ARNs, URIs and statuses, done before the first write."""

from __future__ import annotations

import re
from collections.abc import Mapping

from airflow_modelreg.domain.errors import InvalidInputError

# SageMaker's own patterns (API reference: ModelPackageGroupName, ModelPackageArn, ...).
_ENTITY_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_MODEL_PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z\-]*:sagemaker:[a-z0-9\-]+:\d{12}:model-package/[a-z0-9](-*[a-z0-9]){0,62}/\d+$"
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_TRAINING_JOB_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:training-job/[a-zA-Z0-9-]{1,63}$"
)
_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{1,61}[a-z0-9])/(.+)$")
_METADATA_KEY = re.compile(r"^[\w\s.:/=+\-@]{1,128}$", re.UNICODE)

APPROVAL_STATUSES = ("Approved", "Rejected", "PendingManualApproval")
MAX_CUSTOMER_METADATA_ENTRIES = 50
MAX_METADATA_VALUE_LENGTH = 256


def validate_entity_name(value: object, what: str) -> str:
    """A SageMaker name: 1-63 letters, digits and single hyphens, starting with a letter or digit."""
    if not isinstance(value, str) or not _ENTITY_NAME.match(value):
        shown = repr(value)
        if isinstance(value, str) and len(value) > 63:
            reason = f"is {len(value)} characters long; the limit is 63"
        elif isinstance(value, str) and "_" in value:
            reason = "contains '_'; SageMaker allows only letters, digits and hyphens"
        else:
            reason = "must be 1-63 letters, digits or hyphens, starting with a letter or digit"
        raise InvalidInputError(f"Invalid {what} {shown}: it {reason}.")
    return value


def validate_group_name(value: object) -> str:
    return validate_entity_name(value, "model package group name")


def validate_model_package_arn(value: object) -> str:
    if not isinstance(value, str) or not _MODEL_PACKAGE_ARN.match(value):
        raise InvalidInputError(
            f"Invalid model package ARN {value!r}: expected "
            "'arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>'."
        )
    return value


def group_from_arn(arn: str) -> str:
    """The group name in a versioned model package ARN (``.../model-package/<group>/<n>``)."""
    return validate_model_package_arn(arn).split(":model-package/", 1)[1].rsplit("/", 1)[0]


def version_from_arn(arn: str) -> int:
    return int(validate_model_package_arn(arn).rsplit("/", 1)[1])


def validate_role_arn(value: object, what: str = "execution role ARN") -> str:
    if not isinstance(value, str) or not _ROLE_ARN.match(value):
        raise InvalidInputError(f"Invalid {what} {value!r}: expected 'arn:aws:iam::<account>:role/<name>'.")
    return value


def validate_training_job_arn(value: object) -> str:
    if not isinstance(value, str) or not _TRAINING_JOB_ARN.match(value):
        raise InvalidInputError(
            f"Invalid training job ARN {value!r}: expected "
            "'arn:aws:sagemaker:<region>:<account>:training-job/<name>'."
        )
    return value


def validate_approval_status(value: object) -> str:
    if value not in APPROVAL_STATUSES:
        raise InvalidInputError(
            f"Invalid approval status {value!r}: expected one of {', '.join(APPROVAL_STATUSES)}."
        )
    return str(value)


def parse_s3_uri(value: object, what: str = "S3 URI") -> tuple[str, str]:
    """Split ``s3://bucket/key`` into (bucket, key), refusing anything else."""
    match = _S3_URI.match(value) if isinstance(value, str) else None
    if not match:
        raise InvalidInputError(f"Invalid {what} {value!r}: expected 's3://<bucket>/<key>'.")
    return match.group(1), match.group(2)


def validate_customer_metadata(properties: Mapping[str, object]) -> dict[str, str]:
    """CustomerMetadataProperties limits: 50 entries, keys of 1-128 allowed characters, values <= 256."""
    if len(properties) > MAX_CUSTOMER_METADATA_ENTRIES:
        raise InvalidInputError(
            f"Too much custom metadata: {len(properties)} entries, SageMaker keeps at most "
            f"{MAX_CUSTOMER_METADATA_ENTRIES} (including the provider's own)."
        )
    result: dict[str, str] = {}
    for key, raw in properties.items():
        if not isinstance(key, str) or not _METADATA_KEY.match(key):
            raise InvalidInputError(
                f"Invalid metadata key {key!r}: 1-128 letters, digits, spaces or _.:/=+-@ are allowed."
            )
        value = str(raw)
        if not value:
            raise InvalidInputError(
                f"Metadata value for {key!r} is empty; SageMaker needs at least one character."
            )
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidInputError(
                f"Metadata value for {key!r} is {len(value)} characters; SageMaker keeps at most "
                f"{MAX_METADATA_VALUE_LENGTH}. Store large documents in S3 and record their URI."
            )
        result[key] = value
    return result
