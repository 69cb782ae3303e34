"""Show a person how the champion and challenger variants of an endpoint compare, and let them keep the
challenger or roll back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.standard.operators.hitl import HITLOperator

from airflow_modelreg.hooks.endpoint import EndpointHook
from airflow_modelreg.links.model_registry import EndpointLink

if TYPE_CHECKING:
    from airflow.sdk import Context


class CompareVariantsOperator(AwsBaseOperator[EndpointHook], HITLOperator):
    """Show a person per-variant CloudWatch metrics (invocations, latency, errors) and ask: keep the
    challenger, or roll back to the champion? "Roll back" sets the champion's weight to 1 and the
    challenger's to 0; the answer and who gave it are returned to XCom.

    :param endpoint_name: the endpoint (templated).
    :param champion: the variant that served before (templated).
    :param challenger: the variant under evaluation (templated).
    :param window_minutes: how far back the metrics go.
    """

    aws_hook_class = EndpointHook
    template_fields: Sequence[str] = aws_template_fields("endpoint_name", "champion", "challenger", "subject")
    operator_extra_links = (EndpointLink(),)
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
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("subject", "Keep the challenger variant?")
        super().__init__(
            options=[self.KEEP, self.ROLL_BACK],
            assigned_users=[{"id": name, "name": name} for name in approvers or []] or None,
            **kwargs,
        )
        self.endpoint_name = endpoint_name
        self.champion = champion
        self.challenger = challenger
        self.window_minutes = window_minutes

    def execute(self, context: Context) -> Any:
        end = datetime.now(UTC)
        metrics = self.hook.variant_metrics(
            self.endpoint_name,
            [self.champion, self.challenger],
            end - timedelta(minutes=self.window_minutes),
            end,
        )
        self.subject = f"{self.endpoint_name}: keep {self.challenger} or roll back to {self.champion}?"
        self.body = render_comparison(metrics, self.window_minutes)
        context["ti"].xcom_push(key="variant_metrics", value=metrics)
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        answer = super().execute_complete(context, event)
        chosen = answer["chosen_options"][0]
        if chosen == self.ROLL_BACK:
            self.hook.set_weights(self.endpoint_name, {self.champion: 1.0, self.challenger: 0.0})
            self.log.info("Rolled %s back to %s", self.endpoint_name, self.champion)
        return {
            "endpoint": self.endpoint_name,
            "decision": chosen,
            "by": answer["responded_by_user"],
            "metrics": context["ti"].xcom_pull(task_ids=self.task_id, key="variant_metrics"),
        }


def render_comparison(metrics: Mapping[str, Mapping[str, float]], window_minutes: int) -> str:
    lines = [
        f"Per-variant metrics over the last {window_minutes} minutes:",
        "",
        "| variant | invocations | mean latency (ms) | 4xx | 5xx | error rate |",
        "|---|---|---|---|---|---|",
    ]
    for variant, values in metrics.items():
        calls = values["invocations"]
        rate = (values["errors_4xx"] + values["errors_5xx"]) / calls if calls else 0.0
        lines.append(
            f"| {variant} | {calls:.0f} | {values['latency_ms']:.1f} | {values['errors_4xx']:.0f} | "
            f"{values['errors_5xx']:.0f} | {rate:.2%} |"
        )
    return "\n".join(lines)
