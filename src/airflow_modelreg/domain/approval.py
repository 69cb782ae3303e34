"""Who may decide on a version, and how a decision is written down."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from airflow_modelreg.domain.errors import GovernanceError

APPROVE = "Approve"
REJECT = "Reject"
# ApprovalDescription is limited to 1024 characters by SageMaker.
MAX_APPROVAL_DESCRIPTION = 1024
# The approval form's one field: the approver's reason. Named for this provider, not "reason": Airflow's
# forms fill a field from a value of the same name (a DAG param or run conf such as train_and_register's
# "reason"), and a reason must always be the approver's own words.
REASON_FIELD = "modelreg_reason"
# What fits of a reason after "Approved for prod by <name> (id <id>) at <time> in airflow:<run>. Reason: ".
MAX_REASON_LENGTH = 800


@dataclass(frozen=True)
class Approver:
    """A person as Airflow's auth manager knows them (``responded_by_user``: id and name)."""

    id: str
    name: str

    def matches(self, identity: str) -> bool:
        return identity in (self.id, self.name)


def check_may_decide(approver: Approver, registered_by: str | None, allowed: Collection[str] | None) -> None:
    """Refuse self-approval and anyone not among the allowed approvers (ids or names).

    ``allowed`` of ``None`` means no list is configured; an empty list allows nobody.
    """
    if registered_by and approver.matches(registered_by):
        raise GovernanceError(
            f"Refused: {approver.name!r} registered this version and may not approve it; "
            "another approver must decide."
        )
    if allowed is not None and not any(approver.matches(identity) for identity in allowed):
        raise GovernanceError(
            f"Refused: {approver.name!r} is not an approver for this step "
            f"(allowed: {', '.join(sorted(allowed)) or 'nobody'})."
        )


@dataclass(frozen=True)
class Decision:
    """A person's decision on a version, as recorded in ``ApprovalDescription``."""

    status: str  # Approved or Rejected
    approver: Approver
    decided_at: datetime
    reason: str
    airflow_run: str  # dag_id/run_id/task_id
    environment: str | None = None

    def description(self) -> str:
        where = f" for {self.environment}" if self.environment else ""
        text = (
            f"{self.status}{where} by {self.approver.name} (id {self.approver.id}) at "
            f"{self.decided_at.isoformat()} in airflow:{self.airflow_run}. Reason: {self.reason or '-'}"
        )
        return text[:MAX_APPROVAL_DESCRIPTION]
