"""Promote an approved version one environment up the ladder, or roll an environment back, with the
approval of that environment's approvers (a quorum of distinct people where the ladder asks for one).

A step is three kinds of task, built by :func:`promotion_step` or :func:`rollback_step` as a task group:

``prepare``
    Decides whether the step may be asked at all (the release policy: approved, artifact unchanged, no
    environment skipped, not rolled back out, room for the record, enough approvers), and records the
    request in the audit log: what the environment runs now, who may answer, how many must approve.
``approve`` (one mapped task per approval the quorum needs, one at a time)
    Asks in the Airflow UI (human-in-the-loop). Each request's card shows the approvals so far and is
    assigned only to the approvers who may still answer: never the registrant, never twice the same person.
    Each answer is recorded in the audit log.
``commit``
    Re-reads everything at the moment of writing: the version must still be Approved with its artifact
    unchanged, the ladder step still valid, the environment must still run what it ran when the approvers
    were asked, and the quorum must be met by distinct allowed approvers with no rejection. Then it writes
    the version's stage record, the environment's pointer (in the environment's account) and the audit
    event, under the environment's write lock, and emits the Asset event. A retry completes a half-done
    commit only when those checks still hold; a cleared old commit never re-points an environment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException, AirflowSkipException

from airflow_modelreg.assets import approved_model_asset
from airflow_modelreg.domain import policy
from airflow_modelreg.domain import registry_view as view
from airflow_modelreg.domain.approval import APPROVE
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError
from airflow_modelreg.domain.pointers import (
    DEFAULT_PREFIX,
    PROMOTED,
    RESTORED,
    ROLLED_BACK_OUT,
    Pointer,
    StageRecord,
    stage_key,
)
from airflow_modelreg.domain.validation import validate_group_name, validate_model_package_arn
from airflow_modelreg.domain.versions import CardContext, summarize
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import approval_key, event_key, now_iso
from airflow_modelreg.links.registry_view import RELEASE_LINKS, persist_version_links
from airflow_modelreg.operators.approval import GovernedApprovalOperator
from airflow_modelreg.operators.governed import GovernedTask
from airflow_modelreg.operators.register import airflow_run_of, run_key_of

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.notifier import BaseNotifier

ACTIONS = {"promote": "promoted", "rollback": "rolled-back"}
DEFAULT_RESPONSE_TIMEOUT = timedelta(days=7)


def request_key(request_id: str) -> str:
    return f"requested:{request_id}"


class _ReleaseOperator(GovernedTask, AwsBaseOperator[ModelRegistryHook]):
    """The ladder and its records, for the prepare and commit tasks."""

    aws_hook_class = ModelRegistryHook
    operator_extra_links = RELEASE_LINKS

    def __init__(
        self,
        *,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        parameter_prefix: str = DEFAULT_PREFIX,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.ladder = ladder
        self.parameter_prefix = parameter_prefix


# ------------------------------------------------------------------------------------------ prepare
class PreparePromotionOperator(_ReleaseOperator):
    """Check a promotion (or rollback) against the release policy and record the approval request.

    Returns the approval requests to ask (XCom), one per approval the quorum needs, which the approval task
    is mapped over: each carries ``slot`` (0, 1, ...) and the request's ``request_id``, ``action``, ``group``,
    ``environment``, ``arn``, ``version``, ``quorum``, ``approvers`` and what the environment ran when the
    request was made.

    :param model_package_arn: the version to promote (templated); not for a rollback.
    :param group: the group whose environment is rolled back (templated); for a rollback.
    :param action: ``"promote"`` or ``"rollback"``.
    :param environment: the target environment (templated); default for a promotion: the next one after
        ``from_environment``, else after the highest environment the version holds.
    :param from_environment: promote to the environment after this one (skipped when it is the last).
    :param approvers: narrow the environment's approvers to these user names (never widen).
    :param evidence: facts for the approvers (batch inference metrics...), shown on every card.
    :param verify_artifact: re-hash the artifact in S3 and refuse a mismatch (default on).
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_package_arn",
        "group",
        "environment",
        "from_environment",
        "approvers",
        "evidence",
        "parameter_prefix",
    )
    template_fields_renderers = {"evidence": "json"}
    ui_color = "#c9daf8"

    def __init__(
        self,
        *,
        model_package_arn: str | None = None,
        group: str | None = None,
        action: str = "promote",
        environment: str | None = None,
        from_environment: str | None = None,
        approvers: Sequence[str] | str | None = None,
        evidence: Mapping[str, Any] | None = None,
        verify_artifact: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if action not in ACTIONS:
            raise InvalidInputError(f"Unknown action {action!r}: use 'promote' or 'rollback'.")
        self.model_package_arn = model_package_arn
        self.group = group
        self.action = action
        self.environment = environment
        self.from_environment = from_environment
        self.approvers = approvers
        self.evidence = evidence
        self.verify_artifact = verify_artifact

    def execute(self, context: Context) -> list[dict[str, Any]]:
        if self.environment and not self.ladder_in_use.approvers_for(self.environment):
            # A configuration error, found before anything is read or written: nobody could be asked.
            raise AirflowFailException(
                f"No approvers are configured for environment {self.environment!r}: set them in the ladder "
                "(Variable 'modelreg_ladder'). Refusing to ask nobody."
            )
        if self.action == "promote":
            validate_model_package_arn(self.model_package_arn)
            described, facts = self.records.version(str(self.model_package_arn))
            group = facts.group
        else:
            group = validate_group_name(self.group)
        try:
            request = self._promotion(described, facts) if self.action == "promote" else self._rollback(group)
        except GovernanceError as refusal:
            self.refuse(group, f"request a {self.action} of {self.model_package_arn or group}", refusal)
        persist_version_links(context, self, request.pop("described"), request["environment"])
        request.update(
            request_id=uuid.uuid4().hex,
            action=self.action,
            evidence=_evidence(self.evidence),
            requested_at=now_iso(),
            requested_by_run=airflow_run_of(context),
        )
        self.records.record(
            group,
            "requested",
            key=request_key(request["request_id"]),
            version=request["version"],
            arn=request["arn"],
            environment=request["environment"],
            airflow_run=request["requested_by_run"],
            details={k: v for k, v in request.items() if k not in ("arn", "version", "environment")},
        )
        self.log.info(
            "Asking %s (%s of them) to %s %s version %s in %s",
            ", ".join(request["approvers"]),
            request["quorum"],
            self.action,
            group,
            request["version"],
            request["environment"],
        )
        return [{**request, "slot": slot} for slot in request["slots"]]

    def _target(self, facts: policy.VersionFacts, stages: Mapping[str, StageRecord]) -> str:
        ladder = self.ladder_in_use
        if self.environment:
            return ladder.get(self.environment).name
        if self.from_environment:
            following = ladder.next(self.from_environment)
            if following is None:
                raise AirflowSkipException(
                    f"{self.from_environment!r} is the last environment; nothing to promote to."
                )
            return following.name
        reached = [name for name in ladder.names if policy.holds(stages, name)]
        following = ladder.next(reached[-1] if reached else None)
        if following is None:
            raise policy.Refused(
                f"Refused: {facts.arn} is already in the last environment {ladder.names[-1]!r}."
            )
        return following.name

    def _promotion(self, described: dict[str, Any], facts: policy.VersionFacts) -> dict[str, Any]:
        stages = self.records.witnessed_stages(facts)
        target = self._target(facts, stages)
        current = self.records.current(facts.group, target)
        policy.check_promotion(self.ladder_in_use, facts, target, stages, current)
        self.records.check_registered_here(described, facts)
        self.hook.check_artifact_unchanged(described, rehash=self.verify_artifact)
        return self._request(described, facts, target, current, stages)

    def _rollback(self, group: str) -> dict[str, Any]:
        target = self.ladder_in_use.get(str(self.environment or "")).name
        current = self.records.current(group, target)
        if current is None:
            raise policy.Refused(f"Refused: {target!r} runs no version of {group}; nothing to roll back.")
        previous = self.records.previous_good(group, target, current, rehash=self.verify_artifact)
        if previous is None:
            raise policy.Refused(
                f"Refused: {target!r} has no earlier version of {group} to roll back to that is still Approved, "
                "unchanged and not rolled back out itself."
            )
        described, facts = self.records.version(previous.arn)
        request = self._request(described, facts, target, current, self.records.witnessed_stages(facts))
        request["from_arn"] = current.arn
        request["from_version"] = current.version
        return request

    def _request(
        self,
        described: dict[str, Any],
        facts: policy.VersionFacts,
        target: str,
        current: Pointer | None,
        stages: Mapping[str, StageRecord],
    ) -> dict[str, Any]:
        ladder = self.ladder_in_use
        policy.check_metadata_capacity(
            facts.metadata_keys, [stage_key(target)], f"recording {target!r} on the version"
        )
        allowed = policy.allowed_approvers(ladder, target, self.approvers)
        state = policy.quorum_state(ladder, target, allowed, facts.registrants, [])
        policy.check_quorum_reachable(state, f"{target!r}")
        return {
            "described": described,
            "group": facts.group,
            "environment": target,
            "arn": facts.arn,
            "version": facts.number,
            "quorum": state.needed,
            "slots": list(range(state.needed)),
            "approvers": allowed,
            "registrants": list(facts.registrants),
            "at_request": None
            if current is None
            else {"run_key": current.run_key, "arn": current.arn, "version": current.version},
            "held": [
                {"environment": env, "by": record.by, "at": record.at}
                for env, record in stages.items()
                if policy.holds(stages, env)
            ],
        }


def _evidence(evidence: Any) -> dict[str, Any]:
    if evidence in (None, ""):
        return {}
    if not isinstance(evidence, Mapping):
        raise InvalidInputError(f"evidence is {evidence!r}; expected a mapping of name to value.")
    return {
        str(k): v if isinstance(v, (int, float, bool)) or v is None else str(v) for k, v in evidence.items()
    }


# ------------------------------------------------------------------------------------------ approve
class ApprovePromotionOperator(GovernedApprovalOperator):
    """One approval of a promotion request, asked in the Airflow UI; mapped once per approval needed.

    Approval ``slot`` k (the request's ``slot``) opens only after slots 0..k-1 were answered (the task group runs them one at a time,
    and the task reschedules itself until then), so its card shows the approvals so far and it is assigned
    only to approvers who may still answer. After a rejection no further approval is asked. The answer is
    recorded in the audit log and returned; the commit task decides.

    :param request: one of the prepare task's approval requests (mapped over them); its ``slot`` says
        which approval of the quorum this is.
    """

    template_fields: Sequence[str] = aws_template_fields("request", "subject")
    operator_extra_links = RELEASE_LINKS
    ui_color = "#ffe1a8"

    def __init__(self, *, request: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.request = request

    @property
    def slot(self) -> int:
        return int((self.request or {}).get("slot") or 0)

    def _request(self, context: Context) -> Mapping[str, Any]:
        """The request to approve; its version's and environment's links are kept for this task."""
        request = self.request
        if not isinstance(request, Mapping) or not request.get("request_id"):
            raise AirflowFailException(f"No promotion request to approve (got {request!r}).")
        version = {"ModelPackageGroupName": request["group"], "ModelPackageVersion": request["version"]}
        persist_version_links(context, self, version, request["environment"])
        return request

    def execute(self, context: Context) -> Any:
        request = self._request(context)
        group, slot = request["group"], int(self.slot)
        answers = self.records.approvals(group, request["request_id"], range(request["quorum"]))
        if slot in answers:  # an earlier try of this task recorded the answer: never ask twice
            return _slot_result(slot, answers[slot])
        earlier = [answers.get(k) for k in range(slot)]
        rejected = [a for a in earlier if a is not None and a.status != policy.APPROVED]
        if rejected:
            raise AirflowSkipException(
                f"Not asking: {rejected[0].approver.name} rejected this {request['action']} already."
            )
        if any(a is None for a in earlier):
            self._wait_for_earlier(request)
        described, facts = self.records.version(request["arn"])
        allowed = policy.allowed_approvers(self.ladder_in_use, request["environment"], request["approvers"])
        state = policy.quorum_state(
            self.ladder_in_use,
            request["environment"],
            allowed,
            facts.registrants,
            list(earlier),  # type: ignore[arg-type]
        )
        if state.complete:
            raise AirflowSkipException(f"The quorum is met ({state.summary}); this approval is not needed.")
        try:
            policy.check_quorum_reachable(state, repr(request["environment"]))
        except GovernanceError as refusal:
            self.refuse(group, f"ask approval {slot + 1} of {request['arn']}", refusal)
        body = self.card(
            described,
            CardContext(
                environment=request["environment"],
                may_decide=state.eligible,
                registrants=facts.registrants,
                quorum_needed=state.needed,
                approvals_so_far=[
                    {"by": a.approver.name, "at": a.at, "reason": a.reason} for a in earlier if a is not None
                ],
                runs_now=_runs(request.get("at_request")),
                held=request.get("held") or [],
                evidence=request.get("evidence") or {},
                action=request["action"],
            ),
        )
        subject = view.promotion_subject(
            group, request["version"], request["environment"], request["action"], slot, state.needed
        )
        return self.ask(context, state.eligible, subject, body)

    def _wait_for_earlier(self, request: Mapping[str, Any]) -> None:
        """Reschedule until the earlier approvals are answered (bounded by the response timeout)."""
        timeout = self.response_timeout or DEFAULT_RESPONSE_TIMEOUT
        asked = datetime.fromisoformat(request["requested_at"])
        if datetime.now(UTC) > asked + timeout * max(1, int(self.slot)):
            raise AirflowFailException(
                f"The earlier approvals of this {request['action']} were not answered within {timeout}; giving up."
            )
        self.log.info("Approval %s waits for the earlier approvals to be answered.", int(self.slot) + 1)
        raise AirflowRescheduleException(datetime.now(UTC) + timedelta(seconds=2))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        request = self._request(context)
        if "error" in event:
            return super().execute_complete(context, event)  # timeout: raises
        approver, chosen, reason, at = self.answer_of(event)
        group, slot = request["group"], int(self.slot)
        answers = self.records.approvals(group, request["request_id"], range(request["quorum"]))
        if slot in answers:
            return _slot_result(slot, answers[slot])
        _, facts = self.records.version(request["arn"])
        allowed = policy.allowed_approvers(self.ladder_in_use, request["environment"], request["approvers"])
        already = [a.approver.name for k, a in answers.items() if k != slot]
        try:
            policy.check_may_answer(approver, facts.registrants, allowed, already)
            policy.check_reason_is_own(reason, self.prefilled_reasons(context))
        except GovernanceError as refusal:
            self.refuse(
                group,
                f"{approver.name} answered {chosen} on the {request['action']} of {request['arn']} to "
                f"{request['environment']}",
                refusal,
                arn=request["arn"],
                by=approver.name,
            )
        status = policy.APPROVED if chosen == APPROVE else policy.REJECTED
        stamp = at.astimezone(UTC).isoformat(timespec="seconds")
        self.records.record(
            group,
            "approval-recorded",
            key=approval_key(request["request_id"], slot),
            version=request["version"],
            arn=request["arn"],
            environment=request["environment"],
            status=status,
            actor={"id": approver.id, "name": approver.name},
            reason=reason,
            airflow_run=airflow_run_of(context),
            details={
                "request_id": request["request_id"],
                "slot": slot,
                "quorum": request["quorum"],
                "at": stamp,
            },
        )
        self.log.info("%s %s approval %s of %s", approver.name, status, slot + 1, request["quorum"])
        return {"slot": slot, "status": status, "by": approver.name, "reason": reason, "at": stamp}


def _slot_result(slot: int, approval: policy.Approval) -> dict[str, Any]:
    return {
        "slot": slot,
        "status": approval.status,
        "by": approval.approver.name,
        "reason": approval.reason,
        "at": approval.at,
    }


def _runs(at_request: Mapping[str, Any] | None) -> str:
    if not at_request:
        return "nothing yet"
    return f"version {at_request.get('version')}"


# ------------------------------------------------------------------------------------------- commit
class CommitPromotionOperator(_ReleaseOperator):
    """Write a promotion (or rollback) once its quorum approved, after checking everything again.

    :param request: the prepare task's requests (XCom); only their ``request_id`` and ``group`` are taken
        from it, the rest is read back from the audit log, which XCom edits cannot change.
    :param verify_artifact: re-hash the artifact in S3 and refuse a mismatch (default on).
    :param fail_on_reject: fail on a rejection (default: skip the rest of the ladder).
    """

    template_fields: Sequence[str] = aws_template_fields("request", "parameter_prefix")
    ui_color = "#c9daf8"

    def __init__(
        self,
        *,
        request: Mapping[str, Any] | None = None,
        verify_artifact: bool = True,
        fail_on_reject: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.request = request
        self.verify_artifact = verify_artifact
        self.fail_on_reject = fail_on_reject

    def _recorded_request(self) -> dict[str, Any]:
        given: Any = self.request
        if isinstance(given, (list, tuple)) and given:
            given = given[0]  # the prepare task's requests share one request id
        if not isinstance(given, Mapping) or not given.get("request_id") or not given.get("group"):
            raise AirflowFailException(f"No promotion request to commit (got {given!r}).")
        event = self.records.audit.find(given["group"], request_key(given["request_id"]))
        if event is None or "at_request" not in (event.get("details") or {}):
            self.refuse(
                str(given["group"]),
                f"commit request {given['request_id']}",
                policy.Refused(
                    f"Refused: the audit log has no request {given['request_id']}; only requests made by the "
                    "prepare task are committed."
                ),
            )
        assert event is not None
        return {
            **(event.get("details") or {}),
            "arn": event["arn"],
            "version": event["version"],
            "environment": event["environment"],
            "group": given["group"],
        }

    def execute(self, context: Context) -> Any:
        request = self._recorded_request()
        group, env, action = request["group"], request["environment"], request["action"]
        kind = ACTIONS[action]
        run_key = run_key_of(context)
        pointers = self.records.pointers(env)
        name = self.records.pointer_name(group, env)
        done = self.records.audit.find(group, event_key(kind, run_key))
        if done is not None:
            self.log.info("An earlier try of this run committed this %s; nothing to do.", action)
            pointers.release_lock(name, owner=run_key)  # an earlier try may have stopped before releasing it
            return self._result(request, done.get("details", {}).get("pointer"), context, emit=True)
        pointers.acquire_lock(name, owner=run_key)
        try:
            pointer = self._commit(context, request, run_key, name, pointers)
        finally:
            pointers.release_lock(name, owner=run_key)
        return self._result(request, pointer, context, emit=True)

    def _commit(
        self, context: Context, request: dict[str, Any], run_key: str, name: str, pointers: Any
    ) -> dict:
        group, env, action = request["group"], request["environment"], request["action"]
        found = self.records.raw_pointer(group, env)
        if found is not None and found[0].run_key == run_key:
            # An earlier try wrote the pointer and stopped before the audit event: complete the record.
            self.log.info("An earlier try of this run wrote %s; recording it.", name)
            return self._record(context, request, found[0], found[1])
        described, facts = self.records.version(request["arn"])
        allowed = policy.allowed_approvers(self.ladder_in_use, env, request.get("approvers"))
        answers = self.records.approvals(group, request["request_id"], range(int(request["quorum"])))
        approvals = [answers[k] for k in sorted(answers)]
        state = policy.quorum_state(self.ladder_in_use, env, allowed, facts.registrants, approvals)
        if state.rejected_by:
            self._rejected(context, request, approvals, run_key)
        try:
            if not state.complete:
                raise policy.Refused(
                    f"Refused: the {action} of {request['arn']} to {env!r} has {state.summary} from allowed, "
                    "distinct approvers who did not register it; nothing was written."
                )
            current = self.records.current(group, env)
            policy.check_unchanged_since_request(env, current, request.get("at_request"))
            if action == "promote":
                stages = self.records.witnessed_stages(facts)
                policy.check_promotion(self.ladder_in_use, facts, env, stages, current)
                self.records.check_registered_here(described, facts)
            else:
                self._check_rollback(facts, request, current)
            if self.verify_artifact:
                self.hook.check_artifact_unchanged(described, rehash=True)
            policy.check_metadata_capacity(
                facts.metadata_keys, [stage_key(env)], f"recording {env!r} on the version"
            )
        except GovernanceError as refusal:
            self.refuse(
                group, f"commit the {action} of {request['arn']} to {env}", refusal, arn=request["arn"]
            )
        approved = [
            a for a in approvals if a.status == policy.APPROVED and a.approver.name in state.approved_by
        ]
        at = now_iso()
        by = ",".join(a.approver.name for a in approved)
        record = StageRecord(PROMOTED if action == "promote" else RESTORED, at, by, run_key)
        reasons = "; ".join(f"{a.approver.name}: {a.reason}" for a in approved)
        self.records.write_stage(facts.arn, env, record, reasons)
        if action == "rollback" and current is not None:
            self.records.write_stage(current.arn, env, StageRecord(ROLLED_BACK_OUT, at, by, run_key))
        pointer = Pointer(
            group=group,
            environment=env,
            version=facts.number,
            arn=facts.arn,
            digest=facts.digest,
            approved_by=", ".join(a.approver.name for a in approved),
            approved_at=at,
            airflow_run=airflow_run_of(context),
            run_key=run_key,
            action=action,
            reason=reasons[:1000],
            previous_version=current.version if current else None,
            previous_arn=current.arn if current else None,
            approvers=[a.approver.name for a in approved],
        )
        parameter_version = pointers.put_pointer(name, pointer)
        return self._record(context, request, pointer, parameter_version)

    def _check_rollback(
        self, facts: policy.VersionFacts, request: Mapping[str, Any], current: Pointer | None
    ) -> None:
        env = request["environment"]
        if current is None or current.arn != request.get("from_arn"):
            raise policy.Refused(
                f"Refused: {env!r} no longer runs {request.get('from_arn')} (it runs "
                f"{current.arn if current else 'nothing'}); this rollback was for that version."
            )
        if facts.status != policy.APPROVED:
            raise policy.Refused(f"Refused: {facts.arn} is {facts.status} now; it cannot be restored.")
        record = self.records.witnessed_stages(facts).get(env)
        if record is not None and record.state == ROLLED_BACK_OUT:
            raise policy.Refused(f"Refused: {facts.arn} was rolled back out of {env!r} meanwhile.")

    def _record(
        self, context: Context, request: Mapping[str, Any], pointer: Pointer, parameter_version: int
    ) -> dict:
        document = {k: v for k, v in pointer.__dict__.items() if k != "run_key"}
        # Each change links to the environment's change before it, so its history is walked in a few reads.
        before = self.records.latest_change(request["group"], pointer.environment)
        self.records.record(
            request["group"],
            ACTIONS[request["action"]],
            key=event_key(ACTIONS[request["action"]], pointer.run_key),
            version=pointer.version,
            arn=pointer.arn,
            environment=pointer.environment,
            actor={
                "id": pointer.approvers[0] if pointer.approvers else pointer.approved_by,
                "name": pointer.approved_by,
            },
            reason=pointer.reason,
            airflow_run=pointer.airflow_run,
            details={
                "run_key": pointer.run_key,
                # The pointer's parameter: a promotion under another prefix is no promotion of this one.
                "parameter": self.records.pointer_name(request["group"], pointer.environment),
                "request_id": request["request_id"],
                "approvers": pointer.approvers,
                "digest": pointer.digest,
                "pointer_version": parameter_version,
                "previous_version": pointer.previous_version,
                "previous_arn": pointer.previous_arn,
                "from_arn": request.get("from_arn"),
                "env_prev_seq": before["seq"] if before else None,
                "pointer": document,
            },
        )
        self.log.info(
            "%s: %s version %s %s by %s",
            pointer.environment,
            pointer.group,
            pointer.version,
            "promoted" if pointer.action == "promote" else "restored",
            pointer.approved_by,
        )
        return document

    def _rejected(self, context: Context, request: Mapping[str, Any], approvals: list, run_key: str) -> None:
        rejection = next(a for a in approvals if a.status != policy.APPROVED)
        self.records.record(
            request["group"],
            "promotion-rejected",
            key=event_key("promotion-rejected", run_key),
            version=request["version"],
            arn=request["arn"],
            environment=request["environment"],
            status=policy.REJECTED,
            actor={"id": rejection.approver.id, "name": rejection.approver.name},
            reason=rejection.reason,
            airflow_run=airflow_run_of(context),
            details={"request_id": request["request_id"], "action": request["action"]},
        )
        message = (
            f"{rejection.approver.name} rejected the {request['action']} of {request['arn']} to "
            f"{request['environment']}: {rejection.reason or 'no reason given'}"
        )
        if self.fail_on_reject:
            raise AirflowFailException(message)
        raise AirflowSkipException(message)

    def _result(
        self, request: Mapping[str, Any], pointer: Mapping[str, Any] | None, context: Context, emit: bool
    ) -> dict:
        described = self.hook.describe_version(request["arn"])
        persist_version_links(context, self, described, request["environment"])
        if emit and pointer:
            self.emit_asset_event(context, pointer)
        return {
            **summarize(described),
            "environment": request["environment"],
            "action": request["action"],
            "pointer": pointer,
        }

    def emit_asset_event(self, context: Context, pointer: Mapping[str, Any]) -> None:
        """Attach the pointer to this task's Asset event for (group, environment)."""
        from airflow.sdk import AssetAlias

        asset = approved_model_asset(pointer["group"], pointer["environment"])
        outlet_events = context.get("outlet_events")
        if outlet_events is None:
            return
        emitted = False
        for outlet in self.outlets or []:
            if isinstance(outlet, AssetAlias):
                outlet_events[outlet].add(asset, extra=dict(pointer))
                emitted = True
            elif getattr(outlet, "uri", None) == asset.uri:
                outlet_events[outlet].extra = dict(pointer)
                emitted = True
        if not emitted:
            self.log.info(
                "No outlet for %s: declare outlets=[approved_model_asset(%r, %r)] (or APPROVALS_ALIAS) to schedule "
                "DAGs on this promotion.",
                asset.uri,
                pointer["group"],
                pointer["environment"],
            )


# ------------------------------------------------------------------------------------------ factories
def promotion_step(
    group_id: str,
    *,
    model_package_arn: str,
    environment: str | None = None,
    from_environment: str | None = None,
    approvers: Sequence[str] | str | None = None,
    evidence: Mapping[str, Any] | str | None = None,
    notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
    response_timeout: timedelta | None = None,
    outlets: Sequence[Any] | None = None,
    inlets: Sequence[Any] | None = None,
    **common: Any,
) -> Any:
    """A promotion step as a task group ``<group_id>``: ``prepare`` >> ``approve`` (one mapped approval per
    person the environment's quorum needs) >> ``commit``. Returns the task group; ``commit``'s XCom is the
    promoted version with its pointer. ``common`` goes to every task (``aws_conn_id``, ``ladder``,
    ``parameter_prefix``, ``verify_artifact``...). ``outlets`` and ``inlets`` go to ``commit``: with
    ``APPROVALS_ALIAS`` as outlet, declare as inlets the ``approved_model_asset`` (group, environment) the
    alias may emit, the pointer ``commit`` reads and moves: Airflow records an alias's event only for an
    asset some DAG declares (otherwise "AssetModel ... not found; cannot create asset event")."""
    return _step(
        group_id,
        action="promote",
        prepare_kwargs={
            "model_package_arn": model_package_arn,
            "environment": environment,
            "from_environment": from_environment,
            "evidence": evidence,
        },
        approvers=approvers,
        notifiers=notifiers,
        response_timeout=response_timeout,
        outlets=outlets,
        inlets=inlets,
        common=common,
    )


def rollback_step(
    group_id: str,
    *,
    group: str,
    environment: str,
    approvers: Sequence[str] | str | None = None,
    notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
    response_timeout: timedelta | None = None,
    outlets: Sequence[Any] | None = None,
    inlets: Sequence[Any] | None = None,
    **common: Any,
) -> Any:
    """Roll ``environment`` back to the version it ran before its current one (skipping versions rolled
    back out, revoked or changed), after its approvers say yes: ``prepare`` >> ``approve`` >> ``commit``."""
    return _step(
        group_id,
        action="rollback",
        prepare_kwargs={"group": group, "environment": environment},
        approvers=approvers,
        notifiers=notifiers,
        response_timeout=response_timeout,
        outlets=outlets,
        inlets=inlets,
        common=common,
    )


def _step(
    group_id: str,
    *,
    action: str,
    prepare_kwargs: dict[str, Any],
    approvers: Any,
    notifiers: Any,
    response_timeout: timedelta | None,
    outlets: Sequence[Any] | None,
    common: dict[str, Any],
    inlets: Sequence[Any] | None = None,
) -> Any:
    from airflow.sdk import TaskGroup

    verify_artifact = common.pop("verify_artifact", True)
    fail_on_reject = common.pop("fail_on_reject", False)
    with TaskGroup(group_id=group_id) as step:
        prepare = PreparePromotionOperator(
            task_id="prepare",
            action=action,
            approvers=approvers,
            verify_artifact=verify_artifact,
            **prepare_kwargs,
            **common,
        )
        approve = ApprovePromotionOperator.partial(
            task_id="approve",
            notifiers=notifiers,
            response_timeout=response_timeout,
            # One request at a time: each card shows the approvals before it, each is assigned only to
            # those who may still answer.
            max_active_tis_per_dagrun=1,
            **common,
        ).expand(request=prepare.output)
        commit = CommitPromotionOperator(
            task_id="commit",
            request=prepare.output,  # type: ignore[arg-type]  # resolved at run time
            verify_artifact=verify_artifact,
            fail_on_reject=fail_on_reject,
            outlets=list(outlets or []),
            inlets=list(inlets or []),
            # A rejection is an answer (its approval task succeeds): the commit runs and records it.
            trigger_rule="none_failed_min_one_success",
            **common,
        )
        approve >> commit
    return step
