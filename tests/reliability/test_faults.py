"""The whole workflow while the stand-in throttles or fails 30% of all calls: every step completes through
botocore's standard retries (the provider's hooks configure them), and nothing is duplicated."""

from __future__ import annotations

import json

import pytest

from airflow_modelreg.operators.resolve import ResolveApprovedModelOperator
from tests.helpers import LADDER, read_pointer
from tests.reliability import workflow

RATE = 0.3


@pytest.mark.slow(seconds=200)
@pytest.mark.parametrize("seed", [1])
def test_every_step_completes_under_throttling_and_5xx(aws, make_context, tally, seed):
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    aws.inject_faults(rate=RATE, kinds=["throttle", "5xx"], seed=seed)
    label = f"{RATE:.0%} throttling and 5xx, seed {seed}"
    steps: list[str] = []

    def step(name, call):
        try:
            result = call()
        except Exception as error:
            tally.record("faults", f"{name} ({label})", "lost", repr(error))
            raise
        steps.append(name)
        return result

    first = step("register v1", lambda: workflow.register(aws, make_context, "run-1", b"one"))
    again = step(
        "register v1 again (task retry)", lambda: workflow.register(aws, make_context, "run-1", b"one")
    )
    second = step("register v2", lambda: workflow.register(aws, make_context, "run-2", b"two"))
    step("approve v1", lambda: workflow.approve(first["arn"], make_context, run_id="approve-1"))
    step("approve v2", lambda: workflow.approve(second["arn"], make_context, run_id="approve-2"))
    for environment in ("dev", "test", "uat", "prod"):
        step(
            f"promote v1 to {environment}",
            lambda environment=environment: workflow.promote(
                first["arn"], environment, make_context, run_id=f"promote-1-{environment}"
            ),
        )
    for environment in ("dev", "test", "uat", "prod"):
        step(
            f"promote v2 to {environment}",
            lambda environment=environment: workflow.promote(
                second["arn"], environment, make_context, run_id=f"promote-2-{environment}"
            ),
        )
    deployed = step("deploy A/B", lambda: workflow.deploy(first["arn"], second["arn"], make_context))
    redeployed = step("deploy A/B again", lambda: workflow.deploy(first["arn"], second["arn"], make_context))
    shifted = step("shift traffic to the challenger", lambda: workflow.shift(make_context))
    resolved = step(
        "resolve the prod model",
        lambda: ResolveApprovedModelOperator(
            task_id="resolve", group="churn", environment="prod", ladder=LADDER
        ).execute(make_context(task_id="resolve")),
    )
    injected = aws.usage()["injected_faults"]
    aws.clear_faults()

    # The faults happened, and did not show in the results.
    assert sum(injected.values()) >= 20, injected
    assert again["arn"] == first["arn"] and second["version"] == 2
    assert redeployed["changed"] is False and redeployed["config"] == deployed["config"]
    assert shifted["weights"] == {"champion": 0.0, "challenger": 100.0}
    assert resolved["arn"] == second["arn"] and resolved["previous_arn"] == first["arn"]
    # No duplicates: two versions, one pointer write per promotion, one config and two models.
    sm, ssm = aws.boto3_client("sagemaker"), aws.boto3_client("ssm")
    assert len(sm.list_model_packages(ModelPackageGroupName="churn")["ModelPackageSummaryList"]) == 2
    history = {
        env: [
            json.loads(p["Value"])["version"]
            for p in ssm.get_parameter_history(Name=f"/modelreg/churn/{env}")["Parameters"]
        ]
        for env in ("dev", "test", "uat", "prod")
    }
    assert history == {env: [1, 2] for env in ("dev", "test", "uat", "prod")}
    assert workflow.audit_outcomes(aws)["churn"]  # the audit log is complete and its chain verifies
    assert read_pointer(aws, "prod")["approved_by"] == "dave"
    assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 1
    assert len(sm.list_models()["Models"]) == 2
    assert (
        ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": "Contains", "Values": [".lock"]}]
        )["Parameters"]
        == []
    )
    faults_seen = sum(injected.values())
    for name in steps:
        tally.record("faults", f"{name} ({label})", "survived", f"{faults_seen} faults injected in the run")
