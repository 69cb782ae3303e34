"""Errors of the release process. Each message names the bad value, what was expected, and the fix."""

from __future__ import annotations


class ModelRegError(Exception):
    """Base class for every error this provider raises on purpose."""


class InvalidInputError(ModelRegError, ValueError):
    """A value given by the user is malformed; raised before anything is written."""


class GovernanceError(ModelRegError):
    """A governance rule refused the action (unapproved version, skipped environment, self-approval...)."""


class RegistryError(ModelRegError):
    """AWS refused or failed a registry call; the message names the resource involved."""


class NotFoundError(RegistryError):
    """A group, version, artifact or parameter that should exist does not."""
