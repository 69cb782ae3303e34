"""The release policy: one place that decides whether a version may enter a status, an environment or an
endpoint, now.

Every write path of the provider (register, set a status, decide, promote, roll back, deploy, shift traffic)
calls these functions before it asks a person and again, with fresh reads, at the moment it writes. They are
pure: the hooks gather the facts (the registry's record of a version, the environment's pointer, the audit
log), this module decides, and a refusal names the rule and the fix.

The facts are trusted only as far as this provider wrote them and can check them: a stage record counts only
when the audit log holds the event of the run it names; a pointer only when its parameter name, its fields,
the version's group, the version's stage record and the audit log agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain.approval import Approver
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.pointers import (
    PROMOTED,
    RESTORED,
    ROLLED_BACK_OUT,
    Pointer,
    StageRecord,
)
from airflow_modelreg.domain.validation import MAX_CUSTOMER_METADATA_ENTRIES

APPROVED = "Approved"
REJECTED = "Rejected"
PENDING = "PendingManualApproval"


class Refused(GovernanceError):
    """A rule of the release policy refused the action; the message says which and what to do."""


# ----------------------------------------------------------------------------------------------- facts
@dataclass(frozen=True)
class VersionFacts:
    """What the registry says about a version (``DescribeModelPackage``), read for the policy."""

    arn: str
    group: str
    number: int
    status: str
    description: str
    digest: str | None
    artifact_uri: str | None
    registrants: tuple[str, ...]
    stages: Mapping[str, StageRecord]  # parsed, not yet checked against the audit log
    metadata_keys: frozenset[str]

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> VersionFacts:
        props = described.get("CustomerMetadataProperties") or {}
        stages = {}
        for key, value in props.items():
            if key.startswith("modelreg:env:"):
                record = StageRecord.parse(value)
                if record is not None:
                    stages[key.removeprefix("modelreg:env:")] = record
        registrants = props.get(md.REGISTRANTS) or props.get(md.REGISTERED_BY) or ""
        return cls(
            arn=str(described.get("ModelPackageArn")),
            group=str(described.get("ModelPackageGroupName")),
            number=int(described.get("ModelPackageVersion") or 0),
            status=str(described.get("ModelApprovalStatus")),
            description=str(described.get("ApprovalDescription") or ""),
            digest=props.get(md.ARTIFACT_SHA256),
            artifact_uri=props.get(md.ARTIFACT_URI),
            registrants=tuple(name for name in registrants.split(",") if name),
            stages=stages,
            metadata_keys=frozenset(props),
        )


@dataclass(frozen=True)
class ServedEntry:
    """One change of what an environment runs, from the audit log (a promotion or a rollback)."""

    seq: int
    action: str  # "promoted" or "rolled-back"
    arn: str
    version: int
    run_key: str
    from_arn: str | None = None  # a rollback: the version it took out


@dataclass(frozen=True)
class Approval:
    """One person's answer to one approval request of a promotion, as the audit log recorded it."""

    approver: Approver
    status: str  # Approved or Rejected
    reason: str
    at: str


@dataclass(frozen=True)
class QuorumState:
    needed: int
    approved_by: tuple[str, ...]
    rejected_by: tuple[str, ...]
    eligible: tuple[str, ...]  # who may still answer: allowed, not the registrant, not already counted

    @property
    def complete(self) -> bool:
        return not self.rejected_by and len(self.approved_by) >= self.needed

    @property
    def summary(self) -> str:
        if self.rejected_by:
            return f"rejected by {', '.join(self.rejected_by)}"
        return f"{len(self.approved_by)} of {self.needed} approvals"


# ------------------------------------------------------------------------------------------- people
def allowed_approvers(
    ladder: EnvironmentLadder, environment: str | None, narrowed: Iterable[str] | None
) -> list[str]:
    """Who may approve a step: the ladder's approvers, narrowed (never widened) by a task's own list."""
    configured = list(ladder.approvers_for(environment))
    step = f"environment {environment!r}" if environment else "registration"
    if narrowed is None:
        allowed = configured
    else:
        wanted = [narrowed] if isinstance(narrowed, str) else list(narrowed)
        outside = [name for name in wanted if name not in configured]
        if outside:
            raise Refused(
                f"Refused: {', '.join(outside)} {'is' if len(outside) == 1 else 'are'} not among the approvers of "
                f"{step} ({', '.join(configured) or 'nobody'}); a task's approvers may narrow the ladder's list, "
                "never widen it. Change the modelreg_ladder Variable instead."
            )
        allowed = [name for name in configured if name in wanted]
    if not allowed:
        raise Refused(
            f"Refused: no approvers are configured for {step}: set them in the ladder (Variable "
            "'modelreg_ladder'). Refusing to ask nobody."
        )
    return allowed


