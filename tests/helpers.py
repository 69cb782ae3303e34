"""Small helpers shared by tests: put an artifact in the stand-in's S3 and build a register operator."""

from __future__ import annotations

from datetime import UTC
from typing import Any

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
        **kwargs,
    )


def put_alarm(aws, name: str = "churn-prod-5xx") -> str:
    """A CloudWatch alarm on an endpoint's 5xx errors, in state OK; returns its name."""
    aws.boto3_client("cloudwatch").put_metric_alarm(
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


def html_part(message) -> str:
    """The HTML body of an email message."""
    for part in message.walk():
        if part.get_content_type() == "text/html":
            return part.get_payload(decode=True).decode()
    raise AssertionError("no HTML part")


LADDER = {
    "registration_approvers": ["bob"],
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {"name": "prod", "approvers": ["dave"]},
    ],
}


def answer(person: str, option: str = "Approve", reason: str = "ok") -> dict[str, Any]:
    """A HITL answer event as Airflow hands it to ``execute_complete``."""
    from datetime import datetime

    return {
        "chosen_options": [option],
        "params_input": {"reason": reason},
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
