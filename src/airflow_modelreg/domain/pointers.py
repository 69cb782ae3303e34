"""The environment pointer: which version an environment runs, kept in Parameter Store as JSON.

One parameter per group and environment (``{prefix}/{group}/{environment}``); each write is one entry of
Parameter Store's own version history, so that history *is* the environment's history.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.validation import validate_group_name

DEFAULT_PREFIX = "/modelreg"
_PREFIX = re.compile(r"^/[A-Za-z0-9_.\-/]{0,900}$")
ACTIONS = ("promote", "rollback")


def parameter_name(prefix: str, group: str, environment: str) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or "//" in prefix:
        raise InvalidInputError(
            f"Invalid Parameter Store prefix {prefix!r}: it must start with '/' and use letters, digits, "
            "and _ . - / only."
        )
    validate_group_name(group)
    return f"{prefix.rstrip('/')}/{group}/{environment}"


@dataclass(frozen=True)
class Pointer:
    """What an environment runs, and how it came to."""

    group: str
    environment: str
    version: int
    arn: str
    digest: str | None
    approved_by: str
    approved_at: str
    airflow_run: str
    run_key: str  # identifies the task run that wrote it, so its retry recognises its own write
    action: str = "promote"
    reason: str = ""
    previous_version: int | None = None
    previous_arn: str | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "pointer") -> Pointer:
        try:
            data: dict[str, Any] = json.loads(text)
            return cls(**data)
        except (ValueError, TypeError) as error:
            raise InvalidInputError(
                f"The {where} is not a pointer written by airflow-modelreg: {error}"
            ) from error


def promotion_record(approved_at: str, approved_by: str, run_key: str) -> str:
    """The compact record of a promotion kept on the version (``modelreg:env:<environment>``)."""
    return f"{approved_at}|{approved_by}|{run_key}"[:256]


def parse_promotion_record(value: str) -> dict[str, str]:
    at, _, rest = value.partition("|")
    by, _, run_key = rest.rpartition("|")
    return {"at": at, "by": by, "run_key": run_key}
