"""The registry view as people use it, in headless Chromium on the live stack: an approver finds what prod
runs and a pending version from Airflow's navigation, decides it in Required Actions and sees the decision
back in the registry; a user without access is refused and shown no registry data. Every step's screenshot
is kept under test-output/browser/ (see tests/e2e/browser.py)."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from airflow_modelreg.testing.harness import USERS
from tests.e2e.browser import CHROMIUM, NO_CHROMIUM, Screenshots, chromium_page, reload_until
from tests.e2e.conftest import OUTSIDER
from tests.e2e.live_rest import log_in, trigger, wait_run
from tests.helpers import PROD_LADDER, promote, put_artifact, register_operator

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.xdist_group("live"),
    pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM),
]

REASON = "metrics beat prod, checked the lineage"


@pytest.fixture
def prod_and_pending(aws, bucket, make_context):
    """A group of its own where prod runs v1 (approved, promoted by dave) and v2 waits for a decision."""
    group = f"browser-{uuid.uuid4().hex[:6]}"

    def register(run_id: str, body: bytes) -> dict:
        artifact = put_artifact(aws, bucket, key=f"{group}/{run_id}/model.tar.gz", body=body)
        operator = register_operator(artifact, group=group, registered_by="alice")
        return operator.execute(make_context(run_id=run_id))

    first = register("train-1", b"one")
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=first["arn"], ModelApprovalStatus="Approved", ApprovalDescription="first release"
    )
    promote(first["arn"], "prod", make_context, ["dave"], ladder=PROD_LADDER, group=group, run_id="to-prod")
    second = register("train-2", b"two")
    return group, first, second


def open_registry_from_the_navigation(page, shots: Screenshots):
    """Airflow's navigation -> Registry: the view inside the UI's frame."""
    page.get_by_role("link", name="Registry").first.click()
    page.wait_for_url("**/plugin/model-registry**", timeout=30000)
    frame = page.frame_locator("iframe").first
    frame.get_by_role("heading", name="Model registry").wait_for(timeout=30000)
    shots.take(page, "registry-groups")
    return frame


def test_an_approver_decides_a_pending_version_from_the_registry_view(
    live_airflow, rest, aws, prod_and_pending, request
):
    group, first, second = prod_and_pending
    run_id = trigger(rest, "approve_version", {"arn": second["arn"], "approvers": ["bob"]})
    rest.approver("bob").wait_for("approve_version", timeout=180)  # the request is there to answer
    shots = Screenshots(request.node.name)
    base = live_airflow.base_url
    with chromium_page() as page, shots.on_failure(page):
        log_in(page, base, "bob", USERS["bob"], then=f"{base}/")
        page.get_by_role("link", name="Registry").first.wait_for(timeout=30000)
        shots.take(page, "airflow-home-as-bob")

        # Which version does prod run? The groups table says it, and so does the group's ladder.
        frame = open_registry_from_the_navigation(page, shots)
        row = frame.locator(f'[data-group="{group}"]')
        row.wait_for(timeout=30000)
        assert row.get_by_test_id("runs-prod").inner_text().strip() == f"v{first['version']}"
        row.get_by_role("link", name=group).click()
        frame.get_by_test_id("group-heading").wait_for(timeout=30000)
        prod = frame.get_by_test_id("env-prod")
        assert prod.get_by_test_id("env-version").inner_text().strip() == f"v{first['version']}"
        assert "dave" in prod.inner_text()
        shots.take(page, "group-prod-runs-v1")

        # The pending version, and its link to where the decision is made.
        pending = frame.locator(f'[data-testid="pending-row"][data-version="{second["version"]}"]')
        pending.wait_for(timeout=30000)
        pending.get_by_role("link", name=f"v{second['version']}").click()
        frame.get_by_test_id("version-heading").wait_for(timeout=30000)
        assert frame.get_by_test_id("version-status").inner_text().strip() == "PendingManualApproval"
        shots.take(page, "pending-version-card")
        frame.get_by_test_id("required-action-link").click()

        # Airflow's Required Action of the approval task that waits, in the whole window (not in the frame).
        waiting = f"/dags/approve_version/runs/{quote(run_id, safe='')}/tasks/approve/required_actions"
        page.wait_for_url(f"**{waiting}", timeout=30000, wait_until="commit")
        reason = page.locator("#element_modelreg_reason")
        reason.wait_for(timeout=30000)
        assert page.locator('iframe[title="Registry"]').count() == 0  # the UI's own page, not in the frame
        approve = page.get_by_test_id("hitl-option-Approve")
        assert approve.is_disabled()  # a decision needs the approver's own reason
        shots.take(page, "required-action")
        reason.fill(REASON)
        shots.take(page, "reason-typed")
        approve.click()
        assert wait_run(rest, "approve_version", run_id) == "success"
        shots.take(page, "approved-in-airflow")

        # Back to the registry: the version's new status, who decided and why (reloaded until the view's
        # listing has caught up, as a person would look again).
        frame = open_registry_from_the_navigation(page, shots)
        frame.locator(f'[data-group="{group}"]').get_by_role("link", name=group).click()
        frame.get_by_test_id("group-heading").wait_for(timeout=30000)
        version_row = frame.locator(f'[data-testid="version-row"][data-version="{second["version"]}"]')

        def decided() -> bool:
            frame.get_by_test_id("group-heading").wait_for(timeout=30000)
            return "Approved" in version_row.inner_text()

        reload_until(page, decided, timeout=90, what=f"v{second['version']} Approved on the group page")
        cells = version_row.inner_text()
        assert "bob" in cells and REASON in cells, cells
        assert frame.locator('[data-testid="pending-row"]').count() == 0
        shots.take(page, "group-after-decision")
        version_row.get_by_role("link", name=f"v{second['version']}").click()
        frame.get_by_test_id("version-heading").wait_for(timeout=30000)
        assert frame.get_by_test_id("version-status").inner_text().strip() == "Approved"
        assert frame.get_by_test_id("decided-by").inner_text().strip() == "bob"
        assert REASON in frame.get_by_test_id("reason").inner_text()
        assert frame.get_by_test_id("required-action-link").count() == 0
        shots.take(page, "version-after-decision")
    assert len(list(shots.folder.glob("*.png"))) == shots.taken


def test_a_user_without_access_is_refused_the_registry_view(live_airflow, aws, prod_and_pending, request):
    group, _, _ = prod_and_pending
    shots = Screenshots(request.node.name)
    base = live_airflow.base_url
    with chromium_page() as page, shots.on_failure(page):
        log_in(page, base, OUTSIDER, live_airflow.people[OUTSIDER], then=f"{base}/")
        page.get_by_role("link", name="Dags").first.wait_for(timeout=30000)
        shots.take(page, "airflow-home-as-outsider")
        # Airflow lists no plugin to someone without a role: no Registry in the navigation, and its address
        # shows Airflow's "Page Not Found" without the view's frame.
        assert page.get_by_role("link", name="Registry").count() == 0
        page.goto(f"{base}/plugin/model-registry")
        page.get_by_text("Page Not Found").wait_for(timeout=30000)
        assert page.locator("iframe").count() == 0
        shots.take(page, "registry-nav-route-as-outsider")
        # The view's own pages, opened by their address (a bookmark, a link in an email): refused.
        for address in (f"{base}/modelreg/ui/groups", f"{base}/modelreg/ui/groups/{group}"):
            response = page.goto(address)
            assert response is not None and response.status == 403, address
            page.get_by_test_id("refused").wait_for(timeout=30000)
            assert "read access" in page.get_by_role("alert").inner_text()
            text = page.locator("body").inner_text()
            assert group not in text.replace(address, ""), text
            for registry_data in ("groups-table", "group-row", "ladder", "versions-table", "pending-table"):
                assert page.get_by_test_id(registry_data).count() == 0, registry_data
            shots.take(page, "refused")
