"""The plugin as Airflow loads it: found through the package's entry point, cheap to import in every
Airflow process, and serving every path that registry_view_paths (and so the extra links) hands out."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points
from urllib.parse import unquote, urlsplit

from starlette.routing import Match

from airflow_modelreg import registry_view_paths as paths


def test_the_package_registers_the_plugin_with_airflow():
    [found] = [e for e in entry_points(group="airflow.plugins") if e.name == "modelreg_registry_view"]
    plugin = found.load()
    assert plugin.name == "modelreg_registry_view"
    [app] = plugin.fastapi_apps
    assert app["url_prefix"] == paths.PREFIX
    [nav] = plugin.external_views
    assert (nav["href"], nav["destination"]) == (paths.groups_page(), "nav")


def test_importing_the_plugin_leaves_the_app_boto3_and_fastapi_for_the_first_request():
    code = (
        "import sys, json; import airflow_modelreg.plugins.registry_view;"
        "print(json.dumps([m for m in ('boto3', 'fastapi', 'airflow_modelreg.plugins.registry_app',"
        " 'airflow_modelreg.hooks.model_registry') if m in sys.modules]))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []


def test_every_path_the_links_use_is_a_route_of_the_app():
    from airflow_modelreg.domain.environments import EnvironmentLadder
    from airflow_modelreg.plugins.registry_app import create_app
    from airflow_modelreg.plugins.registry_data import RegistryData

    app = create_app(RegistryData("aws_default", EnvironmentLadder))
    group = "churn-v2"
    for url in (
        paths.groups_page(),
        paths.group_page(group),
        paths.environment_page(group, "prod"),
        paths.version_page(group, 12),
        paths.endpoint_page("churn-prod"),
        paths.drift_page("churn-prod"),
        paths.drift_report_page("s3://bucket/reports/run/drift_report.html"),
        paths.audit_page(group, environment="prod", version=3),
        paths.audit_csv(group),
        paths.api_groups(),
        paths.api_group(group),
        paths.api_versions(group, page=2, status="Approved"),
        paths.api_version(group, 12),
    ):
        path = urlsplit(url).path.removeprefix(paths.PREFIX)
        scope = {
            "type": "http",
            "method": "GET",
            "path": unquote(path),  # as a server passes it
            "root_path": "",
            "path_params": {},
        }
        matched = [route for route in app.router.routes if route.matches(scope)[0] == Match.FULL]
        assert matched, url
