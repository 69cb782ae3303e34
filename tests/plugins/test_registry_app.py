"""The registry view's app against the stand-in: what an operator reads in the JSON API and the pages.

The caller is identified here by a test header instead of Airflow's JWT (the live test in
``tests/e2e/test_registry_view_auth.py`` checks the real authentication through an API server)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPBearer
from fastapi.testclient import TestClient

from airflow_modelreg import registry_view_paths as paths
from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.pointers import Pointer
from airflow_modelreg.domain.policy import description_digest
from tests.helpers import AUDIT_BUCKET

LADDER = {
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "registration_approvers": ["bob"],
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {"name": "prod", "approvers": ["dave"], "endpoints": ["churn-prod"]},
    ],
}
READER = {"x-test-user": "viewer"}


BEARER = HTTPBearer(auto_error=False)


async def header_user(request: Request, credentials: Annotated[Any, Depends(BEARER)]) -> str:
    name = request.headers.get("x-test-user")
    if not name:
        raise HTTPException(status_code=401, detail="Not authenticated")
    return name


def only_readers(user: str) -> None:
    if user == "outsider":
        raise HTTPException(status_code=403, detail="Forbidden")


def register(sm, number: int, status: str = "PendingManualApproval", **props: str) -> str:
    arn = sm.create_model_package(
        ModelPackageGroupName="churn",
        ModelApprovalStatus=status,
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        MetadataProperties={"CommitId": f"c{number}", "Repository": "https://git.example.com/churn"},
        CustomerMetadataProperties={
            md.REGISTERED_BY: "alice",
            md.ARTIFACT_SHA256: f"{number:064x}",
            md.AIRFLOW_RUN: f"train_and_register/run-{number}/register",
            **md.metric_entries({"auc": 0.80 + number / 100}),
            **props,
        },
    )["ModelPackageArn"]
    return arn


@pytest.fixture
def registry(aws):
    """Group churn: v1 approved and in prod (by dave), v2 rejected, v3 pending; audit events for v1."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook
    from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    v1 = register(sm, 1, "Approved", **{md.DECIDED_BY: "bob|k1"})
    register(sm, 2, "Rejected", **{md.DECIDED_BY: "bob|k2"})
    register(sm, 3)
    sm.update_model_package(ModelPackageArn=v1, ApprovalDescription="good enough")
    pointer = Pointer(
        "churn",
        "prod",
        1,
        v1,
        f"{1:064x}",
        "dave",
        "2026-11-23T10:00:00+00:00",
        "promote_model/run-p/commit_prod",
        "k",
    )
    ParameterStoreHook().put_pointer("/modelreg/churn/prod", pointer)
    # As the provider writes a promotion: the version's stage record and the run's audit event name the run.
    sm.update_model_package(
        ModelPackageArn=v1,
        CustomerMetadataProperties={"modelreg:env:prod": f"promoted|{pointer.approved_at}|dave|k"},
    )
    audit = AuditLogHook(log_uri=LADDER["audit_log"])
    audit.append(
        "churn",
        "registered",
        version=1,
        arn=v1,
        actor={"id": "alice", "name": "alice"},
        airflow_run="train_and_register/run-1/register",
    )
    for key, number, status, description in (("k1", 1, "Approved", "good enough"), ("k2", 2, "Rejected", "")):
        audit.append(
            "churn",
            "decided",
            key=f"decided:{key}",
            version=number,
            arn=v1.rsplit("/", 1)[0] + f"/{number}",
            status=status,
            actor={"id": "bob", "name": "bob"},
            airflow_run=f"approve_version/run-{number}/approve",
            details={"automated": False, "description_sha256": description_digest(description)},
        )
    audit.append(
        "churn",
        "promoted",
        key="promoted:k",
        version=1,
        arn=v1,
        environment="prod",
        reason="ship it",
        actor={"id": "dave", "name": "dave"},
        airflow_run="promote_model/run-p/commit_prod",
        details={
            "parameter": "/modelreg/churn/prod",
            "pointer": {k: v for k, v in asdict(pointer).items() if k != "run_key"},
        },
    )
    audit.append(
        "churn",
        "registered",
        version=3,
        actor={"id": "alice", "name": "alice"},
        airflow_run="train_and_register/run-3/register",
    )
    return sm


def make_client(
    waiting_requests=lambda subjects: {}, waiting_promotions=lambda group: [], ladder=LADDER, **overrides
):
    """The app over the stand-in, with the caller from a test header; ``overrides`` replace create_app's
    other sources (drift verdicts, may_read_dag)."""
    from airflow_modelreg.plugins.registry_app import create_app
    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(ladder), index_ttl=60)
    app = create_app(
        data,
        user=header_user,
        authorised=only_readers,
        waiting_requests=waiting_requests,
        waiting_promotions=waiting_promotions,
        **{"drift_verdicts": lambda endpoints, readable: None, **overrides},
    )
    return TestClient(app, root_path=paths.PREFIX)


