"""AWS calls without Airflow: errors that name the resource, and the listings the command line shares with
the hooks. Importing this module costs boto3 at most, never Airflow (the ``airflow-modelreg audit`` command
reads the audit log through it in well under a second of start-up)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from airflow_modelreg.domain.errors import NotFoundError, RegistryError
from airflow_modelreg.domain.validation import (
    validate_approval_status,
    validate_group_name,
    validate_model_package_arn,
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


def describe_version(client: Any, arn: str) -> dict[str, Any]:
    """``DescribeModelPackage`` of a version, its ARN checked first."""
    validate_model_package_arn(arn)
    return call_aws(f"Model version {arn}", client.describe_model_package, ModelPackageName=arn)


def list_version_summaries(
    client: Any, group: str, status: str | None = None, newest_first: bool = True, page_size: int = 100
) -> Iterator[dict[str, Any]]:
    """Yield version summaries of ``group`` (``ListModelPackages``, paginated), optionally only ``status``."""
    validate_group_name(group)
    if status is not None:
        validate_approval_status(status)
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "SortBy": "CreationTime",
        "SortOrder": "Descending" if newest_first else "Ascending",
        "MaxResults": page_size,
    }
    if status:
        kwargs["ModelApprovalStatus"] = status
    while True:
        page = call_aws(f"Listing versions of group {group!r}", client.list_model_packages, **kwargs)
        yield from page.get("ModelPackageSummaryList", [])
        token = page.get("NextToken")
        if not token:
            return
        kwargs["NextToken"] = token
