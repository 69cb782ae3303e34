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