@pytest.fixture
def client(registry):
    with make_client() as test_client:
        yield test_client


def test_a_pending_versions_link_opens_the_required_action_that_waits_for_it_in_any_run(registry):
    """v3 was registered by train_and_register/run-3, but another DAG's run asks for the decision: the links
    open that run's approval task (found by the request's subject), not the registering run's."""
    asked = []
    waiting = "/dags/approve_version/runs/manual__1/tasks/approve/required_actions"

    def waiting_requests(subjects):
        asked.append(list(subjects))
        return {"Approve churn version 3?": waiting}

    with make_client(waiting_requests) as client:
        [pending] = get(client, paths.api_group("churn")).json()["pending"]
        assert pending["required_action_link"] == waiting
        assert get(client, paths.api_version("churn", 3)).json()["required_action_link"] == waiting
        assert f'href="{waiting}"' in get(client, paths.group_page("churn")).text
        assert f'href="{waiting}"' in get(client, paths.version_page("churn", 3)).text
        # A decided version has no Required Action to look for.
        assert get(client, paths.api_version("churn", 1)).json()["required_action_link"] is None
    assert ["Approve churn version 3?"] in asked and [] not in asked


def test_links_to_airflow_pages_leave_the_uis_frame(registry):
    """Inside Airflow's UI the view is a sandboxed iframe: every link to an Airflow page is marked to leave
    it (``target="_top"``), and the page hands such a link to the UI's router (the browser test clicks it)."""
    waiting = {"Approve churn version 3?": "/dags/approve_version/runs/m/tasks/approve/required_actions"}
    with make_client(lambda subjects: waiting) as client:
        for page in (
            paths.group_page("churn"),
            paths.version_page("churn", 1),
            paths.version_page("churn", 3),
        ):
            text = get(client, page).text
            links = re.findall(r'<a [^>]*href="/dags/[^"]*"[^>]*>', text)
            assert links, page
            assert all('target="_top"' in link for link in links), links
            assert "top.history.pushState" in text


def get(client, path: str, **kwargs):
    # The app is mounted at PREFIX; the test client calls it as the API server would.
    return client.get(path.removeprefix(paths.PREFIX), headers=kwargs.pop("headers", READER), **kwargs)


def test_groups_count_versions_and_pending_and_show_what_each_environment_runs(client):
    client.app.state.data.index("churn")  # the count is listed in the background on a first view
    body = get(client, paths.api_groups()).json()
    assert body["environments"] == ["dev", "test", "uat", "prod"]
    assert body["groups"][0].pop("as_of") > 0
    assert body["groups"] == [
        {
            "group": "churn",
            "versions": 3,
            "pending": 1,
            "refreshing": False,
            "environments": {"dev": None, "test": None, "uat": None, "prod": 1},
            "unverified": [],
        }
    ]


def test_the_first_view_of_a_group_shows_its_newest_versions_before_they_are_counted(client):
    first = get(client, paths.api_versions("churn", page=1, per_page=2)).json()
    assert [v["version"] for v in first["versions"]] == [3, 2]
    assert first["total"] in (None, 3)  # counted in the background: known once the listing finished
    client.app.state.data.index("churn")
    assert get(client, paths.api_versions("churn", page=1, per_page=2)).json()["total"] == 3


def test_pages_look_again_while_a_group_is_being_counted_and_stop_once_counted(client):
    first = get(client, paths.group_page("churn"))
    client.app.state.data.index("churn")
    counted = get(client, paths.group_page("churn"))
    assert 'http-equiv="refresh"' not in counted.text and "counting" not in counted.text
    # The first view either raced the background count or said so and asked to be looked at again.
    assert ("counting" in first.text) == ('http-equiv="refresh"' in first.text)


def test_versions_are_paged_on_the_server_newest_first_and_filtered_by_status(client):
    client.app.state.data.index("churn")
    first = get(client, paths.api_versions("churn", page=1, per_page=2)).json()
    assert [v["version"] for v in first["versions"]] == [3, 2]
    assert (first["total"], first["pages"]) == (3, 2)
    second = get(client, paths.api_versions("churn", page=2, per_page=2)).json()
    assert [v["version"] for v in second["versions"]] == [1]
    approved = get(client, paths.api_versions("churn", status="Approved")).json()
    [row] = approved["versions"]
    assert row["version"] == 1
    assert (row["status"], row["decided_by"], row["reason"], row["registered_by"]) == (
        "Approved",
        "bob",
        "good enough",
        "alice",
    )
    assert row["digest"] == f"{1:064x}" and row["metrics"] == {"auc": pytest.approx(0.81)}
    assert approved["counts"] == {"total": 3, "PendingManualApproval": 1, "Approved": 1, "Rejected": 1}


