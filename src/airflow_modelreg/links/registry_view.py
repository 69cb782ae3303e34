"""Operator extra links to the registry view: the provider's pages inside the Airflow UI.

A task persists the values a page needs (a group and version, an environment, an endpoint, a drift
report's location) in XCom under the link's ``key``, as the Amazon provider's ``BaseAwsLink`` does. At the
end of the task Airflow's task runner calls :meth:`RegistryViewLink.get_link` with the task instance as
``ti_key``, and stores the URL it returns, which is what the UI's task page shows. The paths come from
:mod:`airflow_modelreg.registry_view_paths`, the module the view's routes are mounted from.

The URL is root-relative, prefixed with the path of Airflow's ``[api] base_url`` (``/airflow`` for
``http://host/airflow/``), because the registry view is served by the same API server as the UI: the UI
opens a same-origin link in its own tab, and the link keeps working whatever host name the browser used to
reach Airflow (a proxy, a load balancer), which an absolute URL built from ``base_url`` would not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.providers.amazon.aws.utils.suppress import return_on_error
from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom, conf

from airflow_modelreg import registry_view_paths as paths
from airflow_modelreg.links.model_registry import EndpointLink, ModelVersionLink

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator, Context


def under_base_url(path: str) -> str:
    """``path`` (relative to the API server's root) under the path of ``[api] base_url``."""
    base = conf.get("api", "base_url", fallback="") or ""
    return urlsplit(base).path.rstrip("/") + path


def endpoint_of_capture(capture_prefix: str | None) -> str | None:
    """The endpoint whose data capture lives under ``s3://bucket/prefix/<endpoint>``."""
    if not capture_prefix:
        return None
    return capture_prefix.rstrip("/").rsplit("/", 1)[-1] or None


class RegistryViewLink(BaseOperatorLink):
    """A link to one page of the registry view, built from the values the task persisted."""

    name: ClassVar[str]
    key: ClassVar[str]

    def page(self, values: Mapping[str, Any]) -> str:
        """The page's path (relative to the API server's root) for the persisted ``values``."""
        raise NotImplementedError

    @return_on_error("")
    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The page of the task instance ``ti_key``, or ``""`` when the task persisted nothing."""
        values = XCom.get_value(key=self.key, ti_key=ti_key)
        return under_base_url(self.page(values)) if values else ""

    @classmethod
    @return_on_error(None)
    def persist(cls, context: Context, operator: BaseOperator, **values: Any) -> None:
        """Keep ``values`` for the link (never fails the task); like ``BaseAwsLink``, only when the task
        pushes XCom."""
        if not operator.do_xcom_push:
            return
        context["ti"].xcom_push(key=cls.key, value=values)


class RegistryVersionLink(RegistryViewLink):
    """The version's card in the registry view."""

    name = "Registry view: version"
    key = "modelreg_view_version"

    def page(self, values: Mapping[str, Any]) -> str:
        return paths.version_page(values["group"], values["version"])

    @classmethod
    def persist_version(cls, context: Context, operator: BaseOperator, version: Mapping[str, Any]) -> None:
        """Keep the link to ``version`` (a ``DescribeModelPackage`` result)."""
        cls.persist(
            context, operator, group=version["ModelPackageGroupName"], version=version["ModelPackageVersion"]
        )


class RegistryEnvironmentLink(RegistryViewLink):
    """An environment of a group in the registry view: the version it runs, who approved it, its history."""

    name = "Registry view: environment"
    key = "modelreg_view_environment"

    def page(self, values: Mapping[str, Any]) -> str:
        return paths.environment_page(values["group"], values["environment"])


class RegistryEndpointLink(RegistryViewLink):
    """An endpoint in the registry view: its variants, the versions they serve, their traffic weights."""

    name = "Registry view: endpoint"
    key = "modelreg_view_endpoint"

    def page(self, values: Mapping[str, Any]) -> str:
        return paths.endpoint_page(values["endpoint"])


class RegistryDriftLink(RegistryViewLink):
    """The latest drift result of an endpoint in the registry view."""

    name = "Registry view: drift"
    key = "modelreg_view_drift"

    def page(self, values: Mapping[str, Any]) -> str:
        return paths.drift_page(values["endpoint"])


class RegistryDriftReportLink(RegistryViewLink):
    """The drift report the task wrote (its HTML page when there is one), served by the registry view."""

    name = "Registry view: drift report"
    key = "modelreg_view_drift_report"

    def page(self, values: Mapping[str, Any]) -> str:
        return paths.drift_report_page(values["report_uri"])

    @classmethod
    def persist_verdict(
        cls, context: Context, operator: BaseOperator, verdict: Mapping[str, Any] | None
    ) -> None:
        """Keep the link to the report a drift verdict names, if the task wrote one."""
        verdict = verdict or {}
        report = verdict.get("report_html_uri") or verdict.get("report_uri")
        if report:
            cls.persist(context, operator, report_uri=report)


def persist_version_links(
    context: Context, operator: BaseOperator, version: Mapping[str, Any], environment: str | None = None
) -> None:
    """Keep the links to ``version`` (a ``DescribeModelPackage`` result, or its group and version): in the
    SageMaker console and in the registry view, and to ``environment`` of its group when given."""
    ModelVersionLink.persist_version(context, operator, version)
    RegistryVersionLink.persist_version(context, operator, version)
    if environment:
        RegistryEnvironmentLink.persist(
            context, operator, group=version["ModelPackageGroupName"], environment=environment
        )


def persist_endpoint_links(context: Context, operator: Any, endpoint_name: str) -> None:
    """Keep the links to an endpoint: in the registry view and in the SageMaker console (``operator`` is an
    AWS operator or sensor: its hook says the region and partition)."""
    RegistryEndpointLink.persist(context, operator, endpoint=endpoint_name)
    EndpointLink.persist(
        context=context,
        operator=operator,
        region_name=operator.hook.conn_region_name,
        aws_partition=operator.hook.conn_partition,
        endpoint_name=endpoint_name,
    )


def persist_drift_links(
    context: Context,
    operator: BaseOperator,
    endpoint: str | None = None,
    verdict: Mapping[str, Any] | None = None,
) -> None:
    """Keep the links to an endpoint's drift page (``endpoint``, else the one ``verdict`` names) and, when
    ``verdict`` names one, to the report the task wrote."""
    verdict = verdict or {}
    window = verdict.get("window")
    endpoint = (
        endpoint
        or verdict.get("endpoint")
        or endpoint_of_capture(window.get("prefix") if isinstance(window, Mapping) else None)
    )
    if endpoint:
        RegistryDriftLink.persist(context, operator, endpoint=endpoint)
    RegistryDriftReportLink.persist_verdict(context, operator, verdict)


# The links of each kind of task: the registry view's first, the SageMaker console's second.
VERSION_LINKS: tuple[BaseOperatorLink, ...] = (RegistryVersionLink(), ModelVersionLink())
RELEASE_LINKS: tuple[BaseOperatorLink, ...] = (
    RegistryVersionLink(),
    RegistryEnvironmentLink(),
    ModelVersionLink(),
)
ENDPOINT_LINKS: tuple[BaseOperatorLink, ...] = (RegistryEndpointLink(), EndpointLink())
DRIFT_LINKS: tuple[BaseOperatorLink, ...] = (RegistryDriftLink(), RegistryDriftReportLink())
