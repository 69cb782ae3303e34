"""Ask a person to approve or reject a version in the Airflow UI, and write the decision to the registry."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Param
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.approval import APPROVE, Approver, Decision, check_may_decide
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError
from airflow_modelreg.domain.validation import validate_model_package_arn
from airflow_modelreg.domain.versions import summarize, version_card
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.links.model_registry import ModelVersionLink
from airflow_modelreg.operators.hitl import GovernedApprovalOperator
from airflow_modelreg.operators.register import airflow_run_of

if TYPE_CHECKING:
    from airflow.sdk import Context
    from airflow.sdk.bases.notifier import BaseNotifier

DECIDED_BY = f"{md.PREFIX}decided-by"
REASON_PARAM = "reason"


def registry_console_url(region: str, group: str, version: int | str) -> str:
    return ModelVersionLink.format_str.format(
        aws_domain="aws.amazon.com", region_name=region, group=group, version=version
    )


def decided_in_this_task(version: Mapping[str, Any], context: Context) -> bool:
    """The version's decision was written by this task in this run (an earlier try, answered once)."""
    return f" in airflow:{airflow_run_of(context)}. " in (version.get("ApprovalDescription") or "")


def already_recorded(version: Mapping[str, Any], decision: Decision) -> bool:
    """The registry holds exactly this decision already (a retry applying the same answer writes nothing)."""
    return (
        version.get("ModelApprovalStatus") == decision.status
        and version.get("ApprovalDescription") == decision.description()
    )