def test_a_bad_status_or_page_is_refused_with_the_reason(client):
    refused = get(client, paths.api_versions("churn", status="Maybe"))
    assert refused.status_code == 400 and "Unknown status 'Maybe'" in refused.json()["detail"]
    assert get(client, paths.api_versions("churn", page=0)).status_code == 400


def test_the_group_shows_the_ladder_pending_decisions_and_endpoints(client):
    body = get(client, paths.api_group("churn")).json()
    columns = {c["environment"]: c for c in body["ladder"]}
    assert list(columns) == ["dev", "test", "uat", "prod"]
    assert columns["dev"]["current"] is None
    prod = columns["prod"]["current"]
    assert (prod["version"], prod["approved_by"], prod["approved_at"]) == (
        1,
        "dave",
        "2026-11-23T10:00:00+00:00",
    )
    assert prod["airflow_run_link"] == "/dags/promote_model/runs/run-p/tasks/commit_prod"
    assert len(columns["prod"]["history"]) == 1
    [pending] = body["pending"]
    assert pending["version"] == 3
    # No request waits for v3 in Airflow (the stub finds none): nothing to answer, no link.
    assert pending["required_action_link"] is None
    assert body["endpoints"] == [
        {"endpoint": "churn-prod", "environment": "prod", "status": None, "variants": []}
    ]


def test_a_version_card_compares_metrics_with_what_each_environment_runs_and_links_its_runs(client):
    card = get(client, paths.api_version("churn", 3)).json()
    assert card["status"] == "PendingManualApproval"
    assert card["required_action_link"] is None  # no request waits for it in Airflow
    [prod] = card["comparisons"]
    assert (prod["environment"], prod["version"]) == ("prod", 1)
    [auc] = prod["metrics"]
    assert auc["this"] == pytest.approx(0.83) and auc["current"] == pytest.approx(0.81)
    assert auc["delta"] == pytest.approx(0.02)
    assert card["lineage"]["CommitId"] == "c3"
    promoted = get(client, paths.api_version("churn", 1)).json()
    assert promoted["runs_in"] == ["prod"] and promoted["required_action_link"] is None
    assert [(r["what"], r["link"]) for r in promoted["runs"]] == [
        ("registered", "/dags/train_and_register/runs/run-1/tasks/register"),
        ("decided", "/dags/approve_version/runs/run-1/tasks/approve"),
        ("promoted", "/dags/promote_model/runs/run-p/tasks/commit_prod"),
    ]
    assert get(client, paths.api_version("churn", 99)).status_code == 404


def test_the_audit_trail_is_filtered_and_downloadable_as_csv(client):
    everything = get(client, paths.API + "/groups/churn/audit").json()["events"]
    assert [(e["event"], e["version"]) for e in everything] == [
        ("registered", 1),
        ("decided", 1),
        ("decided", 2),
        ("promoted", 1),
        ("registered", 3),
    ]
    prod = get(client, paths.API + "/groups/churn/audit?environment=prod").json()["events"]
    assert [(e["event"], e["by"], e["reason"]) for e in prod] == [("promoted", "dave", "ship it")]
    v3 = get(client, paths.API + "/groups/churn/audit?version=3").json()["events"]
    assert [e["version"] for e in v3] == [3]
    download = get(client, paths.audit_csv("churn", environment="prod"))
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["event"], r["environment"], r["by"]) for r in rows] == [("promoted", "prod", "dave")]


def test_pages_show_the_group_version_and_audit_with_stable_hooks_for_the_browser(client):
    groups = get(client, paths.groups_page())
    assert groups.status_code == 200 and 'data-group="churn"' in groups.text
    group = get(client, paths.group_page("churn") + "?per_page=2&status=")
    assert 'data-testid="group-heading">churn<' in group.text
    assert group.text.count('data-testid="version-row"') == 2
    assert 'data-testid="no-request"' in group.text
    filtered = get(client, paths.group_page("churn") + "?status=Rejected")
    assert filtered.text.count('data-testid="version-row"') == 1 and 'data-version="2"' in filtered.text
    version = get(client, paths.version_page("churn", 1))
    assert 'data-testid="version-heading">churn version 1<' in version.text
    audit = get(client, paths.audit_page("churn", environment="prod"))
    assert audit.text.count('data-testid="audit-row"') == 1
    assert get(client, paths.environment_page("churn", "prod"), follow_redirects=False).status_code == 307


