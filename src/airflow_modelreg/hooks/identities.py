"""Approver names to the auth manager's user ids, for Airflow's ``assigned_users``.

Approvers are configured by user name (``bob``), the way people know each other. Airflow checks an answer to
a human-in-the-loop request against ``assigned_users`` by the user's **id** (``user.get_id()``), and ids
differ by auth manager: the simple auth manager's id is the user name, the FAB auth manager's is a number
from its ``ab_user`` table. So the provider resolves names to ids when it asks, and compares names with names
when it checks separation of duties (``responded_by_user`` carries both).

Configured by the ladder's ``identities`` entry:

* ``{"kind": "simple"}``: id is the name (SimpleAuthManager; the default when it is the auth manager);
* ``{"kind": "fab", "conn_id": "airflow_metadata"}``: ids read from FAB's ``ab_user`` table through an
  Airflow connection to the metadata database (read-only access to that table is enough);
* ``{"kind": "static", "ids": {"bob": "7"}}``: for any other auth manager, an explicit map.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_modelreg.domain.errors import InvalidInputError

SIMPLE_AUTH_MANAGER = "SimpleAuthManager"


def _configured_auth_manager() -> str:
    from airflow.providers.common.compat.sdk import conf

    return conf.get("core", "auth_manager", fallback="") or ""


class ApproverIdentities:
    """Resolve approver names to ``assigned_users`` entries (``{"id": ..., "name": ...}``)."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        self.config = dict(config) if config else None

    @property
    def kind(self) -> str:
        if self.config:
            return str(self.config["kind"])
        manager = _configured_auth_manager()
        if not manager or manager.endswith(SIMPLE_AUTH_MANAGER):
            return "simple"
        raise InvalidInputError(
            f"Airflow's auth manager is {manager}: its user ids are not user names, so approvers named in the "
            'ladder cannot be assigned to approval requests. Add "identities" to the modelreg_ladder Variable: '
            '{"kind": "fab", "conn_id": "<connection to the metadata database>"} for the FAB auth manager, or '
            '{"kind": "static", "ids": {"<name>": "<id>"}}.'
        )

    def assigned_users(self, names: Sequence[str]) -> list[dict[str, str]]:
        kind = self.kind
        if kind == "simple":
            return [{"id": name, "name": name} for name in names]
        if kind == "static":
            ids = self.config["ids"] if self.config else {}
            missing = [name for name in names if name not in ids]
            if missing:
                raise InvalidInputError(
                    f"No user id for approver(s) {', '.join(missing)} in the ladder's identities map."
                )
            return [{"id": str(ids[name]), "name": name} for name in names]
        return self._from_fab(names)

    def _from_fab(self, names: Sequence[str]) -> list[dict[str, str]]:
        """Read the FAB user ids of ``names`` (active users only) from the metadata database."""
        import sqlalchemy as sa
        from airflow.sdk import BaseHook

        assert self.config is not None
        connection = BaseHook.get_connection(self.config["conn_id"])
        uri = connection.get_uri()
        # Airflow writes "postgres://" for PostgreSQL connections; SQLAlchemy 2 wants "postgresql://".
        if uri.startswith("postgres://"):
            uri = "postgresql://" + uri.removeprefix("postgres://")
        engine = sa.create_engine(uri)
        try:
            with engine.connect() as db:
                rows = db.execute(
                    sa.text(
                        "SELECT id, username FROM ab_user WHERE active AND username IN :names"
                    ).bindparams(sa.bindparam("names", expanding=True)),
                    {"names": list(names)},
                ).all()
        finally:
            engine.dispose()
        ids = {str(username): str(user_id) for user_id, username in rows}
        missing = [name for name in names if name not in ids]
        if missing:
            raise InvalidInputError(
                f"Approver(s) {', '.join(missing)} are not active users of the FAB auth manager; create them "
                "(airflow users create) or correct the ladder."
            )
        return [{"id": ids[name], "name": name} for name in names]
