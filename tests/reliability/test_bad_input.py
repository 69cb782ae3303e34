"""Bad input across the operators and sensors: each gets a clear error naming the value, before any write."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from airflow_modelreg.operators.deploy import DeployModelOperator
from airflow_modelreg.operators.promote import PreparePromotionOperator
from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from airflow_modelreg.operators.set_approval import SetModelApprovalOperator
from airflow_modelreg.operators.traffic import ShiftTrafficOperator
from airflow_modelreg.sensors.drift import ModelDriftSensor
from tests.helpers import LADDER, PROD_LADDER, promote, put_artifact, register_operator, write_calls
from tests.operators.deploying import ROLE

ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/churn/{}"
# Prod, serving the endpoints these cases deploy to.
SERVING = {
    **PROD_LADDER,
    "environments": [
        {**PROD_LADDER["environments"][0], "endpoints": ["churn-prod", "churn-live", "churn-new"]}
    ],
}


@pytest.fixture
def world(aws, bucket, make_context):
    """An artifact, an approved version 1 (registered by alice), reports in S3, and a live endpoint."""
    artifact = put_artifact(aws, bucket)
    approved = register_operator(artifact).execute(make_context(run_id="setup"))["arn"]
    sm = aws.boto3_client("sagemaker")
    sm.update_model_package(ModelPackageArn=approved, ModelApprovalStatus="Approved")
    promote(approved, "prod", make_context, ladder=SERVING, run_id="setup")
    s3 = aws.boto3_client("s3")
    s3.put_object(Bucket=bucket, Key="reports/broken.json", Body=b"{not json")
    s3.put_object(Bucket=bucket, Key="reports/empty.json", Body=b'{"summary": "great"}')
    s3.put_object(Bucket=bucket, Key="reports/words.json", Body=b'{"metrics": {"auc": "excellent"}}')
    DeployModelOperator(
        task_id="deploy",
        environment="prod",
        ladder=SERVING,
        endpoint_name="churn-live",
        variants=[
            {"name": "champion", "model_package_arn": approved, "weight": 100},
        ],
        execution_role_arn=ROLE,
        poll_interval=0.1,
    ).execute(make_context(task_id="deploy", run_id="setup"))
    return {"artifact": artifact, "bucket": bucket, "approved": approved, "context": make_context}


def _register(**overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        kwargs = dict(overrides)
        artifact = kwargs.pop("model_data_url", world["artifact"])
        if callable(artifact):
            artifact = artifact(world)
        if "report_key" in kwargs:  # a report in the test's bucket
            kwargs["evaluation_report_uri"] = f"s3://{world['bucket']}/{kwargs.pop('report_key')}"
        return register_operator(artifact, **kwargs).execute(world["context"](run_id="bad"))

    return run


def _promote(action="promote", arn=None, **overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("ladder", LADDER)
        if action == "promote":  # a rollback names the group, not a version
            overrides.setdefault("model_package_arn", arn or world["approved"])
        op = PreparePromotionOperator(task_id="promote.prepare", action=action, **overrides)
        return op.execute(world["context"](task_id="promote.prepare", run_id="bad"))

    return run


def _set_approval(**overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("model_package_arn", world["approved"])
        overrides.setdefault("ladder", LADDER)
        return SetModelApprovalOperator(task_id="decide", **overrides).execute(
            world["context"](task_id="decide")
        )

    return run


def _deploy(variants: Callable[[str], list], **overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("endpoint_name", "churn-new")
        overrides.setdefault("execution_role_arn", ROLE)
        overrides.setdefault("environment", "prod")
        overrides.setdefault("ladder", SERVING)
        op = DeployModelOperator(task_id="deploy", variants=variants(world["approved"]), **overrides)
        return op.execute(world["context"](task_id="deploy", run_id="bad"))

    return run


def _one(arn: str, **variant: Any) -> list[dict[str, Any]]:
    return [{"name": "live", "model_package_arn": arn, **variant}]


def _shift(**overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("endpoint_name", "churn-live")
        overrides.setdefault("to_variant", "champion")
        overrides.setdefault("from_variant", "champion")
        overrides.setdefault("environment", "prod")
        overrides.setdefault("ladder", SERVING)
        op = ShiftTrafficOperator(task_id="shift", bake_seconds=0, poll_interval=0.1, **overrides)
        return op.execute(world["context"](task_id="shift", run_id="bad"))

    return run


def _resolve(**overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("group", "churn")
        overrides.setdefault("environment", "prod")
        overrides.setdefault("ladder", LADDER)
        return ResolveApprovedModelOperator(task_id="resolve", **overrides).execute(world["context"]())

    return run


def _drift(**overrides: Any) -> Callable[[dict], Any]:
    def run(world):
        overrides.setdefault("source", "data_capture")
        overrides.setdefault("capture_prefix", f"s3://{world['bucket']}/capture/churn-live")
        overrides.setdefault("baseline_uri", f"s3://{world['bucket']}/baseline.csv")
        overrides.setdefault("window_end", None)
        overrides.setdefault("since", None)
        sensor = ModelDriftSensor(task_id="drift", **overrides)
        return sensor.poke(world["context"](task_id="drift"))

    return run


# (case, what is wrong, run, the error must match)
CASES: list[tuple[str, Callable[[dict], Any], str]] = [
    # -- names
    ("group name of 64 characters", _register(group="g" * 64), "64 characters long"),
    ("group name with an underscore", _register(group="churn_model"), "contains '_'"),
    ("endpoint name with an underscore", _deploy(_one, endpoint_name="churn_prod"), "'churn_prod'"),
    (
        "variant name with an underscore",
        _deploy(lambda a: [{"name": "bad_name", "model_package_arn": a}]),
        "'bad_name'",
    ),
    ("resolve: group name with spaces", _resolve(group="churn model"), "'churn model'"),
    # -- ARNs and URIs
    (
        "model package ARN of a model",
        _promote(arn="arn:aws:sagemaker:us-east-1:123456789012:model/churn"),
        "Invalid model package ARN",
    ),
    (
        "model package ARN without a version",
        _set_approval(
            model_package_arn="arn:aws:sagemaker:us-east-1:123456789012:model-package/churn",
            status="Approved",
            reason="ok",
        ),
        "Invalid model package ARN",
    ),
    ("version that does not exist", _promote(arn=ARN.format(99)), "churn/99"),
    (
        "execution role that is not an IAM role ARN",
        _deploy(_one, execution_role_arn="sagemaker-role"),
        "'sagemaker-role'",
    ),
    (
        "artifact URL over HTTP",
        _register(model_data_url="https://example.com/model.tar.gz"),
        "https://example.com/model.tar.gz",
    ),
    (
        "artifact missing in S3",
        _register(model_data_url=lambda w: f"s3://{w['bucket']}/missing/model.tar.gz"),
        "missing/model.tar.gz",
    ),
    (
        "training data URI that is not S3",
        _register(training_data_uris=["/data/train.csv"]),
        "'/data/train.csv'",
    ),
    ("baseline that is not S3", _drift(baseline_uri="file:///baseline.csv"), "file:///baseline.csv"),
    # -- environments and ladders
    ("unknown environment", _promote(environment="staging"), "'staging'"),
    (
        "rollback to an unknown environment",
        _promote("rollback", environment="qa", group="churn"),
        "'qa'",
    ),
    ("resolve for an unknown environment", _resolve(environment="preprod"), "'preprod'"),
    (
        "ladder naming an environment twice",
        _promote(
            environment="dev",
            ladder={
                "environments": [
                    {"name": "dev", "approvers": ["bob"]},
                    {"name": "dev", "approvers": ["carol"]},
                ]
            },
        ),
        "dev appear twice",
    ),
    (
        "ladder environment without approvers",
        _promote(
            environment="dev",
            ladder={"audit_log": LADDER["audit_log"], "environments": [{"name": "dev", "approvers": []}]},
        ),
        "approver",
    ),
    ("ladder that is not JSON", _promote(environment="dev", ladder="{environments: dev}"), "ladder"),
    # -- statuses
    (
        "initial status with a typo",
        _register(initial_status="Approvedd"),
        "Invalid approval status 'Approvedd'",
    ),
    (
        "decision in lower case",
        _set_approval(status="approved", reason="ok"),
        "Invalid approval status 'approved'",
    ),
    ("decision that is not a status", _set_approval(status="Maybe", reason="ok"), "'Maybe'"),
    (
        "gate failure action that does not exist",
        _register(on_gate_failure="ignore", quality_gate={"minimums": {"auc": 0.5}}),
        "'ignore'",
    ),
    # -- weights and traffic
    (
        "negative weight",
        _deploy(
            lambda a: [
                {"name": "a", "model_package_arn": a, "weight": -10},
                {"name": "b", "model_package_arn": a, "weight": 110},
            ]
        ),
        "negative weight -10",
    ),
    ("all weights zero", _deploy(lambda a: _one(a, weight=0)), "All production variant weights are zero"),
    ("variant name used twice", _deploy(lambda a: _one(a) + _one(a)), "used twice"),
    (
        "instance type without the ml. prefix",
        _deploy(lambda a: _one(a, instance_type="m5.large")),
        "'m5.large'",
    ),
    (
        "capture percentage above 100",
        _deploy(_one, data_capture_uri="s3://capture/churn", capture_percent=150),
        "150",
    ),
    ("routing that does not exist", _deploy(_one, routing="sideways"), "'sideways'"),
    (
        "traffic steps that go down",
        _shift(to_variant="champion", from_variant="champion", steps=[50, 10, 100]),
        r"\[50, 10, 100\]|increas",
    ),
    ("traffic step above 100", _shift(steps=[10, 150]), "150"),
    ("shift to a variant the endpoint does not have", _shift(to_variant="ghost"), "'ghost'"),
    # -- metrics, thresholds and reports
    ("metric that is not a number", _register(metrics={"auc": float("nan")}), "finite number"),
    (
        "gate threshold that is not a number",
        _register(quality_gate={"minimums": {"auc": "high"}}),
        "expected a number",
    ),
    (
        "evaluation report that is not JSON",
        _register(metrics=None, report_key="reports/broken.json"),
        "broken.json",
    ),
    (
        "evaluation report with a word for a metric",
        _register(metrics=None, report_key="reports/words.json"),
        "'excellent'|excellent",
    ),
    ("drift threshold that is negative", _drift(thresholds={"f0": {"psi": -0.1}}), "psi=-0.1"),
    ("drift threshold that is not a check", _drift(thresholds={"f0": {"wasserstein": 0.1}}), "'wasserstein'"),
    (
        "training job ARN of an endpoint",
        _register(training_job_arn="arn:aws:sagemaker:us-east-1:123456789012:endpoint/x"),
        "Invalid training job ARN",
    ),
    ("drift source that does not exist", _drift(source="cloudwatch"), "'cloudwatch'"),
    (
        "evaluation report without metrics",
        _register(metrics=None, report_key="reports/empty.json"),
        "has no metrics",
    ),
    # -- sizes
    (
        "custom metadata value over 256 characters",
        _register(custom_metadata={"note": "x" * 300}),
        "at most 256",
    ),
    (
        "custom metadata with 60 entries",
        _register(custom_metadata={f"k{i}": "v" for i in range(60)}),
        "at most 50",
    ),
    (
        "custom metadata key with a forbidden character",
        _register(custom_metadata={"owner#team": "ml"}),
        "'owner#team'",
    ),
    (
        "approval reason over 1,000 characters",
        _set_approval(status="Rejected", reason="r" * 1500),
        "1500 characters",
    ),
]


@pytest.mark.parametrize(("case", "run", "expected"), CASES, ids=[case for case, _, _ in CASES])
def test_bad_input_is_refused_before_any_write(aws, world, tally, case, run, expected):
    aws.reset_calls()
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the message is what is checked
            run(world)
        message = str(raised.value)
        assert re.search(expected, message), f"unclear error for {case}: {message!r}"
        assert write_calls(aws) == {}, f"{case}: a write reached AWS before the error"
    except AssertionError as failure:
        tally.record("bad_input", case, "lost", str(failure))
        raise
    tally.record("bad_input", case, "refused", message)
