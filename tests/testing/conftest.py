"""Fixtures of the stand-in's own tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def held_transitions(aws):
    """Endpoint transitions that last until a test settles them (``advance_endpoint``), so a test sees every
    state in progress however slow the machine is."""
    before = aws.settings()["transition_seconds"]
    aws.settings(transition_seconds=3600)
    yield
    aws.settings(transition_seconds=before)


@pytest.fixture
def models(aws):
    """Two SageMaker models, ``model-a`` and ``model-b``, to build endpoint configs on."""
    sm = aws.boto3_client("sagemaker")
    for name in ("model-a", "model-b"):
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
            PrimaryContainer={"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"},
        )
    return ["model-a", "model-b"]
