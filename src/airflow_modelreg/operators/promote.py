"""Promote an approved version one environment up the ladder, or roll an environment back, with a person's
approval at each step; keep the environment's pointer in Parameter Store and the stage in the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_modelreg.assets import approved_model_asset
from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.approval import Approver, Decision
from airflow_modelreg.domain.environments import Environment, EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.pointers import (
    DEFAULT_PREFIX,
    Pointer,
    parameter_name,
    parse_promotion_record,
    promotion_record,
)
from airflow_modelreg.hooks.parameter_store import ParameterStoreHook
from airflow_modelreg.operators.approval import RequestModelApprovalOperator
from airflow_modelreg.operators.register import airflow_run_of

if TYPE_CHECKING:
    from airflow.sdk import Context

ENV_RECORD_PREFIX = f"{md.PREFIX}env:"
REASON_MARK = "Reason: "  # as Decision.description() writes it
REJECTED_RECORD_PREFIX = f"{md.PREFIX}rejected:"
ROLLED_BACK_RECORD_PREFIX = f"{md.PREFIX}rolled-back:"
POINTER_AT_REQUEST = "pointer_version_at_request"


def promoted_environments(version: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Environments the version was ever promoted to, from its registry metadata."""
    props = version.get("CustomerMetadataProperties") or {}
    return {
        key.removeprefix(ENV_RECORD_PREFIX): parse_promotion_record(value)
        for key, value in props.items()
        if key.startswith(ENV_RECORD_PREFIX)
    }


def run_key_of(context: Context) -> str:
    ti = context["ti"]
    return md.idempotency_key(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1))


