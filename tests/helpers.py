"""Small helpers shared by tests: put an artifact in the stand-in's S3 and build a register operator."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from airflow_modelreg.domain.approval import REASON_FIELD
from airflow_modelreg.operators.register import RegisterModelVersionOperator
from airflow_modelreg.testing.standin import is_write

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn-inference:1.4.0"


def put_artifact(aws, bucket: str, key: str = "churn/model.tar.gz", body: bytes = b"model-bytes") -> str:
    aws.boto3_client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    return f"s3://{bucket}/{key}"


def register_operator(artifact: str, group: str = "churn", **kwargs: Any) -> RegisterModelVersionOperator:
    kwargs.setdefault("task_id", "register")
    return RegisterModelVersionOperator(
        group=group,
        model_data_url=artifact,
        image_uri=IMAGE,
        metrics=kwargs.pop("metrics", {"auc": 0.91, "accuracy": 0.88}),
        commit_id="3f2a9c1",
        repository="https://git.example.com/ml/churn",
        registered_by=kwargs.pop("registered_by", "alice"),
        ladder=kwargs.pop("ladder", LADDER),
        **kwargs,
    )


def put_alarm(aws, name: str = "churn-prod-5xx") -> str:
    """A CloudWatch alarm on an endpoint's 5xx errors, in state OK; returns its name."""
    return put_alarm_with(aws.boto3_client("cloudwatch"), name)


def put_alarm_with(cloudwatch, name: str) -> str:
    """``put_alarm`` through a given CloudWatch client (another account's, another identity's)."""
    cloudwatch.put_metric_alarm(
        AlarmName=name,
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    return name


def write_calls(aws) -> dict[str, int]:
    """The calls the stand-in served since the last reset that could have changed something."""
    return {call: count for call, count in aws.calls().items() if is_write(call.split(":", 1)[1])}


def governed_writes(aws) -> dict[str, int]:
    """Writes since the last reset outside the audit log (which records refusals too)."""
    return {
        call: count
        for call, count in write_calls(aws).items()
        if not call.startswith(f"s3:PUT /{AUDIT_BUCKET}/")
    }


def html_part(message) -> str:
    """The HTML body of an email message."""
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


AUDIT_BUCKET = "modelreg-audit"
LADDER = {
    "registration_approvers": ["bob"],
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {"name": "prod", "approvers": ["dave"], "endpoints": ["churn-prod"]},
    ],
}
# Prod needs two distinct approvers out of three.
QUORUM_LADDER = {
    **LADDER,
    "environments": [
        *LADDER["environments"][:3],
        {"name": "prod", "approvers": ["dave", "erin", "frank"], "quorum": 2, "endpoints": ["churn-prod"]},
    ],
}
PEOPLE = {"dev": "bob", "test": "carol", "uat": "carol", "prod": "dave"}
# A one-environment ladder: tests about prod alone need no climb through dev, test and uat.
PROD_LADDER = {
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "environments": [{"name": "prod", "approvers": ["dave"], "endpoints": ["churn-prod"]}],
}


def promote(
    arn: str,
    environment: str,
    make_context,
    people: list[str] | None = None,
    ladder: Any = None,
    run_id: str = "promote-run",
    action: str = "promote",
    group: str = "churn",
    **prepare_kwargs: Any,
) -> Any:
    """One promotion step as its tasks run it, with each approver's answer given as Airflow hands it over:
    prepare, one approval per person (in order), commit. Returns the commit's XCom."""
    request = prepare_step(arn, environment, make_context, ladder, run_id, action, group, **prepare_kwargs)
    for slot, person in enumerate(people or [PEOPLE[environment]]):
        answer_step(request, slot, person, make_context, ladder, run_id)
    return commit_step(request, make_context, ladder, run_id)


def promote_step_by_step(
    arn, environment, make_context, people, ladder=None, run_id="promote-run", state=None
):
    """Like :func:`promote`, but resumable: ``state`` remembers which tasks finished, so calling again after
    a failure reruns only the task that failed (a new try), as Airflow does."""
    state = {} if state is None else state
    if "request" not in state:
        state["request"] = prepare_step(arn, environment, make_context, ladder, run_id)
    request = state["request"]
    for slot, person in enumerate(people):
        if slot not in state.setdefault("answered", set()):
            answer_step(request, slot, person, make_context, ladder, run_id)
            state["answered"].add(slot)
    state["commit_try"] = state.get("commit_try", 0) + 1
    return commit_step(request, make_context, ladder, run_id, try_number=state["commit_try"])


def step_task_id(request_or_env: Any, task: str) -> str:
    env = request_or_env["environment"] if isinstance(request_or_env, dict) else request_or_env
    return f"promote_to_{env or 'next'}.{task}"