def test_values_from_the_registry_are_escaped_in_pages(client, registry):
    arn = register(registry, 4)
    registry.update_model_package(ModelPackageArn=arn, ApprovalDescription="<script>alert(1)</script>")
    client.app.state  # noqa: B018 - same app; the index is refreshed below
    page = get(client, paths.group_page("churn") + "?status=PendingManualApproval")
    assert "<script>alert(1)</script>" not in page.text


def test_no_credentials_get_401_in_the_api_and_the_login_page_for_pages(client, monkeypatch):
    assert get(client, paths.api_groups(), headers={}).status_code == 401

    class Manager:
        def get_url_login(self):
            return "/auth/login"

    monkeypatch.setattr("airflow.api_fastapi.app.get_auth_manager", lambda: Manager())
    page = get(client, paths.groups_page(), headers={}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/auth/login?next=")
    # The address to come back to is a path: never one built from the request's Host header.
    page = client.get(
        paths.group_page("churn").removeprefix(paths.PREFIX) + "?page=1",
        headers={"host": "evil.example"},
        follow_redirects=False,
    )
    back = parse_qs(urlsplit(page.headers["location"]).query)["next"][0]
    assert back == paths.group_page("churn") + "?page=1" and "evil.example" not in page.headers["location"]


def test_a_user_who_may_not_read_the_release_gets_403_everywhere(client):
    outsider = {"x-test-user": "outsider"}
    for path in (paths.api_groups(), paths.api_versions("churn"), paths.audit_csv("churn")):
        assert get(client, path, headers=outsider).status_code == 403
    page = get(client, paths.group_page("churn"), headers=outsider)
    assert page.status_code == 403 and 'data-testid="refused"' in page.text
    report = get(client, paths.drift_report_page("s3://b/r/drift_report.html"), headers=outsider)
    assert report.status_code == 403


def test_a_refresh_adds_new_versions_and_decisions_without_listing_the_whole_group(registry, aws):
    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(LADDER), full_ttl=3600)
    assert [v.version for v in data.index("churn").versions] == [3, 2, 1]
    register(registry, 4)
    v3 = next(v for v in data.index("churn").versions if v.version == 3)
    registry.update_model_package(ModelPackageArn=v3.arn, ModelApprovalStatus="Approved")
    aws.reset_calls()
    refreshed = data._refresh("churn").result()
    assert [(v.version, v.status) for v in refreshed.versions] == [
        (4, "PendingManualApproval"),
        (3, "Approved"),
        (2, "Rejected"),
        (1, "Approved"),
    ]
    # The newest page and the pending listing, and one describe for the version that left pending.
    calls = aws.calls()
    assert calls.get("sagemaker:ListModelPackages") == 2
    assert calls.get("sagemaker:DescribeModelPackage") == 1


def test_endpoints_show_each_variant_its_version_and_current_traffic_weight(client, registry, aws):
    from tests.helpers import advance_endpoint, variant

    group_arn = registry.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    v1, v3 = (group_arn.replace(":model-package-group/", ":model-package/") + f"/{n}" for n in (1, 3))
    for name, arn in (("champion-model", v1), ("challenger-model", v3)):
        registry.create_model(
            ModelName=name,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
            PrimaryContainer={"ModelPackageName": arn},
        )
    registry.create_endpoint_config(
        EndpointConfigName="churn-prod-1",
        ProductionVariants=[
            variant("champion", "champion-model", 3.0),
            variant("challenger", "challenger-model", 1.0),
        ],
    )
    registry.create_endpoint(EndpointName="churn-prod", EndpointConfigName="churn-prod-1")
    advance_endpoint(aws, "churn-prod", "InService")
    [endpoint] = get(client, paths.api_group("churn")).json()["endpoints"]
    assert (endpoint["endpoint"], endpoint["environment"], endpoint["status"]) == (
        "churn-prod",
        "prod",
        "InService",
    )
    assert [
        (v["name"], v["current_weight"], v["share"], v["serves"]["version"]) for v in endpoint["variants"]
    ] == [
        ("champion", 3.0, 0.75, 1),
        ("challenger", 1.0, 0.25, 3),
    ]
    page = get(client, paths.endpoint_page("churn-prod"))
    assert 'data-variant="challenger"' in page.text and paths.version_page("churn", 3) in page.text


