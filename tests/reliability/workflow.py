"""The workflow's steps as the reliability suite drives them (each as its task would run it), and a snapshot
of everything the workflow writes in AWS, to compare a run that crashed and was retried with a clean one."""

from __future__ import annotations

import re
from typing import Any

from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from tests.helpers import AUDIT_BUCKET, LADDER, answer, promote_step_by_step, put_artifact, register_operator
from tests.operators.deploying import ab, deploy_operator, shift_operator

BUCKET = "reliability-models"
PEOPLE = {"dev": "bob", "test": "carol", "uat": "carol", "prod": "dave"}


def upload(aws, run_id: str, body: bytes) -> str:
    """The training job's output, before the register task runs."""
    return put_artifact(aws, BUCKET, key=f"churn/{run_id}/model.tar.gz", body=body)


def register(aws, context, run_id: str, body: bytes, uploaded: bool = False) -> dict[str, Any]:
    artifact = f"s3://{BUCKET}/churn/{run_id}/model.tar.gz" if uploaded else upload(aws, run_id, body)
    return register_operator(artifact).execute(context(run_id=run_id))


def approve(arn: str, context, person: str = "bob", run_id: str = "approve-run") -> dict[str, Any]:
    """What the approval task does once bob has answered in the UI (a retry finds the decision written)."""
    op = RequestModelApprovalOperator(task_id="approve", model_package_arn=arn, ladder=LADDER)
    ctx = context(task_id="approve", run_id=run_id)
    done = op.recorded_by_this_run(op.hook.describe_version(arn), ctx)
    if done is not None:
        return done
    return op.execute_complete(ctx, answer(person, reason="reviewed"))


def two_approved(aws, context) -> tuple[str, str]:
    """Versions 1 and 2 of 'churn' (distinct artifacts), registered by alice and approved by bob."""
    first = register(aws, context, "run-1", b"one")["arn"]
    second = register(aws, context, "run-2", b"two")["arn"]
    approve(first, context, run_id="approve-1")
    approve(second, context, run_id="approve-2")
    return first, second


def promote(
    arn: str, environment: str, context, run_id: str = "promote-run", state: dict | None = None, ladder=LADDER
) -> Any:
    """A promotion step as Airflow runs its tasks: prepare, the approval, commit. With ``state`` (kept across
    calls), a call after a failure resumes at the task that failed, as Airflow retries only that task."""
    return promote_step_by_step(arn, environment, context, [PEOPLE[environment]], ladder, run_id, state)


def two_in_prod(aws, context, ladder=LADDER) -> tuple[str, str]:
    """Versions 1 and 2 approved and promoted up the ladder to prod (prod runs 2, ran 1 before): the champion
    and the challenger a deployment may serve."""
    first, second = two_approved(aws, context)
    names = [env["name"] for env in ladder["environments"]]
    for arn, name in ((first, "1"), (second, "2")):
        for environment in names:
            promote(arn, environment, context, run_id=f"promote-{name}-{environment}", ladder=ladder)
    return first, second


def deploy(
    champion: str, challenger: str, context, run_id: str = "deploy-run", ladder=LADDER
) -> dict[str, Any]:
    op = deploy_operator(ab(champion, challenger, 90, 10), ladder=ladder)
    return op.execute(context(task_id="deploy", run_id=run_id))


def shift(context, run_id: str = "shift-run", ladder=LADDER) -> dict[str, Any]:
    op = shift_operator(steps=[50, 100], bake_seconds=0.2, ladder=ladder)
    return op.execute(context(task_id="shift", run_id=run_id))


_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?")


def _timeless(value: Any) -> Any:
    if isinstance(value, str):
        return _TIME.sub("<time>", value)
    if isinstance(value, dict):
        return {key: _timeless(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_timeless(item) for item in value]
    return value


def snapshot(aws) -> dict[str, Any]:
    """Everything the workflow writes, times left out: versions with their status, decisions, metadata and
    stages; every parameter with its value and how many times it was written; models, configs, endpoints."""
    sm, ssm = aws.boto3_client("sagemaker"), aws.boto3_client("ssm")
    versions = {}
    for group in sm.list_model_package_groups()["ModelPackageGroupSummaryList"]:
        name = group["ModelPackageGroupName"]
        for summary in sm.list_model_packages(ModelPackageGroupName=name)["ModelPackageSummaryList"]:
            described = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            versions[summary["ModelPackageArn"]] = {
                key: described.get(key)
                for key in (
                    "ModelApprovalStatus",
                    "ApprovalDescription",
                    "CustomerMetadataProperties",
                    "ModelLifeCycle",
                )
            }
    parameters = {}
    for page in ssm.get_paginator("describe_parameters").paginate():
        for parameter in page["Parameters"]:
            value = ssm.get_parameter(Name=parameter["Name"])["Parameter"]["Value"]
            parameters[parameter["Name"]] = {"value": value, "writes": parameter["Version"]}
    configs = {}
    for config in sm.list_endpoint_configs()["EndpointConfigs"]:
        described = sm.describe_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
        configs[config["EndpointConfigName"]] = described["ProductionVariants"]
    endpoints = {}
    for endpoint in sm.list_endpoints()["Endpoints"]:
        described = sm.describe_endpoint(EndpointName=endpoint["EndpointName"])
        endpoints[endpoint["EndpointName"]] = {
            "status": described["EndpointStatus"],
            "config": described["EndpointConfigName"],
            "weights": {
                v["VariantName"]: v.get("CurrentWeight") for v in described.get("ProductionVariants", [])
            },
        }
    models = sorted(model["ModelName"] for model in sm.list_models()["Models"])
    return _timeless(
        {
            "versions": versions,
            "parameters": parameters,
            "models": models,
            "configs": configs,
            "endpoints": endpoints,
            "audit": audit_outcomes(aws),
        }
    )


def audit_outcomes(aws) -> dict[str, list]:
    """What the audit log records happened, per group: each event's kind, version, environment, status and
    actor, in order. A request written by a try that then crashed is not an outcome (the retry asks again)."""
    from airflow_modelreg.hooks.audit_log import AuditLogHook

    log = AuditLogHook(log_uri=f"s3://{AUDIT_BUCKET}/log")
    outcomes = {}
    for group in ("churn",):
        outcomes[group] = [
            (
                e["kind"],
                e.get("version"),
                e.get("environment"),
                e.get("status"),
                (e.get("actor") or {}).get("name"),
            )
            for e in log.events(group)
            if e["kind"] not in ("requested", "refused")
        ]
        assert log.verify_log(group).ok, log.verify_log(group).summary
    return outcomes
