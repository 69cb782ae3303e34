"""The registry view's drift-report route against the stand-in: it serves only the reports a drift verdict of
the provider names, sandboxed, and a missing one is a 404 page.

Which verdicts exist is replaced here by a set of URIs (``recorded_reports``); ``test_registry_drift.py``
checks the real lookup in Airflow's XCom after a ``monitor_drift`` run."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from airflow_modelreg import registry_view_paths as paths
from airflow_modelreg.domain.environments import EnvironmentLadder
from tests.plugins.test_registry_app import LADDER, READER, header_user, only_readers

BUCKET = "reports-bucket"
HTML = f"s3://{BUCKET}/reports/monitor_drift/run-1/drift_report.html"
JSON = f"s3://{BUCKET}/reports/monitor_drift/run-1/drift_report.json"
GONE = f"s3://{BUCKET}/reports/monitor_drift/run-2/drift_report.json"
# A page someone with write access to the bucket planted: it would send the reader to another site.
PLANTED = b'<meta http-equiv="refresh" content="0;url=https://evil.example/"><h1>Drift</h1>'


@pytest.fixture
def client(aws):
    from airflow_modelreg.plugins.registry_app import create_app
    from airflow_modelreg.plugins.registry_data import RegistryData

    s3 = aws.boto3_client("s3")
    for bucket in (BUCKET, "other-team-bucket"):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=BUCKET, Key=HTML.split("/", 3)[3], Body=PLANTED)
    s3.put_object(Bucket=BUCKET, Key=JSON.split("/", 3)[3], Body=json.dumps({"features": {}}).encode())
    s3.put_object(Bucket="other-team-bucket", Key="secret/drift_report.json", Body=b'{"secret": 1}')
    s3.put_object(Bucket=BUCKET, Key="reports/other/drift_report.json", Body=b'{"secret": 2}')
    # Each recorded report, with the DAG whose verdict names it.
    recorded = {HTML: "monitor_drift", JSON: "monitor_drift", GONE: "monitor_drift"}
    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(LADDER))
    app = create_app(
        data,
        user=header_user,
        authorised=only_readers,
        drift_verdicts=lambda endpoints: None,
        waiting_requests=lambda subjects: {},
        recorded_reports=lambda uri, readable: uri in recorded and readable(recorded[uri]),
        may_read_dag=lambda user, dag_id: not (user == "release-only" and dag_id == "monitor_drift"),
    )
    with TestClient(app, root_path=paths.PREFIX) as test_client:
        yield test_client


def get(client, uri: str, **headers: str):
    return client.get(paths.drift_report_page(uri).removeprefix(paths.PREFIX), headers=headers or READER)


@pytest.mark.parametrize(
    "uri",
    [
        "s3://other-team-bucket/secret/drift_report.json",  # another bucket the connection can read
        f"s3://{BUCKET}/reports/other/drift_report.json",  # the reports' bucket, but no verdict names it
        f"s3://{BUCKET}/secrets/config.json",
        "https://evil.example/drift_report.html",
        "",
    ],
)
def test_only_a_report_a_drift_verdict_names_is_served(client, aws, uri):
    aws.reset_calls()
    refused = get(client, uri)
    assert refused.status_code == 404, refused.text
    assert not aws.calls().get("s3:GetObject"), "S3 was read for a report no verdict names"


def test_a_report_is_sandboxed_so_it_cannot_script_fetch_or_navigate_the_page(client):
    shown = get(client, HTML)
    assert shown.status_code == 200 and "<h1>Drift</h1>" in shown.text
    assert shown.headers["content-type"].startswith("text/html")
    policy = {d.strip().split(" ")[0]: d.strip() for d in shown.headers["content-security-policy"].split(";")}
    assert policy["default-src"] == "default-src 'none'"
    # sandbox without allow-top-navigation or allow-scripts: a <meta refresh> cannot take the page away
    assert policy["sandbox"] == "sandbox"
    assert shown.headers["x-content-type-options"] == "nosniff"


def test_a_json_report_is_json_and_sandboxed_too(client):
    shown = get(client, JSON)
    assert shown.status_code == 200 and shown.json() == {"features": {}}
    assert shown.headers["content-type"] == "application/json"
    assert "sandbox" in shown.headers["content-security-policy"]
    assert shown.headers["x-content-type-options"] == "nosniff"


def test_a_missing_report_is_a_404_page_not_a_server_error(client):
    missing = get(client, GONE)
    assert missing.status_code == 404 and 'data-testid="refused"' in missing.text, missing.text


def test_a_user_who_may_not_read_the_release_gets_403_before_any_lookup(client, aws):
    aws.reset_calls()
    assert get(client, HTML, **{"x-test-user": "outsider"}).status_code == 403
    assert not aws.calls().get("s3:GetObject")


def test_a_reader_who_may_not_read_the_drift_dag_gets_no_report_of_it(client):
    """May read the release DAGs (the view lets them in) but not monitor_drift: its reports are not served."""
    refused = get(client, JSON, **{"x-test-user": "release-only"})
    assert refused.status_code == 404 and "secret" not in refused.text and "features" not in refused.text
    assert get(client, JSON).status_code == 200
