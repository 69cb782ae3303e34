"""Hook for the environment pointers in SSM Parameter Store: read, write, history, and a write lock."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from airflow_modelreg.domain.environments import Environment
from airflow_modelreg.domain.errors import GovernanceError, NotFoundError, RegistryError
from airflow_modelreg.domain.pointers import Pointer
from airflow_modelreg.hooks.base import ModelRegBaseHook, call_aws


class ParameterStoreHook(ModelRegBaseHook):
    """Environment pointers in SSM Parameter Store, through an Airflow AWS connection.

    Each environment may name its own connection (its own account or region); its pointers live there.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "ssm"
        super().__init__(*args, **kwargs)

    @classmethod
    def for_environment(
        cls,
        environment: Environment,
        registry_conn_id: str | None,
        region_name: str | None = None,
        verify: bool | str | None = None,
        config: Any = None,
    ) -> ParameterStoreHook:
        """The Parameter Store of an environment: its own connection (account, region) if it names one,
        else the registry's connection and region."""
        if environment.aws_conn_id:
            return cls(aws_conn_id=environment.aws_conn_id, verify=verify, config=config)
        return cls(aws_conn_id=registry_conn_id, region_name=region_name, verify=verify, config=config)

    def get_pointer(self, name: str) -> tuple[Pointer, int] | None:
        """The pointer and its Parameter Store version, or ``None`` when the environment has none yet."""
        try:
            parameter = call_aws(f"Parameter {name}", self.conn.get_parameter, Name=name)["Parameter"]
        except NotFoundError:
            return None
        return Pointer.from_json(parameter["Value"], f"parameter {name}"), int(parameter["Version"])

    def put_pointer(self, name: str, pointer: Pointer) -> int:
        response = call_aws(
            f"Writing parameter {name}",
            self.conn.put_parameter,
            Name=name,
            Value=pointer.to_json(),
            Type="String",
            Overwrite=True,
            Description=f"Model approved for {pointer.environment} (airflow-modelreg)",
        )
        self.log.info("%s now points to %s version %s", name, pointer.group, pointer.version)
        return int(response["Version"])

    def history(self, name: str) -> Iterator[tuple[int, Pointer, datetime]]:
        """Every write of the pointer, oldest first: (parameter version, pointer, when)."""
        kwargs: dict[str, Any] = {"Name": name, "MaxResults": 50}
        while True:
            try:
                page = call_aws(f"History of {name}", self.conn.get_parameter_history, **kwargs)
            except NotFoundError:
                return
            for entry in page.get("Parameters", []):
                yield (
                    int(entry["Version"]),
                    Pointer.from_json(entry["Value"], f"{name} v{entry['Version']}"),
                    entry["LastModifiedDate"],
                )
            if not page.get("NextToken"):
                return
            kwargs["NextToken"] = page["NextToken"]

    # ----------------------------------------------------------------------------------- the lock
    def acquire_lock(self, name: str, owner: str, ttl_seconds: int = 900, wait_seconds: float = 60.0) -> None:
        """Take the environment's write lock (a ``{name}.lock`` parameter created only if absent).

        Parameter Store has no compare-and-set on values, but creating a parameter without ``Overwrite``
        fails when it exists: that makes a lock. The owner (a task run) may take it again on retry; a lock
        older than ``ttl_seconds`` is considered abandoned and taken over.
        """
        lock = f"{name}.lock"
        deadline = time.monotonic() + wait_seconds
        while True:
            now = datetime.now(UTC)
            try:
                self.conn.put_parameter(
                    Name=lock, Value=f"{owner}|{now.isoformat()}", Type="String", Overwrite=False
                )
                return
            except self.conn.exceptions.ParameterAlreadyExists:
                pass
            except Exception as error:
                raise RegistryError(f"Taking the lock {lock} failed: {error}") from error
            try:
                holder = self.conn.get_parameter(Name=lock)["Parameter"]
            except self.conn.exceptions.ParameterNotFound:
                continue  # released between our put and this read: try to take it again
            held_by, _, since = holder["Value"].partition("|")
            if held_by == owner:
                return  # our own earlier try took it
            age = (now - datetime.fromisoformat(since)).total_seconds() if since else ttl_seconds + 1
            if age > ttl_seconds:
                self.log.warning("Taking over %s, abandoned by %s %.0fs ago", lock, held_by, age)
                self.conn.put_parameter(
                    Name=lock, Value=f"{owner}|{now.isoformat()}", Type="String", Overwrite=True
                )
                return
            if time.monotonic() >= deadline:
                raise GovernanceError(
                    f"Refused: another promotion of this environment is being written (lock {lock} held by "
                    f"run {held_by} since {since}). Retry once it finishes."
                )
            time.sleep(0.5)

    def release_lock(self, name: str, owner: str) -> None:
        lock = f"{name}.lock"
        try:
            holder = self.conn.get_parameter(Name=lock)["Parameter"]["Value"]
        except self.conn.exceptions.ParameterNotFound:
            return
        if holder.partition("|")[0] == owner:
            self.conn.delete_parameter(Name=lock)
