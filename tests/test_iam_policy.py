"""The shipped IAM policy, proven: the lifecycle passes with only ``iam/modelreg-dag-role.json``, and fails at
the step that needs a statement, naming the refused action, when that statement is taken away.

The stand-in runs in its own process with moto's IAM enforcement on (enforcement is process-wide in moto, so
the shared stand-in of the other tests stays open). It evaluates every call against the ARN of the resource
it acts on (``airflow_modelreg.testing.iam``), so a statement whose ``Resource`` is too narrow fails too.
Conditions, ``iam:PassRole`` and CloudWatch resources are not checked there; README "IAM" says what that leaves.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from airflow_modelreg.testing.standin import StandInClient
from tests.helpers import IMAGE, answer, promote, put_alarm_with

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT, REGION = "123456789012", "us-east-1"
AUDIT_BUCKET, MODEL_BUCKET = "modelreg-audit-iam", "modelreg-models-iam"
ROLE_NAME = "sagemaker-execution"
PLACEHOLDERS = {
    "ACCOUNT_ID": ACCOUNT,
    "REGION": REGION,
    "AUDIT_BUCKET": AUDIT_BUCKET,
    "MODEL_BUCKET": MODEL_BUCKET,
    "EXECUTION_ROLE_NAME": ROLE_NAME,
    "AIRFLOW_ROLE_NAME": "modelreg-airflow",
    "REVIEWER_ROLE_NAME": "model-risk-reviewers",
    "IMAGE_REPOSITORY": "churn-inference",
}
# One enforcing stand-in process for the module: its tests stay on one xdist worker (make test's loadgroup).
pytestmark = pytest.mark.xdist_group("iam_policy")
STEPS = ("register", "approve", "promote", "deploy", "shift", "drift")


def dag_param_default(dag_file: str, name: str) -> Any:
    """A reference DAG's default for one of its params (``"name": Param(default, ...)``), read from its source."""
    tree = ast.parse((ROOT / "dags" / dag_file).read_text())
    found = [
        value.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Dict)
        for key, value in zip(node.keys, node.values, strict=True)
        if isinstance(key, ast.Constant) and key.value == name and isinstance(value, ast.Call) and value.args
    ]
    assert len(found) == 1, f"{dag_file}: no single {name!r} param"
    return found[0]


def reference_report_prefix() -> str:
    """Where the reference drift DAGs write their reports by default, in this account's MODEL_BUCKET: the DAG
    role must be allowed to write there (WriteReports) and the registry view to read it (ReadDriftReports).
    The reference DAGs' model bucket is train_and_register's ``bucket`` param."""
    prefixes = {
        dag_param_default(f, "report_prefix") for f in ("monitor_drift.py", "monitor_drift_fanout.py")
    }
    assert len(prefixes) == 1, f"the reference drift DAGs write their reports to different places: {prefixes}"
    [prefix] = prefixes
    model_bucket = dag_param_default("train_and_register.py", "bucket")
    assert prefix.startswith(f"s3://{model_bucket}/"), f"{prefix} is not in the model bucket {model_bucket}"
    return prefix.replace(f"s3://{model_bucket}/", f"s3://{MODEL_BUCKET}/", 1)


def policy(name: str) -> dict[str, Any]:
    """A shipped policy document with its placeholders filled in for the stand-in's account."""
    text = (ROOT / "iam" / name).read_text()
    for placeholder, value in PLACEHOLDERS.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


