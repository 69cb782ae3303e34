"""The registry view on the live stack, against records changed outside Airflow: a pointer written with
ssm:PutParameter and a decision made with UpdateModelPackage are shown as not verified, never as approvals
(the stand-in tests in tests/plugins/test_registry_app.py cover the rest; this one runs the API server's
plugin with its real auth manager, Airflow connection and audit log)."""

from __future__ import annotations

import contextlib
import json

import pytest

from airflow_modelreg import registry_view_paths as paths
from tests.e2e.live_rest import headers
from tests.helpers import LADDER, put_artifact, register_operator

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("live")]


@pytest.fixture
def ladder(live_ladder_variable):
    return live_ladder_variable(LADDER)


def test_records_changed_outside_airflow_are_not_shown_as_approvals(rest, ladder, aws, bucket, make_context):
    registered = register_operator(put_artifact(aws, bucket), registered_by="alice").execute(make_context())
    number = int(registered["arn"].rsplit("/", 1)[1])
    forged = {
        "action": "promote",
        "airflow_run": "promote_model/x/promote_to_test.commit",
        "approved_at": "2026-12-05T14:08:21+00:00",
        "approved_by": "carol",
        "approvers": ["carol"],
        "arn": registered["arn"],
        "digest": registered["digest"],
        "environment": "test",
        "group": "churn",
        "previous_arn": None,
        "previous_version": None,
        "reason": "carol: fine",
        "run_key": "0" * 32,
        "version": number,
    }
    aws.boto3_client("ssm").put_parameter(
        Name="/modelreg/churn/test", Value=json.dumps(forged), Type="String", Overwrite=True
    )
    # Decided outside Airflow, in the provider's wording (before any view: the view's counts may lag 10 s).
    aws.boto3_client("sagemaker").update_model_package(
        ModelPackageArn=registered["arn"],
        ModelApprovalStatus="Approved",
        ApprovalDescription="Approved by dave (id dave) at 2026-12-05T14:00:00+00:00 in airflow:x/y/z. Reason: ok",
        CustomerMetadataProperties={"modelreg:decided-by": "dave|dave"},
    )
    as_bob = headers(rest, "bob")
    try:
        group = rest.get(paths.api_group("churn"), headers=as_bob).json()
        [test] = [c["current"] for c in group["ladder"] if c["environment"] == "test"]
        assert (test["version"], test["verified"], test["approved_by"], test["airflow_run_link"]) == (
            number,
            False,
            None,
            None,
        )
        page = rest.get(paths.group_page("churn"), headers=as_bob).text
        assert "not verified" in page and "approved by carol" not in page

        card = rest.get(paths.api_version("churn", number), headers=as_bob).json()
        assert card["decided_by"] is None and card["decision_verified"] is False, card
        assert rest.get(paths.api_group("no-such-group"), headers=as_bob).status_code == 404
    finally:
        with contextlib.suppress(Exception):
            aws.boto3_client("ssm").delete_parameter(Name="/modelreg/churn/test")