def test_the_audit_csv_download_neutralises_formulas_as_the_command_line_does(client):
    """The download is written by the same writer as ``airflow-modelreg audit --format csv``
    (tests/test_cli.py): a reason starting with = is text, prefixed with '."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook

    reason = '=HYPERLINK("http://evil.example","click")'
    AuditLogHook(log_uri=LADDER["audit_log"]).append(
        "churn",
        "promoted",
        version=1,
        environment="test",
        reason=reason,
        actor={"id": "carol", "name": "carol"},
    )
    download = get(client, paths.audit_csv("churn", environment="test"))
    [row] = list(csv.DictReader(io.StringIO(download.text)))
    assert row["reason"] == "'" + reason
    [event] = get(client, paths.API + "/groups/churn/audit?environment=test").json()["events"]
    assert event["reason"] == reason


# ------------------------------------------------------------------ records changed outside Airflow
def forge_pointer(registry, environment: str, version: int, **changes: Any) -> None:
    """Write an environment's pointer with ssm:PutParameter, as someone outside Airflow could."""
    from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

    group_arn = registry.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    arn = group_arn.replace(":model-package-group/", ":model-package/") + f"/{version}"
    fields = {
        "group": "churn",
        "environment": environment,
        "version": version,
        "arn": arn,
        "digest": f"{version:064x}",
        "approved_by": "carol",
        "approved_at": "2026-12-05T14:08:21+00:00",
        "airflow_run": "promote_model/x/promote_to_test.commit",
        "run_key": "0" * 32,
        "reason": "carol: fine",
        **changes,
    }
    ParameterStoreHook().put_pointer(f"/modelreg/churn/{environment}", Pointer(**fields))


def test_a_pointer_written_outside_airflow_is_shown_as_not_verified_never_as_an_approval(client, registry):
    """The operators refuse such a pointer as tampering (``ReleaseRecords.current``); the view uses the same
    check: the version it names is shown, marked as changed outside Airflow, with nobody as its approver and
    no link to the run it claims."""
    forge_pointer(registry, "test", 3)
    body = get(client, paths.api_group("churn")).json()
    test = next(c for c in body["ladder"] if c["environment"] == "test")["current"]
    assert (test["version"], test["verified"], test["verification"]) == (
        3,
        False,
        "not verified: changed outside Airflow",
    )
    assert test["approved_by"] is None and test["approvers"] == [] and test["airflow_run_link"] is None
    assert test["claimed"]["approved_by"] == "carol"
    assert any("audit log has no event" in p for p in test["problems"])
    prod = next(c for c in body["ladder"] if c["environment"] == "prod")["current"]
    assert prod["verified"] is True and prod["approved_by"] == "dave"
    page = get(client, paths.group_page("churn")).text
    assert 'data-testid="env-unverified"' in page and "approved by carol" not in page
    assert "promote_to_test.commit" not in page
    [group] = get(client, paths.api_groups()).json()["groups"]
    assert group["unverified"] == ["test"]
    assert 'data-testid="env-unverified"' in get(client, paths.groups_page()).text
    card = get(client, paths.api_version("churn", 3)).json()
    assert "test" not in card["runs_in"] and all(c["environment"] != "test" for c in card["comparisons"])


def test_a_governed_pointer_edited_outside_airflow_is_not_verified_in_the_ladder_or_its_history(
    client, registry
):
    """prod's pointer, rewritten with another approver (its run key and version unchanged)."""
    forge_pointer(
        registry, "prod", 1, approved_by="erin", run_key="k", airflow_run="promote_model/run-p/commit_prod"
    )
    prod = next(
        c for c in get(client, paths.api_group("churn")).json()["ladder"] if c["environment"] == "prod"
    )
    assert prod["current"]["verified"] is False and prod["current"]["approved_by"] is None
    assert any("approved_by" in p for p in prod["current"]["problems"])
    # The history: the governed write is verified, the edit is not.
    assert [h["verified"] for h in prod["history"]] == [False, True]
    assert prod["history"][0]["approved_by"] is None and prod["history"][1]["approved_by"] == "dave"


def test_a_decision_made_outside_airflow_does_not_show_who_it_claims(client, registry):
    """UpdateModelPackage outside Airflow, with the provider's metadata and wording: the audit log has no
    decision of the run it names, so nobody is shown as having decided; the governed v1 still is."""
    group_arn = registry.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    arn = group_arn.replace(":model-package-group/", ":model-package/") + "/3"
    registry.update_model_package(
        ModelPackageArn=arn,
        ModelApprovalStatus="Approved",
        ApprovalDescription="Approved by dave (id dave) at 2026-12-05T14:00:00+00:00 in airflow:x/y/z. Reason: fine",
        CustomerMetadataProperties={md.DECIDED_BY: "dave|dave"},
    )
    client.app.state.data.forget()
    card = get(client, paths.api_version("churn", 3)).json()
    assert card["status"] == "Approved"
    assert card["decided_by"] is None and card["reason"] is None and card["decision_verified"] is False
    assert "changed outside Airflow" in card["decision_problem"] and card["claimed"]["decided_by"] == "dave"
    page = get(client, paths.version_page("churn", 3)).text
    assert 'data-testid="decision-unverified"' in page and 'data-testid="reason">-<' in page
    rows = {r["version"]: r for r in get(client, paths.api_versions("churn")).json()["versions"]}
    assert rows[3]["decided_by"] is None and rows[3]["decision_verified"] is False
    assert rows[1]["decided_by"] == "bob" and rows[1]["decision_verified"] is True
    # A governed decision changed afterwards (its description) is not verified either.
    v1 = rows[1]["arn"]
    registry.update_model_package(ModelPackageArn=v1, ApprovalDescription="edited in Studio")
    client.app.state.data.forget()
    assert get(client, paths.api_version("churn", 1)).json()["decided_by"] is None