class EnforcingStandIn:
    """A stand-in process enforcing IAM, an administrator for set-up, and the DAG role's user."""

    def __init__(self, tmp: Path) -> None:
        url_file = tmp / "url"
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "airflow_modelreg.testing.standin",
                "--port",
                "0",
                "--url-file",
                str(url_file),
            ],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while not url_file.exists() or not url_file.read_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the enforcing stand-in did not start")
            time.sleep(0.05)
        self.url = url_file.read_text()
        self.control = StandInClient(self.url)
        # Set-up while calls are still free (moto's default): the two users and their keys.
        iam = self._client("iam", "testing", "testing")
        for user in ("admin", "modelreg-dag"):
            iam.create_user(UserName=user)
        iam.put_user_policy(
            UserName="admin",
            PolicyName="everything",
            PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
            ),
        )
        self.admin_keys = self._keys(iam, "admin")
        self.dag_keys = self._keys(iam, "modelreg-dag")
        # Every document parses as IAM reads it (moto validates a managed policy's grammar).
        for name in sorted(p.name for p in (ROOT / "iam").glob("*.json")):
            document = json.dumps(policy(name))
            if "trust" in name:
                iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=document)
            else:
                iam.create_policy(PolicyName=name.removesuffix(".json"), PolicyDocument=document)
        self.reset_auth(0)  # from here on every call is checked, set-up included

    def reset_auth(self, free_calls: float) -> None:
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=str(free_calls).encode(),
            method="POST",
            headers={"Content-Type": "text/plain"},  # moto reads the raw body; a form would be parsed away
        )
        urllib.request.urlopen(request, timeout=30).read()

    def _client(self, service: str, key: str, secret: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
        )

    @staticmethod
    def _keys(iam: Any, user: str) -> tuple[str, str]:
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def admin(self, service: str) -> Any:
        return self._client(service, *self.admin_keys)

    def grant(self, document: dict[str, Any]) -> None:
        """Give the DAG role's user exactly this policy."""
        self.admin("iam").put_user_policy(
            UserName="modelreg-dag", PolicyName="modelreg-dag-role", PolicyDocument=json.dumps(document)
        )

    def connection(self) -> str:
        key, secret = self.dag_keys
        extra = {"endpoint_url": self.url, "region_name": REGION}
        return json.dumps({"conn_type": "aws", "login": key, "password": secret, "extra": extra})

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def enforcing(tmp_path_factory):
    standin = EnforcingStandIn(tmp_path_factory.mktemp("iam-standin"))
    try:
        s3 = standin.admin("s3")
        for bucket in (AUDIT_BUCKET, MODEL_BUCKET):
            s3.create_bucket(Bucket=bucket)
        standin.control.settings(transition_seconds=0.2)
        yield standin
    finally:
        standin.stop()


@pytest.fixture
def dag_role(enforcing, monkeypatch):
    """The provider's hooks talk to the enforcing stand-in as the DAG role's user (``aws_default``)."""
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", enforcing.connection())
    return enforcing