def prepare_step(
    arn,
    environment,
    make_context,
    ladder=None,
    run_id="promote-run",
    action="promote",
    group="churn",
    **kwargs,
):
    from airflow_modelreg.operators.promote import PreparePromotionOperator

    op = PreparePromotionOperator(
        task_id=step_task_id(environment, "prepare"),
        model_package_arn=arn if action == "promote" else None,
        group=group if action == "rollback" else None,
        action=action,
        environment=environment,
        ladder=ladder or LADDER,
        **kwargs,
    )
    return op.execute(make_context(task_id=op.task_id, run_id=run_id))[0]  # the requests differ only by slot


def answer_step(
    request, slot, person, make_context, ladder=None, run_id="promote-run", option="Approve", reason=None
):
    from airflow_modelreg.operators.promote import ApprovePromotionOperator

    op = ApprovePromotionOperator(
        task_id=step_task_id(request, "approve"), request={**request, "slot": slot}, ladder=ladder or LADDER
    )
    context = make_context(task_id=op.task_id, run_id=run_id, map_index=slot)
    return op.execute_complete(
        context, answer(person, option, reason or f"ready for {request['environment']}")
    )


def commit_step(request, make_context, ladder=None, run_id="promote-run", try_number=1):
    from airflow_modelreg.operators.promote import CommitPromotionOperator

    op = CommitPromotionOperator(
        task_id=step_task_id(request, "commit"), request=request, ladder=ladder or LADDER
    )
    return op.execute(make_context(task_id=op.task_id, run_id=run_id, try_number=try_number))


def answer(person: str, option: str = "Approve", reason: str = "ok") -> dict[str, Any]:
    """A HITL answer event as Airflow hands it to ``execute_complete``."""
    from datetime import datetime

    return {
        "chosen_options": [option],
        "params_input": {REASON_FIELD: reason},
        "responded_by_user": {"id": person, "name": person},
        "responded_at": datetime.now(UTC),
    }


def read_pointer(
    aws, env: str, group: str = "churn", account_id: str | None = None, prefix: str = "/modelreg"
):
    """The environment's pointer as stored in Parameter Store, or None."""
    import json

    ssm = aws.boto3_client("ssm", account_id=account_id)
    try:
        return json.loads(ssm.get_parameter(Name=f"{prefix}/{group}/{env}")["Parameter"]["Value"])
    except ssm.exceptions.ParameterNotFound:
        return None


def advance_endpoint(aws, name: str, wanted: str | None, limit: int = 10) -> list[str]:
    """Drive an endpoint through its transitions until ``wanted`` (``None``: deleted), settling each one on
    demand (``settle_now``) rather than waiting for a clock; returns the statuses seen on the way."""
    sm = aws.boto3_client("sagemaker")
    seen: list[str] = []
    for _ in range(limit):
        try:
            status = sm.describe_endpoint(EndpointName=name)["EndpointStatus"]
        except sm.exceptions.ClientError as error:
            if wanted is None and "Could not find endpoint" in str(error):
                return seen
            raise
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == wanted:
            return seen
        aws.set_endpoint_state(name, settle_now=True)
    raise AssertionError(f"endpoint {name} never reached {wanted}; saw {seen}")


def variant(name: str, model: str, weight: float | None = None) -> dict[str, Any]:
    """A production variant of an endpoint config, on one ml.m5.large instance."""
    spec: dict[str, Any] = {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    if weight is not None:
        spec["InitialVariantWeight"] = weight
    return spec


def one_variant_endpoint(aws, name: str = "ep") -> Any:
    """Create (not wait for) an endpoint of one variant ``live`` on a model ``m``; returns a SageMaker client."""
    sm = aws.boto3_client("sagemaker")
    sm.create_model(
        ModelName="m", ExecutionRoleArn="arn:aws:iam::123456789012:role/r", PrimaryContainer={"Image": "img"}
    )
    sm.create_endpoint_config(EndpointConfigName="cfg", ProductionVariants=[variant("live", "m")])
    sm.create_endpoint(EndpointName=name, EndpointConfigName="cfg")
    return sm


def monitoring_schedule_config(bucket: str, endpoint: str = "ep") -> dict[str, Any]:
    """A data-quality ``MonitoringScheduleConfig`` on ``endpoint``, hourly, reporting under s3://bucket/monitoring."""
    return {
        "ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"},
        "MonitoringJobDefinition": {
            "MonitoringInputs": [
                {"EndpointInput": {"EndpointName": endpoint, "LocalPath": "/opt/ml/processing/input"}}
            ],
            "MonitoringOutputConfig": {
                "MonitoringOutputs": [
                    {
                        "S3Output": {
                            "S3Uri": f"s3://{bucket}/monitoring",
                            "LocalPath": "/opt/ml/processing/output",
                        }
                    }
                ]
            },
            "MonitoringResources": {
                "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 20}
            },
            "MonitoringAppSpecification": {"ImageUri": "monitor:latest"},
            "RoleArn": "arn:aws:iam::123456789012:role/monitor",
        },
    }
