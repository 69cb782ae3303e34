"""Views of a version (a ``DescribeModelPackage`` response): the XCom summary and the approval card."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_modelreg.domain import markdown as mdx
from airflow_modelreg.domain import metadata as md


def summarize(version: Mapping[str, Any]) -> dict[str, Any]:
    """The small JSON document operators return to XCom for a version."""
    props = version.get("CustomerMetadataProperties") or {}
    return {
        "group": version.get("ModelPackageGroupName"),
        "version": version.get("ModelPackageVersion"),
        "arn": version.get("ModelPackageArn"),
        "status": version.get("ModelApprovalStatus"),
        "digest": props.get(md.ARTIFACT_SHA256),
        "artifact": props.get(md.ARTIFACT_URI),
        "registered_by": props.get(md.REGISTERED_BY),
        "metrics": md.metrics_from_metadata(props),
    }


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


@dataclass(frozen=True)
class CardContext:
    """What the approver needs beside the version itself: the step, who may decide, and where it stands."""

    environment: str | None = None  # None: the registration decision
    may_decide: Sequence[str] = ()
    registrants: Sequence[str] = ()
    quorum_needed: int = 1
    approvals_so_far: Sequence[Mapping[str, str]] = ()  # {"by", "at", "reason"}
    runs_now: str | None = None  # what the target environment runs now
    held: Sequence[Mapping[str, str]] = ()  # earlier steps: {"environment", "by", "at"}
    evidence: Mapping[str, Any] = field(default_factory=dict)
    action: str = "promote"


def who_may_decide(names: Sequence[str]) -> str:
    """The line that tells a reader of a request whether they may answer it (Airflow shows the form to
    anyone who can open the page, and refuses a person not assigned only when they answer)."""
    who = ", ".join(mdx.text(name) for name in names)
    return f"**Who may decide:** {who}. Airflow refuses an answer from anyone else."


def version_card(
    version: Mapping[str, Any],
    approved: Mapping[str, Any] | None,
    registry_url: str | None = None,
    context: CardContext | None = None,
    region: str | None = None,
) -> str:
    """A Markdown card for the approver: the step, who may decide, metrics beside the approved version's,
    lineage, digest and links (S3 locations open in the S3 console of ``region``). Every value from the
    registry or the user is escaped (:mod:`markdown`).

    The card stays on the Required Action page after the answer, so it states nothing a decision changes
    (no approval status): Airflow shows the answer, who gave it and when, beside it."""
    context = context or CardContext()
    summary = summarize(version)
    baseline = summarize(approved) if approved else None
    lineage = version.get("MetadataProperties") or {}
    props = version.get("CustomerMetadataProperties") or {}
    if context.environment is None:
        step = "registration decision"
    elif context.action == "rollback":
        step = f"roll **{mdx.text(context.environment)}** back to this version"
    else:
        step = f"promotion to **{mdx.text(context.environment)}**"
    lines = [
        f"### {mdx.text(summary['group'])} version {mdx.text(summary['version'])}: {step}",
        "",
        f"Registered by **{mdx.text(summary['registered_by'] or 'unknown')}** at "
        f"{mdx.text(props.get(md.REGISTERED_AT, '-'))}.",
        "",
    ]
    if context.may_decide:
        lines.append(who_may_decide(context.may_decide))
        if context.registrants:
            lines.append(
                f" The registrant ({', '.join(mdx.text(n) for n in context.registrants)}) may not approve."
            )
        lines.append("")
    if context.quorum_needed > 1 or context.approvals_so_far:
        so_far = len(context.approvals_so_far)
        lines.append(f"**{so_far} of {context.quorum_needed} approvals** so far (distinct approvers).")
        for approval in context.approvals_so_far:
            lines.append(
                f"- approved by {mdx.text(approval.get('by'))} at {mdx.text(approval.get('at'))}: "
                f"{mdx.text(approval.get('reason') or '-')}"
            )
        lines.append("")
    if context.environment is not None:
        lines.append(
            f"- {mdx.text(context.environment)} runs now: {mdx.text(context.runs_now or 'nothing yet')}"
        )
        for step_record in context.held:
            lines.append(
                f"- approved for {mdx.text(step_record.get('environment'))} by {mdx.text(step_record.get('by'))} "
                f"at {mdx.text(step_record.get('at'))}"
            )
        for key, value in (context.evidence or {}).items():
            lines.append(f"- {mdx.text(key)}: {mdx.text(value)}")
        lines.append("")
    names = sorted(set(summary["metrics"]) | set(baseline["metrics"] if baseline else {}))
    if names:
        head = f"version {mdx.text(baseline['version'])} (approved)" if baseline else "approved"
        lines += [f"| metric | this version | {head} |", "|---|---|---|"]
        for name in names:
            current = summary["metrics"].get(name)
            previous = baseline["metrics"].get(name) if baseline else None
            lines.append(f"| {mdx.text(name)} | {_fmt(current)} | {_fmt(previous)} |")
        lines.append("")
    gate = props.get(md.QUALITY_GATE)
    if gate:
        lines += [f"Quality gate: {mdx.text(str(gate).removeprefix('Quality gate '))}", ""]
    lines += [
        "**Lineage**",
        "",
        f"- Commit: {mdx.code(lineage.get('CommitId', '-'))} in {mdx.code(lineage.get('Repository', '-'))}",
        f"- Generated by: {mdx.code(lineage.get('GeneratedBy', '-'))}",
        f"- Artifact: {mdx.s3_location(summary['artifact'] or '-', region)}",
        f"- SHA-256: {mdx.code(summary['digest'] or '-')}",
    ]
    for key in sorted(props):
        if key.startswith(md.LINEAGE_PREFIX):
            lines.append(
                f"- {mdx.text(key.removeprefix(md.LINEAGE_PREFIX))}: {mdx.s3_location(props[key], region)}"
            )
    lines.append(f"- ARN: {mdx.code(summary['arn'])}")
    if registry_url:
        lines += ["", mdx.link("Open in the model registry", registry_url)]
    return "\n".join(lines)