class Lifecycle:
    """register, approve, promote, deploy, shift traffic, detect drift: each step as its task runs it, through
    the provider's operators, for a group and endpoint of its own."""

    def __init__(self, standin: EnforcingStandIn, make_context: Any) -> None:
        self.standin, self.context = standin, make_context
        self.group = f"iam-{uuid.uuid4().hex[:8]}"
        self.endpoint = f"{self.group}-prod"
        self.alarm = f"{self.endpoint}-5xx"
        self.ladder = {
            "registration_approvers": ["bob"],
            "audit_log": f"s3://{AUDIT_BUCKET}/log",
            "environments": [{"name": "prod", "approvers": ["dave"], "endpoints": [self.endpoint]}],
        }
        self.arns: list[str] = []
        # What people and SageMaker do meanwhile (the training output, an alarm), as the administrator.
        s3 = standin.admin("s3")
        for index in (0, 1):
            s3.put_object(
                Bucket=MODEL_BUCKET, Key=f"{self.group}/{index}/model.tar.gz", Body=f"m{index}".encode()
            )
        put_alarm_with(standin.admin("cloudwatch"), self.alarm)

    def run(self) -> tuple[str | None, str]:
        """Run every step; returns the step that failed (None: all passed) and its error."""
        for step in STEPS:
            try:
                getattr(self, step)()
            except Exception as error:
                causes, current = [], error
                while current is not None:
                    causes.append(f"{type(current).__name__}: {current}")
                    current = current.__cause__ or current.__context__
                return step, " <- ".join(causes)
        return None, ""

    def register(self) -> None:
        from airflow_modelreg.operators.register import RegisterModelVersionOperator

        for index in (0, 1):
            operator = RegisterModelVersionOperator(
                task_id="register",
                group=self.group,
                model_data_url=f"s3://{MODEL_BUCKET}/{self.group}/{index}/model.tar.gz",
                image_uri=IMAGE,
                metrics={"auc": 0.91},
                commit_id="3f2a9c1",
                registered_by="alice",
                ladder=self.ladder,
            )
            self.arns.append(operator.execute(self.context(run_id=f"{self.group}-register-{index}"))["arn"])

    def approve(self) -> None:
        from airflow_modelreg.operators.approval import RequestModelApprovalOperator

        for index, arn in enumerate(self.arns):
            operator = RequestModelApprovalOperator(
                task_id="approve", model_package_arn=arn, ladder=self.ladder
            )
            operator.execute_complete(
                self.context(task_id="approve", run_id=f"{self.group}-approve-{index}"),
                answer("bob", reason="reviewed"),
            )

    def promote(self) -> None:
        for index, arn in enumerate(self.arns):
            promote(arn, "prod", self.context, ladder=self.ladder, run_id=f"{self.group}-promote-{index}")

    def deploy(self) -> None:
        from airflow_modelreg.operators.deploy import DeployModelOperator

        champion, challenger = self.arns
        DeployModelOperator(
            task_id="deploy",
            environment="prod",
            endpoint_name=self.endpoint,
            variants=[
                {"name": "champion", "model_package_arn": champion, "weight": 100},
                {"name": "challenger", "model_package_arn": challenger, "weight": 0},
            ],
            execution_role_arn=f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}",
            data_capture_uri=f"s3://{MODEL_BUCKET}/capture",
            poll_interval=0.1,
            ladder=self.ladder,
        ).execute(self.context(task_id="deploy", run_id=f"{self.group}-deploy"))

    def shift(self) -> None:
        from airflow_modelreg.operators.traffic import ShiftTrafficOperator

        result = ShiftTrafficOperator(
            task_id="shift",
            environment="prod",
            endpoint_name=self.endpoint,
            to_variant="challenger",
            from_variant="champion",
            alarms=[self.alarm],
            steps=[50, 100],
            bake_seconds=0.1,
            poll_interval=0.1,
            ladder=self.ladder,
        ).execute(self.context(task_id="shift", run_id=f"{self.group}-shift"))
        assert result["weights"] == {"challenger": 100.0, "champion": 0.0}, result

    def drift(self) -> None:
        from airflow_modelreg.demo.traffic import baseline_csv, write_capture
        from airflow_modelreg.sensors.drift import ModelDriftSensor

        s3 = self.standin.admin("s3")  # what SageMaker's data capture and the training job wrote
        s3.put_object(Bucket=MODEL_BUCKET, Key=f"{self.group}/baseline.csv", Body=baseline_csv().encode())
        when = datetime.now(UTC) - timedelta(hours=1)
        write_capture(s3, f"s3://{MODEL_BUCKET}/capture", self.endpoint, "challenger", 600, 0.0, when, seed=1)
        sensor = ModelDriftSensor(
            task_id="detect_drift",
            source="data_capture",
            capture_prefix=f"s3://{MODEL_BUCKET}/capture/{self.endpoint}",
            baseline_uri=f"s3://{MODEL_BUCKET}/{self.group}/baseline.csv",
            report_prefix=reference_report_prefix(),
            min_rows=500,
            window_hours=24,
        )
        assert sensor.poke(self.context(task_id="detect_drift", run_id=f"{self.group}-drift")) is True
        assert sensor._report["drift_detected"] is False, sensor._report
        self.drift_report = sensor._report


def without(document: dict[str, Any], sid: str) -> dict[str, Any]:
    kept = [statement for statement in document["Statement"] if statement["Sid"] != sid]
    assert len(kept) == len(document["Statement"]) - 1, f"no statement {sid!r} in the shipped policy"
    return {**document, "Statement": kept}


