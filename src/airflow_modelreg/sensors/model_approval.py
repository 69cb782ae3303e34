"""Wait until a version is decided by anyone, anywhere: the Airflow UI, SageMaker Studio, the AWS CLI."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
)

from airflow_modelreg.domain import policy
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError, NotFoundError
from airflow_modelreg.domain.validation import group_from_arn, validate_model_package_arn, version_from_arn
from airflow_modelreg.domain.versions import summarize
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.links.registry_view import VERSION_LINKS, persist_version_links
from airflow_modelreg.operators.governed import GovernedTask
from airflow_modelreg.triggers.model_approval import ModelApprovalTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


class ModelApprovalSensor(GovernedTask, AwsBaseSensor[ModelRegistryHook]):
    """Wait until a version is Approved or Rejected, by whoever decides and wherever.

    Approved succeeds and returns the version's summary; Rejected fails with the decision's description,
    or skips when ``skip_on_reject``. As every Airflow sensor: the ``timeout`` raises ``AirflowSensorTimeout``
    (``soft_fail`` skips instead); a configuration error (an invalid ARN, a version that does not exist)
    fails without retries; trouble talking to AWS that outlasts the retries inside the wait fails the try,
    and the task's ``retries`` apply.

    Deferrable: the wait happens in the triggerer, where waiters on the same group share one
    ``ListModelPackages`` poll per interval; with ``sqs_queue_url`` it also reads the EventBridge
    "SageMaker Model Package State Change" events routed to that queue, to see a decision within seconds
    (the registry stays the source of truth: an event is confirmed with one describe before it counts).

    With ``allowed_approvers`` (user names) or ``environment`` (its approvers in the ladder, which
    ``allowed_approvers`` may narrow, never widen), an Approved version counts only when one of those people
    approved it, as this provider's audit log records: a decision by anyone else, by automation, or made
    outside Airflow (where nobody can tell who made it) fails the task, saying which, and the refusal is
    audited. Without either, any decision counts, as SageMaker sees it.

    :param model_package_arn: the version to wait for (templated).
    :param allowed_approvers: only an approval by one of these users counts (templated).
    :param environment: only an approval by one of this environment's approvers counts (templated).
    :param ladder: the environment ladder (default: the ``modelreg_ladder`` Variable); its audit log says who
        decided.
    :param skip_on_reject: skip instead of failing when the version is rejected.
    :param sqs_queue_url: SQS queue receiving the group's state-change events (event-driven path).
    :param deferrable: wait in the triggerer without holding a worker slot.
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields(
        "model_package_arn", "sqs_queue_url", "allowed_approvers", "environment"
    )
    operator_extra_links = VERSION_LINKS
    ui_color = "#ffe1a8"

    def __init__(
        self,
        *,
        model_package_arn: str,
        skip_on_reject: bool = False,
        sqs_queue_url: str | None = None,
        allowed_approvers: Sequence[str] | None = None,
        environment: str | None = None,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_package_arn = model_package_arn
        self.skip_on_reject = skip_on_reject
        self.sqs_queue_url = sqs_queue_url
        self.allowed_approvers = allowed_approvers
        self.environment = environment
        self.ladder = ladder
        self.deferrable = deferrable

    @property
    def checks_approver(self) -> bool:
        return self.allowed_approvers is not None or self.environment is not None

    def check_approver(self, version: dict[str, Any]) -> str:
        """The allowed approver who approved ``version``, from this provider's audit log; refused (and the
        refusal audited) when it was someone else, automation, or cannot be told."""
        facts = policy.VersionFacts.from_description(version)
        try:
            allowed = policy.allowed_approvers(self.ladder_in_use, self.environment, self.allowed_approvers)
            decisions = self.records.audit.events(facts.group, kind="decided", version=facts.number)
            return policy.check_decided_by(facts, decisions, allowed)
        except GovernanceError as refusal:
            self.refuse(facts.group, f"count the approval of {facts.arn}", refusal)
        except InvalidInputError as error:
            raise AirflowFailException(str(error)) from error

    def _decided(self, status: str | None, version: dict[str, Any]) -> dict[str, Any] | None:
        if status == "Approved":
            if not self.checks_approver:
                return summarize(version)
            return {**summarize(version), "approved_by": self.check_approver(version)}
        if status == "Rejected":
            message = (
                f"Version {self.model_package_arn} was rejected: "
                f"{version.get('ApprovalDescription') or 'no reason given'}"
            )
            if self.skip_on_reject:
                raise AirflowSkipException(message)
            raise AirflowFailException(message)
        return None

    def describe(self) -> dict[str, Any]:
        """The version as the registry has it; one that does not exist is a configuration error."""
        try:
            return self.hook.describe_version(self.model_package_arn)
        except (InvalidInputError, NotFoundError) as error:
            raise AirflowFailException(str(error)) from error

    def poke(self, context: Context) -> bool:
        version = self.describe()
        self._result = self._decided(version.get("ModelApprovalStatus"), version)
        return self._result is not None

    def execute(self, context: Context) -> Any:
        try:
            validate_model_package_arn(self.model_package_arn)
            if self.checks_approver:  # a list that widens the ladder's fails now, not after the wait
                policy.allowed_approvers(self.ladder_in_use, self.environment, self.allowed_approvers)
        except (InvalidInputError, GovernanceError) as error:
            raise AirflowFailException(str(error)) from error
        self.persist_links(context)
        if not self.deferrable:
            super().execute(context)
            return self._result
        return self.wait_in_triggerer(time.time() + self.timeout)

    def wait_in_triggerer(self, deadline: float) -> Any:
        # Decided already? Then there is nothing to wait for.
        version = self.describe()
        result = self._decided(version.get("ModelApprovalStatus"), version)
        if result is not None:
            return result
        if time.time() >= deadline:
            raise AirflowSensorTimeout(self._timed_out())
        self.defer(
            trigger=ModelApprovalTrigger(
                model_package_arn=self.model_package_arn,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                botocore_config=self.botocore_config,
                poll_interval=self.poke_interval,
                timeout_at=deadline,
                sqs_queue_url=self.sqs_queue_url,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=deadline - time.time() + 60),  # the trigger's own timeout fires first
        )

    def _timed_out(self) -> str:
        return (
            f"Timed out after {self.timeout:.0f}s waiting for a decision on {self.model_package_arn}; "
            "it is still PendingManualApproval."
        )

    def persist_links(self, context: Context) -> None:
        """Keep the links to the version waited for (its group and number are in its ARN)."""
        version = {
            "ModelPackageGroupName": group_from_arn(self.model_package_arn),
            "ModelPackageVersion": version_from_arn(self.model_package_arn),
        }
        persist_version_links(context, self, version)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        self.persist_links(context)  # on resuming too, whatever XCom holds
        event = event or {}
        deadline = event.get("timeout_at")
        status = event.get("status")
        if status == "timeout":
            raise AirflowSensorTimeout(self._timed_out())
        if status == "error":
            message = f"Watching {self.model_package_arn} failed: {event.get('message', 'unknown error')}"
            if event.get("retryable", True):
                raise AirflowException(message)  # the task's retries apply
            raise AirflowFailException(message)
        # The registry is the source of truth (an event may be older than the latest decision): still
        # pending means waiting on, within the same deadline.
        return self.wait_in_triggerer(float(deadline) if deadline is not None else time.time() + self.timeout)
