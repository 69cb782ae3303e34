"""The extra links a task shows in the Airflow UI, for every operator and sensor that carries them, run against
the stand-in: the registry view's pages (under ``[api] base_url``'s path) beside the SageMaker console's.

What the UI shows is what Airflow's task runner stores at the end of a task: each extra link's ``get_link``
called with the task instance as ``ti_key`` (``finalize`` in airflow/sdk/execution_time/task_runner.py), whose
XCom reads here come from the recording task instance. A resumed task (``execute_complete``) gets a fresh task
instance, so its links come from what it persisted itself. One real DAG run checks the same through Airflow's
own XCom, task runner and the link the API server returns.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import XCom
from airflow.sdk.exceptions import AirflowSkipException, TaskDeferred

from airflow_modelreg.demo.traffic import baseline_csv
from airflow_modelreg.links import registry_view as links
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.compare import CompareVariantsOperator
from airflow_modelreg.operators.drift import (
    AnnounceDriftOperator,
    DecideDriftOperator,
    ListCaptureBatchesOperator,
)
from airflow_modelreg.operators.promote import (
    ApprovePromotionOperator,
    CommitPromotionOperator,
    PreparePromotionOperator,
)
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from airflow_modelreg.sensors.drift import ModelDriftSensor
from airflow_modelreg.sensors.endpoint import EndpointSensor
from airflow_modelreg.sensors.model_approval import ModelApprovalSensor
from tests.helpers import PROD_LADDER, answer, one_variant_endpoint, put_artifact, register_operator
from tests.operators.deploying import (
    ab,
    approved_versions,
    compare_operator,
    deploy_operator,
    held_transitions,
    run_deferrable,
    shift_operator,
    triggered,
)

CONSOLE = "https://console.aws.amazon.com/sagemaker/home?region=us-east-1#"
VERSION, ENVIRONMENT, ENDPOINT = (
    "Registry view: version",
    "Registry view: environment",
    "Registry view: endpoint",
)
DRIFT, REPORT = "Registry view: drift", "Registry view: drift report"


@pytest.fixture(params=["http://localhost:8080", "http://airflow.example.com/airflow/"])
def prefix(request, monkeypatch) -> str:
    """``[api] base_url`` at the root of its host, and under a path (behind a proxy); the prefix links get."""
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", request.param)
    return {"http://localhost:8080": "", "http://airflow.example.com/airflow/": "/airflow"}[request.param]


@pytest.fixture
def shown(monkeypatch):
    """The links the UI shows for a task that ran with ``context``: ``{name: url}`` for every extra link of
    the operator, as the task runner computes them (empty links left out, as the UI leaves them out)."""

    def recorded(cls: Any, *, ti_key: Any, key: str) -> Any:
        value = ti_key.xcom.get(key)
        return None if value is None else json.loads(json.dumps(value))  # as XCom stores it: JSON

    monkeypatch.setattr(XCom, "get_value", classmethod(recorded))

    def links_of(operator: Any, context: dict[str, Any]) -> dict[str, str]:
        ti = context["ti"]
        found = {link.name: link.get_link(operator, ti_key=ti) for link in operator.operator_extra_links}
        return {name: url for name, url in found.items() if url}

    return links_of


def _version_links(prefix: str, version: int, group: str = "churn") -> dict[str, str]:
    return {
        VERSION: f"{prefix}/modelreg/ui/groups/{group}/versions/{version}",
        "Model Version": f"{CONSOLE}/model-packages/{group}/versions/{version}",
    }


def _endpoint_links(prefix: str, endpoint: str) -> dict[str, str]:
    return {
        ENDPOINT: f"{prefix}/modelreg/ui/endpoints/{endpoint}",
        "SageMaker Endpoint": f"{CONSOLE}/endpoints/{endpoint}",
    }


# ----------------------------------------------------------------------------------------- the links
@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        (None, ""),
        ("", ""),
        ("http://localhost:8080", ""),
        ("http://localhost:8080/", ""),
        ("https://host.example.com/airflow", "/airflow"),
        ("https://host.example.com/team/airflow/", "/team/airflow"),
    ],
)
def test_links_are_root_relative_under_the_path_of_base_url(monkeypatch, base_url, expected):
    if base_url is None:
        monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    else:
        monkeypatch.setenv("AIRFLOW__API__BASE_URL", base_url)
    assert links.under_base_url("/modelreg/ui/groups") == f"{expected}/modelreg/ui/groups"


def test_each_link_names_its_page_with_every_value_escaped(prefix, shown, make_context):
    context = make_context(task_id="t")
    op = AnnounceDriftOperator(task_id="t", verdict={})  # any operator: the values are given here
    links.RegistryVersionLink.persist(context, op, group="churn model/β", version=3)
    links.RegistryEnvironmentLink.persist(context, op, group="churn", environment="pre prod?")
    links.RegistryEndpointLink.persist(context, op, endpoint="churn#prod")
    links.RegistryDriftLink.persist(context, op, endpoint="churn#prod")
    links.RegistryDriftReportLink.persist(context, op, report_uri="s3://reports/a b/drift_report.html?x=1&y")
    ti = context["ti"]
    shown(op, context)  # patches XCom's reads to the recording task instance
    assert links.RegistryVersionLink().get_link(op, ti_key=ti) == (
        f"{prefix}/modelreg/ui/groups/churn%20model%2F%CE%B2/versions/3"
    )
    assert links.RegistryEnvironmentLink().get_link(op, ti_key=ti) == (
        f"{prefix}/modelreg/ui/groups/churn/environments/pre%20prod%3F"
    )
    assert (
        links.RegistryEndpointLink().get_link(op, ti_key=ti) == f"{prefix}/modelreg/ui/endpoints/churn%23prod"
    )
    assert (
        links.RegistryDriftLink().get_link(op, ti_key=ti)
        == f"{prefix}/modelreg/ui/endpoints/churn%23prod/drift"
    )
    assert links.RegistryDriftReportLink().get_link(op, ti_key=ti) == (
        f"{prefix}/modelreg/ui/drift-report?uri=s3%3A%2F%2Freports%2Fa+b%2Fdrift_report.html%3Fx%3D1%26y"
    )


def test_a_task_that_persisted_nothing_shows_no_link(shown, make_context):
    context = make_context(task_id="t")
    op = AnnounceDriftOperator(task_id="t", verdict={})
    assert shown(op, context) == {}
    for link in (links.RegistryVersionLink(), links.RegistryDriftReportLink()):
        assert link.get_link(op, ti_key=context["ti"]) == ""


def test_a_task_that_pushes_no_xcom_keeps_no_link_as_the_console_links(shown, make_context):
    context = make_context(task_id="t")
    op = AnnounceDriftOperator(task_id="t", verdict={}, do_xcom_push=False)
    links.RegistryEndpointLink.persist(context, op, endpoint="churn-prod")
    assert context["ti"].xcom == {}


def test_every_operator_carries_one_link_of_each_name():
    from airflow_modelreg.operators.deploy import DeployModelOperator
    from airflow_modelreg.operators.register import RegisterModelVersionOperator
    from airflow_modelreg.operators.traffic import ShiftTrafficOperator

    carried = {
        RegisterModelVersionOperator: {VERSION, "Model Version"},
        RequestModelApprovalOperator: {VERSION, "Model Version"},
        SetModelApprovalOperator: {VERSION, "Model Version"},
        ModelApprovalSensor: {VERSION, "Model Version"},
        PreparePromotionOperator: {VERSION, ENVIRONMENT, "Model Version"},
        ApprovePromotionOperator: {VERSION, ENVIRONMENT, "Model Version"},
        CommitPromotionOperator: {VERSION, ENVIRONMENT, "Model Version"},
        ResolveApprovedModelOperator: {VERSION, ENVIRONMENT, "Model Version"},
        DeployModelOperator: {ENDPOINT, "SageMaker Endpoint"},
        ShiftTrafficOperator: {ENDPOINT, "SageMaker Endpoint"},
        CompareVariantsOperator: {ENDPOINT, "SageMaker Endpoint"},
        EndpointSensor: {ENDPOINT, "SageMaker Endpoint"},
        ListCaptureBatchesOperator: {DRIFT},
        DecideDriftOperator: {DRIFT, REPORT},
        ModelDriftSensor: {DRIFT, REPORT},
        AnnounceDriftOperator: {DRIFT, REPORT},
    }
    for operator, names in carried.items():
        found = [link.name for link in operator.operator_extra_links]
        assert sorted(found) == sorted(names), operator.__name__
        keys = [link.xcom_key for link in operator.operator_extra_links]
        assert len(set(keys)) == len(keys), operator.__name__  # each link's URL is stored under its own key


# --------------------------------------------------------------------------- register and decisions
def test_register_links_the_version(prefix, shown, aws, bucket, make_context):
    context = make_context()
    op = register_operator(put_artifact(aws, bucket))
    assert op.execute(context)["version"] == 1
    assert shown(op, context) == _version_links(prefix, 1)


def test_an_approval_resumed_with_its_answer_links_the_version(prefix, shown, aws, bucket, make_context):
    version = register_operator(put_artifact(aws, bucket)).execute(make_context(run_id="manual__train"))
    op = RequestModelApprovalOperator(task_id="approve", model_package_arn=version["arn"], ladder=PROD_LADDER)
    resumed = make_context(task_id="approve")  # a new process: nothing persisted by the asking half
    op.execute_complete(resumed, answer("dave", reason="metrics hold"))
    assert shown(op, resumed) == _version_links(prefix, 1)


def test_an_automated_decision_links_the_version(prefix, shown, aws, bucket, make_context):
    version = register_operator(put_artifact(aws, bucket)).execute(make_context(run_id="manual__train"))
    context = make_context(task_id="gate")
    op = SetModelApprovalOperator(
        task_id="gate", model_package_arn=version["arn"], status="Rejected", reason="leak", ladder=PROD_LADDER
    )
    op.execute(context)
    assert shown(op, context) == _version_links(prefix, 1)


def test_a_version_approved_elsewhere_is_linked_by_the_deferred_sensor(prefix, shown, aws, make_context):
    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval")[
        "ModelPackageArn"
    ]
    sensor = ModelApprovalSensor(task_id="wait", model_package_arn=arn, deferrable=True, timeout=60)
    waiting = make_context(task_id="wait")
    with pytest.raises(TaskDeferred):
        sensor.execute(waiting)
    assert shown(sensor, waiting) == _version_links(prefix, 1)  # while it waits
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    resumed = make_context(task_id="wait")
    event = {"status": "Approved", "model_package_arn": arn}
    assert sensor.resume_execution("execute_complete", {"event": event}, resumed)["status"] == "Approved"
    assert shown(sensor, resumed) == _version_links(prefix, 1)


# ---------------------------------------------------------------------------------------- promotion
def test_each_promotion_task_and_resolve_link_the_version_and_the_environment(
    prefix, shown, aws, bucket, make_context
):
    version = register_operator(put_artifact(aws, bucket), ladder=PROD_LADDER).execute(
        make_context(run_id="manual__train")
    )
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved"
    )
    expected = {
        **_version_links(prefix, 1),
        ENVIRONMENT: f"{prefix}/modelreg/ui/groups/churn/environments/prod",
    }
    run = "manual__2026-11-23T00:00:00+00:00"

    prepare = PreparePromotionOperator(
        task_id="promote.prepare", model_package_arn=version["arn"], environment="prod", ladder=PROD_LADDER
    )
    context = make_context(task_id=prepare.task_id, run_id=run)
    request = prepare.execute(context)[0]
    assert shown(prepare, context) == expected

    approve = ApprovePromotionOperator(
        task_id="promote.approve", request={**request, "slot": 0}, ladder=PROD_LADDER
    )
    context = make_context(task_id=approve.task_id, run_id=run, map_index=0)
    approve.execute_complete(context, answer("dave", reason="ready for prod"))
    assert shown(approve, context) == expected

    commit = CommitPromotionOperator(task_id="promote.commit", request=request, ladder=PROD_LADDER)
    context = make_context(task_id=commit.task_id, run_id=run)
    commit.execute(context)
    assert shown(commit, context) == expected

    resolve = ResolveApprovedModelOperator(
        task_id="resolve", group="churn", environment="prod", ladder=PROD_LADDER
    )
    context = make_context(task_id="resolve")
    assert resolve.execute(context)["version"] == 1
    assert shown(resolve, context) == expected


def test_a_refused_resolution_still_links_the_environment(prefix, shown, aws, make_context):
    resolve = ResolveApprovedModelOperator(
        task_id="resolve", group="churn", environment="prod", ladder=PROD_LADDER
    )
    context = make_context(task_id="resolve")
    with pytest.raises(Exception, match="nothing was promoted there yet"):
        resolve.execute(context)
    assert shown(resolve, context) == {ENVIRONMENT: f"{prefix}/modelreg/ui/groups/churn/environments/prod"}


# ---------------------------------------------------------------------------------------- endpoints
@pytest.fixture
def serving(aws, bucket, make_context):
    """churn-prod with champion (v1) at 100% and challenger (v2) at 0%."""
    a, b = approved_versions(aws, bucket, make_context)
    deploy_operator(ab(a, b, 100, 0)).execute(make_context(task_id="deploy"))


def test_deploy_shift_and_compare_link_the_endpoint(prefix, shown, aws, serving, make_context):
    context = make_context(task_id="shift")
    shift = shift_operator(deferrable=True)
    run_deferrable(shift, context)
    assert shown(shift, context) == _endpoint_links(prefix, "churn-prod")

    compare = compare_operator()
    resumed = make_context(task_id="compare")  # the answer resumes it in a new process
    keep = {**answer("dave", option=compare.KEEP), "params_input": {}}
    assert compare.execute_complete(resumed, keep)["decision"] == compare.KEEP
    assert shown(compare, resumed) == _endpoint_links(prefix, "churn-prod")


def test_a_deferred_deployment_links_the_endpoint(prefix, shown, aws, bucket, make_context):
    a, b = approved_versions(aws, bucket, make_context)
    context = make_context(task_id="deploy")
    deploy = deploy_operator(ab(a, b, 100, 0), deferrable=True)
    run_deferrable(deploy, context)
    assert shown(deploy, context) == _endpoint_links(prefix, "churn-prod")


def test_the_endpoint_sensor_links_the_endpoint_while_waiting_and_after_its_trigger(
    prefix, shown, aws, make_context
):
    sensor = EndpointSensor(
        task_id="wait", endpoint_name="churn-prod", deferrable=True, poke_interval=0.1, timeout=60
    )
    waiting = make_context(task_id="wait")
    # Creating until the sensor and its trigger have looked, however slow the machine: the sensor defers.
    with held_transitions(aws, "churn-prod"):
        one_variant_endpoint(aws, "churn-prod")
        with pytest.raises(TaskDeferred) as deferred:
            sensor.execute(waiting)
        assert shown(sensor, waiting) == _endpoint_links(prefix, "churn-prod")
        event = triggered(deferred.value)
    resumed = make_context(task_id="wait")
    sensor.resume_execution(deferred.value.method_name, {"event": event}, resumed)
    assert shown(sensor, resumed) == _endpoint_links(prefix, "churn-prod")


# -------------------------------------------------------------------------------------------- drift
def _report_link(prefix: str, uri: str) -> str:
    from urllib.parse import urlencode

    return f"{prefix}/modelreg/ui/drift-report?{urlencode({'uri': uri})}"


def test_the_drift_sensor_links_the_drift_page_and_the_report_it_wrote(
    prefix, shown, aws, bucket, make_context
):
    from datetime import UTC, datetime, timedelta

    from airflow_modelreg.demo.traffic import write_capture

    s3 = aws.boto3_client("s3")
    s3.put_object(Bucket=bucket, Key="churn/baseline.csv", Body=baseline_csv().encode())
    sensor = ModelDriftSensor(
        task_id="detect_drift",
        source="data_capture",
        capture_prefix=f"s3://{bucket}/capture/churn-prod",
        baseline_uri=f"s3://{bucket}/churn/baseline.csv",
        report_prefix=f"s3://{bucket}/reports",
        min_rows=100,
        deferrable=True,
        poke_interval=0.1,
        timeout=60,
    )
    waiting = make_context(task_id="detect_drift")
    with pytest.raises(TaskDeferred) as deferred:  # no traffic yet: it waits, linking the endpoint's drift
        sensor.execute(waiting)
    drift = f"{prefix}/modelreg/ui/endpoints/churn-prod/drift"
    assert shown(sensor, waiting) == {DRIFT: drift}
    write_capture(
        s3,
        f"s3://{bucket}/capture",
        "churn-prod",
        "champion",
        200,
        1.0,
        datetime.now(UTC) - timedelta(hours=1),
    )
    resumed = make_context(task_id="detect_drift")
    verdict = sensor.resume_execution(
        deferred.value.method_name, {"event": triggered(deferred.value)}, resumed
    )
    run = "manual__2026-11-23T00-00-00-00-00"  # the run id made safe for a key
    assert verdict["report_html_uri"] == f"s3://{bucket}/reports/train_and_register/{run}/drift_report.html"
    assert shown(sensor, resumed) == {DRIFT: drift, REPORT: _report_link(prefix, verdict["report_html_uri"])}


def test_a_model_monitor_verdict_links_the_drift_of_the_schedules_endpoint(
    prefix, shown, aws, bucket, make_context
):
    from tests.sensors.test_drift import _monitor_schedule

    _monitor_schedule(aws, bucket)
    aws.record_monitoring_execution("churn-prod-data-quality", None)
    sensor = ModelDriftSensor(
        task_id="detect_drift",
        source="model_monitor",
        schedule_name="churn-prod-data-quality",
        report_prefix=f"s3://{bucket}/reports",
    )
    context = make_context(task_id="detect_drift")
    sensor.execute(context)
    verdict = sensor._report
    assert verdict["endpoint"] == "churn-prod" and not verdict["report_html_uri"]
    assert shown(sensor, context) == {
        DRIFT: f"{prefix}/modelreg/ui/endpoints/churn-prod/drift",
        REPORT: _report_link(prefix, verdict["report_uri"]),  # Model Monitor's verdict is written as JSON
    }


def test_the_fanned_out_drift_tasks_link_the_drift_page_and_the_report(
    prefix, shown, aws, bucket, make_context
):
    s3 = aws.boto3_client("s3")
    s3.put_object(Bucket=bucket, Key="churn/baseline.csv", Body=baseline_csv().encode())
    capture = f"s3://{bucket}/capture/churn-prod"
    drift = f"{prefix}/modelreg/ui/endpoints/churn-prod/drift"

    listing = ListCaptureBatchesOperator(task_id="list", capture_prefix=capture)
    context = make_context(task_id="list")
    assert listing.execute(context) == []  # an empty window
    assert shown(listing, context) == {DRIFT: drift}
    window = context["ti"].xcom["window"]

    decide = DecideDriftOperator(
        task_id="decide",
        baseline_uri=f"s3://{bucket}/churn/baseline.csv",
        profiles=[],
        window=window,
        report_prefix=f"s3://{bucket}/reports",
    )
    context = make_context(task_id="decide")
    verdict = decide.execute(context)
    report = _report_link(prefix, verdict["report_html_uri"])
    assert shown(decide, context) == {DRIFT: drift, REPORT: report}

    announce = AnnounceDriftOperator(task_id="announce", verdict=verdict)
    context = make_context(task_id="announce")
    with pytest.raises(AirflowSkipException):  # no drift: nothing announced, the links stay
        announce.execute(context)
    assert shown(announce, context) == {DRIFT: drift, REPORT: report}


# ---------------------------------------------------------------------- a real run, through Airflow
@pytest.mark.slow(seconds=30)
def test_a_deferred_sensor_run_stores_the_links_the_api_server_returns(airflow, aws, monkeypatch):
    """A real DAG run (dag.test, the trigger run inline): the task runner calls each link's ``get_link`` with
    the task instance, Airflow keeps the URL in XCom, and the API server's link (``XComOperatorLink``, what the
    UI's task page asks for) returns it, under ``base_url``'s path."""
    import threading
    import time

    from airflow.models.taskinstancekey import TaskInstanceKey
    from airflow.serialization.definitions.operatorlink import XComOperatorLink

    sm = aws.boto3_client("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="churn")
    arn = sm.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval")[
        "ModelPackageArn"
    ]

    def approve_later() -> None:
        time.sleep(3)
        sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    threading.Thread(target=approve_later, daemon=True).start()
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example.com/airflow/")
    dag_run = airflow.run("wait_for_decision", {"arn": arn})
    assert str(dag_run.state) == "success"
    ti_key = TaskInstanceKey(dag_id="wait_for_decision", task_id="wait", run_id=dag_run.run_id, try_number=1)
    served = {
        link.name: XComOperatorLink(name=link.name, xcom_key=link.xcom_key).get_link(None, ti_key=ti_key)  # type: ignore[arg-type]
        for link in ModelApprovalSensor.operator_extra_links
    }
    assert served == _version_links("/airflow", 1)
