"""Ask a person to approve or reject a newly registered version in the Airflow UI, and record the decision."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowSkipException

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain import registry_view as view
from airflow_modelreg.domain.approval import APPROVE, REASON_FIELD, Approver, Decision
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.validation import validate_model_package_arn
from airflow_modelreg.domain.versions import CardContext, summarize, version_card
from airflow_modelreg.hooks.identities import ApproverIdentities
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import event_key
from airflow_modelreg.links.model_registry import ModelVersionLink
from airflow_modelreg.links.registry_view import VERSION_LINKS, persist_version_links
from airflow_modelreg.operators.governed import GovernedTask
from airflow_modelreg.operators.hitl import ExactlyOnceApprovalOperator
from airflow_modelreg.operators.register import airflow_run_of, run_key_of

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.notifier import BaseNotifier

DECIDED_BY = md.DECIDED_BY
REASON_PARAM = REASON_FIELD
# Names under which a run holds a value that a form could show in the Reason box: the form field's own name,
# and "reason" (the field's former name, and train_and_register's DAG param).
PREFILL_SOURCES = (REASON_FIELD, "reason")


def registry_console_url(region: str, group: str, version: int | str) -> str:
    return ModelVersionLink.format_str.format(
        aws_domain="aws.amazon.com", region_name=region, group=group, version=version
    )


def reason_form() -> ParamsDict:
    """The approval form: one empty Reason field, under the provider's own name (``modelreg_reason``, not
    ``reason``: a DAG param or run conf of the field's name could fill it in Airflow's form). Built fresh for
    every request: a reason is always the approver's own words."""
    return ParamsDict(
        {
            REASON_PARAM: Param(
                "",
                type="string",
                title="Reason",
                description="Why you approve or reject this version (kept in the registry and the audit log)",
                source="task",
            )
        }
    )