def check_reason_is_own(reason: str, prefilled: Collection[str]) -> None:
    """A reason is the approver's own words: an answer without one (empty or blank: Airflow's REST API takes
    it), or whose reason is a value the run already held under the form's name (a DAG param or run conf
    Airflow could have put in the Reason box), is refused. Every answer that records a reason (a registration's
    decision, a promotion's approval) is checked here."""
    given = " ".join(reason.split())
    if not given:
        raise Refused(
            "Refused: the answer gives no reason; a decision is recorded with the approver's own words, why "
            "they approve or reject. Clear the task to be asked again, and type the reason."
        )
    if given in {" ".join(str(value).split()) for value in prefilled}:
        raise Refused(
            f"Refused: the reason {given!r} is the run's own parameter value, not the approver's words (a form "
            "can show it pre-filled). Clear the task to be asked again, and type the reason."
        )


def check_may_answer(
    approver: Approver, registrants: Sequence[str], allowed: Sequence[str], already: Sequence[str] = ()
) -> None:
    """Separation of duties: the answer of a registrant, of someone not allowed, or of someone who already
    counted in this quorum is refused. Names are compared with names (the auth manager's ids differ by kind)."""
    if approver.name in registrants:
        raise Refused(
            f"Refused: {approver.name!r} registered this version (registrants: {', '.join(registrants)}) and may "
            "not approve it; another approver must decide."
        )
    if approver.name not in allowed:
        raise Refused(
            f"Refused: {approver.name!r} is not an approver for this step (allowed: {', '.join(allowed) or 'nobody'})."
        )
    if approver.name in already:
        raise Refused(
            f"Refused: {approver.name!r} already answered this request; the quorum needs distinct approvers."
        )


def eligible_approvers(allowed: Sequence[str], registrants: Sequence[str]) -> list[str]:
    return [name for name in allowed if name not in registrants]


def quorum_state(
    ladder: EnvironmentLadder,
    environment: str | None,
    allowed: Sequence[str],
    registrants: Sequence[str],
    approvals: Sequence[Approval],
) -> QuorumState:
    """Where a request stands: approvals from distinct allowed approvers (registrants never count); one
    rejection stops it."""
    approved: list[str] = []
    rejected: list[str] = []
    for approval in approvals:
        name = approval.approver.name
        if name in registrants or name not in allowed or name in approved or name in rejected:
            continue  # never counted (and refused when it was given)
        (approved if approval.status == APPROVED else rejected).append(name)
    eligible = [
        n for n in eligible_approvers(allowed, registrants) if n not in approved and n not in rejected
    ]
    return QuorumState(
        needed=ladder.quorum_for(environment),
        approved_by=tuple(approved),
        rejected_by=tuple(rejected),
        eligible=tuple(eligible),
    )


def check_quorum_reachable(state: QuorumState, step: str) -> None:
    if not state.rejected_by and len(state.approved_by) + len(state.eligible) < state.needed:
        raise Refused(
            f"Refused: {step} needs {state.needed} distinct approvers who did not register the version, but only "
            f"{len(state.approved_by) + len(state.eligible)} can answer "
            f"({', '.join([*state.approved_by, *state.eligible]) or 'nobody'}). Add approvers to the ladder."
        )


# ------------------------------------------------------------------------------------ registration
def check_registration_status(ladder: EnvironmentLadder, status: str) -> None:
    """A new version starts Pending or Rejected; Approved only where the ladder allows automation."""
    if status == APPROVED:
        check_automated_approval(ladder, "register a version as Approved")


def check_automated_approval(ladder: EnvironmentLadder, what: str) -> None:
    if len(ladder.environments) == 1:
        raise Refused(
            f"Refused: cannot {what} without a person: the ladder has a single environment "
            f"({ladder.last.name!r}), and the last environment is never approved automatically."
        )
    if not ladder.automated_registration_approval:
        raise Refused(
            f"Refused: cannot {what} without a person: the ladder does not allow automated approval "
            '(set "automated_registration_approval": true in the modelreg_ladder Variable to allow it for '
            "registration; a person approves every promotion)."
        )


