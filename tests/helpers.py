"""Small helpers shared by tests: put an artifact in the stand-in's S3 and build a register operator."""

from __future__ import annotations

from typing import Any

from airflow_modelreg.operators.register import RegisterModelVersionOperator

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


_READ_PREFIXES = ("Describe", "List", "Get", "Search", "GET ", "HEAD ")


def write_calls(aws) -> dict[str, int]:
    """The calls the stand-in served since the last reset that could have changed something."""
    return {
        call: count
        for call, count in aws.calls().items()
        if not call.split(":", 1)[1].startswith(_READ_PREFIXES)
    }
