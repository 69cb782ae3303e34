"""The registry view through a real Airflow API server: the plugin is loaded from the package's entry point,
mounted at /modelreg, and every route identifies the caller with Airflow's own tokens and asks its auth
manager (no credentials: 401, or the login page for a page; a user without access to the release's DAGs:
403; a reader: 200 with the registry's content)."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from airflow_modelreg import registry_view_paths as paths
from airflow_modelreg.testing.harness import USERS
from tests.e2e.browser import CHROMIUM, NO_CHROMIUM, Screenshots, chromium_page
from tests.e2e.conftest import OUTSIDER
from tests.e2e.live_rest import log_in

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]


def token(client: httpx.Client, username: str, password: str) -> str:
    response = client.post("/auth/token", json={"username": username, "password": password})
    response.raise_for_status()
    return response.json()["access_token"]


@pytest.fixture
def view(live_airflow, standin):
    sm = standin.boto3_client("sagemaker")
    with contextlib.suppress(sm.exceptions.ClientError):  # made by an earlier test of the session
        sm.create_model_package_group(ModelPackageGroupName="view-auth")
    sm.create_model_package(
        ModelPackageGroupName="view-auth",
        ModelApprovalStatus="PendingManualApproval",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    with httpx.Client(base_url=live_airflow.base_url, timeout=60) as client:
        yield client


def test_the_plugin_is_listed_and_in_the_navigation(view):
    reader = {"Authorization": f"Bearer {token(view, 'bob', USERS['bob'])}"}
    plugins = view.get("/api/v2/plugins", headers=reader).json()["plugins"]
    [ours] = [p for p in plugins if p["name"] == "modelreg_registry_view"]
    assert ours["fastapi_apps"][0]["url_prefix"] == paths.PREFIX
    [nav] = ours["external_views"]
    assert (nav["href"], nav["destination"], nav["url_route"]) == (
        paths.groups_page(),
        "nav",
        "model-registry",
    )


def test_every_kind_of_route_refuses_a_caller_without_credentials(view):
    for path in (paths.api_groups(), paths.api_versions("view-auth"), paths.audit_csv("view-auth")):
        assert view.get(path).status_code == 401, path
    page = view.get(paths.group_page("view-auth"), follow_redirects=False)
    assert page.status_code == 303 and "/login" in page.headers["location"]
    report = view.get(paths.drift_report_page("s3://b/r/drift_report.html"), follow_redirects=False)
    assert report.status_code == 303
    forged = {"Authorization": "Bearer not-a-token"}
    assert view.get(paths.api_groups(), headers=forged).status_code in (401, 403)


def test_a_user_who_may_not_read_the_release_dags_is_refused_everywhere(view, live_airflow):
    outsider = token(view, OUTSIDER, live_airflow.people[OUTSIDER])
    headers = {"Authorization": f"Bearer {outsider}"}
    for path in (
        paths.api_groups(),
        paths.api_group("view-auth"),
        paths.api_versions("view-auth"),
        paths.audit_csv("view-auth"),
        paths.group_page("view-auth"),
        paths.version_page("view-auth", 1),
        paths.drift_report_page("s3://b/r/drift_report.html"),
    ):
        refused = view.get(path, headers=headers, follow_redirects=False)
        assert refused.status_code == 403, path
    # The same through the UI's session cookie.
    assert view.get(paths.groups_page(), cookies={"_token": outsider}).status_code == 403


def test_a_reader_sees_the_registry_through_a_token_or_the_uis_cookie(view):
    bob = token(view, "bob", USERS["bob"])
    groups = view.get(paths.api_groups(), headers={"Authorization": f"Bearer {bob}"})
    assert groups.status_code == 200
    assert "view-auth" in [g["group"] for g in groups.json()["groups"]]
    versions = view.get(paths.api_versions("view-auth"), headers={"Authorization": f"Bearer {bob}"}).json()
    assert versions["versions"][0]["status"] == "PendingManualApproval"
    page = view.get(paths.group_page("view-auth"), cookies={"_token": bob})
    assert page.status_code == 200 and 'data-testid="group-heading">view-auth<' in page.text


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)
def test_the_navigation_opens_the_view_inside_the_airflow_ui_in_its_colour_mode(view, live_airflow, request):
    plugin_page = f"{live_airflow.base_url}/plugin/model-registry"
    shots = Screenshots(request.node.name)
    with chromium_page() as page:
        log_in(page, live_airflow.base_url, "bob", USERS["bob"], then=plugin_page)
        page.wait_for_url("**/plugin/model-registry**", timeout=30000)
        frame = page.frame_locator("iframe").first
        frame.get_by_role("heading", name="Model registry").wait_for(timeout=30000)
        frame.locator('[data-group="view-auth"]').wait_for()
        shots.take(page, "registry-view-light")
        # The UI keeps its colour mode in localStorage["theme"]; the view (same origin) follows it.
        page.evaluate("localStorage.setItem('theme', 'dark')")
        page.reload()
        frame = page.frame_locator("iframe").first
        frame.get_by_role("heading", name="Model registry").wait_for(timeout=30000)
        assert frame.locator("html").get_attribute("data-theme") == "dark"
        shots.take(page, "registry-view-dark")
