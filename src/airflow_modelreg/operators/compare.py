"""Show a person how the champion and challenger variants of an endpoint compare, and let them keep the
challenger or roll back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_modelreg.domain import markdown as mdx
from airflow_modelreg.domain import policy
from airflow_modelreg.domain.errors import GovernanceError
from airflow_modelreg.domain.validation import group_from_arn, version_from_arn
from airflow_modelreg.domain.versions import who_may_decide
from airflow_modelreg.hooks.identities import ApproverIdentities
from airflow_modelreg.hooks.release import event_key
from airflow_modelreg.operators.deploy import EndpointOperatorBase
from airflow_modelreg.operators.hitl import ExactlyOnceHITLOperator
from airflow_modelreg.operators.register import airflow_run_of, run_key_of

if TYPE_CHECKING:
    from airflow.sdk import Context


class CompareVariantsOperator(EndpointOperatorBase, ExactlyOnceHITLOperator):
    """Show a person per-variant CloudWatch metrics (invocations, latency, errors) and ask: keep the
    challenger, or roll back to the champion? "Roll back" sets the champion's weight to 1 and the
    challenger's to 0; the answer and who gave it are returned to XCom and written to the audit log.

    Bound to an environment like a deployment: the endpoint must be one of its endpoints, and only the
    environment's approvers (narrowed by ``approvers``, never widened) may answer. The answer is applied
    exactly once, whatever its timing (:class:`~airflow_modelreg.operators.hitl.ExactlyOnceHITLOperator`):
    a retry applies an answer an earlier try was given, and a roll back already made is not made again.

    :param environment: the environment the endpoint serves (templated; required).
    :param endpoint_name: the endpoint (templated).
    :param champion: the variant that served before (templated).
    :param challenger: the variant under evaluation (templated).
    :param window_minutes: how far back the metrics go.
    :param approvers: narrow the environment's approvers to these user names.
    :param poll_interval: seconds between looks at an endpoint whose update is in progress, before a roll back.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "environment", "endpoint_name", "champion", "challenger", "subject"
    )
    KEEP = "Keep challenger"
    ROLL_BACK = "Roll back"

    def __init__(
        self,
        *,
        endpoint_name: str,
        champion: str,
        challenger: str,
        window_minutes: int = 60,
        approvers: Sequence[str] | None = None,
        poll_interval: float = 30,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Keep the challenger variant?")
        super().__init__(options=[self.KEEP, self.ROLL_BACK], **kwargs)
        self.approvers = approvers
        self.endpoint_name = endpoint_name
        self.champion = champion
        self.challenger = challenger
        self.window_minutes = window_minutes
        self.poll_interval = poll_interval

    def execute(self, context: Context) -> Any:
        try:
            policy.check_endpoint_binding(self.ladder_in_use, self.environment, self.endpoint_name)
            allowed = policy.allowed_approvers(self.ladder_in_use, self.environment, self.approvers)
        except GovernanceError as refusal:
            self.refuse(None, f"compare variants of {self.endpoint_name}", refusal)
        self.assigned_users = ApproverIdentities(self.ladder_in_use.identities).assigned_users(allowed)  # type: ignore[assignment]
        self.persist_link(context, self.endpoint_name)
        end = datetime.now(UTC)
        metrics = self.hook.variant_metrics(
            self.endpoint_name,
            [self.champion, self.challenger],
            end - timedelta(minutes=self.window_minutes),
            end,
        )
        self.subject = f"{self.endpoint_name}: keep {self.challenger} or roll back to {self.champion}?"
        self.body = render_comparison(metrics, self.window_minutes, may_decide=allowed)
        context["ti"].xcom_push(key="variant_metrics", value=metrics)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        self.persist_link(context, self.endpoint_name)  # kept on resuming too, whatever XCom holds
        answer = super().execute_complete(context, event)
        chosen = answer["chosen_options"][0]
        person = answer["responded_by_user"] or {}
        allowed = policy.allowed_approvers(self.ladder_in_use, self.environment, self.approvers)
        if person.get("name") not in allowed:
            refusal = policy.Refused(
                f"Refused: {person.get('name')!r} is not an approver of {self.environment!r}."
            )
            self.refuse(None, f"{person.get('name')} answered {chosen} on {self.endpoint_name}", refusal)
        endpoint = self.hook.describe_endpoint(self.endpoint_name) or {}
        challenger_arn = self.version_of_variant(endpoint, self.challenger) if endpoint else None
        if chosen == self.ROLL_BACK:
            # All traffic goes to the champion: only if the environment may serve its version now (it may
            # have been revoked, or promoted past twice, since it was deployed), checked like a deployment.
            self.check_variant_serving(self.endpoint_name, endpoint, self.champion, verify_artifact=True)
            rolled_back = {self.champion: 1.0, self.challenger: 0.0}
            if endpoint.get("EndpointStatus") != "InService":
                # An update in progress (an earlier try's roll back, say) refuses another one: wait it out.
                endpoint = self.hook.wait_for(self.endpoint_name, poll=self.poll_interval) or {}
            if self.hook.weights_of(endpoint) != rolled_back:
                self.hook.set_weights(self.endpoint_name, rolled_back)
                self.log.info("Rolled %s back to %s", self.endpoint_name, self.champion)
            else:
                self.log.info("%s already sends all traffic to %s", self.endpoint_name, self.champion)
        if challenger_arn:
            self.records.record(
                group_from_arn(challenger_arn),
                "traffic-rolled-back" if chosen == self.ROLL_BACK else "traffic-shifted",
                key=event_key("compare", run_key_of(context)),
                version=version_from_arn(challenger_arn),
                arn=challenger_arn,
                environment=self.environment,
                actor={"id": str(person.get("id", "")), "name": str(person.get("name", ""))},
                reason=chosen,
                airflow_run=airflow_run_of(context),
                details={
                    "endpoint": self.endpoint_name,
                    "champion": self.champion,
                    "challenger": self.challenger,
                },
            )
        return {
            "endpoint": self.endpoint_name,
            "decision": chosen,
            "by": answer["responded_by_user"],
            "metrics": context["ti"].xcom_pull(task_ids=self.task_id, key="variant_metrics"),
        }


def render_comparison(
    metrics: Mapping[str, Mapping[str, float]], window_minutes: int, may_decide: Sequence[str] = ()
) -> str:
    """The comparison as a Markdown table (variant names escaped), after who may decide."""
    lines = [who_may_decide(may_decide), ""] if may_decide else []
    lines += [
        f"Per-variant metrics over the last {window_minutes} minutes:",
        "",
        "| variant | invocations | mean latency (ms) | 4xx | 5xx | error rate |",
        "|---|---|---|---|---|---|",
    ]
    for variant, values in metrics.items():
        calls = values["invocations"]
        rate = (values["errors_4xx"] + values["errors_5xx"]) / calls if calls else 0.0
        lines.append(
            f"| {mdx.text(variant)} | {calls:.0f} | {values['latency_ms']:.1f} | {values['errors_4xx']:.0f} | "
            f"{values['errors_5xx']:.0f} | {rate:.2%} |"
        )
    return "\n".join(lines)