class GovernedApprovalOperator(GovernedTask, AwsBaseOperator[ModelRegistryHook], ExactlyOnceApprovalOperator):
    """What every approval request of the provider shares: the ladder and its records, the approvers
    resolved to the auth manager's ids, the reason form, the answer read back as an :class:`Approver`, and
    an answer applied exactly once whatever its timing (:class:`ExactlyOnceApprovalOperator`: a retry applies
    an answer Airflow holds instead of asking again).

    Subclasses decide what is asked and what an answer does; the release policy
    (:mod:`airflow_modelreg.domain.policy`) decides whether it may, before asking and again after.

    :param approvers: narrow the ladder's approvers for what is asked to these user names, never widen
        (templated; default: all of them).
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable, which must match it
        when set).
    :param notifiers: Airflow notifiers told when the request is made.
    :param response_timeout: how long to wait for an answer before the task fails without retries (default:
        no limit).
    :param fail_on_reject: fail the task on Reject (default: skip the tasks that follow).
    :param subject: title of the request (templated; default ``"Model version approval"``); the subclasses
        replace it with one naming the version when they ask.
    :param parameter_prefix: Parameter Store prefix of the environment pointers,
        ``<prefix>/<group>/<environment>`` (default ``/modelreg``).
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields("approvers", "subject")
    operator_extra_links = VERSION_LINKS
    ui_color = "#ffe1a8"

    def __init__(
        self,
        *,
        approvers: Sequence[str] | str | None = None,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
        response_timeout: timedelta | None = None,
        fail_on_reject: bool = False,
        subject: str | None = None,
        parameter_prefix: str = "/modelreg",
        **kwargs: Any,
    ) -> None:
        given = kwargs.pop("params", None)
        params = copy.copy(given) if isinstance(given, ParamsDict) else ParamsDict(given or {})
        for key, value in reason_form().items():
            params[key] = value
        super().__init__(
            subject=subject or "Model version approval",
            params=params,
            notifiers=notifiers,
            response_timeout=response_timeout,
            fail_on_reject=fail_on_reject,
            **kwargs,
        )
        self.approvers = approvers
        self.ladder = ladder
        self.parameter_prefix = parameter_prefix

    def ask(self, context: Context, names: Sequence[str], subject: str, body: str) -> Any:
        """Open the request for ``names`` (resolved to the auth manager's ids) with a fresh, empty form."""
        resolved = ApproverIdentities(self.ladder_in_use.identities).assigned_users(list(names))
        self.assigned_users = resolved  # type: ignore[assignment]  # HITLUser is this TypedDict
        self.params = reason_form()
        self.subject = subject
        self.body = body
        self.log.info("Asking %s: %s", ", ".join(names), subject)
        return ExactlyOnceApprovalOperator.execute(self, context)

    @staticmethod
    def answer_of(event: Mapping[str, Any]) -> tuple[Approver, str, str, datetime]:
        responder = event.get("responded_by_user") or {}
        approver = Approver(id=str(responder.get("id", "")), name=str(responder.get("name", "")))
        chosen = event["chosen_options"][0]
        reason = str((event.get("params_input") or {}).get(REASON_PARAM) or "").strip()
        at = event.get("responded_at")
        return approver, chosen, reason, at if isinstance(at, datetime) else datetime.now(UTC)

    @staticmethod
    def prefilled_reasons(context: Context) -> list[str]:
        """Values the run held before anyone answered under a name a form could show in the Reason box: the
        DAG's params and the run's conf (not this task's own params: the answer is written into those)."""
        found: list[Any] = []
        dag_params = getattr(context.get("dag"), "params", None)
        conf = getattr(context.get("dag_run"), "conf", None) or {}
        for name in PREFILL_SOURCES:
            if isinstance(dag_params, ParamsDict) and name in dag_params:
                found.append(dag_params.get_param(name).value)
            if isinstance(conf, Mapping):
                found.append(conf.get(name))
        return [value for value in found if isinstance(value, str) and value.strip()]

    def card_baseline(self, version: Mapping[str, Any]) -> dict[str, Any] | None:
        """The approved version to compare with: the newest approved one other than this version."""
        for found in self.hook.list_versions(
            version["ModelPackageGroupName"], status="Approved", page_size=2
        ):
            if found["ModelPackageArn"] != version["ModelPackageArn"]:
                return self.hook.describe_version(found["ModelPackageArn"])
        return None

    def card(self, version: Mapping[str, Any], context: CardContext) -> str:
        group, number = version["ModelPackageGroupName"], version["ModelPackageVersion"]
        return version_card(
            version,
            self.card_baseline(version),
            registry_url=registry_console_url(self.hook.conn_region_name, group, number),
            context=context,
            region=self.hook.conn_region_name,
        )


class RequestModelApprovalOperator(GovernedApprovalOperator):
    """Ask the registration approvers to approve or reject a newly registered version, in the Airflow UI.

    The approver sees a version card (who may decide, metrics beside the approved version's, lineage, digest,
    a link to the registry), picks Approve or Reject and gives a reason. The task waits in ``awaiting_input``
    without holding a worker slot.

    Only the ladder's registration approvers may answer (a task's ``approvers`` may narrow that list, never
    widen it), and never anyone who counts as the registrant: Airflow enforces it through the request's
    assigned users and the operator checks again. When the answer comes, the version is read again: a
    decision made meanwhile elsewhere (SageMaker Studio, the CLI, another task) is never overwritten. The
    decision (who, when, why, which run) is written to the registry (``ModelApprovalStatus``,
    ``ApprovalDescription``) and to the audit log, and returned to XCom. A retry after a crash finishes
    recording without asking again.

    :param model_package_arn: the version to decide on (templated, usually from the register task's XCom).
    :param approvers: narrow the ladder's registration approvers to these user names (templated).
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable).
    :param notifiers: Airflow notifiers told when the request is made (for example
        :class:`~airflow_modelreg.notifications.email.ModelApprovalEmailNotifier`).
    :param response_timeout: how long to wait for a person before failing.
    :param fail_on_reject: fail the task on Reject (default: skip downstream tasks, as Airflow's
        ``ApprovalOperator`` does).
    """

    template_fields: Sequence[str] = aws_template_fields("model_package_arn", "approvers", "subject")

    def __init__(self, *, model_package_arn: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_package_arn = model_package_arn

    def execute(self, context: Context) -> Any:
        validate_model_package_arn(self.model_package_arn)
        described, facts = self.records.version(self.model_package_arn)
        persist_version_links(context, self, described)
        done = self.recorded_by_this_run(described, context)
        if done is not None:
            return self.finish_recorded(context, done)
        if facts.status != policy.PENDING:
            raise AirflowSkipException(
                f"Version {facts.arn} is already {facts.status} ({facts.description or 'no description'}); "
                "nothing to approve."
            )
        try:
            allowed = policy.allowed_approvers(self.ladder_in_use, None, self.approvers)
            eligible = policy.eligible_approvers(allowed, facts.registrants)
            if not eligible:
                raise policy.Refused(
                    f"Refused: every registration approver ({', '.join(allowed)}) counts as a registrant of "
                    f"{facts.arn}; nobody may approve it. Add another approver to the ladder."
                )
        except GovernanceError as refusal:
            self.refuse(facts.group, f"ask for a decision on {facts.arn}", refusal)
        body = self.card(
            described, CardContext(environment=None, may_decide=eligible, registrants=facts.registrants)
        )
        return self.ask(context, eligible, view.approval_subject(facts.group, facts.number), body)

    def recorded_by_this_run(self, described: Mapping[str, Any], context: Context) -> dict[str, Any] | None:
        """An earlier try of this task run already wrote the decision: finish the audit, return it."""
        name, run_key = md.decided_by_claim(described.get("CustomerMetadataProperties"))
        if run_key != run_key_of(context):
            return None
        facts = policy.VersionFacts.from_description(described)
        # The marker stays when the decision is changed in Studio afterwards: report only what this run
        # decided, and refuse when the registry no longer holds it (the status or the description it wrote).
        event = self.records.audit.find(facts.group, event_key("decided", run_key))
        if event is not None:
            written = (event.get("details") or {}).get("description_sha256")
            changed = event.get("status") != facts.status or (
                written is not None and written != policy.description_digest(facts.description)
            )
            recorded = f"{event.get('status')} by {name}"
        else:  # the registry write went through, the audit event did not: the description names this run
            changed = airflow_run_of(context) not in facts.description
            recorded = f"a decision by {name}"
        if changed:
            self.refuse(
                facts.group,
                f"report the decision of {run_key} on {facts.arn}",
                policy.Refused(
                    f"Refused: this task run recorded {recorded} on {facts.arn}, but the registry now says "
                    f"{facts.status} ({facts.description or 'no description'}): the decision was changed outside "
                    "Airflow since, so this run does not report it as its own."
                ),
            )
        if event is None:
            self.log.info("An earlier try of this run recorded %s by %s; completing it.", facts.status, name)
            event = self.records.record(
                facts.group,
                "decided",
                key=event_key("decided", run_key),
                version=facts.number,
                arn=facts.arn,
                status=facts.status,
                actor={"id": name, "name": name},
                reason=facts.description.partition("Reason: ")[2] or None,
                airflow_run=airflow_run_of(context),
                details={
                    "automated": False,
                    "description_sha256": policy.description_digest(facts.description),
                },
            )
        return {
            **summarize(described),
            "decision": {"status": facts.status, "by": {"name": name}, "at": event.get("at")},
        }

    def finish_recorded(self, context: Context, done: dict[str, Any]) -> dict[str, Any]:
        """End the task as the decision this run recorded ended it then: a Reject fails the task
        (``fail_on_reject``) or skips what follows, on a retry after a crash and after a Clear alike."""
        decision = done["decision"]
        if decision["status"] == policy.REJECTED:
            self.end_as_rejected(
                context, f"{done.get('arn', self.model_package_arn)} was rejected by {decision['by']['name']}"
            )
        return done

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if "error" in event:
            return super().execute_complete(context, event)  # timeout or trigger error: raises
        approver, chosen, reason, at = self.answer_of(event)
        status = policy.APPROVED if chosen == APPROVE else policy.REJECTED
        described, facts = self.records.version(self.model_package_arn)
        persist_version_links(context, self, described)  # kept on resuming too, whatever XCom holds
        done = self.recorded_by_this_run(described, context)
        if done is not None:
            return self.finish_recorded(context, done)
        try:
            allowed = policy.allowed_approvers(self.ladder_in_use, None, self.approvers)
            policy.check_status_change(self.ladder_in_use, facts, status, automated=False)
            policy.check_may_answer(approver, facts.registrants, allowed)
            policy.check_reason_is_own(reason, self.prefilled_reasons(context))
        except GovernanceError as refusal:
            self.refuse(
                facts.group,
                f"{approver.name} answered {chosen} on {facts.arn}",
                refusal,
                arn=facts.arn,
                by=approver.name,
            )
        decision = Decision(
            status=status,
            approver=approver,
            decided_at=at,
            reason=reason,
            airflow_run=airflow_run_of(context),
        )
        run_key = run_key_of(context)
        decided = self.hook.set_approval_status(
            self.model_package_arn,
            status,
            description=decision.description(),
            metadata={DECIDED_BY: md.decided_by_value(approver.name, run_key)},
        )
        self.records.record(
            facts.group,
            "decided",
            key=event_key("decided", run_key),
            version=facts.number,
            arn=facts.arn,
            status=status,
            actor={"id": approver.id, "name": approver.name},
            reason=reason,
            airflow_run=decision.airflow_run,
            details={
                "automated": False,
                "description_sha256": policy.description_digest(
                    str(decided.get("ApprovalDescription") or decision.description())
                ),
            },
        )
        ExactlyOnceApprovalOperator.execute_complete(
            self, context, event
        )  # skips downstream (or fails) on Reject
        return {**summarize(decided), "decision": decision_document(decision)}


def decision_document(decision: Decision) -> dict[str, Any]:
    return {
        "status": decision.status,
        "by": {"id": decision.approver.id, "name": decision.approver.name},
        "at": decision.decided_at.isoformat(),
        "reason": decision.reason,
        "environment": decision.environment,
        "airflow_run": decision.airflow_run,
    }
