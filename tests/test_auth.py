"""The ``approver`` role of ApproverAwareSimpleAuthManager, decided by the auth manager itself (the live
proof through the REST API is tests/e2e/test_approver_role.py)."""

from __future__ import annotations

import pytest
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

from airflow_modelreg.auth import ApproverAwareSimpleAuthManager

MANAGER = ApproverAwareSimpleAuthManager()
DAG = DagDetails(id="train_and_register")


def user(role):
    return SimpleAuthManagerUser(username=f"a-{role}", role=role)


def may_dag(role, method, entity=None):
    return MANAGER.is_authorized_dag(method=method, user=user(role), access_entity=entity, details=DAG)


@pytest.mark.parametrize("entity", [None, *DagAccessEntity])
def test_an_approver_reads_what_a_viewer_reads(entity):
    assert may_dag("approver", "GET", entity) is may_dag("viewer", "GET", entity) is True


def test_an_approver_answers_required_actions_which_a_viewer_cannot():
    assert may_dag("approver", "PUT", DagAccessEntity.HITL_DETAIL)
    assert not may_dag("viewer", "PUT", DagAccessEntity.HITL_DETAIL)


@pytest.mark.parametrize(
    ("method", "entity"),
    [
        ("PUT", DagAccessEntity.TASK_INSTANCE),  # mark success / failed
        ("POST", DagAccessEntity.TASK_INSTANCE),  # clear
        ("PUT", DagAccessEntity.XCOM),
        ("POST", DagAccessEntity.XCOM),
        ("DELETE", DagAccessEntity.XCOM),
        ("POST", DagAccessEntity.RUN),  # trigger
        ("PUT", DagAccessEntity.RUN),
        ("DELETE", DagAccessEntity.RUN),
        ("PUT", None),  # pause, edit the DAG
        ("DELETE", None),
        ("POST", DagAccessEntity.HITL_DETAIL),
        ("PUT", DagAccessEntity.TASK),
    ],
)
def test_an_approver_changes_nothing_else(method, entity):
    assert not may_dag("approver", method, entity)
    assert may_dag("user", method, entity)  # what the reference setups gave approvers before


def test_an_approver_writes_nothing_outside_dags_and_is_no_admin():
    approver = user("approver")
    for check in (
        MANAGER.is_authorized_connection,
        MANAGER.is_authorized_variable,
        MANAGER.is_authorized_pool,
        MANAGER.is_authorized_asset,
        MANAGER.is_authorized_configuration,
    ):
        assert not check(method="PUT", user=approver)
        assert not check(method="POST", user=approver)
    assert MANAGER.is_authorized_pool(method="GET", user=approver)
    assert not MANAGER.is_authorized_connection(method="GET", user=approver)  # viewers read none either
    assert not MANAGER._is_admin(approver)


def test_the_fixed_roles_are_unchanged():
    for role in ("viewer", "user", "op", "admin"):
        for entity in (DagAccessEntity.HITL_DETAIL, DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM):
            expected = super(ApproverAwareSimpleAuthManager, MANAGER).is_authorized_dag(
                method="PUT", user=user(role), access_entity=entity, details=DAG
            )
            assert may_dag(role, "PUT", entity) is expected
