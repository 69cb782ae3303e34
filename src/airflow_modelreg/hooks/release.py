"""The release records, read for the policy and written after it: the registry, each environment's pointer
in Parameter Store (in that environment's account), and the audit log.

Operators never read a pointer or a stage record directly: they ask this hook, which accepts a record only
when the three stores agree, and reports any disagreement to the audit log as tampering before refusing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, NoReturn

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain.approval import Approver
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import InvalidInputError, ModelRegError, NotFoundError
from airflow_modelreg.domain.pointers import (
    PROMOTED,
    ROLLED_BACK_OUT,
    Pointer,
    StageRecord,
    parameter_name,
    stage_key,
)

log = logging.getLogger(__name__)


class TamperingDetected(policy.Refused):
    """A record the provider did not write, or that disagrees with the others: refused, and logged."""


def event_key(kind: str, run_key: str) -> str:
    """The audit log's idempotency key of the event a task run writes."""
    return f"{kind}:{run_key}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ReleaseRecords:
    """The records of one ladder, through the operator's AWS connection (and each environment's own).

    :param ladder: the environment ladder (its ``audit_log_uri`` is required).
    :param aws_conn_id: the registry's connection; environments naming their own use theirs.
    """

    def __init__(
        self,
        ladder: EnvironmentLadder,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        config: Any = None,
        parameter_prefix: str = "/modelreg",
        registry: Any = None,
    ) -> None:
        self.ladder = ladder
        if registry is not None:
            self.registry = registry  # the operator's own hook: one client, not two
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.config = config
        self.parameter_prefix = parameter_prefix

    @classmethod
    def of_task(
        cls, task: Any, ladder: EnvironmentLadder, parameter_prefix: str = "/modelreg"
    ) -> ReleaseRecords:
        """The records as an AWS operator or sensor reaches them: its connection, region, TLS and botocore
        settings, and its own hook as the registry when it is a registry hook (one client, not two)."""
        from airflow_modelreg.hooks.model_registry import ModelRegistryHook

        hook = task.hook
        return cls(
            ladder,
            aws_conn_id=task.aws_conn_id,
            region_name=task.region_name,
            verify=task.verify,
            config=task.botocore_config,
            parameter_prefix=parameter_prefix,
            registry=hook if isinstance(hook, ModelRegistryHook) else None,
        )

    # ------------------------------------------------------------------------------------ stores
    @cached_property
    def registry(self) -> Any:
        from airflow_modelreg.hooks.model_registry import ModelRegistryHook

        return ModelRegistryHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.config
        )

    @cached_property
    def audit(self) -> Any:
        from airflow_modelreg.hooks.audit_log import AuditLogHook

        if not self.ladder.audit_log_uri:
            raise InvalidInputError(
                'No audit log is configured: add "audit_log": "s3://<bucket>/<prefix>" to the modelreg_ladder '
                "Variable. Every decision, promotion and deployment is written there; nothing is governed without it."
            )
        return AuditLogHook(
            log_uri=self.ladder.audit_log_uri,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.config,
        )

    def pointers(self, environment: str) -> Any:
        """The Parameter Store of an environment's account (one hook per environment)."""
        from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

        env = self.ladder.get(environment)
        cached = self._pointer_hooks.get(env.name)
        if cached is None:
            cached = self._pointer_hooks[env.name] = ParameterStoreHook.for_environment(
                env, self.aws_conn_id, self.region_name, self.verify, self.config
            )
        return cached

    @cached_property
    def _pointer_hooks(self) -> dict[str, Any]:
        return {}

    def pointer_name(self, group: str, environment: str) -> str:
        return parameter_name(self.parameter_prefix, group, environment)

    # ---------------------------------------------------------------------------------- versions
    def version(self, arn: str) -> tuple[dict[str, Any], policy.VersionFacts]:
        described = self.registry.describe_version(arn)
        return described, policy.VersionFacts.from_description(described)

    def witnessed_stages(self, facts: policy.VersionFacts) -> dict[str, StageRecord]:
        """The version's stage records that the audit log backs with the event of the run they name."""
        trusted = {}
        for environment, record in facts.stages.items():
            if environment in self.ladder.names and self._witnessed(facts, environment, record):
                trusted[environment] = record
        return trusted

    def _witnessed(self, facts: policy.VersionFacts, environment: str, record: StageRecord) -> bool:
        kind = "promoted" if record.state == PROMOTED else "rolled-back"
        event = self.audit.find(facts.group, event_key(kind, record.run_key))
        if event is None or event.get("environment") != environment:
            return False
        # Written for the pointers under another prefix (``parameter_prefix``): not this environment's.
        if (event.get("details") or {}).get("parameter") != self.pointer_name(facts.group, environment):
            return False
        if record.state == ROLLED_BACK_OUT:
            return (event.get("details") or {}).get("from_arn") == facts.arn
        return event.get("arn") == facts.arn

    # ----------------------------------------------------------------------------------- pointers
    def raw_pointer(self, group: str, environment: str) -> tuple[Pointer, int] | None:
        """The pointer as stored (and its Parameter Store version), unchecked; malformed is tampering."""
        name = self.pointer_name(group, environment)
        try:
            return self.pointers(environment).get_pointer(name)
        except InvalidInputError as malformed:
            self.tampering(
                group, environment, f"{name} holds a value airflow-modelreg never writes: {malformed}"
            )

    def current(self, group: str, environment: str) -> Pointer | None:
        """What the environment runs, once the pointer, the version's stage record and the audit log agree.

        Refuses (and records as tampering) any disagreement: a pointer naming another group or environment,
        a version of another group, a version whose stage record names another run, or no audit event.
        """
        found = self.raw_pointer(group, environment)
        if found is None:
            return None
        pointer, parameter_version = found
        name = self.pointer_name(group, environment)
        problems = self.pointer_problems(group, environment, pointer)
        if problems:
            self.tampering(
                group,
                environment,
                f"{name} (Parameter Store version {parameter_version}) points to {pointer.arn}, but "
                + "; ".join(problems)
                + ". It was not written by airflow-modelreg, or it was changed since.",
            )
        return pointer

    def pointer_problems(self, group: str, environment: str, pointer: Pointer) -> list[str]:
        """Where ``pointer`` (the environment's current one) disagrees with the version's record and the
        audit log: empty when this provider wrote it and nothing changed it since. Reads only (the registry
        view shows the answer; :meth:`current` refuses on it)."""
        facts: policy.VersionFacts | None
        read_error = []
        try:
            _, facts = self.version(pointer.arn)
        except (ModelRegError, InvalidInputError) as error:
            read_error = [f"its version {pointer.arn} cannot be read ({error})"]
            facts = None
        event = self.audit.find(group, event_key(policy.pointer_event_kind(pointer), pointer.run_key))
        return (
            policy.pointer_record_problems(pointer, group, environment, facts)
            + read_error
            + policy.pointer_event_problems(pointer, environment, event)
        )

    def tampering(self, group: str, environment: str | None, what: str) -> NoReturn:
        """Record a disagreement between the records in the audit log, then refuse."""
        log.error("AUDIT tampering: %s", what)
        try:
            self.audit.append(group, "tampering", environment=environment, reason=what[:1000])
        except Exception as error:  # the refusal stands even if the log cannot be written
            log.error("Could not write the tampering event to the audit log: %s", error)
        raise TamperingDetected(f"Refused: {what}")

    # ------------------------------------------------------------------------------------ history
    def walk_history(
        self, group: str, environment: str, start: Mapping[str, Any] | None
    ) -> Iterator[policy.ServedEntry]:
        """The environment's changes newest first, from ``start`` (an audit event) back, following each
        event's link to the environment's change before it: a few reads per step, whatever the log's size."""
        event: Mapping[str, Any] | None = start
        seen: set[int] = set()
        while event is not None:
            entry = policy.served_entry(event)
            if entry is None or entry.seq in seen or event.get("environment") != environment:
                return
            seen.add(entry.seq)
            yield entry
            previous = (event.get("details") or {}).get("env_prev_seq")
            event = self.audit.event(group, int(previous)) if previous else None

    def latest_change(self, group: str, environment: str) -> dict[str, Any] | None:
        """The environment's newest promotion or rollback event (what a new one links back to)."""
        found = [
            self.audit.last(group, kind=kind, environment=environment) for kind in ("promoted", "rolled-back")
        ]
        found = [event for event in found if event is not None]
        return max(found, key=lambda event: int(event["seq"])) if found else None

    def check_registered_here(self, described: Mapping[str, Any], facts: policy.VersionFacts) -> None:
        """Refuse a version this provider did not register: its ``registered`` event (found in O(1) by the
        idempotency key in its metadata) must exist and name this very version. Metadata copied onto a
        version made by hand names another version's event, or none."""
        key = str((described.get("CustomerMetadataProperties") or {}).get(md.IDEMPOTENCY_KEY) or "")
        event = self.audit.find(facts.group, event_key("registered", key)) if key else None
        if event is None or event.get("arn") != facts.arn:
            self.tampering(
                facts.group,
                None,
                f"{facts.arn} carries no registration this provider recorded; it was made outside Airflow",
            )

    def usable(self, arn: str, rehash: bool) -> tuple[bool, str]:
        """Whether a version may still serve: Approved, digest recorded and (``rehash``) artifact unchanged."""
        try:
            described, facts = self.version(arn)
        except (ModelRegError, InvalidInputError) as error:
            return False, f"it cannot be read ({error})"
        if facts.status != policy.APPROVED:
            return False, f"it is {facts.status} now ({facts.description or 'no description'})"
        try:
            self.registry.check_artifact_unchanged(described, rehash=rehash)
        except ModelRegError as error:
            return False, str(error).removeprefix("Refused: ")
        return True, ""

    def previous_good(
        self, group: str, environment: str, current: Pointer | None, rehash: bool
    ) -> policy.ServedEntry | None:
        """The version the environment ran before ``current`` that still qualifies (never one rolled back
        out), or ``None``."""
        if current is None:
            return None
        start = self.audit.find(group, event_key(policy.pointer_event_kind(current), current.run_key))

        def usable(arn: str) -> bool:
            ok, why = self.usable(arn, rehash)
            if not ok:
                log.info("Skipping %s in %s's history: %s", arn, environment, why)
            return ok

        return policy.previous_good(self.walk_history(group, environment, start), current.arn, usable)

    def deployable(
        self, group: str, environment: str, rehash: bool, asked: Iterable[str] = ()
    ) -> policy.DeployableSet:
        """What the environment's endpoints may serve: its current version and its previous good one; for
        the other versions ``asked`` about, why not."""
        current = self.current(group, environment)
        refused: dict[str, str] = {}
        current_arn = None
        if current is not None:
            ok, why = self.usable(current.arn, rehash)
            if ok:
                current_arn = current.arn
            else:
                refused[current.arn] = why
        previous = self.previous_good(group, environment, current, rehash)
        earlier = (previous.arn,) if previous else ()
        for arn in asked:
            if arn == current_arn or arn in earlier or arn in refused:
                continue
            try:
                _, facts = self.version(arn)
            except (ModelRegError, InvalidInputError):
                continue
            record = facts.stages.get(environment)
            if record is not None and record.state == ROLLED_BACK_OUT:
                refused[arn] = f"it was rolled back out of {environment!r} at {record.at} by {record.by}"
        return policy.DeployableSet(environment, current_arn, earlier, refused)

    # ---------------------------------------------------------------------------------- approvals
    def approvals(self, group: str, request_id: str, slots: Iterable[int]) -> dict[int, policy.Approval]:
        """The answers recorded for a promotion request's approval slots, by slot."""
        found = {}
        for slot in slots:
            event = self.audit.find(group, approval_key(request_id, slot))
            if event is None:
                continue
            actor = event.get("actor") or {}
            found[slot] = policy.Approval(
                approver=Approver(id=str(actor.get("id", "")), name=str(actor.get("name", ""))),
                status=str(event.get("status")),
                reason=str(event.get("reason") or ""),
                at=str(event.get("at") or ""),
            )
        return found

    # ------------------------------------------------------------------------------------ writing
    def record(self, group: str, kind: str, *, key: str | None = None, **fields: Any) -> dict[str, Any]:
        return self.audit.append(group, kind, key=key, **fields)

    def refusal(self, group: str | None, what: str, reason: str, **fields: Any) -> None:
        """Keep a refused attempt in the audit log (best effort: the refusal itself never depends on it)."""
        log.error("AUDIT refusal: %s: %s", what, reason)
        if not group or not self.ladder.audit_log_uri:
            return
        try:
            self.audit.append(group, "refused", reason=reason[:1000], details={"attempt": what, **fields})
        except Exception as error:
            log.error("Could not write the refusal to the audit log: %s", error)

    def write_stage(self, arn: str, environment: str, record: StageRecord, description: str = "") -> None:
        """The version's stage record and, in the same call, its SageMaker ``ModelLifeCycle`` (stage = the
        environment; status Approved, or Rejected once rolled back out), so Studio shows it and IAM's
        ``sagemaker:ModelLifeCycle:stage`` condition keys can keep everyone but Airflow from setting it."""
        status = "Rejected" if record.state == ROLLED_BACK_OUT else "Approved"
        self.registry.update_version(
            arn,
            CustomerMetadataProperties={stage_key(environment): record.to_value()},
            ModelLifeCycle={
                "Stage": environment,
                "StageStatus": status,
                "StageDescription": f"{record.state} by {record.by} at {record.at}. {description}"[:1024],
            },
        )


def approval_key(request_id: str, slot: int) -> str:
    return f"approval:{request_id}:{slot}"


def find_stage(described: Mapping[str, Any], environment: str) -> StageRecord | None:
    return StageRecord.parse((described.get("CustomerMetadataProperties") or {}).get(stage_key(environment)))


def require(value: Any, what: str) -> Any:
    if value is None:
        raise NotFoundError(what)
    return value
