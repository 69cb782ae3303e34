"""Races: two promotions of different versions into one environment at once, and two tries of one task
running at once (a zombie and its retry)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from airflow.sdk.exceptions import AirflowFailException

from tests.helpers import answer_step, commit_step, prepare_step, read_pointer
from tests.reliability import workflow


def _at_once(calls: dict[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run the calls in threads released together; each outcome is a result or the exception raised."""
    outcomes: dict[str, Any] = {}
    barrier = threading.Barrier(len(calls))

    def run(name: str, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            outcomes[name] = call()
        except Exception as error:  # the outcome under test
            outcomes[name] = error

    threads = [threading.Thread(target=run, args=item) for item in calls.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def _metadata(aws, arn: str) -> dict[str, str]:
    described = aws.boto3_client("sagemaker").describe_model_package(ModelPackageName=arn)
    return described.get("CustomerMetadataProperties") or {}


@pytest.mark.parametrize("round_", [1, 2, 3])
def test_two_promotions_into_one_environment_one_wins(aws, make_context, tally, round_):
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    arns = workflow.two_approved(aws, make_context)
    # Both were asked while dev ran nothing; both approved; both commits run at the same moment.
    requests = {}
    for arn in arns:
        run_id = f"promote-{arn[-1]}"
        requests[arn] = prepare_step(arn, "dev", make_context, run_id=run_id)
        answer_step(requests[arn], 0, "bob", make_context, run_id=run_id)
    outcomes = _at_once(
        {
            arn: (lambda arn=arn: commit_step(requests[arn], make_context, run_id=f"promote-{arn[-1]}"))
            for arn in arns
        }
    )
    case = f"round {round_}: versions 1 and 2 promoted to dev at once"
    try:
        winners = [arn for arn, outcome in outcomes.items() if isinstance(outcome, dict)]
        losers = [outcome for outcome in outcomes.values() if isinstance(outcome, Exception)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        assert isinstance(losers[0], AirflowFailException), repr(losers[0])
        assert "changed while this promotion waited" in str(losers[0])
        (loser_arn,) = set(arns) - set(winners)
        assert read_pointer(aws, "dev")["arn"] == winners[0]
        assert "modelreg:env:dev" in _metadata(aws, winners[0])
        assert "modelreg:env:dev" not in _metadata(aws, loser_arn)  # registry and pointer agree
    except AssertionError as failure:
        tally.record("races", case, "lost", str(failure))
        raise
    tally.record("races", f"{case}: the winner", "survived", f"dev runs version {winners[0][-1]}")
    tally.record("races", f"{case}: the other", "refused", str(losers[0]))


def test_two_tries_of_one_registration_at_once_make_one_version(aws, make_context, tally):
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    workflow.upload(aws, "run-1", b"one")
    outcomes = _at_once(
        {
            try_: (lambda: workflow.register(aws, make_context, "run-1", b"one", uploaded=True))
            for try_ in ("zombie", "retry")
        }
    )
    versions = aws.boto3_client("sagemaker").list_model_packages(ModelPackageGroupName="churn")[
        "ModelPackageSummaryList"
    ]
    case = "a zombie register task and its retry at once"
    try:
        assert all(isinstance(outcome, dict) for outcome in outcomes.values()), outcomes
        assert outcomes["zombie"]["arn"] == outcomes["retry"]["arn"]
        assert len(versions) == 1
    except AssertionError as failure:
        tally.record("races", case, "lost", str(failure))
        raise
    tally.record("races", case, "survived", f"one version: {versions[0]['ModelPackageArn']}")


def test_two_tries_of_one_deployment_at_once_make_one_endpoint(aws, make_context, tally):
    aws.boto3_client("s3").create_bucket(Bucket=workflow.BUCKET)
    arns = workflow.two_in_prod(aws, make_context)
    outcomes = _at_once(
        {try_: (lambda: workflow.deploy(*arns, make_context)) for try_ in ("zombie", "retry")}
    )
    sm = aws.boto3_client("sagemaker")
    case = "a zombie deploy task and its retry at once"
    try:
        finished = [outcome for outcome in outcomes.values() if isinstance(outcome, dict)]
        assert finished, outcomes  # at least one completes; the other may be told the endpoint is busy
        for outcome in outcomes.values():
            if isinstance(outcome, Exception):
                assert "churn-prod" in str(outcome), repr(outcome)
        assert len(sm.list_endpoint_configs()["EndpointConfigs"]) == 1
        assert len(sm.list_models()["Models"]) == 2
        endpoint = sm.describe_endpoint(EndpointName="churn-prod")
        assert endpoint["EndpointStatus"] == "InService"
        assert endpoint["EndpointConfigName"] == finished[0]["config"]
    except AssertionError as failure:
        tally.record("races", case, "lost", str(failure))
        raise
    detail = "; ".join(
        f"{name}: {'completed' if isinstance(o, dict) else o}" for name, o in sorted(outcomes.items())
    )
    tally.record("races", case, "survived", f"one endpoint, one config; {detail}")