def test_a_decision_claiming_another_versions_real_run_is_not_verified(client, registry):
    """A replay: v3 approved outside Airflow with v1's genuine ``decided-by`` claim (bob, and the run that
    recorded v1's decision). The audit event of that run exists, but is about v1: nobody is shown as having
    decided v3, while v1 stays bob's."""
    group_arn = registry.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupArn"]
    v1, v3 = (group_arn.replace(":model-package-group/", ":model-package/") + f"/{n}" for n in (1, 3))
    v1_described = registry.describe_model_package(ModelPackageName=v1)
    claim = v1_described["CustomerMetadataProperties"][md.DECIDED_BY]
    registry.update_model_package(
        ModelPackageArn=v3,
        ModelApprovalStatus="Approved",
        ApprovalDescription=v1_described.get("ApprovalDescription", ""),
        CustomerMetadataProperties={md.DECIDED_BY: claim},
    )
    client.app.state.data.forget()
    card = get(client, paths.api_version("churn", 3)).json()
    assert card["decided_by"] is None and card["decision_verified"] is False
    assert "another version" in card["decision_problem"]
    assert get(client, paths.api_version("churn", 1)).json()["decided_by"] == "bob"


# ------------------------------------------------------------------ a group shows only its own
def test_an_unknown_group_is_404_in_the_api_and_the_pages(client):
    for path in (
        paths.api_group("no-such-group"),
        paths.api_versions("no-such-group"),
        paths.API + "/groups/no-such-group/audit",
    ):
        got = get(client, path)
        assert got.status_code == 404 and "no-such-group" in got.json()["detail"], (path, got.text)
    for path in (paths.group_page("no-such-group"), paths.audit_page("no-such-group")):
        got = get(client, path)
        assert got.status_code == 404 and 'data-testid="refused"' in got.text, path


def test_a_group_shows_only_its_own_endpoints_and_drift_verdict(registry, aws):
    """churn runs in prod (churn-prod); group "other" runs nowhere and serves on no endpoint: it shows no
    endpoint and no drift verdict, never churn's, and churn gets only the verdict about churn-prod."""
    registry.create_model_package_group(ModelPackageGroupName="other")
    asked = []
    churn_verdict = {"drift_detected": True, "window": {"prefix": "s3://b/capture/churn-prod"}}

    def verdicts(endpoints, readable):
        asked.append(list(endpoints))
        from airflow_modelreg.plugins.registry_app import verdict_endpoints

        found = [v for v in (churn_verdict,) if set(endpoints) & verdict_endpoints(v)]
        return found[0] if found else None

    with make_client(drift_verdicts=verdicts) as client:
        other = get(client, paths.api_group("other")).json()
        assert other["endpoints"] == [] and other["drift"] is None
        churn = get(client, paths.api_group("churn")).json()
        assert [e["endpoint"] for e in churn["endpoints"]] == ["churn-prod"]
        assert churn["drift"]["drift_detected"] is True
    assert ["churn-prod"] in asked and [] not in asked


def test_the_latest_drift_verdict_is_one_about_the_endpoints_asked_never_any_other():
    from airflow_modelreg.plugins.registry_app import verdict_endpoints

    monitor = {"endpoint": "churn-prod", "window": {"scheduled_time": "t"}}
    capture = {
        "window": {
            "prefix": "s3://b/capture/churn-prod-2",
            "prefixes": ["s3://b/capture/churn-prod-2/AllTraffic"],
        }
    }
    assert "churn-prod" in verdict_endpoints(monitor)
    assert "churn-prod" not in verdict_endpoints(capture) and "churn-prod-2" in verdict_endpoints(capture)


# ------------------------------------------------------------------ pending decisions and the audit trail
def test_a_pending_version_whose_approval_task_ended_gets_no_required_action_link(registry):
    """Only a request that waits (unanswered, its task not ended) gets a link; when Airflow's requests cannot
    be read at all, the registering run's Required Actions stay the best guess."""
    with make_client(lambda subjects: {}) as client:
        [pending] = get(client, paths.api_group("churn")).json()["pending"]
        assert pending["required_action_link"] is None
        page = get(client, paths.group_page("churn")).text
        assert 'data-testid="no-request"' in page and "required_actions" not in page
        assert "required_actions" not in get(client, paths.version_page("churn", 3)).text
    with make_client(lambda subjects: None) as client:
        [pending] = get(client, paths.api_group("churn")).json()["pending"]
        assert pending["required_action_link"] == "/dags/train_and_register/runs/run-3/required_actions"


