"""Airflow's simple auth manager with one more role, ``approver``: reads what a viewer reads and answers
Required Actions (human-in-the-loop), nothing else.

The simple auth manager has four fixed roles (airflow/api_fastapi/auth/managers/simple/simple_auth_manager.py):
``viewer`` reads; ``user`` adds every write on DAGs, their runs and task instances; ``op`` adds connections,
pools, variables; ``admin`` everything. Answering a Required Action is a DAG write
(``PATCH .../hitlDetails`` needs ``is_authorized_dag(method="PUT", access_entity=HITL_DETAIL)``), so a viewer
cannot answer, and the lowest role that can, ``user``, may also mark an approval task success or failed,
clear it, edit XCom or trigger runs. An approver needs only the first of those.

Use it with ``[core] auth_manager = airflow_modelreg.auth.ApproverAwareSimpleAuthManager`` and give approvers
the role in ``[core] simple_auth_manager_users`` (``bob:approver``). Which requests a person may answer is
still the ladder's business: Airflow checks the request's assigned users on every answer.

Like the simple auth manager itself, this is for development, demos and small teams, not production; with
the FAB auth manager give approvers a role with ``can read`` on DAGs and ``can edit`` on
``HITL Detail`` only (see README, "Who may do what in Airflow").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import (
    SimpleAuthManager,
    SimpleAuthManagerRole,
)

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.base_auth_manager import ResourceMethod
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

APPROVER_ROLE = "approver"
# What an approver may change: their answer to a Required Action (the PATCH of hitlDetails, checked as PUT),
# and nothing else.
APPROVER_WRITES = frozenset({("PUT", DagAccessEntity.HITL_DETAIL)})


def is_approver(user: SimpleAuthManagerUser) -> bool:
    return (user.role or "").lower() == APPROVER_ROLE


class ApproverAwareSimpleAuthManager(SimpleAuthManager):
    """The simple auth manager, plus the ``approver`` role: a viewer who may answer Required Actions."""

    def is_authorized_dag(
        self,
        *,
        method: ResourceMethod,
        user: SimpleAuthManagerUser,
        access_entity: DagAccessEntity | None = None,
        details: DagDetails | None = None,
    ) -> bool:
        if is_approver(user) and method != "GET":
            team = details.team_name if details else None
            return (method, access_entity) in APPROVER_WRITES and (not team or team in (user.teams or []))
        return super().is_authorized_dag(
            method=method, user=user, access_entity=access_entity, details=details
        )

    @staticmethod
    def _is_admin(user: SimpleAuthManagerUser) -> bool:
        return not is_approver(user) and SimpleAuthManager._is_admin(user)

    @staticmethod
    def _is_authorized(
        *,
        method: ResourceMethod,
        allow_role: SimpleAuthManagerRole,
        user: SimpleAuthManagerUser,
        allow_get_role: SimpleAuthManagerRole | None = None,
        team_name: str | None = None,
    ) -> bool:
        """Everything but answering is decided as for a viewer (reads only)."""
        if is_approver(user):
            if team_name and team_name not in (user.teams or []):
                return False
            return method == "GET" and (allow_get_role or allow_role) == SimpleAuthManagerRole.VIEWER
        return SimpleAuthManager._is_authorized(
            method=method,
            allow_role=allow_role,
            user=user,
            allow_get_role=allow_get_role,
            team_name=team_name,
        )
