"""Where the provider's configuration lives in Airflow: the environment ladder in a Variable.

Read at execute time only (never while a DAG file is parsed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_modelreg.domain.environments import EnvironmentLadder

LADDER_VARIABLE = "modelreg_ladder"


def resolve_ladder(ladder: EnvironmentLadder | Mapping[str, Any] | str | None) -> EnvironmentLadder:
    """The ladder given to an operator, else the one in the ``modelreg_ladder`` Variable, else the default."""
    if isinstance(ladder, EnvironmentLadder):
        return ladder
    if ladder is not None:
        return EnvironmentLadder.from_config(ladder)
    from airflow.sdk import Variable

    configured = Variable.get(LADDER_VARIABLE, default=None)
    return EnvironmentLadder.from_config(configured)