def test_promotion_approvals_waiting_in_airflow_are_pending_decisions(registry):
    from airflow_modelreg.domain import registry_view as view

    asked = []

    def promotions(group):
        asked.append(group)
        return view.promotion_rows(
            group,
            [
                (
                    view.promotion_subject(group, 1, "test"),
                    "promote_model",
                    "manual__1",
                    "promote_to_test.approve",
                )
            ],
        )

    with make_client(waiting_promotions=promotions) as client:
        [row] = get(client, paths.api_group("churn")).json()["promotions"]
        link = "/dags/promote_model/runs/manual__1/tasks/promote_to_test.approve/required_actions"
        assert (row["version"], row["environment"], row["action"], row["required_action_link"]) == (
            1,
            "test",
            "promote",
            link,
        )
        page = get(client, paths.group_page("churn")).text
        assert 'data-testid="promotion-row"' in page and f'href="{link}"' in page
    assert asked == ["churn", "churn"]


def test_refusals_about_a_version_are_in_its_audit_trail_with_who_tried(client, registry):
    """A refusal records the attempt's version and person in its details: filtering by version keeps it, and
    its version and by columns say so (the CLI reads the same trail)."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook

    v3 = get(client, paths.api_version("churn", 3)).json()["arn"]
    AuditLogHook(log_uri=LADDER["audit_log"]).append(
        "churn",
        "refused",
        reason="Refused: the reason is the run's own words",
        details={"attempt": f"bob answered Approve on {v3}", "arn": v3, "by": "bob"},
    )
    events = get(client, paths.API + "/groups/churn/audit?version=3").json()["events"]
    assert [(e["event"], e["version"], e["by"]) for e in events] == [
        ("registered", 3, "alice"),
        ("refused", 3, "bob"),
    ]
    page = get(client, paths.audit_page("churn", version=3))
    assert page.text.count('data-testid="audit-row"') == 2


def test_an_invalid_version_on_the_audit_page_is_an_error_not_everything(client):
    page = get(client, paths.group_page("churn") + "/audit?version=abc")
    assert page.status_code == 400 and 'data-testid="refused"' in page.text
    assert 'data-testid="audit-row"' not in page.text


def test_a_version_card_is_shown_when_the_audit_log_cannot_be_read(registry):
    """The audit log's bucket is missing (or not readable): the card says so in its runs section, and what
    the audit log would verify is shown as not verified; the page is not a 502."""
    ladder = {**LADDER, "audit_log": "s3://no-such-audit-bucket/log"}
    with make_client(ladder=ladder) as client:
        card = get(client, paths.api_version("churn", 1))
        assert card.status_code == 200, card.text
        assert card.json()["audit_error"].startswith("The audit log cannot be read")
        assert card.json()["decided_by"] is None  # cannot be checked: not shown as bob's
        page = get(client, paths.version_page("churn", 1))
        assert page.status_code == 200 and 'data-testid="audit-error"' in page.text
        assert get(client, paths.group_page("churn")).status_code == 200


# ------------------------------------------------------------------ UI edges
def test_a_page_past_the_last_is_404_and_a_bad_page_number_is_a_page_error(client):
    client.app.state.data.index("churn")
    past = get(client, paths.api_versions("churn", page=999, per_page=25))
    assert past.status_code == 404 and "No page 999" in past.json()["detail"]
    page = get(client, paths.group_page("churn") + "?page=999")
    assert page.status_code == 404 and "Page 999" not in page.text and 'data-testid="refused"' in page.text
    bad = get(client, paths.group_page("churn") + "?page=abc")
    assert bad.status_code == 400 and bad.headers["content-type"].startswith("text/html")
    assert 'data-testid="refused"' in bad.text and "page" in bad.text
    assert (
        get(
            client,
            paths.api_versions("churn") + "&page=abc"
            if "?" in paths.api_versions("churn")
            else paths.api_versions("churn") + "?page=abc",
        ).status_code
        == 422
    )


def test_the_artifact_on_the_version_card_links_to_the_s3_console(client, registry):
    arn = register(registry, 4, **{md.ARTIFACT_URI: "s3://models-bucket/churn/v4/model.tar.gz"})
    assert arn
    card = get(client, paths.api_version("churn", 4)).json()
    assert card["artifact_console_url"].startswith("https://")
    assert (
        "s3/object/models-bucket" in card["artifact_console_url"]
        and "prefix=churn/v4/model.tar.gz" in card["artifact_console_url"]
    )
    page = get(client, paths.version_page("churn", 4)).text
    assert 'data-testid="artifact-link"' in page and 'rel="noopener"' in page


# ------------------------------------------------------------------ staleness
def test_counts_older_than_the_documented_lag_are_refreshed_before_answering(registry):
    """README: counts lag the registry by about index_ttl. After an idle period longer than that, the next
    view answers fresh counts (it waits for the refresh), not the last ones however old."""
    import time

    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(LADDER), index_ttl=0.5)
    assert [g["versions"] for g in data.groups()] in ([None], [3])  # a cold start says "counting"
    data.index("churn")
    assert [g["versions"] for g in data.groups()] == [3]
    time.sleep(0.6)  # idle past the lag
    register(registry, 4)
    register(registry, 5)
    [group] = data.groups()
    assert (group["versions"], group["pending"], group["refreshing"]) == (5, 3, False)
    assert data.versions_page("churn")["total"] == 5


def test_a_refresh_that_takes_too_long_answers_the_last_counts_marked_as_refreshing(registry, client):
    import threading

    data = client.app.state.data
    data.index_ttl, data.refresh_wait = 0.0, 0.05
    data.forget()
    data.index_ttl = 3600.0
    data.index("churn")
    data.index_ttl = 0.0
    release = threading.Event()
    listed = data._list_index
    data._list_index = lambda group: (release.wait(5), listed(group))[1]
    try:
        [group] = get(client, paths.api_groups()).json()["groups"]
        assert group["versions"] == 3 and group["refreshing"] is True and group["as_of"]
        page = get(client, paths.groups_page()).text
        assert 'data-testid="refreshing"' in page and 'http-equiv="refresh"' in page
        assert get(client, paths.api_versions("churn")).json()["refreshing"] is True
    finally:
        release.set()


# ------------------------------------------------------------------ drift results per source DAG
def test_drift_results_come_only_from_dags_the_caller_may_read(registry):
    """The view's readers may read the release DAGs; drift verdicts come from any DAG's XCom. A reader who
    may not read the DAG that produced a verdict does not see it (the auth manager is asked per DAG)."""
    verdicts = [
        {
            "dag_id": "monitor_drift",
            "drift_detected": True,
            "window": {"prefix": "s3://b/capture/churn-prod"},
        },
        {
            "dag_id": "team_b_drift",
            "drift_detected": False,
            "window": {"prefix": "s3://b/capture/churn-prod"},
        },
    ]

    def newest_readable(endpoints, readable):
        return next((v for v in verdicts if readable(v["dag_id"])), None)

    def may_read_dag(user, dag_id):
        return not (user == "no-drift" and dag_id == "monitor_drift")

    with make_client(drift_verdicts=newest_readable, may_read_dag=may_read_dag) as client:
        assert get(client, paths.api_group("churn")).json()["drift"]["dag_id"] == "monitor_drift"
        other = get(client, paths.api_group("churn"), headers={"x-test-user": "no-drift"}).json()
        assert other["drift"]["dag_id"] == "team_b_drift"
        verdicts.pop()
        assert (
            get(client, paths.api_group("churn"), headers={"x-test-user": "no-drift"}).json()["drift"] is None
        )
        page = get(client, paths.endpoint_page("churn-prod"), headers={"x-test-user": "no-drift"})
        assert (
            page.status_code == 200 and 'data-testid="drift"' in page.text and "No drift check" in page.text
        )


def test_a_due_full_listing_runs_after_the_answer_not_before_it(registry, aws):
    """Every full_ttl the whole group is listed again (deleted versions, decisions changed outside the pending
    state): seconds at 10,000 versions. The refresh that finds it due answers from an incremental update (the
    newest page and the pending listing), and the full listing follows in the background."""
    import threading
    import time

    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(LADDER), full_ttl=3600)
    first = data.index("churn")
    data.full_ttl = 0.0
    release = threading.Event()
    listed = data._listed
    data._listed = lambda group, registry: (release.wait(120), listed(group, registry))[1]
    register(registry, 4)
    aws.reset_calls()
    try:
        refreshed = data._refresh("churn").result(timeout=60)  # not held up by the full listing
        assert [v.version for v in refreshed.versions] == [4, 3, 2, 1]
        assert refreshed.full_at == first.full_at
        assert aws.calls().get("sagemaker:ListModelPackages") == 2
    finally:
        release.set()
    deadline = time.monotonic() + 120
    while data.index("churn", wait=False).full_at == first.full_at:
        assert time.monotonic() < deadline, "the full listing never replaced the index"
        time.sleep(0.05)