class PromoteModelVersionOperator(RequestModelApprovalOperator):
    """Promote an approved version to the next environment, after its approvers say yes in the Airflow UI.

    Refused before anything is asked or written: a version that is not Approved, an artifact whose SHA-256
    no longer matches the one registered, a step that skips an environment, and a target the version
    already holds. On approval (by the target environment's approvers, never the registrant):

    1. the stage is recorded on the version in the registry (``ModelLifeCycle`` and the
       ``modelreg:env:<environment>`` metadata), then
    2. the environment's pointer in Parameter Store (``{prefix}/{group}/{environment}``, in the
       environment's own account when its ladder entry names a connection) is written as JSON, and
    3. an Asset event for ``(group, environment)`` carries the pointer, for deploy and inference DAGs.

    Both writes carry this task run's key, so a retry after a crash between them completes the promotion
    without asking again; a write lock on the environment makes concurrent promotions take turns, and a
    promotion whose environment changed while it waited for its approver is refused.

    :param environment: the target environment; default: the next one after ``from_environment``, else
        after the highest environment the version reached.
    :param from_environment: promote to the environment after this one (a batch inference step in
        ``test`` asks ``uat``'s approvers); skipped when it is the last.
    :param parameter_prefix: Parameter Store prefix of the pointers.
    :param evidence: extra facts for the approver (for example batch inference metrics), shown on the card.
    :param verify_artifact: re-hash the artifact in S3 and refuse a mismatch (default on).
    """

    template_fields: Sequence[str] = (
        *RequestModelApprovalOperator.template_fields,
        "parameter_prefix",
        "evidence",
        "from_environment",
    )
    template_fields_renderers = {"evidence": "json"}
    ui_color = "#c9daf8"

    def __init__(
        self,
        *,
        model_package_arn: str,
        environment: str | None = None,
        parameter_prefix: str = DEFAULT_PREFIX,
        evidence: Mapping[str, Any] | None = None,
        verify_artifact: bool = True,
        from_environment: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_package_arn=model_package_arn, environment=environment, **kwargs)
        self.from_environment = from_environment
        self.parameter_prefix = parameter_prefix
        self.evidence = evidence
        self.verify_artifact = verify_artifact

    # ------------------------------------------------------------------------------ environment
    @cached_property
    def ladder_in_use(self) -> EnvironmentLadder:
        return resolve_ladder(self.ladder)

    def target(self) -> Environment:
        assert self.environment, "the target environment is resolved in check_can_request"
        return self.ladder_in_use.get(self.environment)

    def pointer_hook(self, environment: Environment) -> ParameterStoreHook:
        """Parameter Store of the environment's account (its own connection, else the registry's)."""
        return ParameterStoreHook.for_environment(
            environment, self.aws_conn_id, self.region_name, self.verify, self.botocore_config
        )

    def pointer_name(self, version: Mapping[str, Any]) -> str:
        return parameter_name(self.parameter_prefix, version["ModelPackageGroupName"], self.target().name)

    def allowed_approvers(self) -> list[str]:
        if self.approvers is not None:
            return super().allowed_approvers()
        return list(self.ladder_in_use.approvers_for(self.target().name))

    # ----------------------------------------------------------------------------------- checks
    def resolve_target(self, version: Mapping[str, Any]) -> None:
        held = promoted_environments(version)
        if not self.environment and self.from_environment:
            following = self.ladder_in_use.next(self.from_environment)
            if following is None:
                raise AirflowSkipException(
                    f"{self.from_environment!r} is the last environment; nothing to promote to."
                )
            self.environment = following.name
        elif not self.environment:
            reached = [name for name in self.ladder_in_use.names if name in held]
            following = self.ladder_in_use.next(reached[-1] if reached else None)
            if following is None:
                raise GovernanceError(
                    f"Refused: {version['ModelPackageArn']} is already in the last environment "
                    f"{self.ladder_in_use.names[-1]!r}."
                )
            self.environment = following.name
        else:
            self.ladder_in_use.get(self.environment)  # unknown environment: clear error

    def check_governance(self, version: Mapping[str, Any], current: Pointer | None) -> None:
        arn = version["ModelPackageArn"]
        status = version.get("ModelApprovalStatus")
        if status != "Approved":
            raise GovernanceError(
                f"Refused: {arn} is {status}; only Approved versions are promoted "
                f"({version.get('ApprovalDescription') or 'no decision recorded'})."
            )
        if current is not None and current.arn == arn:
            raise GovernanceError(f"Refused: {self.target().name!r} already runs {arn}.")
        held = set(promoted_environments(version)) - {self.target().name}
        self.ladder_in_use.check_step(held, self.target().name)
        self.check_artifact(version)

    def check_artifact(self, version: Mapping[str, Any]) -> None:
        self.hook.check_artifact_unchanged(version, rehash=self.verify_artifact)

    def check_can_request(self, version: Mapping[str, Any], context: Context) -> None:
        self.resolve_target(version)
        pointers = self.pointer_hook(self.target())
        current = pointers.get_pointer(self.pointer_name(version))
        try:
            self.check_governance(version, current[0] if current else None)
        except GovernanceError as refusal:
            self.log.error("AUDIT refusal before asking: %s", refusal)
            raise AirflowFailException(str(refusal)) from refusal
        # Remember what the environment ran when the approver was asked: a change meanwhile is refused.
        context["ti"].xcom_push(key=POINTER_AT_REQUEST, value=current[1] if current else 0)

    def request_subject(self, version: Mapping[str, Any]) -> str:
        return (
            f"Promote {version['ModelPackageGroupName']} version {version['ModelPackageVersion']} "
            f"to {self.target().name}?"
        )

    def card_extra(self, version: Mapping[str, Any], context: Context) -> str:
        current = self.pointer_hook(self.target()).get_pointer(self.pointer_name(version))
        held = promoted_environments(version)
        lines = ["", "", f"**Promotion to {self.target().name}**", ""]
        lines.append(
            f"- {self.target().name} runs: "
            + (
                f"version {current[0].version} (approved by {current[0].approved_by})"
                if current
                else "nothing yet"
            )
        )
        for name in self.ladder_in_use.names:
            if name in held:
                lines.append(f"- approved for {name} by {held[name]['by']} at {held[name]['at']}")
        for key, value in (self.evidence or {}).items():
            lines.append(f"- {key}: {value}")
        return "\n".join(lines)

    # ------------------------------------------------------------------------------ after answer
    def execute(self, context: Context) -> Any:
        resumed = self.resume_half_done(context)
        if resumed is not None:
            return resumed
        return super().execute(context)

    def resume_half_done(self, context: Context) -> dict[str, Any] | None:
        """A retry after a crash between the registry write and the pointer write finishes the job.

        The registry already records this run's approval (its run key), so nobody is asked again.
        """
        version = self.hook.describe_version(self.model_package_arn)
        self.resolve_target(version)
        record = promoted_environments(version).get(self.target().name)
        if not record or record["run_key"] != run_key_of(context):
            return None
        self.log.info("An earlier try of this run recorded the approval by %s; completing it.", record["by"])
        # The approver's reason was written with the stage; the retry carries it on unchanged.
        stage = version.get("ModelLifeCycle") or {}
        description = stage.get("StageDescription", "") if stage.get("Stage") == self.target().name else ""
        decision = Decision(
            status="Approved",
            approver=Approver(id=record["by"], name=record["by"]),
            decided_at=datetime.fromisoformat(record["at"]),
            reason=description.partition(REASON_MARK)[2],
            airflow_run=airflow_run_of(context),
            environment=self.target().name,
        )
        decided = self.commit(decision, version, context, pointer_at_request=None)
        return self.result(decided, decision)

    def record(self, decision: Decision, version: Mapping[str, Any], context: Context) -> dict[str, Any]:
        if decision.status != "Approved":
            # The version keeps its registry status; the refused promotion is kept on it for audit.
            self.hook.update_version(
                self.model_package_arn,
                CustomerMetadataProperties={
                    f"{REJECTED_RECORD_PREFIX}{self.target().name}": (
                        f"{decision.decided_at.isoformat()}|{decision.approver.name}|{decision.reason}"
                    )[:256]
                },
            )
            return self.hook.describe_version(self.model_package_arn)
        at_request = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key=POINTER_AT_REQUEST)
        try:
            return self.commit(decision, version, context, pointer_at_request=at_request)
        except GovernanceError as refusal:
            self.log.error("AUDIT refusal after approval: %s", refusal)
            raise AirflowFailException(str(refusal)) from refusal

    def commit(
        self,
        decision: Decision,
        version: Mapping[str, Any],
        context: Context,
        pointer_at_request: int | None,
        action: str = "promote",
    ) -> dict[str, Any]:
        """Write the registry, then the pointer, under the environment's lock; emit the Asset event."""
        env = self.target()
        run_key = run_key_of(context)
        pointers = self.pointer_hook(env)
        name = self.pointer_name(version)
        pointers.acquire_lock(name, owner=run_key)
        try:
            found = pointers.get_pointer(name)
            current, current_version = (found[0], found[1]) if found else (None, 0)
            already_written = (
                current is not None
                and current.arn == version["ModelPackageArn"]
                and (current.run_key == run_key)
            )
            if (
                not already_written
                and pointer_at_request is not None
                and current_version != pointer_at_request
            ):
                raise GovernanceError(
                    f"Refused: {env.name!r} changed while this promotion waited for approval (now version "
                    f"{current.version if current else '-'}, written by run {current.airflow_run if current else '-'}"
                    "). Nothing was written; start a new promotion to replace it."
                )
            at = decision.decided_at.astimezone(UTC).isoformat(timespec="seconds")
            self.hook.update_version(
                version["ModelPackageArn"],
                CustomerMetadataProperties={
                    f"{ENV_RECORD_PREFIX}{env.name}": promotion_record(at, decision.approver.name, run_key)
                },
                ModelLifeCycle={
                    "Stage": env.name,
                    "StageStatus": "Approved",
                    "StageDescription": f"{action}: {decision.description()}"[:1024],
                },
            )
            if action == "rollback" and current is not None and current.arn != version["ModelPackageArn"]:
                self.hook.update_version(
                    current.arn,
                    CustomerMetadataProperties={
                        f"{ROLLED_BACK_RECORD_PREFIX}{env.name}": promotion_record(
                            at, decision.approver.name, run_key
                        )
                    },
                )
            pointer = current if already_written else None
            if pointer is None:
                pointer = Pointer(
                    group=version["ModelPackageGroupName"],
                    environment=env.name,
                    version=int(version["ModelPackageVersion"]),
                    arn=version["ModelPackageArn"],
                    digest=(version.get("CustomerMetadataProperties") or {}).get(md.ARTIFACT_SHA256),
                    approved_by=decision.approver.name,
                    approved_at=at,
                    airflow_run=decision.airflow_run,
                    run_key=run_key,
                    action=action,
                    reason=decision.reason,
                    previous_version=current.version if current else None,
                    previous_arn=current.arn if current else None,
                )
                pointers.put_pointer(name, pointer)
        finally:
            pointers.release_lock(name, owner=run_key)
        self.emit_asset_event(context, pointer)
        self.log.info(
            "%s: %s version %s %s by %s",
            env.name,
            pointer.group,
            pointer.version,
            "promoted" if action == "promote" else "restored",
            pointer.approved_by,
        )
        decided = self.hook.describe_version(version["ModelPackageArn"])
        decided["Pointer"] = pointer
        return decided

    def emit_asset_event(self, context: Context, pointer: Pointer) -> None:
        """Attach the pointer to this task's Asset event for (group, environment)."""
        from airflow.sdk import AssetAlias

        asset = approved_model_asset(pointer.group, pointer.environment)
        outlet_events = context.get("outlet_events")
        if outlet_events is None:
            return
        extra = {k: v for k, v in pointer.__dict__.items() if k != "run_key"}
        emitted = False
        for outlet in self.outlets or []:
            if isinstance(outlet, AssetAlias):
                outlet_events[outlet].add(asset, extra=extra)
                emitted = True
            elif getattr(outlet, "uri", None) == asset.uri:
                outlet_events[outlet].extra = extra
                emitted = True
        if not emitted:
            self.log.info(
                "No outlet for %s: declare outlets=[approved_model_asset(%r, %r)] (or APPROVALS_ALIAS) "
                "to schedule DAGs on this promotion.",
                asset.uri,
                pointer.group,
                pointer.environment,
            )

    def result(self, decided: dict[str, Any], decision: Decision) -> dict[str, Any]:
        pointer = decided.pop("Pointer", None)
        return {
            **super().result(decided, decision),
            "environment": self.target().name,
            "decision": self.decision_document(decision),
            "pointer": {k: v for k, v in pointer.__dict__.items() if k != "run_key"} if pointer else None,
        }

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        # The target environment was resolved before asking; resolve it again on this fresh instance.
        if not self.environment:
            self.resolve_target(self.hook.describe_version(self.model_package_arn))
        return super().execute_complete(context, event)


