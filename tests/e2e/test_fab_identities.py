"""Approvers under the FAB auth manager, with real users in its database, through the REST API.

FAB's user ids are numbers from its ``ab_user`` table, while the ladder names approvers by user name, and
Airflow checks an answer against ``assigned_users`` by id. These tests run the compose stack with the FAB
auth manager (nobody an admin: people have FAB's ``User`` role) and the ladder's
``{"kind": "fab", "conn_id": "airflow_metadata"}`` identities, and check that the right people (and only
they) can answer, and that the registry records names, not numbers.
"""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from airflow_modelreg.testing.approver import ApprovalRefused, ScriptedApprover
from airflow_modelreg.testing.harness import USERS
from airflow_modelreg.testing.live import FabComposeStack
from tests.conftest import DAG_FOLDERS, ROOT
from tests.e2e.conftest import compose_base_environment
from tests.e2e.live_rest import trigger, wait_run
from tests.helpers import LADDER, put_artifact, register_operator

# Its own stack, on whichever xdist worker is free (the SimpleAuthManager stack is group "live").
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("fab")]

FAB_LADDER = {
    **LADDER,
    "registration_approvers": ["bob", "carol"],
    "identities": {"kind": "fab", "conn_id": FabComposeStack.METADATA_CONN_ID},
}


@pytest.fixture(scope="module")
def fab_airflow(standin):
    home = Path(tempfile.mkdtemp(prefix="modelreg-fab-airflow-"))
    stack = FabComposeStack(
        ROOT / "docker-compose.yaml",
        home,
        base_environment=compose_base_environment(home, list(DAG_FOLDERS)),
        people={**USERS, "admin": secrets.token_urlsafe(16)},
        aws_address=standin.endpoint_url.split("//", 1)[1],
        extra_environment={"AIRFLOW_VAR_MODELREG_LADDER": json.dumps(FAB_LADDER)},
        celery_workers=1,
    )
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture
def fab_rest(fab_airflow):
    client = httpx.Client(base_url=fab_airflow.base_url, timeout=60)
    yield client
    client.close()


def _approver(client: httpx.Client, name: str) -> ScriptedApprover:
    return ScriptedApprover(client, name, USERS[name])


def _fab_ids(stack: FabComposeStack) -> dict[str, str]:
    engine = sa.create_engine(stack.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    try:
        with engine.connect() as db:
            return {
                name: str(user_id)
                for user_id, name in db.execute(sa.text("SELECT id, username FROM ab_user"))
            }
    finally:
        engine.dispose()


def _asked(fab_rest, aws, bucket, make_context, registered_by: str, approvers: list[str], person: str):
    """A version registered by ``registered_by``, its approval requested from ``approvers``, and the request
    as ``person`` sees it awaiting input. Returns (version, run id, ``person``'s approver, the request)."""
    version = register_operator(put_artifact(aws, bucket), registered_by=registered_by).execute(
        make_context()
    )
    run_id = trigger(fab_rest, "approve_version", {"arn": version["arn"], "approvers": approvers})
    approver = _approver(fab_rest, person)
    request = approver.wait_for("approve_version", timeout=300)
    assert request.run_id == run_id
    return version, run_id, approver, request


def test_fab_approvers_are_asked_by_their_numeric_ids_and_only_they_can_answer(
    fab_airflow, fab_rest, aws, bucket, make_context
):
    version, run_id, bob, request = _asked(fab_rest, aws, bucket, make_context, "alice", ["bob"], "bob")
    ids = _fab_ids(fab_airflow)
    assert ids["bob"].isdigit() and ids["bob"] != "bob"
    # Asked by the auth manager's id (what Airflow checks), shown by name (what people know).
    assert request.assigned_users == [{"id": ids["bob"], "name": "bob"}]

    # A FAB user with the same role who is not bob: refused by Airflow's own assigned-users check.
    for intruder in ("mallory", "alice"):
        with pytest.raises(ApprovalRefused) as refused:
            _approver(fab_rest, intruder).approve(request, reason=f"{intruder} says yes")
        assert refused.value.status_code == 403, refused.value.detail

    bob.approve(request, reason="reviewed under FAB")
    assert wait_run(fab_rest, "approve_version", run_id, timeout=300) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    # The registry names the person, not FAB's row number.
    assert "by bob" in described["ApprovalDescription"]
    assert f"by {ids['bob']}" not in described["ApprovalDescription"]
    assert "reviewed under FAB" in described["ApprovalDescription"]


def test_fab_registrant_is_not_asked_and_cannot_answer_by_id_or_name(
    fab_airflow, fab_rest, aws, bucket, make_context
):
    """Separation of duties compares names with names: bob registered, so bob's FAB id is never assigned
    even though the ladder lists him, and his answer is refused; carol decides."""
    version, run_id, carol, request = _asked(
        fab_rest, aws, bucket, make_context, "bob", ["bob", "carol"], "carol"
    )
    ids = _fab_ids(fab_airflow)
    assert request.assigned_users == [{"id": ids["carol"], "name": "carol"}]

    with pytest.raises(ApprovalRefused) as refused:
        _approver(fab_rest, "bob").approve(request, reason="my own model is fine")
    assert refused.value.status_code == 403, refused.value.detail

    carol.reject(request, reason="independent review says no")
    assert wait_run(fab_rest, "approve_version", run_id, timeout=300) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=version["arn"])
    assert described["ModelApprovalStatus"] == "Rejected"
    assert "by carol" in described["ApprovalDescription"]