class RequestModelApprovalOperator(AwsBaseOperator[ModelRegistryHook], GovernedApprovalOperator):
    """Ask the approvers to approve or reject a version, in the Airflow UI (human-in-the-loop).

    The approver sees a version card (metrics beside the approved version's, lineage, digest, a link to the
    registry), picks Approve or Reject and gives a reason. The decision is written to the registry
    (``ModelApprovalStatus`` and ``ApprovalDescription`` with who, when, why and the Airflow run) and
    returned to XCom. The task waits in ``awaiting_input`` without holding a worker slot.

    Only the approvers configured for the step may answer (Airflow enforces ``assigned_users``, and the
    operator checks again); whoever registered the version may not approve it: that answer is refused,
    the status stays, and the refusal is logged for audit.

    :param model_package_arn: the version to decide on (templated, usually from the register task's XCom).
    :param environment: the environment this approval is for; ``None`` for a newly registered version.
    :param approvers: user ids or names allowed to decide; default: the ladder's approvers for the step.
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable).
    :param notifiers: Airflow notifiers told when the request is made (for example
        :class:`~airflow_modelreg.notifications.email.ModelApprovalEmailNotifier`).
    :param response_timeout: how long to wait for a person before failing.
    :param fail_on_reject: fail the task on Reject (default: skip downstream tasks, as Airflow's
        ``ApprovalOperator`` does).
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_package_arn", "environment", "approvers", "subject"
    )
    operator_extra_links = (ModelVersionLink(),)
    ui_color = "#ffe1a8"

    def __init__(
        self,
        *,
        model_package_arn: str,
        environment: str | None = None,
        approvers: Sequence[str] | None = None,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        notifiers: Sequence[BaseNotifier] | BaseNotifier | None = None,
        response_timeout: timedelta | None = None,
        fail_on_reject: bool = False,
        subject: str | None = None,
        **kwargs: Any,
    ) -> None:
        # Airflow hands the DAG's params in too (marked source="dag"); HITL shows only the task's own, so
        # the reason form field is added as a task param, keeping the DAG's params as they are.
        given = kwargs.pop("params", None)
        params = copy.copy(given) if isinstance(given, ParamsDict) else ParamsDict(given or {})
        params[REASON_PARAM] = Param(
            "",
            type="string",
            title="Reason",
            description="Why you approve or reject this version",
            source="task",
        )
        super().__init__(
            subject=subject or "Model version approval",
            params=params,
            notifiers=notifiers,
            response_timeout=response_timeout,
            fail_on_reject=fail_on_reject,
            **kwargs,
        )
        self.model_package_arn = model_package_arn
        self.environment = environment
        self.approvers = approvers
        self.ladder = ladder

    # --------------------------------------------------------------------------------- helpers
    def allowed_approvers(self) -> list[str]:
        if self.approvers is not None:
            return [self.approvers] if isinstance(self.approvers, str) else list(self.approvers)
        return list(resolve_ladder(self.ladder).approvers_for(self.environment or None))

    def _baseline(self, version: Mapping[str, Any]) -> dict[str, Any] | None:
        """The approved version to compare with: the newest approved one other than this version."""
        for summary in self.hook.list_versions(version["ModelPackageGroupName"], status="Approved"):
            if summary["ModelPackageArn"] != version["ModelPackageArn"]:
                return self.hook.describe_version(summary["ModelPackageArn"])
        return None

    def check_can_request(self, version: Mapping[str, Any], context: Context) -> None:
        """A registration approval is for a version still pending (promotions check more)."""
        status = version.get("ModelApprovalStatus")
        if status != "PendingManualApproval" and not decided_in_this_task(version, context):
            raise AirflowSkipException(
                f"Version {version['ModelPackageArn']} is already {status}"
                f" ({version.get('ApprovalDescription') or 'no description'}); nothing to approve."
            )

    def card_extra(self, version: Mapping[str, Any], context: Context) -> str:
        """Markdown appended to the version card (promotions show the environment's current version)."""
        return ""

    def request_subject(self, version: Mapping[str, Any]) -> str:
        return f"Approve {version['ModelPackageGroupName']} version {version['ModelPackageVersion']}?"

    # --------------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> Any:
        validate_model_package_arn(self.model_package_arn)
        version = self.hook.describe_version(self.model_package_arn)
        ModelVersionLink.persist_version(context, self, version)
        self.check_can_request(version, context)
        approvers = self.allowed_approvers()
        if not approvers:
            step = f"environment {self.environment!r}" if self.environment else "registration"
            raise InvalidInputError(
                f"No approvers are configured for {step}: set them in the ladder (Variable "
                "'modelreg_ladder') or pass approvers=[...]. Refusing to ask nobody."
            )
        group, number = version["ModelPackageGroupName"], version["ModelPackageVersion"]
        self.assigned_users = [{"id": name, "name": name} for name in approvers]
        self.subject = self.request_subject(version)
        self.body = version_card(
            version,
            self._baseline(version),
            registry_url=registry_console_url(self.hook.conn_region_name, group, number),
            environment=self.environment,
        ) + self.card_extra(version, context)
        target = f" for {self.environment}" if self.environment else ""
        self.log.info("Asking %s to decide on %s%s", ", ".join(approvers), self.model_package_arn, target)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        if "error" in event:
            return super().execute_complete(context, event)  # timeout or trigger error: raises
        responder = event.get("responded_by_user") or {}
        approver = Approver(id=str(responder.get("id", "")), name=str(responder.get("name", "")))
        chosen = event["chosen_options"][0]
        reason = str((event.get("params_input") or {}).get(REASON_PARAM) or "")
        version = self.hook.describe_version(self.model_package_arn)
        registered_by = (version.get("CustomerMetadataProperties") or {}).get(md.REGISTERED_BY)
        try:
            check_may_decide(approver, registered_by, self.allowed_approvers())
        except GovernanceError as refusal:
            # The status stays as it was; the refusal is kept in the task log for audit.
            self.log.error(
                "AUDIT refusal: %s answered %s on %s%s and was refused: %s",
                approver.name,
                chosen,
                self.model_package_arn,
                f" for {self.environment}" if self.environment else "",
                refusal,
            )
            raise AirflowFailException(str(refusal)) from refusal
        decision = self.decision(approver, chosen, reason, context, event.get("responded_at"))
        decided = self.record(decision, version, context)
        super().execute_complete(context, event)  # skips downstream (or fails) on Reject
        return self.result(decided, decision)

    def result(self, decided: dict[str, Any], decision: Decision) -> dict[str, Any]:
        """The XCom document: the version's summary and the decision."""
        return {**summarize(decided), "decision": self.decision_document(decision)}

    def decision(
        self, approver: Approver, chosen: str, reason: str, context: Context, responded_at: Any
    ) -> Decision:
        decided_at = responded_at if isinstance(responded_at, datetime) else datetime.now(UTC)
        return Decision(
            status="Approved" if chosen == APPROVE else "Rejected",
            approver=approver,
            decided_at=decided_at,
            reason=reason,
            airflow_run=airflow_run_of(context),
            environment=self.environment,
        )

    def record(self, decision: Decision, version: Mapping[str, Any], context: Context) -> dict[str, Any]:
        """Write a registration decision to the registry (promotion subclasses record their own way)."""
        if already_recorded(version, decision):
            self.log.info("An earlier try of this task recorded this decision; not writing it again.")
            return dict(version)
        return self.hook.set_approval_status(
            self.model_package_arn,
            decision.status,
            description=decision.description(),
            metadata={DECIDED_BY: decision.approver.name},
        )

    @staticmethod
    def decision_document(decision: Decision) -> dict[str, Any]:
        return {
            "status": decision.status,
            "by": {"id": decision.approver.id, "name": decision.approver.name},
            "at": decision.decided_at.isoformat(),
            "reason": decision.reason,
            "environment": decision.environment,
            "airflow_run": decision.airflow_run,
        }
