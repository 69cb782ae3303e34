"""Decide on a version without a person: an explicit status, or a quality gate that rejects below threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.config import resolve_ladder
from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain.approval import MAX_REASON_LENGTH, Approver, Decision
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError
from airflow_modelreg.domain.quality_gate import QualityGate
from airflow_modelreg.domain.validation import validate_approval_status, validate_model_package_arn
from airflow_modelreg.domain.versions import summarize
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import ReleaseRecords, event_key
from airflow_modelreg.links.registry_view import VERSION_LINKS, persist_version_links
from airflow_modelreg.operators.register import airflow_run_of, run_key_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class SetModelApprovalOperator(AwsBaseOperator[ModelRegistryHook]):
    """Set a version's approval status automatically, and record why.

    Either ``status`` is given, or a ``quality_gate`` decides from the metrics recorded on the version
    (and those of the approved version): a failing version is Rejected with the gate's reasons; a passing
    one is Approved only when ``approve_on_pass``, else left for a person.

    Automation is policy, not a parameter: approving (by ``status="Approved"`` or ``approve_on_pass``) is
    refused unless the ladder allows automated registration approval, never for a ladder whose only
    environment is the last, and never over a decision already made. Rejecting (revoking) is always
    allowed. Every decision is written to the registry and the audit log with the DAG as the decider.

    :param model_package_arn: the version (templated).
    :param status: ``Approved``, ``Rejected`` or ``PendingManualApproval`` (templated).
    :param reason: why (templated); recorded in ``ApprovalDescription``.
    :param quality_gate: a :class:`QualityGate` or its keyword arguments.
    :param approve_on_pass: approve a version that passes the gate (where the ladder allows it).
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable).
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields("model_package_arn", "status", "reason")
    operator_extra_links = VERSION_LINKS

    def __init__(
        self,
        *,
        model_package_arn: str,
        status: str | None = None,
        reason: str = "",
        quality_gate: QualityGate | Mapping[str, Any] | None = None,
        approve_on_pass: bool = False,
        ladder: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (status is None) == (quality_gate is None):
            raise InvalidInputError("Give exactly one of status or quality_gate.")
        self.model_package_arn = model_package_arn
        self.status = status
        self.reason = reason
        self.quality_gate = QualityGate(**quality_gate) if isinstance(quality_gate, Mapping) else quality_gate
        self.approve_on_pass = approve_on_pass
        self.ladder = ladder

    def execute(self, context: Context) -> dict[str, Any]:
        validate_model_package_arn(self.model_package_arn)
        if len(self.reason or "") > MAX_REASON_LENGTH:
            raise InvalidInputError(
                f"The reason is {len(self.reason)} characters; the registry's ApprovalDescription keeps "
                f"{MAX_REASON_LENGTH} after who, when and which run. Put long notes in S3 and give their URI."
            )
        if self.status is not None:
            validate_approval_status(self.status)
        ladder = resolve_ladder(self.ladder)
        records = ReleaseRecords.of_task(self, ladder)
        version, facts = records.version(self.model_package_arn)
        persist_version_links(context, self, version)
        if self.status is not None:
            status, reason = self.status, self.reason
        else:
            assert self.quality_gate is not None
            metrics = md.metrics_from_metadata(version.get("CustomerMetadataProperties"))
            approved = self.hook.latest_approved_version(version["ModelPackageGroupName"])
            baseline = None
            if approved and approved["ModelPackageArn"] != version["ModelPackageArn"]:
                baseline = md.metrics_from_metadata(approved.get("CustomerMetadataProperties"))
            result = self.quality_gate.evaluate(metrics, baseline)
            reason = f"Quality gate {result.reason}" + (f". {self.reason}" if self.reason else "")
            if not result.passed:
                status = "Rejected"
            elif self.approve_on_pass:
                status = "Approved"
            else:
                self.log.info("%s; left for a person to decide.", reason)
                return {**summarize(version), "decision": None}
        decider = f"airflow:{context['ti'].dag_id}"
        try:
            policy.check_status_change(ladder, facts, status, automated=True)
        except GovernanceError as refusal:
            records.refusal(
                facts.group, f"{decider} sets {facts.arn} to {status}", str(refusal), arn=facts.arn
            )
            raise AirflowFailException(str(refusal)) from refusal
        decision = Decision(
            status=status,
            approver=Approver(id=decider, name=decider),
            decided_at=datetime.now(UTC),
            reason=reason,
            airflow_run=airflow_run_of(context),
        )
        decided = self.hook.set_approval_status(
            self.model_package_arn, status, description=decision.description()
        )
        records.record(
            facts.group,
            "decided",
            key=event_key("decided", run_key_of(context)),
            version=facts.number,
            arn=facts.arn,
            status=status,
            actor={"id": decider, "name": decider},
            reason=reason,
            airflow_run=decision.airflow_run,
            details={"automated": True, "previous_status": facts.status},
        )
        return {**summarize(decided), "decision": {"status": status, "reason": reason}}
