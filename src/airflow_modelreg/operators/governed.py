"""What every governed task shares: the ladder it works by, the release records, and audited refusals."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, NoReturn

from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX
from airflow_modelreg.hooks.release import ReleaseRecords


class GovernedTask:
    """Mixed into an AWS operator or sensor that sets ``ladder`` (and, to reach other pointers,
    ``parameter_prefix``) in its ``__init__``."""

    ladder: EnvironmentLadder | Mapping[str, Any] | str | None
    parameter_prefix: str = DEFAULT_PREFIX

    @cached_property
    def ladder_in_use(self) -> EnvironmentLadder:
        """The ``modelreg_ladder`` Variable's ladder (or the task's own, when it is the same or none is set)."""
        return resolve_ladder(self.ladder)

    @cached_property
    def records(self) -> ReleaseRecords:
        return ReleaseRecords.of_task(self, self.ladder_in_use, self.parameter_prefix)

    def refuse(self, group: str | None, what: str, refusal: GovernanceError, **fields: Any) -> NoReturn:
        """Keep the refusal in the audit log, then fail the task without retries (a retry is refused too)."""
        self.records.refusal(group, what, str(refusal), **fields)
        raise AirflowFailException(str(refusal)) from refusal
