"""The latest drift check as the registry view finds it: the verdict a real ``monitor_drift`` run left in
Airflow's XCom (dag.test on the stand-in), and the per-feature table of the report it wrote."""

from __future__ import annotations

from airflow_modelreg.domain.environments import EnvironmentLadder
from tests.test_drift_dags import PROD_ONLY, _traffic, prod_model  # noqa: F401 - prod_model is a fixture


def test_the_view_shows_the_latest_drift_verdict_of_an_endpoint_with_its_features(airflow, prod_model):  # noqa: F811
    from airflow_modelreg.plugins.registry_app import latest_drift_verdict
    from airflow_modelreg.plugins.registry_data import RegistryData

    _traffic(prod_model, shift=0.0)
    run = airflow.dag("monitor_drift").test(logical_date=None)
    assert str(run.state) == "success", airflow.task_states(run)

    verdict = latest_drift_verdict(["churn-prod"])
    assert verdict == airflow.xcom(run, "detect_drift")
    # A reader who may not read monitor_drift gets none of its verdicts; another endpoint's are never given.
    assert latest_drift_verdict(["churn-prod"], lambda dag_id: dag_id != "monitor_drift") is None
    assert latest_drift_verdict(["other-endpoint"]) is None
    assert verdict["drift_detected"] is False and verdict["report_html_uri"].endswith("/drift_report.html")

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(PROD_ONLY))
    shown = data.drift_result(verdict)
    assert shown["airflow_run_link"].startswith("/dags/monitor_drift/runs/")
    assert {row["feature"] for row in shown["features"]} >= {"tenure_months", "monthly_charges"}
    assert not any(row["drifted"] for row in shown["features"])
    content_type, html = data.drift_report(verdict["report_html_uri"])
    assert content_type.startswith("text/html") and "<html" in html.lower()


def test_the_report_route_serves_what_a_recorded_verdict_names_and_nothing_else(airflow, prod_model):  # noqa: F811
    """The drift-report route's check, on the XCom a real ``monitor_drift`` run left: its two report URIs are
    found; a URI in the same prefix, another bucket, or a LIKE wildcard that would match them is not."""
    from airflow_modelreg.plugins.drift_reports import recorded_drift_report

    _traffic(prod_model, shift=0.0)
    run = airflow.dag("monitor_drift").test(logical_date=None)
    verdict = airflow.xcom(run, "detect_drift")
    html, report = verdict["report_html_uri"], verdict["report_uri"]
    assert recorded_drift_report(html) and recorded_drift_report(report)
    folder = html.rsplit("/", 1)[0]
    for other in (
        f"{folder}/other/drift_report.json",
        f"{folder.rsplit('/', 1)[0]}/drift_report.json",
        "s3://other-team-bucket/secret/drift_report.json",
        html.replace("/drift_report", "/%drift_report"),
        html.replace("drift_report.html", "drift_report_html"),
        html.replace("_", "%"),
        html[:-1],
    ):
        assert not recorded_drift_report(other), other


def test_the_waiting_requests_queries_run_on_airflows_metadata_database(airflow):
    """The Required Action and promotion-approval lookups (unanswered, task not ended) run as SQL on the
    metadata database: nothing waits here, which is an empty answer, not an unreadable one (``None``)."""
    from airflow_modelreg.plugins.registry_app import waiting_promotion_approvals, waiting_required_actions

    assert waiting_required_actions(["Approve churn version 1?"]) == {}
    assert waiting_promotion_approvals("churn") == []