class RollbackModelVersionOperator(PromoteModelVersionOperator):
    """Re-point an environment to the version it ran before, after its approvers say yes.

    The previous version comes from the pointer's Parameter Store history (the newest earlier entry naming
    a different version that is still Approved); the rollback is recorded like a promotion, with
    ``action: rollback`` in the pointer.

    :param group: the model package group.
    :param environment: the environment to roll back.
    """

    template_fields: Sequence[str] = (*PromoteModelVersionOperator.template_fields, "group")

    def __init__(self, *, group: str, environment: str, **kwargs: Any) -> None:
        super().__init__(model_package_arn="", environment=environment, **kwargs)
        self.group = group

    def resolve_target(self, version: Mapping[str, Any]) -> None:
        self.ladder_in_use.get(self.environment or "")

    def choose_previous(self) -> str:
        pointers = self.pointer_hook(self.target())
        name = parameter_name(self.parameter_prefix, self.group, self.target().name)
        found = pointers.get_pointer(name)
        if found is None:
            raise GovernanceError(
                f"Refused: {self.target().name!r} runs no version of {self.group}; nothing to roll back."
            )
        current = found[0]
        for _, earlier, _ in reversed(list(pointers.history(name))):
            if earlier.arn == current.arn:
                continue
            status = self.hook.describe_version(earlier.arn).get("ModelApprovalStatus")
            if status == "Approved":
                return earlier.arn
            self.log.info("Skipping %s in the history: it is %s now", earlier.arn, status)
        raise GovernanceError(
            f"Refused: {self.target().name!r} has no earlier approved version of {self.group} to roll back to."
        )

    def check_governance(self, version: Mapping[str, Any], current: Pointer | None) -> None:
        if version.get("ModelApprovalStatus") != "Approved":
            raise GovernanceError(f"Refused: {version['ModelPackageArn']} is no longer Approved.")
        self.check_artifact(version)

    def request_subject(self, version: Mapping[str, Any]) -> str:
        return (
            f"Roll {self.target().name} back to {version['ModelPackageGroupName']} "
            f"version {version['ModelPackageVersion']}?"
        )

    def execute(self, context: Context) -> Any:
        if not self.model_package_arn:
            try:
                self.model_package_arn = self.choose_previous()
            except GovernanceError as refusal:
                raise AirflowFailException(str(refusal)) from refusal
            context["ti"].xcom_push(key="rollback_to", value=self.model_package_arn)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        self.model_package_arn = context["ti"].xcom_pull(task_ids=context["ti"].task_id, key="rollback_to")
        return super().execute_complete(context, event)

    def commit(self, decision, version, context, pointer_at_request, action="rollback"):  # type: ignore[override]
        return super().commit(decision, version, context, pointer_at_request, action="rollback")