def test_the_whole_lifecycle_passes_with_only_the_shipped_policy(dag_role, make_context):
    dag_role.grant(policy("modelreg-dag-role.json"))
    failed, error = Lifecycle(dag_role, make_context).run()
    assert failed is None, f"step {failed!r} failed with only the shipped policy: {error}"


# A sample of statements, each with the step that first needs it and the action refused there.
REMOVED = [
    ("RegistryGroups", "register", "sagemaker:DescribeModelPackageGroup"),
    ("RegisterVersions", "register", "sagemaker:CreateModelPackage"),
    ("AuditLogObjects", "register", "s3:GetObject"),
    ("RecordDecisionsAndStages", "approve", "sagemaker:UpdateModelPackage"),
    ("Pointers", "promote", "ssm:GetParameter"),
    ("Models", "deploy", "sagemaker:DescribeModel"),
    ("Endpoints", "deploy", "sagemaker:DescribeEndpoint"),
    ("EndpointTraffic", "shift", "sagemaker:UpdateEndpointWeightsAndCapacities"),
    ("AlarmsAndMetrics", "shift", "cloudwatch:DescribeAlarms"),
    ("ListModelData", "drift", "s3:ListBucket"),
    ("WriteReports", "register", "s3:PutObject"),
]


@pytest.mark.parametrize(("sid", "step", "action"), REMOVED, ids=[sid for sid, _, _ in REMOVED])
def test_each_statement_is_needed_by_the_step_named(dag_role, make_context, sid, step, action):
    dag_role.grant(without(policy("modelreg-dag-role.json"), sid))
    failed, error = Lifecycle(dag_role, make_context).run()
    assert failed == step, f"without {sid}, expected {step!r} to fail; failed: {failed!r} {error}"
    assert f"is not authorized to perform: {action}" in error, error