def check_reserved_metadata(properties: Mapping[str, Any]) -> None:
    reserved = sorted(key for key in properties if isinstance(key, str) and key.startswith(md.PREFIX))
    if reserved:
        raise Refused(
            f"Refused: custom metadata may not use the provider's reserved prefix {md.PREFIX!r} "
            f"({', '.join(reserved)}): those records are written only by airflow-modelreg. Rename the keys "
            "(lineage goes in the operator's lineage arguments)."
        )


def check_metadata_capacity(existing: Iterable[str], adding: Iterable[str], what: str) -> None:
    """SageMaker keeps at most 50 metadata entries per version: refuse before a person is asked."""
    keys = set(existing) | set(adding)
    if len(keys) > MAX_CUSTOMER_METADATA_ENTRIES:
        raise Refused(
            f"Refused: {what} would give the version {len(keys)} metadata entries; SageMaker keeps at most "
            f"{MAX_CUSTOMER_METADATA_ENTRIES}. Register fewer custom metadata entries or metrics."
        )


def check_status_change(
    ladder: EnvironmentLadder, version: VersionFacts, status: str, automated: bool
) -> None:
    """Setting a version's status: Approved by automation only where the ladder allows it; a person's
    decision (Approve or Reject) only on a version still Pending — never over a decision made elsewhere.

    Automation may always reject (revoking is safe), but never moves a decided version anywhere else: not
    to Approved, and not back to Pending either, which would reopen a rejection for another answer."""
    if automated:
        if status == APPROVED:
            check_automated_approval(ladder, f"approve {version.arn}")
        if status != REJECTED and version.status != PENDING:
            raise Refused(
                f"Refused: {version.arn} is {version.status} ({version.description or 'no description'}); "
                f"automation sets {status} only on versions pending a decision, never over a decision made "
                "before (reopening it would let a rejection be answered again)."
            )
        return
    if version.status != PENDING:
        raise Refused(
            f"Refused: {version.arn} is already {version.status} ({version.description or 'no description'}); "
            "a decision made meanwhile (in SageMaker or by another task) is never overwritten."
        )


def description_digest(description: str) -> str:
    """SHA-256 of a version's ``ApprovalDescription``, kept in the ``decided`` event that wrote it."""
    return hashlib.sha256(description.encode()).hexdigest()


