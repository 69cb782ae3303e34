"""Governance attacks through a live Airflow's REST API: what someone with Airflow's edit rights can do from
the UI or the API (clear old tasks), refused by the provider on the real scheduler and workers."""

from __future__ import annotations

import pytest

from tests.e2e.live_rest import clear, trigger, wait_run
from tests.helpers import put_artifact, read_pointer, register_operator

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]


def _approved_in_the_registry(aws, bucket, make_context, run_id: str, body: bytes) -> str:
    artifact = put_artifact(aws, bucket, key=f"churn/{run_id}/model.tar.gz", body=body)
    version = register_operator(artifact, registered_by="alice").execute(make_context(run_id=run_id))
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=version["arn"], ModelApprovalStatus="Approved"
    )
    return version["arn"]


def _promote_to_dev(rest, arn: str) -> str:
    run_id = trigger(rest, "promote_one", {"arn": arn, "environment": "dev"})
    bob = rest.approver("bob")
    request = bob.wait_for("promote_one", timeout=300)
    assert request.run_id == run_id
    bob.approve(request, reason="ready for dev")
    assert wait_run(rest, "promote_one", run_id, timeout=300) == "success"
    return run_id


def _dev_history(aws) -> list[str]:
    import json

    history = aws.boto3_client("ssm").get_parameter_history(Name="/modelreg/churn/dev")["Parameters"]
    return [json.loads(entry["Value"])["arn"] for entry in history]


def test_clearing_an_old_promotion_through_the_rest_api_never_re_points_the_environment(
    live_airflow, rest, aws, bucket, make_context
):
    v1 = _approved_in_the_registry(aws, bucket, make_context, "r1", b"one")
    v2 = _approved_in_the_registry(aws, bucket, make_context, "r2", b"two")
    run_a = _promote_to_dev(rest, v1)
    _promote_to_dev(rest, v2)
    assert read_pointer(aws, "dev")["arn"] == v2
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=v1, ModelApprovalStatus="Rejected", ApprovalDescription="data leak"
    )

    # alice may clear tasks in Airflow. Clearing run A's commit re-runs it: it reports what it did then.
    clear(rest, "promote_one", run_a, ["promote.commit"])
    assert wait_run(rest, "promote_one", run_a, timeout=300) == "success"
    assert read_pointer(aws, "dev")["arn"] == v2
    assert _dev_history(aws) == [v1, v2]

    # Clearing the whole run asks nobody and commits nothing: the rejected v1 is refused at once.
    clear(rest, "promote_one", run_a)
    assert wait_run(rest, "promote_one", run_a, timeout=300) == "failed"
    assert read_pointer(aws, "dev")["arn"] == v2
    assert _dev_history(aws) == [v1, v2]