def test_a_resource_too_narrow_is_refused_naming_the_resource(dag_role, make_context):
    """Resources are checked, not only actions: pointers outside the statement's path are refused."""
    document = policy("modelreg-dag-role.json")
    for statement in document["Statement"]:
        if statement["Sid"] == "Pointers":
            statement["Resource"] = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/other/*"
    dag_role.grant(document)
    lifecycle = Lifecycle(dag_role, make_context)
    failed, error = lifecycle.run()
    assert failed == "promote", error
    assert (
        f"ssm:GetParameter on resource: arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/modelreg/{lifecycle.group}/"
        in error
    ), error


def test_the_reference_dags_drift_reports_need_the_reports_resource_of_write_reports(dag_role, make_context):
    """The reference drift DAGs' default report_prefix (what the drift step writes to) is what WriteReports
    grants, and only that: without its ``reports/*`` resource, the drift step is refused on that prefix."""
    document = policy("modelreg-dag-role.json")
    [statement] = [s for s in document["Statement"] if s["Sid"] == "WriteReports"]
    statement["Resource"] = [r for r in statement["Resource"] if not r.endswith("/reports/*")]
    dag_role.grant(document)
    failed, error = Lifecycle(dag_role, make_context).run()
    assert failed == "drift", error
    bucket, _, key = reference_report_prefix().removeprefix("s3://").partition("/")
    assert f"s3:PutObject on resource: arn:aws:s3:::{bucket}/{key}/" in error, error


def test_the_registry_view_reads_everything_with_only_its_read_only_policy(dag_role, make_context):
    """``iam/modelreg-registry-view.json`` (the API server's role): every read of the view passes after a
    whole lifecycle, and it allows no write."""
    document = policy("modelreg-registry-view.json")
    actions = [
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    ]
    assert all(a.split(":")[1].startswith(("List", "Describe", "Get")) for a in actions), actions
    lifecycle = lifecycle_then_view_role(dag_role, make_context, document)
    view_reads(lifecycle)


VIEW_REMOVED = [
    ("ReadVersions", "sagemaker:DescribeModelPackage"),
    ("ReadPointers", "ssm:GetParameterHistory"),
    ("ReadEndpoints", "sagemaker:DescribeEndpoint"),
    ("ReadAuditLog", "s3:GetObject"),
    ("ReadDriftReports", "s3:GetObject"),
]


@pytest.mark.parametrize(("sid", "action"), VIEW_REMOVED, ids=[sid for sid, _ in VIEW_REMOVED])
def test_each_statement_of_the_view_policy_is_needed(dag_role, make_context, sid, action):
    lifecycle = lifecycle_then_view_role(
        dag_role, make_context, without(policy("modelreg-registry-view.json"), sid)
    )
    with pytest.raises(Exception, match=f"is not authorized to perform: {action}"):
        view_reads(lifecycle)


def lifecycle_then_view_role(dag_role: EnforcingStandIn, make_context: Any, view_policy: dict) -> Lifecycle:
    dag_role.grant(policy("modelreg-dag-role.json"))
    lifecycle = Lifecycle(dag_role, make_context)
    assert lifecycle.run() == (None, "")
    dag_role.grant(view_policy)
    return lifecycle


def view_reads(lifecycle: Lifecycle) -> None:
    """What the registry view reads of a group, checked against what the lifecycle did."""
    from airflow_modelreg.domain.audit import row
    from airflow_modelreg.domain.environments import EnvironmentLadder
    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData("aws_default", lambda: EnvironmentLadder.from_config(lifecycle.ladder))
    group = lifecycle.group
    assert group in data.group_names()
    data.index(group)
    assert [version["version"] for version in data.versions_page(group)["versions"]] == [2, 1]
    [prod] = data.ladder_columns(group)
    assert prod["current"]["version"] == 2 and len(prod["history"]) == 2
    # The view checks the pointers and decisions against the audit log as the operators do: what the
    # lifecycle wrote is verified (a read the policy denies leaves it unverified, saying why).
    assert prod["current"]["verified"], "; ".join(prod["current"]["problems"])
    assert all(h["verified"] for h in prod["history"]), "; ".join(
        p for h in prod["history"] for p in h["problems"]
    )
    decided = [v for v in data.versions_page(group)["versions"] if "decision_verified" in v]
    assert decided, "no decision checked"
    assert all(v["decision_verified"] for v in decided), "; ".join(
        str(v["decision_problem"]) for v in decided
    )
    assert data.pending(group) == []
    [endpoint] = data.endpoints()
    assert {v["name"]: v["serves"]["version"] for v in endpoint["variants"]} == {
        "champion": 1,
        "challenger": 2,
    }
    card = data.version(group, 2)
    assert card["runs_in"] == ["prod"] and {r["what"] for r in card["runs"]} >= {"decided", "promoted"}
    assert {row(event)["event"] for event in data.audit(group)} >= {"registered", "promoted", "deployed"}
    content_type, _ = data.drift_report(lifecycle.drift_report["report_html_uri"])
    assert content_type.startswith("text/html")


def test_the_dag_role_cannot_overwrite_a_model_artifact(dag_role):
    """WriteReports lets the DAG role write evaluation documents and drift reports, never the artifacts a
    version's digest was taken of, nor anything else in the model bucket."""
    from botocore.exceptions import ClientError

    dag_role.grant(policy("modelreg-dag-role.json"))
    s3 = dag_role._client("s3", *dag_role.dag_keys)
    s3.put_object(Bucket=MODEL_BUCKET, Key="churn/7/evaluation-run.json", Body=b"{}")
    s3.put_object(Bucket=MODEL_BUCKET, Key="reports/churn/drift.json", Body=b"{}")
    for key in ("churn/7/model.tar.gz", "churn/baseline.csv", "evaluation-run.json.tar.gz"):
        with pytest.raises(ClientError, match="AccessDenied"):
            s3.put_object(Bucket=MODEL_BUCKET, Key=key, Body=b"replaced")
