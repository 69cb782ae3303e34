"""The records this provider writes about where a version runs, and how it reads them back.

* The environment **pointer**: which version an environment runs, kept in Parameter Store as JSON, one
  parameter per group and environment (``{prefix}/{group}/{environment}``). Parameter Store keeps only the
  last 100 writes of a parameter, so the pointer's history is a convenience; the audit log is the history.
* The **stage record** on a version (``modelreg:env:<environment>``, one key per environment, overwritten):
  the version's latest state in that environment, with the run that wrote it.

Both carry the key of the task run that wrote them; the audit log's event for that run is the third
witness. A record is trusted only when the three agree (see :mod:`airflow_modelreg.domain.policy`).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from airflow_modelreg.domain.errors import InvalidInputError
from airflow_modelreg.domain.validation import validate_group_name

DEFAULT_PREFIX = "/modelreg"
_PREFIX = re.compile(r"^/[A-Za-z0-9_.\-/]{0,900}$")
ACTIONS = ("promote", "rollback")
STAGE_KEY_PREFIX = "modelreg:env:"

# States of a version in an environment, as its stage record says.
PROMOTED = "promoted"  # promoted into the environment by its approvers
RESTORED = "restored"  # put back into the environment by a rollback
ROLLED_BACK_OUT = "rolled-back-out"  # taken out of the environment by a rollback: may not climb further
STAGE_STATES = (PROMOTED, RESTORED, ROLLED_BACK_OUT)


def parameter_name(prefix: str, group: str, environment: str) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or "//" in prefix:
        raise InvalidInputError(
            f"Invalid Parameter Store prefix {prefix!r}: it must start with '/' and use letters, digits, "
            "and _ . - / only."
        )
    validate_group_name(group)
    return f"{prefix.rstrip('/')}/{group}/{environment}"


def stage_key(environment: str) -> str:
    return f"{STAGE_KEY_PREFIX}{environment}"


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
    run_key: str  # the task run that wrote it: its audit event and the version's stage record name it too
    action: str = "promote"
    reason: str = ""
    previous_version: int | None = None
    previous_arn: str | None = None
    approvers: list[str] = field(default_factory=list)  # every approver of a quorum, in answer order

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str = "pointer") -> Pointer:
        """Parse a pointer, refusing anything this provider would not have written."""
        try:
            data: dict[str, Any] = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            unknown = set(data) - {f.name for f in fields(cls)}
            if unknown:
                raise TypeError(f"unknown field(s) {sorted(unknown)}")
            pointer = cls(**data)
        except (ValueError, TypeError) as error:
            raise InvalidInputError(
                f"The {where} is not a pointer written by airflow-modelreg: {error}"
            ) from error
        problems = pointer.problems()
        if problems:
            raise InvalidInputError(
                f"The {where} is not a pointer written by airflow-modelreg: {'; '.join(problems)}"
            )
        return pointer

    def problems(self) -> list[str]:
        """Field types and values a pointer written by this provider always has."""
        found = []
        for name in ("group", "environment", "arn", "approved_by", "approved_at", "airflow_run", "run_key"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                found.append(f"{name} is {getattr(self, name)!r}")
        if isinstance(self.version, bool) or not isinstance(self.version, int) or self.version < 1:
            found.append(f"version is {self.version!r}")
        if self.action not in ACTIONS:
            found.append(f"action is {self.action!r}")
        if isinstance(self.arn, str) and not self.arn.endswith(f"/{self.group}/{self.version}"):
            found.append(f"arn {self.arn!r} is not version {self.version!r} of group {self.group!r}")
        return found


@dataclass(frozen=True)
class StageRecord:
    """A version's latest state in one environment (``modelreg:env:<environment>``)."""

    state: str
    at: str
    by: str  # approver names, comma-separated
    run_key: str

    def to_value(self) -> str:
        return f"{self.state}|{self.at}|{self.by}|{self.run_key}"[:256]

    @classmethod
    def parse(cls, value: Any) -> StageRecord | None:
        """The record, or ``None`` for a value this provider would not have written."""
        if not isinstance(value, str):
            return None
        parts = value.split("|")
        if len(parts) != 4 or parts[0] not in STAGE_STATES or not parts[3]:
            return None
        return cls(*parts)

    @property
    def approvers(self) -> list[str]:
        return [name for name in self.by.split(",") if name]
