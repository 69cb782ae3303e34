"""Where the provider's configuration lives in Airflow: the environment ladder in a Variable.

Read at execute time only (never while a DAG file is parsed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_modelreg.domain.environments import EnvironmentLadder

LADDER_VARIABLE = "modelreg_ladder"


def resolve_ladder(ladder: EnvironmentLadder | Mapping[str, Any] | str | None) -> EnvironmentLadder:
    """The ladder in the ``modelreg_ladder`` Variable (else the default), or the one given to an operator.

    The Variable governs: a ladder given to a task is accepted only when no Variable is set, or when it is
    the same ladder. Otherwise a DAG author could widen the approvers, lower a quorum or allow automated
    approval for their own task (approvers are narrowed per task with ``approvers=``, never here)."""
    from airflow_modelreg.domain.policy import Refused

    given = None
    if isinstance(ladder, EnvironmentLadder):
        given = ladder
    elif ladder is not None:
        given = EnvironmentLadder.from_config(ladder)
    configured = configured_ladder()
    if given is None:
        return EnvironmentLadder.from_config(configured)
    if configured is not None and EnvironmentLadder.from_config(configured) != given:
        raise Refused(
            f"Refused: this task's ladder differs from the {LADDER_VARIABLE!r} Variable, which governs the "
            "release; a task may narrow its approvers with `approvers=`, never replace the ladder. Drop the "
            "task's `ladder` argument, or change the Variable."
        )
    return given


def configured_ladder() -> str | None:
    """The ``modelreg_ladder`` Variable's text, or ``None`` when it is not set (or cannot be read here:
    outside a task, with no metadata database, only the ladder given to the code applies)."""
    from airflow.sdk import Variable

    try:
        return Variable.get(LADDER_VARIABLE, default=None)
    except Exception as error:  # noqa: BLE001 - no task context and no database: there is no Variable
        import logging

        logging.getLogger(__name__).debug("The %s Variable cannot be read here: %s", LADDER_VARIABLE, error)
        return None
