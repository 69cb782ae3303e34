"""The environment ladder: dev -> test -> uat -> prod, one step at a time, with approvers per environment."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError

DEFAULT_ENVIRONMENTS = ("dev", "test", "uat", "prod")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9-]{0,31}$")
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_AUDIT_LOG_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[A-Za-z0-9_.\-/]*)?$")
ENVIRONMENT_KEYS = frozenset({"name", "approvers", "aws_conn_id", "quorum", "endpoints"})
LADDER_KEYS = frozenset(
    {"environments", "registration_approvers", "automated_registration_approval", "audit_log", "identities"}
)
IDENTITY_KINDS = ("simple", "fab", "static")
IDENTITY_KEYS = {
    "simple": frozenset({"kind"}),
    "fab": frozenset({"kind", "conn_id"}),
    "static": frozenset({"kind", "ids"}),
}
# The ladder's JSON Schema (published with the package; the rules it cannot state are checked here too).
LADDER_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "modelreg_ladder.schema.json"


@dataclass(frozen=True)
class Environment:
    """One rung of the ladder.

    :param name: short lowercase name (``dev``, ``prod``...).
    :param approvers: user ids or names allowed to approve a version *into* this environment.
    :param aws_conn_id: Airflow AWS connection of this environment's account (its Parameter Store and
        endpoints); ``None`` uses the registry's connection.
    :param quorum: how many distinct approvers must approve a step into this environment.
    :param endpoints: the SageMaker endpoints that serve this environment; a deployment or traffic shift
        names the environment and its endpoint must be one of these.
    """

    name: str
    approvers: tuple[str, ...] = ()
    aws_conn_id: str | None = None
    quorum: int = 1
    endpoints: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _ENV_NAME.match(self.name):
            raise InvalidInputError(
                f"Invalid environment name {self.name!r}: use 1-32 lowercase letters, digits or hyphens."
            )
        if isinstance(self.quorum, bool) or not isinstance(self.quorum, int) or self.quorum < 1:
            raise InvalidInputError(
                f"Invalid quorum {self.quorum!r} for environment {self.name!r}: expected a whole number >= 1."
            )
        if self.approvers and self.quorum > len(self.approvers):
            raise InvalidInputError(
                f"Environment {self.name!r} needs {self.quorum} distinct approvers but names only "
                f"{len(self.approvers)} ({', '.join(self.approvers)}): no step into it could ever be approved."
            )
        for endpoint in self.endpoints:
            if not isinstance(endpoint, str) or not _ENDPOINT_NAME.match(endpoint):
                raise InvalidInputError(
                    f"Invalid endpoint name {endpoint!r} for environment {self.name!r}: SageMaker endpoint names "
                    "are 1-63 letters, digits or hyphens."
                )


@dataclass(frozen=True)
class EnvironmentLadder:
    """Ordered environments a version climbs, and who approves each step.

    :param environments: in promotion order.
    :param registration_approvers: who may approve a newly registered version; defaults to the first
        environment's approvers (registration approval is the step into the first environment).
    :param automated_registration_approval: whether a version may be approved without a person
        (``initial_status="Approved"``, ``SetModelApprovalOperator(status="Approved")``, a quality gate
        that approves). Never allowed when the ladder has a single environment: that step would be prod.
    :param audit_log_uri: ``s3://bucket/prefix`` of the append-only audit log every decision is written to.
    :param identities: how approver names map to the auth manager's user ids (``{"kind": "simple"}``,
        ``{"kind": "fab", "conn_id": ...}`` or ``{"kind": "static", "ids": {"bob": "7"}}``).
    """

    environments: tuple[Environment, ...] = field(
        default_factory=lambda: tuple(Environment(name) for name in DEFAULT_ENVIRONMENTS)
    )
    registration_approvers: tuple[str, ...] | None = None
    automated_registration_approval: bool = False
    audit_log_uri: str | None = None
    identities: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        names = [env.name for env in self.environments]
        if not names:
            raise InvalidInputError("The environment ladder needs at least one environment.")
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidInputError(f"Environment(s) {', '.join(duplicates)} appear twice in the ladder.")
        bound: dict[str, str] = {}
        for env in self.environments:
            for endpoint in env.endpoints:
                if endpoint in bound:
                    raise InvalidInputError(
                        f"Endpoint {endpoint!r} is bound to both {bound[endpoint]!r} and {env.name!r}; an endpoint "
                        "serves one environment."
                    )
                bound[endpoint] = env.name
        if not isinstance(self.automated_registration_approval, bool):
            raise InvalidInputError(
                f"automated_registration_approval is {self.automated_registration_approval!r}; expected true or false."
            )
        if self.audit_log_uri is not None and (
            not isinstance(self.audit_log_uri, str) or not _AUDIT_LOG_URI.match(self.audit_log_uri)
        ):
            raise InvalidInputError(
                f"Invalid audit_log {self.audit_log_uri!r}: expected 's3://<bucket>/<prefix>'."
            )
        if self.identities is not None:
            _validate_identities(self.identities)

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
        unknown_top = set(config) - LADDER_KEYS
        if unknown_top:
            raise InvalidInputError(
                f"Unknown key(s) {sorted(unknown_top)} in the ladder configuration; known keys are "
                f"{', '.join(sorted(LADDER_KEYS))}."
            )
        environments = []
        for entry in config["environments"]:
            if isinstance(entry, str):
                entry = {"name": entry}
            if not isinstance(entry, Mapping):
                raise InvalidInputError(f"Environment entry {entry!r} is not a name or an object.")
            unknown = set(entry) - ENVIRONMENT_KEYS
            if unknown:
                raise InvalidInputError(
                    f"Unknown key(s) {sorted(unknown)} in environment {entry.get('name')!r}; known keys are "
                    f"{', '.join(sorted(ENVIRONMENT_KEYS))}."
                )
            endpoints = _one_or_list(
                entry.get("endpoints", ()),
                f"endpoints for environment {entry.get('name')!r}",
                "an endpoint name",
            )
            conn_id = entry.get("aws_conn_id")
            if conn_id is not None and not (isinstance(conn_id, str) and conn_id):
                raise InvalidInputError(
                    f"Invalid aws_conn_id {conn_id!r} for environment {entry.get('name')!r}: expected the id of "
                    "an Airflow AWS connection, or null for the operators' own."
                )
            environments.append(
                Environment(
                    name=entry.get("name"),  # type: ignore[arg-type]  # validated by Environment
                    approvers=_identities(entry.get("approvers", ()), f"environment {entry.get('name')!r}"),
                    aws_conn_id=conn_id,
                    quorum=_quorum(entry.get("quorum", 1)),
                    endpoints=tuple(endpoints),
                )
            )
        registration = config.get("registration_approvers")
        return cls(
            environments=tuple(environments),
            registration_approvers=None
            if registration is None
            else _identities(registration, "registration"),
            automated_registration_approval=config.get("automated_registration_approval", False),
            audit_log_uri=config.get("audit_log"),
            identities=config.get("identities"),
        )

    def to_config(self) -> dict[str, Any]:
        return {
            "environments": [
                {
                    "name": env.name,
                    "approvers": list(env.approvers),
                    "aws_conn_id": env.aws_conn_id,
                    "quorum": env.quorum,
                    "endpoints": list(env.endpoints),
                }
                for env in self.environments
            ],
            "registration_approvers": None
            if self.registration_approvers is None
            else list(self.registration_approvers),
            "automated_registration_approval": self.automated_registration_approval,
            "audit_log": self.audit_log_uri,
            "identities": None if self.identities is None else dict(self.identities),
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

    @property
    def last(self) -> Environment:
        return self.environments[-1]

    def environment_of_endpoint(self, endpoint: str) -> Environment | None:
        """The environment an endpoint is bound to, or ``None``."""
        for env in self.environments:
            if endpoint in env.endpoints:
                return env
        return None

    def quorum_for(self, name: str | None) -> int:
        """How many distinct approvers a step into ``name`` needs (registration: one)."""
        return 1 if name is None else self.get(name).quorum

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


def _validate_identities(config: Any) -> None:
    if not isinstance(config, Mapping) or config.get("kind") not in IDENTITY_KINDS:
        raise InvalidInputError(
            f'Invalid identities {config!r}: expected {{"kind": one of {", ".join(IDENTITY_KINDS)}, ...}}.'
        )
    known = IDENTITY_KEYS[config["kind"]]
    unknown = set(config) - known
    if unknown:
        raise InvalidInputError(
            f"Unknown key(s) {sorted(unknown)} in identities of kind {config['kind']!r}; known keys are "
            f"{', '.join(sorted(known))}."
        )
    if config["kind"] == "fab" and not (isinstance(config.get("conn_id"), str) and config["conn_id"]):
        raise InvalidInputError(
            "identities of kind 'fab' need 'conn_id': an Airflow connection to the metadata database, read to "
            "find each approver's FAB user id."
        )
    if config["kind"] == "static" and not (
        isinstance(config.get("ids"), Mapping)
        and all(isinstance(k, str) and isinstance(v, str) and v for k, v in config["ids"].items())
    ):
        raise InvalidInputError("identities of kind 'static' need 'ids': a mapping of user name to user id.")


def _identities(values: Sequence[str] | str, where: Any) -> tuple[str, ...]:
    """Approvers as given (one name, or a list), stripped, each once: a quorum counts distinct people."""
    result: list[str] = []
    for value in _one_or_list(values, f"approvers for {where}", "a user id or name"):
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputError(f"Invalid approver {value!r} for {where}: expected a user id or name.")
        if value.strip() not in result:
            result.append(value.strip())
    return tuple(result)


def _one_or_list(value: Any, what: str, expected: str) -> Sequence[Any]:
    """A ladder field that takes one value or a list of them, as a list (its items are checked by the caller)."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, (list, tuple)):
        raise InvalidInputError(f"Invalid {what}: {value!r}; expected {expected}, or a list of them.")
    return value


def _quorum(value: Any) -> Any:
    """JSON has one kind of number: ``2.0`` is the quorum 2. Anything else is left for the check."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