def decision_problem(version: VersionFacts, decisions: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the version's current decision is not one this provider recorded (``None`` when it is).

    ``decisions`` are the audit log's ``decided`` events of the version, oldest first. Only the newest one
    counts, and only when it names the status the registry has now and the description written with it: a
    decision made (or changed) outside this provider, in Studio or with the AWS CLI, leaves no such record."""
    if not decisions:
        return (
            f"this provider recorded no decision on it: it was decided outside Airflow (registry description: "
            f"{version.description or 'none'!r}), so who decided cannot be told"
        )
    latest = decisions[-1]
    if latest.get("status") != version.status:
        return (
            f"the last decision this provider recorded is {latest.get('status')} by "
            f"{(latest.get('actor') or {}).get('name')}: it was changed outside Airflow since, so who decided "
            "cannot be told"
        )
    written = (latest.get("details") or {}).get("description_sha256")
    if written and written != description_digest(version.description):
        # Changed outside Airflow and back (Rejected, then Approved again in Studio, say): the status is the
        # one recorded, but the registry's description is not the one this provider wrote with it.
        return (
            f"its approval description ({version.description or 'none'!r}) is not the one written with the "
            f"decision this provider recorded ({latest.get('status')} by "
            f"{(latest.get('actor') or {}).get('name')}): the decision was changed outside Airflow since, so "
            "who decided cannot be told"
        )
    return None


def check_decided_by(
    version: VersionFacts, decisions: Sequence[Mapping[str, Any]], allowed: Sequence[str]
) -> str:
    """Who made the version's current decision, as this provider recorded it; refused unless one of
    ``allowed`` (user names) made it.

    ``decisions`` are the audit log's ``decided`` events of the version, oldest first. Only the newest one
    counts, and only when it names the status the registry has now and the decision by name: a decision made
    (or changed) outside this provider, in Studio or with the AWS CLI, leaves no such record, and then nobody
    can tell who made it, which is refused as well, saying so."""
    said = f"version {version.number} of {version.group} is {version.status}"
    problem = decision_problem(version, decisions)
    if problem is not None:
        allowed_text = f" Allowed approvers: {', '.join(allowed) or 'none'}." if not decisions else ""
        raise Refused(f"Refused: {said}, but {problem}.{allowed_text}")
    latest = decisions[-1]
    actor = latest.get("actor") or {}
    name = str(actor.get("name") or "")
    if (latest.get("details") or {}).get("automated"):
        raise Refused(
            f"Refused: {said} by automation ({name}), not by a person; allowed approvers: "
            f"{', '.join(allowed) or 'none'}."
        )
    if name not in allowed:
        raise Refused(
            f"Refused: {said} by {name!r}, who is not an allowed approver ({', '.join(allowed) or 'none'})."
        )
    return name


# ---------------------------------------------------------------------------------------- pointers
def pointer_record_problems(
    pointer: Pointer, group: str, environment: str, facts: VersionFacts | None
) -> list[str]:
    """Where an environment's current pointer disagrees with the registry's record of the version it names
    (``facts``; ``None`` when it cannot be read)."""
    problems = []
    if pointer.group != group or pointer.environment != environment:
        problems.append(f"it names {pointer.group}/{pointer.environment}")
    if facts is not None:
        if facts.group != group:
            problems.append(f"its version {pointer.arn} belongs to group {facts.group!r}")
        record = facts.stages.get(environment)
        if record is None or record.run_key != pointer.run_key or record.state not in (PROMOTED, RESTORED):
            problems.append(
                f"the version's own record for {environment!r} does not name the run that wrote it"
            )
        if pointer.digest != facts.digest:
            problems.append(f"its digest {pointer.digest} differs from the registry's {facts.digest}")
    return problems


def pointer_event_problems(pointer: Pointer, environment: str, event: Mapping[str, Any] | None) -> list[str]:
    """Where a pointer disagrees with the audit log's event of the run that wrote it (``event``, found by the
    pointer's ``run_key``; ``None`` when the log has none)."""
    if event is None:
        return ["the audit log has no event for the run that wrote it"]
    if (
        event.get("environment") != environment
        or event.get("arn") != pointer.arn
        or event.get("version") != pointer.version
    ):
        return ["the audit log's event for its run records another version or environment"]
    recorded = (event.get("details") or {}).get("pointer") or {}
    stored = {k: v for k, v in asdict(pointer).items() if k != "run_key"}
    edited = sorted(k for k in set(recorded) | set(stored) if recorded.get(k) != stored.get(k))
    if edited:
        return [f"its field(s) {', '.join(edited)} differ from what the audit log recorded"]
    return []


def pointer_event_kind(pointer: Pointer) -> str:
    """The kind of the audit event the run that wrote ``pointer`` appended."""
    return "promoted" if pointer.action == "promote" else "rolled-back"


# --------------------------------------------------------------------------------------- promotion
def trusted_stages(version: VersionFacts, witnessed: Mapping[str, bool]) -> dict[str, StageRecord]:
    """The version's stage records that the audit log witnesses (``witnessed[env]``); others are ignored."""
    return {env: record for env, record in version.stages.items() if witnessed.get(env)}


def holds(stages: Mapping[str, StageRecord], environment: str) -> bool:
    record = stages.get(environment)
    return record is not None and record.state in (PROMOTED, RESTORED)


def check_promotion(
    ladder: EnvironmentLadder,
    version: VersionFacts,
    target: str,
    stages: Mapping[str, StageRecord],
    current: Pointer | None,
    digest_ok: bool = True,
) -> None:
    """May ``version`` be promoted into ``target`` now? ``stages`` are its trusted stage records."""
    env = ladder.get(target)
    if version.status != APPROVED:
        raise Refused(
            f"Refused: {version.arn} is {version.status}; only Approved versions are promoted "
            f"({version.description or 'no decision recorded'})."
        )
    if not version.digest or not version.artifact_uri:
        raise Refused(
            f"Refused: {version.arn} has no recorded artifact digest; register it with "
            "RegisterModelVersionOperator so its artifact can be verified."
        )
    if not digest_ok:
        raise Refused(f"Refused: the artifact of {version.arn} changed since registration.")
    if current is not None and current.arn == version.arn:
        raise Refused(f"Refused: {env.name!r} already runs {version.arn}.")
    # Rolled back out of any environment below the target: it climbs no further until promoted there again.
    for earlier in ladder.environments[: ladder.index(env.name)]:
        record = stages.get(earlier.name)
        if record is not None and record.state == ROLLED_BACK_OUT:
            raise Refused(
                f"Refused: {version.arn} was rolled back out of {earlier.name!r} ({record.at} by {record.by}); a "
                f"rolled-back version does not climb further. Promote it to {earlier.name!r} again first."
            )
    before = ladder.previous(env.name)
    if before is not None and not holds(stages, before.name):
        missing = [e.name for e in ladder.environments[: ladder.index(env.name)] if not holds(stages, e.name)]
        raise Refused(
            f"Refused: promoting {version.arn} to {env.name!r} would skip "
            f"{', '.join(repr(m) for m in missing)}; versions climb {' -> '.join(ladder.names)} one step at a "
            "time, and only promotions recorded in the audit log count."
        )


def check_unchanged_since_request(
    target: str, current: Pointer | None, at_request: Mapping[str, Any] | None
) -> None:
    """The pointer must still be what it was when the approvers were asked (``at_request``, ``None`` when the
    environment ran nothing): a change meanwhile means they approved a different situation, so they are asked
    again rather than committed over."""
    was = at_request.get("run_key") if at_request else None
    now = current.run_key if current else None
    if was != now:
        raise Refused(
            f"Refused: {target!r} changed while this promotion waited for approval (it ran "
            f"{(at_request or {}).get('arn') or 'nothing'} when the approvers were asked, it runs "
            f"{current.arn if current else 'nothing'} now). Nothing was written; start a new promotion so the "
            "approvers decide on what is there now."
        )


# ------------------------------------------------------------------------------ history and rollback
def served_entry(event: Mapping[str, Any]) -> ServedEntry | None:
    """A promotion or rollback event of the audit log as a change of what an environment runs."""
    if event.get("kind") not in ("promoted", "rolled-back"):
        return None
    details = event.get("details") or {}
    try:
        return ServedEntry(
            seq=int(event["seq"]),
            action=str(event["kind"]),
            arn=str(event["arn"]),
            version=int(event["version"]),
            run_key=str(details.get("run_key") or ""),
            from_arn=details.get("from_arn"),
        )
    except (KeyError, TypeError, ValueError):
        return None  # a malformed event is reported by the audit's verification, not fatal here


def previous_good(
    newest_first: Iterable[ServedEntry],
    current_arn: str | None,
    usable: Callable[[str], bool],
) -> ServedEntry | None:
    """The version the environment ran before the current one that still qualifies.

    Walks the environment's history from the newest change back (the current pointer's own change first)
    and returns the first version that is not the current one, was not rolled back out of the environment
    afterwards, and that ``usable`` accepts (Approved, artifact unchanged). A rollback takes its version out
    for every older entry: a version promoted again after its rollback counts again.
    """
    out: set[str] = set()
    for entry in newest_first:
        if entry.arn != current_arn and entry.arn not in out and usable(entry.arn):
            return entry
        if entry.action == "rolled-back" and entry.from_arn:
            out.add(entry.from_arn)
    return None


# ------------------------------------------------------------------------------------------ deploy
@dataclass(frozen=True)
class DeployableSet:
    """The versions an environment's endpoints may serve now: what its pointer names, and what it named
    before (the champion), each re-verified."""

    environment: str
    current: str | None
    earlier: tuple[str, ...] = ()
    refused: Mapping[str, str] = field(default_factory=dict)  # arn -> why it no longer qualifies

    def allows(self, arn: str) -> bool:
        return arn == self.current or arn in self.earlier


def check_endpoint_binding(ladder: EnvironmentLadder, environment: str, endpoint: str) -> None:
    env = ladder.get(environment)
    bound = ladder.environment_of_endpoint(endpoint)
    if bound is None:
        raise Refused(
            f"Refused: endpoint {endpoint!r} is not bound to any environment. List it under "
            f'{env.name!r}\'s "endpoints" in the modelreg_ladder Variable, so only versions promoted to '
            f"{env.name!r} can reach it."
        )
    if bound.name != env.name:
        raise Refused(
            f"Refused: endpoint {endpoint!r} serves {bound.name!r}, not {env.name!r}; deploy {env.name!r}'s "
            f"versions to one of its own endpoints ({', '.join(env.endpoints) or 'none bound'})."
        )


def check_deployable(allowed: DeployableSet, arns: Iterable[str], endpoint: str) -> None:
    for arn in arns:
        if allowed.allows(arn):
            continue
        why = allowed.refused.get(arn)
        if why:
            raise Refused(f"Refused: {arn} may not serve {endpoint!r}: {why}")
        raise Refused(
            f"Refused: {arn} was never promoted to {allowed.environment!r}, so it may not serve {endpoint!r} "
            f"({allowed.environment!r} runs {allowed.current or 'nothing'}). Promote it first."
        )
