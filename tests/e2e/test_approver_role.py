"""The ``approver`` role on a live Airflow shaped like docker-compose.yaml: an approver answers a Required
Action, but Airflow refuses them marking the approval task or editing XCom (403). The approval form of a DAG
with a ``reason`` param of its own (as train_and_register has) starts with an empty Reason."""

from __future__ import annotations

import pytest

from airflow_modelreg.domain.approval import REASON_FIELD
from tests.e2e.live_rest import headers, run_path, trigger, wait_run
from tests.helpers import put_artifact, register_operator

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]

DAG_ID = "approve_with_reason_param"


@pytest.fixture
def pending_version(aws, bucket, make_context):
    return register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())


def test_an_approver_answers_but_cannot_mark_the_task_or_edit_xcom(live_airflow, rest, aws, pending_version):
    run_id = trigger(
        rest, DAG_ID, {"arn": pending_version["arn"], "approvers": ["bob"], "reason": "scheduled training"}
    )
    bob = rest.approver("bob")
    request = bob.wait_for(DAG_ID, timeout=180)
    assert request.run_id == run_id
    # The form Airflow serves: one field, of a name no run param has, empty.
    assert list(request.params) == [REASON_FIELD], request.params
    assert request.params[REASON_FIELD]["value"] in ("", None), request.params

    as_bob = headers(rest, "bob")
    task = f"{run_path(DAG_ID, run_id)}/taskInstances/approve"
    refused = {
        "mark the approval task success": rest.patch(task, json={"new_state": "success"}, headers=as_bob),
        "mark it failed (dry run)": rest.patch(
            f"{task}/dry_run", json={"new_state": "failed"}, headers=as_bob
        ),
        "edit its XCom": rest.patch(
            f"{task}/xcomEntries/return_value", json={"value": {"status": "Approved"}}, headers=as_bob
        ),
        "add an XCom": rest.post(
            f"{task}/xcomEntries", json={"key": "forged", "value": "Approved"}, headers=as_bob
        ),
        "clear it": rest.post(
            f"/api/v2/dags/{DAG_ID}/clearTaskInstances",
            json={"dry_run": True, "dag_run_id": run_id, "task_ids": ["approve"]},
            headers=as_bob,
        ),
        "trigger a run": rest.post(
            f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None}, headers=as_bob
        ),
    }
    assert {what: response.status_code for what, response in refused.items()} == dict.fromkeys(refused, 403)
    # ...while reading what an approver needs works.
    assert rest.get(run_path(DAG_ID, run_id), headers=as_bob).status_code == 200
    assert rest.get(f"{task}/-1/hitlDetails", headers=as_bob).status_code == 200

    answered = bob.approve(request, reason="reviewed as an approver")
    assert answered["chosen_options"] == ["Approve"]  # 200: the answer was taken
    assert wait_run(rest, DAG_ID, run_id) == "success"
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=pending_version["arn"])
    assert described["ModelApprovalStatus"] == "Approved"
    assert "Reason: reviewed as an approver" in described["ApprovalDescription"]
