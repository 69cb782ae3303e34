"""Operator extra links to the SageMaker console."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class ModelVersionLink(BaseAwsLink):
    """Link from a task to the version it registered, decided or promoted, in the SageMaker console."""

    name = "Model Version"
    key = "modelreg_model_version"
    format_str = (
        BASE_AWS_CONSOLE_LINK
        + "/sagemaker/home?region={region_name}#/model-packages/{group}/versions/{version}"
    )

    @classmethod
    def persist_version(cls, context: Any, operator: Any, version: Mapping[str, Any]) -> None:
        """Keep the link to ``version`` (a ``DescribeModelPackage`` result) for the operator's task."""
        cls.persist(
            context=context,
            operator=operator,
            region_name=operator.hook.conn_region_name,
            aws_partition=operator.hook.conn_partition,
            group=version["ModelPackageGroupName"],
            version=version["ModelPackageVersion"],
        )


class EndpointLink(BaseAwsLink):
    """Link from a task to the endpoint it deployed or changed, in the SageMaker console."""

    name = "SageMaker Endpoint"
    key = "modelreg_endpoint"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/home?region={region_name}#/endpoints/{endpoint_name}"
