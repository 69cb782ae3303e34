"""The environment ladder: dev -> test -> uat -> prod, one step at a time, with approvers per environment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError

DEFAULT_ENVIRONMENTS = ("dev", "test", "uat", "prod")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class Environment:
    """One rung of the ladder.

    :param name: short lowercase name (``dev``, ``prod``...).
    :param approvers: user ids or names allowed to approve a version *into* this environment.
    :param aws_conn_id: Airflow AWS connection of this environment's account (its Parameter Store and
        endpoints); ``None`` uses the registry's connection.
    """

    name: str
    approvers: tuple[str, ...] = ()
    aws_conn_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _ENV_NAME.match(self.name):
            raise InvalidInputError(
                f"Invalid environment name {self.name!r}: use 1-32 lowercase letters, digits or hyphens."
            )


@dataclass(frozen=True)
class EnvironmentLadder:
    """Ordered environments a version climbs, and who approves each step.

    :param environments: in promotion order.
    :param registration_approvers: who may approve a newly registered version; defaults to the first
        environment's approvers (registration approval is the step into the first environment).
    """

    environments: tuple[Environment, ...] = field(
        default_factory=lambda: tuple(Environment(name) for name in DEFAULT_ENVIRONMENTS)
    )
    registration_approvers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        names = [env.name for env in self.environments]
        if not names:
            raise InvalidInputError("The environment ladder needs at least one environment.")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidInputError(f"Environment(s) {', '.join(duplicates)} appear twice in the ladder.")

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_config(cls, config: Mapping[str, Any] | str | None) -> EnvironmentLadder:
        """Build from JSON or a mapping::

        {"environments": [{"name": "dev", "approvers": ["bob"], "aws_conn_id": "aws_dev"}, ...],
         "registration_approvers": ["bob"]}
        """
        if config is None:
            return cls()
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError as error:
                raise InvalidInputError(f"Environment ladder configuration is not JSON: {error}") from error
        if not isinstance(config, Mapping) or not isinstance(config.get("environments"), list):
            raise InvalidInputError("Environment ladder configuration needs an 'environments' list.")
        environments = []
        for entry in config["environments"]:
            if isinstance(entry, str):
                entry = {"name": entry}
            unknown = set(entry) - {"name", "approvers", "aws_conn_id"}
            if unknown:
                raise InvalidInputError(
                    f"Unknown key(s) {sorted(unknown)} in environment {entry.get('name')!r}."
                )
            environments.append(
                Environment(
                    name=entry.get("name"),
                    approvers=_identities(entry.get("approvers", ()), entry.get("name")),
                    aws_conn_id=entry.get("aws_conn_id"),
                )
            )
        registration = config.get("registration_approvers")
        return cls(
            environments=tuple(environments),
            registration_approvers=None
            if registration is None
            else _identities(registration, "registration"),
        )

    def to_config(self) -> dict[str, Any]:
        return {
            "environments": [
                {"name": env.name, "approvers": list(env.approvers), "aws_conn_id": env.aws_conn_id}
                for env in self.environments
            ],
            "registration_approvers": None
            if self.registration_approvers is None
            else list(self.registration_approvers),
        }

    # -- queries --------------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(env.name for env in self.environments)

    def get(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        raise InvalidInputError(f"Unknown environment {name!r}: the ladder is {' -> '.join(self.names)}.")

    def index(self, name: str) -> int:
        return self.names.index(self.get(name).name)

    def previous(self, name: str) -> Environment | None:
        index = self.index(name)
        return self.environments[index - 1] if index > 0 else None

    def next(self, name: str | None) -> Environment | None:
        """The environment after ``name`` (the first one for ``None``); ``None`` after the last."""
        if name is None:
            return self.environments[0]
        index = self.index(name)
        return self.environments[index + 1] if index + 1 < len(self.environments) else None

    def approvers_for(self, name: str | None) -> tuple[str, ...]:
        """Who approves a step into ``name``; ``None`` means registration approval."""
        if name is None:
            if self.registration_approvers is not None:
                return self.registration_approvers
            return self.environments[0].approvers
        return self.get(name).approvers

    def check_step(self, held: Iterable[str], target: str) -> None:
        """Refuse a promotion to ``target`` unless the version holds exactly the environments before it.

        ``held`` are the environments the version has been promoted to. The first environment needs none;
        each later one needs the one before it; an environment already held is refused.
        """
        held_set = set(held)
        env = self.get(target)
        if env.name in held_set:
            raise GovernanceError(f"Refused: the version is already promoted to {env.name!r}.")
        before = self.previous(env.name)
        if before is not None and before.name not in held_set:
            missing = [e.name for e in self.environments[: self.index(env.name)] if e.name not in held_set]
            raise GovernanceError(
                f"Refused: promoting to {env.name!r} would skip {', '.join(repr(m) for m in missing)}; "
                f"versions climb {' -> '.join(self.names)} one step at a time."
            )


def _identities(values: Sequence[str] | str, where: Any) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    result = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"Invalid approver {value!r} for {where}: expected a user id or name.")
        result.append(value.strip())
    return tuple(result)
