"""Credentials and connection extras never reach task logs, XCom or notifications.

The AWS connection carries sentinel credentials (the stand-in accepts any); a registration, an approval
DAG run that emails its approver, a promotion and a deployment then run with it, and every place a secret
could leak is searched for the sentinels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import AIRFLOW_ENV
from tests.helpers import LADDER
from tests.reliability import workflow

SENTINELS = {
    "access key id": "AKIASENTINEL7F3A9KEY",
    "secret access key": "sentinel-secret-7f3a9-do-not-log",
    "session token": "sentinel-session-token-7f3a9",
}


@pytest.fixture
def secretive_connection(aws, monkeypatch):
    extra = {**aws.connection_extra(), "aws_session_token": SENTINELS["session token"]}
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {
                "conn_type": "aws",
                "login": SENTINELS["access key id"],
                "password": SENTINELS["secret access key"],
                "extra": extra,
            }
        ),
    )


def _xcom_values(dag_run) -> list[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).all()
        return [json.dumps(XComModel.deserialize_value(row), default=str) for row in rows]


def test_credentials_appear_in_no_log_xcom_or_email(
    airflow, aws, secretive_connection, make_context, smtp_server, capfd, tally, ladder_variable
):
    ladder_variable(LADDER)
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    places: dict[str, str] = {}
    registered = workflow.register(aws, make_context, "run-1", b"one")
    places["register XCom"] = json.dumps(registered, default=str)

    def bob_approves():
        bob = airflow.approver("bob")
        return bob.approve(bob.wait_for("approve_with_email"), reason="ok")

    dag_run = airflow.run("approve_with_email", {"arn": registered["arn"]}, bob_approves)
    assert str(dag_run.state) == "success"
    places["approval DAG run XCom"] = "\n".join(_xcom_values(dag_run))
    places["approval email"] = "\n".join(message.as_string() for _, message in smtp_server.messages)
    assert smtp_server.messages, "the approver was not emailed"

    promoted = workflow.promote(registered["arn"], "dev", make_context, run_id="promote-1-dev")
    places["promotion XCom"] = json.dumps(promoted, default=str)
    second = workflow.register(aws, make_context, "run-2", b"two")
    workflow.approve(second["arn"], make_context, run_id="approve-2")
    # Both up to prod (prod runs the second and ran the first): what the deployment may serve.
    for arn, name, environments in (
        (registered["arn"], "1", ("test", "uat", "prod")),
        (second["arn"], "2", ("dev", "test", "uat", "prod")),
    ):
        for environment in environments:
            workflow.promote(arn, environment, make_context, run_id=f"promote-{name}-{environment}")
    places["deployment XCom"] = json.dumps(
        workflow.deploy(registered["arn"], second["arn"], make_context), default=str
    )
    out, err = capfd.readouterr()
    places["task logs (stdout and stderr)"] = out + err
    logs = Path(AIRFLOW_ENV["AIRFLOW_HOME"]) / "logs"
    files = [path for path in logs.rglob("*") if path.is_file()]
    if files:  # dag.test logs to standard output; a worker would write these
        places["task log files"] = "\n".join(path.read_text(errors="replace") for path in files)
    assert places["task logs (stdout and stderr)"], "nothing was logged: the search would prove nothing"

    for place, text in places.items():
        found = [name for name, secret in SENTINELS.items() if secret in text]
        case = f"credentials in {place}"
        if found:
            tally.record("secrets", case, "lost", f"found the {', '.join(found)}")
        else:
            tally.record("secrets", case, "survived", f"searched {len(text):,} characters")
        assert not found, f"{', '.join(found)} leaked into {place}"
