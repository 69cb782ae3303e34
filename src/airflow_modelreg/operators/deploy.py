"""Deploy approved versions to SageMaker endpoints, shift traffic between variants, and compare them."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain.deployment import (
    VariantSpec,
    config_name,
    deployment_config,
    model_name,
    traffic_shares,
    validate_variants,
)
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError, RegistryError
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX
from airflow_modelreg.domain.validation import (
    group_from_arn,
    parse_s3_uri,
    validate_entity_name,
    validate_role_arn,
)
from airflow_modelreg.hooks.endpoint import FAILED, IN_PROGRESS, WAITING_FOR_SERVICE, EndpointHook
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import event_key
from airflow_modelreg.links.registry_view import ENDPOINT_LINKS, persist_endpoint_links
from airflow_modelreg.operators.governed import GovernedTask
from airflow_modelreg.operators.register import airflow_run_of, run_key_of
from airflow_modelreg.triggers.endpoint import (
    EndpointDeletedTrigger,
    EndpointInServiceTrigger,
    endpoint_event,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def capture_content_type_header(versions: Iterable[Mapping[str, Any]]) -> dict[str, list[str]] | None:
    """``CaptureContentTypeHeader`` for the content types the versions accept and answer with: CSV types
    as ``CsvContentTypes``, JSON types as ``JsonContentTypes`` (media types without parameters, at most 10
    each, as SageMaker allows). ``None`` when there are none: captures are then base64."""
    found: dict[str, list[str]] = {"CsvContentTypes": [], "JsonContentTypes": []}
    for version in versions:
        spec = version.get("InferenceSpecification") or {}
        for content_type in [
            *spec.get("SupportedContentTypes", []),
            *spec.get("SupportedResponseMIMETypes", []),
        ]:
            media = str(content_type).split(";", 1)[0].strip().lower()
            subtype = media.partition("/")[2]
            key = "CsvContentTypes" if "csv" in subtype else "JsonContentTypes" if "json" in subtype else None
            if key and media not in found[key] and len(found[key]) < 10:
                found[key].append(media)
    header = {key: sorted(values) for key, values in found.items() if values}
    return header or None


def undo_to(plan: Mapping[str, Any], previous: str | None) -> dict[str, Any]:
    """What taking back a change to ``plan["config"]`` means: going back to ``previous`` (``None``: the
    endpoint did not exist, so deleting it)."""
    return {
        "config": plan["config"],
        "previous": previous,
        "group": group_from_arn(plan["production"][0][0].model_package_arn),
    }


class EndpointOperatorBase(GovernedTask, AwsBaseOperator[EndpointHook]):
    """An operator on the endpoints of one environment.

    The environment is required: its ladder entry binds the endpoints it may act on, and its connection
    (when the ladder names one) is the account the endpoint lives in. The registry and the audit log are
    reached through the operator's own connection.

    :param environment: the ladder environment whose endpoints the task acts on (required; templated in the
        subclasses that list it in ``template_fields``).
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable, which must match it
        when set).
    :param parameter_prefix: Parameter Store prefix of the environment pointers,
        ``<prefix>/<group>/<environment>`` (default ``/modelreg``).
    """

    aws_hook_class = EndpointHook
    operator_extra_links = ENDPOINT_LINKS

    def __init__(
        self,
        *,
        environment: str,
        ladder: EnvironmentLadder | Mapping[str, Any] | str | None = None,
        parameter_prefix: str = DEFAULT_PREFIX,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.environment = environment
        self.ladder = ladder
        self.parameter_prefix = parameter_prefix

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # The endpoint lives in the environment's account: its connection when the ladder names one.
        params = dict(super()._hook_parameters)
        env = self.ladder_in_use.get(self.environment)
        if env.aws_conn_id:
            params["aws_conn_id"] = env.aws_conn_id
            params["region_name"] = None  # the environment's connection says where
        return params

    @property
    def endpoint_connection(self) -> dict[str, Any]:
        """Where a trigger finds the endpoint and its alarms: the environment's account, as :attr:`hook`."""
        params = self._hook_parameters
        return {"aws_conn_id": params["aws_conn_id"], "region_name": params["region_name"]}

    @property
    def registry(self) -> ModelRegistryHook:
        return self.records.registry

    def check_serving(
        self, endpoint_name: str, arns: Sequence[str], verify_artifact: bool
    ) -> policy.DeployableSet:
        """Refuse (with an AUDIT record and before any write) an endpoint outside the environment, or a
        version the environment's pointer does not name now and did not name before."""
        group = None
        try:
            policy.check_endpoint_binding(self.ladder_in_use, self.environment, endpoint_name)
            if not arns:
                raise policy.Refused(
                    f"Refused: the variant on {endpoint_name} serves no version of the model registry (a model "
                    "made outside it); only registered versions promoted to the environment are served."
                )
            groups = {group_from_arn(arn) for arn in arns}
            if len(groups) != 1:
                raise policy.Refused(
                    f"Refused: an endpoint serves versions of one group; got {', '.join(sorted(groups))}."
                )
            group = groups.pop()
            allowed = self.records.deployable(group, self.environment, rehash=verify_artifact, asked=arns)
            policy.check_deployable(allowed, arns, endpoint_name)
        except GovernanceError as refusal:
            self.refuse(group, f"serve {', '.join(arns)} on {endpoint_name} ({self.environment})", refusal)
        return allowed

    def check_variant_serving(
        self, endpoint_name: str, endpoint: Mapping[str, Any], variant: str, verify_artifact: bool
    ) -> None:
        """:meth:`check_serving` for the version one variant of a running endpoint serves (a variant serving
        no registered version, a raw model, is refused as such)."""
        arn = self.version_of_variant(endpoint, variant) if endpoint else None
        self.check_serving(endpoint_name, [arn] if arn else [], verify_artifact=verify_artifact)

    def persist_link(self, context: Context, endpoint_name: str) -> None:
        """Keep the links to the endpoint: in the registry view and in the SageMaker console."""
        persist_endpoint_links(context, self, endpoint_name)

    def version_of_variant(self, endpoint: Mapping[str, Any], variant: str) -> str | None:
        """The version (model package ARN) a variant of a running endpoint serves."""
        config = self.hook.conn.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        for spec in [*config.get("ProductionVariants", []), *config.get("ShadowProductionVariants", [])]:
            if spec["VariantName"] == variant:
                model = self.hook.conn.describe_model(ModelName=spec["ModelName"])
                containers = model.get("Containers") or [model.get("PrimaryContainer") or {}]
                return containers[0].get("ModelPackageName")
        return None


class DeployModelOperator(EndpointOperatorBase):
    """Deploy approved versions to a SageMaker endpoint: A/B production variants with weights, an optional
    shadow variant, data capture; create the endpoint, or update it blue/green.

    Deployments are bound to an environment: the endpoint must be one the ladder lists for it, and each
    variant may carry only the version the environment's pointer names now, or the one it named before (the
    champion), each re-verified before anything is written (Approved, artifact still hashing to the SHA-256
    recorded at registration, never rolled back out). Anything else is refused with an AUDIT record and no
    write. Model and config names derive from the request, so the
    same deployment run again changes nothing. An update uses a blue/green ``DeploymentConfig``
    (``all_at_once``, ``canary`` or ``linear`` routing) with auto-rollback on the given alarms; an update
    that SageMaker rolled back fails the task with the reason, even though the endpoint is InService.

    The endpoint's status is read before any change: one in progress (``Updating``, ``SystemUpdating``...)
    is waited for first, since SageMaker refuses changes meanwhile, and this very deployment already under
    way (a retry after a crash: ``PendingDeploymentSummary``) is waited for, not started again. A ``Failed``
    endpoint is deleted and created again (``recover_failed_endpoint``). Data capture records the content
    types the versions declare as text, so captures are CSV or JSON rather than base64 where possible.
    The waits use the waiter model ``waiters/endpoint.json``, in the triggerer when deferrable.

    :param environment: the environment the endpoint serves (templated; required).
    :param endpoint_name: the endpoint (templated); bound to ``environment`` in the ladder.
    :param variants: production variants, each ``{"name", "model_package_arn", "weight", "instance_type",
        "instance_count"}`` (templated).
    :param shadow_variants: at most one shadow variant, same fields.
    :param execution_role_arn: role the SageMaker models run with.
    :param data_capture_uri: S3 prefix for data capture (input and output); ``None`` disables it.
    :param capture_percent: share of requests captured.
    :param routing: blue/green routing of an update: ``all_at_once``, ``canary`` or ``linear``.
    :param step_percent: canary size or linear step, in percent of capacity.
    :param wait_seconds: bake time between routing steps.
    :param rollback_alarms: CloudWatch alarms that roll the update back when they fire.
    :param wait_for_completion: wait until the endpoint is InService on the new config.
    :param recover_failed_endpoint: when the endpoint is ``Failed``, delete it (the only operation SageMaker
        accepts on a Failed endpoint) and create it again with the planned config; else fail and say so.
    :param deferrable: wait in the triggerer, without a worker slot.
    :param verify_artifact: re-hash each version's artifact in S3 before any write and refuse a mismatch
        (default on); the checks after each wait do not re-hash.
    :param poll_interval: seconds between looks at the endpoint while waiting (default 30).
    :param max_wait_seconds: how long the whole deployment may wait for the endpoint, in seconds from the
        start of each try (default 3600); past it the try fails.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "environment",
        "endpoint_name",
        "variants",
        "shadow_variants",
        "execution_role_arn",
        "data_capture_uri",
        "rollback_alarms",
    )
    template_fields_renderers = {"variants": "json", "shadow_variants": "json"}
    ui_color = "#f4cccc"

    def __init__(
        self,
        *,
        endpoint_name: str,
        variants: Sequence[Mapping[str, Any]],
        execution_role_arn: str,
        shadow_variants: Sequence[Mapping[str, Any]] = (),
        data_capture_uri: str | None = None,
        capture_percent: int = 100,
        routing: str = "all_at_once",
        step_percent: int | None = None,
        wait_seconds: int = 300,
        rollback_alarms: Sequence[str] = (),
        verify_artifact: bool = True,
        wait_for_completion: bool = True,
        poll_interval: float = 30,
        max_wait_seconds: float = 3600,
        recover_failed_endpoint: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.recover_failed_endpoint = recover_failed_endpoint
        self.endpoint_name = endpoint_name
        self.variants = variants
        self.shadow_variants = shadow_variants
        self.execution_role_arn = execution_role_arn
        self.data_capture_uri = data_capture_uri
        self.capture_percent = capture_percent
        self.routing = routing
        self.step_percent = step_percent
        self.wait_seconds = wait_seconds
        self.rollback_alarms = rollback_alarms
        self.verify_artifact = verify_artifact
        self.wait_for_completion = wait_for_completion
        self.poll_interval = poll_interval
        self.max_wait_seconds = max_wait_seconds
        self.deferrable = deferrable

    # ------------------------------------------------------------------------------------ plan
    def plan(self, verify_artifact: bool | None = None) -> dict[str, Any]:
        """Validate everything and check every version; return what to create. Writes nothing."""
        verify_artifact = self.verify_artifact if verify_artifact is None else verify_artifact
        validate_entity_name(self.endpoint_name, "endpoint name")
        validate_role_arn(self.execution_role_arn)
        production = [VariantSpec.from_mapping(v) for v in self.variants]
        shadow = [VariantSpec.from_mapping(v) for v in self.shadow_variants or ()]
        validate_variants(production, shadow)
        self.ladder_in_use.get(self.environment)
        if self.data_capture_uri:
            parse_s3_uri(self.data_capture_uri.rstrip("/") + "/x", "data capture URI")
            if not isinstance(self.capture_percent, int) or not 0 < self.capture_percent <= 100:
                raise InvalidInputError(f"capture_percent is {self.capture_percent!r}; expected 1-100.")
        routing = deployment_config(
            self.routing, list(self.rollback_alarms), self.step_percent, self.wait_seconds
        )
        if self.rollback_alarms:
            self.hook.alarm_states(list(self.rollback_alarms))  # each named alarm must exist
        arns = list(dict.fromkeys(spec.model_package_arn for spec in [*production, *shadow]))
        self.check_serving(self.endpoint_name, arns, verify_artifact)
        versions = {arn: self.registry.describe_version(arn) for arn in arns}

        def model_for(spec: VariantSpec) -> str:
            version = versions[spec.model_package_arn]
            digest = (version.get("CustomerMetadataProperties") or {}).get(md.ARTIFACT_SHA256)
            return model_name(version["ModelPackageGroupName"], version["ModelPackageVersion"], digest)

        capture = None
        if self.data_capture_uri:
            capture = {
                "EnableCapture": True,
                "InitialSamplingPercentage": int(self.capture_percent),
                "DestinationS3Uri": self.data_capture_uri,
                "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            }
        request = {
            "production": [(spec, model_for(spec)) for spec in production],
            "shadow": [(spec, model_for(spec)) for spec in shadow],
            "capture": capture,
        }
        return {
            **request,
            "config": config_name(self.endpoint_name, request),
            "routing": routing,
            "versions": versions,
        }

    # --------------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        try:
            plan = self.deployment_plan()
        except InvalidInputError as error:  # a configuration error: no retry can fix it
            raise AirflowFailException(str(error)) from error
        self.persist_link(context, self.endpoint_name)
        return self.converge(context, plan, time.time() + self.max_wait_seconds)

    def deployment_plan(self, verify_artifact: bool | None = None) -> dict[str, Any]:
        """:meth:`plan`, with data capture recording the versions' content types as text.

        SageMaker base64-encodes every captured payload unless ``CaptureContentTypeHeader`` lists its
        content type as CSV or JSON; the versions declare what they accept and answer
        (``SupportedContentTypes``, ``SupportedResponseMIMETypes``), so the header is derived from those.
        The config name is derived again, since the config it names now carries the header."""
        plan = self.plan(verify_artifact)
        header = capture_content_type_header(plan["versions"].values())
        if plan["capture"] and header:
            plan["capture"] = {**plan["capture"], "CaptureContentTypeHeader": header}
            request = {key: plan[key] for key in ("production", "shadow", "capture")}
            plan["config"] = config_name(self.endpoint_name, request)
        return plan

    def converge(self, context: Context, plan: dict[str, Any], deadline: float) -> dict[str, Any]:
        """Read the endpoint's status first, then take the one step that brings it closer to the plan.

        SageMaker refuses any change while a create, update or maintenance (``SystemUpdating``) is in
        progress, so an endpoint in progress is waited for, and looked at again before deciding; a deployment
        of this very config already under way (a previous try started it: ``PendingDeploymentSummary``) is
        waited for, not started again. A ``Failed`` endpoint accepts only ``DeleteEndpoint`` (API reference,
        DescribeEndpoint): it is deleted, then created again with the planned config."""
        name = self.endpoint_name
        endpoint = self.hook.describe_endpoint(name)
        status = endpoint["EndpointStatus"] if endpoint else None
        if endpoint is None:
            self.prepare(plan)
            if self.hook.create_endpoint(name, plan["config"], tags={"managed-by": "airflow-modelreg"}):
                self.log.info("Creating endpoint %s with %s", name, plan["config"])
                return self.wait(context, plan, deadline, then="check", undo=undo_to(plan, None))
            self.log.info("Endpoint %s appeared meanwhile (another try created it); looking again.", name)
            return self.converge(context, plan, deadline)
        ours = plan["config"] in (self.hook.pending_config(endpoint), endpoint["EndpointConfigName"])
        if status == "Deleting":
            self.log.info("Endpoint %s is being deleted; waiting until it is gone to create it.", name)
            return self.wait(context, plan, deadline, then="reconsider", waiter="EndpointDeleted")
        if status in IN_PROGRESS:
            if ours and status in ("Creating", "Updating"):
                self.log.info(
                    "%s is %s to %s already (an earlier try): waiting for it.", name, status, plan["config"]
                )
                before = endpoint["EndpointConfigName"] if status == "Updating" else None
                return self.wait(context, plan, deadline, then="check", undo=undo_to(plan, before))
            self.log.info(
                "%s is %s: waiting for it before deciding (SageMaker refuses changes meanwhile).",
                name,
                status,
            )
            return self.wait(context, plan, deadline, then="reconsider")
        if status == "InService" and endpoint["EndpointConfigName"] == plan["config"]:
            self.log.info("%s already serves %s; nothing to change.", name, plan["config"])
            return self.finish(context, plan, changed=False)
        if status == "Failed":
            return self.recover_failed(context, plan, deadline, endpoint)
        if status in FAILED:  # OutOfService, UpdateRollbackFailed
            raise AirflowFailException(
                f"Endpoint {name} is {status} ({endpoint.get('FailureReason') or 'no reason given'}); this "
                "provider does not change an endpoint in that state on its own. See the SageMaker guide on "
                "recovering it (rolling deployments), or delete it so the next deployment creates it afresh."
            )
        self.prepare(plan)
        self.hook.update_endpoint(name, plan["config"], plan["routing"])
        self.log.info("Updating %s to %s (%s)", name, plan["config"], self.routing)
        undo = undo_to(plan, endpoint["EndpointConfigName"])
        return self.wait(context, plan, deadline, then="check", undo=undo)

    def prepare(self, plan: dict[str, Any]) -> None:
        """The models and the endpoint config the plan names (each created only if missing)."""
        try:
            for spec, model in [*plan["production"], *plan["shadow"]]:
                if self.hook.ensure_model(model, spec.model_package_arn, self.execution_role_arn):
                    self.log.info("Created model %s for %s", model, spec.model_package_arn)
            self.hook.ensure_endpoint_config(
                plan["config"], plan["production"], plan["shadow"], plan["capture"]
            )
        except GovernanceError as refusal:  # a model or config of the planned name, not made by this plan
            self.refuse(
                group_from_arn(plan["production"][0][0].model_package_arn),
                f"deploy to {self.endpoint_name} ({self.environment})",
                refusal,
            )

    def recover_failed(
        self, context: Context, plan: dict[str, Any], deadline: float, endpoint: dict[str, Any]
    ) -> dict[str, Any]:
        reason = endpoint.get("FailureReason") or "no reason given"
        if not self.recover_failed_endpoint:
            raise AirflowFailException(
                f"Endpoint {self.endpoint_name} is Failed ({reason}). SageMaker accepts only DeleteEndpoint "
                "on a Failed endpoint: delete it, or set recover_failed_endpoint=True."
            )
        self.log.warning(
            "AUDIT recovery: endpoint %s is Failed (%s); deleting it (the only operation SageMaker accepts on a "
            "Failed endpoint) to create it again with %s.",
            self.endpoint_name,
            reason,
            plan["config"],
        )
        self.hook.delete_endpoint(self.endpoint_name)
        return self.wait(context, plan, deadline, then="reconsider", waiter="EndpointDeleted")

    def wait(
        self,
        context: Context,
        plan: dict[str, Any],
        deadline: float,
        then: str,
        waiter: str = "EndpointInService",
        undo: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Wait for the endpoint with a waiter of ``waiters/endpoint.json``, in the triggerer when deferrable,
        then go on with ``then``: ``check`` the deployment, or ``reconsider`` what to do next. ``undo`` says
        what the endpoint served before a change of this task (see :meth:`undo_refused_change`)."""
        state: dict[str, Any] = {"then": then, "deadline": deadline}
        if undo:
            state["undo"] = dict(undo)
        remaining = deadline - time.time()
        if remaining <= 0:
            raise AirflowException(
                f"Deploying {self.endpoint_name} took longer than max_wait_seconds={self.max_wait_seconds:.0f}."
            )
        if then == "check" and not self.wait_for_completion:
            return self.finish(context, plan, changed=True, settled=False)
        if self.deferrable:
            trigger_class = (
                EndpointDeletedTrigger if waiter == "EndpointDeleted" else EndpointInServiceTrigger
            )
            self.defer(
                trigger=trigger_class(
                    endpoint_name=self.endpoint_name,
                    waiter_delay=self.poll_interval,
                    waiter_max_attempts=max(1, math.ceil(remaining / self.poll_interval)),
                    state=state,
                    **self.endpoint_connection,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=remaining + 60),
            )
        try:
            endpoint = self.hook.wait_for(self.endpoint_name, waiter, self.poll_interval, remaining)
        except RegistryError as error:
            raise AirflowException(str(error)) from error
        return self.execute_complete(context, {**endpoint_event(endpoint), "state": state})

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        """After every wait, in the triggerer or in the worker: the versions were checked (artifacts
        re-hashed) before the writes, and are checked again now, since a wait lasts minutes and the release
        may have changed meanwhile (a version revoked, rolled back out, the pointer moved on)."""
        if event.get("status") in ("error", "timeout"):
            # A retry looks at the endpoint afresh and carries on from where it is: worth it.
            raise AirflowException(f"Waiting for {self.endpoint_name} failed: {event.get('message')}")
        state = event.get("state") or {}
        try:
            plan = self.deployment_plan(verify_artifact=False)
        except AirflowFailException as refusal:  # refused now, though allowed when the change was made
            self.undo_refused_change(context, state, refusal)
            raise
        return self.resume(context, plan, event)

    def undo_refused_change(
        self, context: Context, state: Mapping[str, Any], refusal: AirflowFailException
    ) -> None:
        """Take back this task's change of the endpoint when its versions were refused during the wait: the
        endpoint goes back to the config it served before (``UpdateEndpoint``), or is deleted when this
        task created it, so nothing refused is left serving. Only when the endpoint is on this task's config
        (a change made since by someone else, or rolled back by SageMaker, is left alone); a change still in
        progress is waited for first (SageMaker refuses an update meanwhile), then looked at again."""
        undo = state.get("undo")
        if not undo:
            return
        name = self.endpoint_name
        endpoint = self.hook.describe_endpoint(name)
        if endpoint is None:
            return
        status = endpoint["EndpointStatus"]
        if undo["config"] == self.hook.pending_config(endpoint) and status in IN_PROGRESS:
            self.log.warning(
                "AUDIT undo: %s is still %s to %s, which is refused now; waiting for it to finish to take it "
                "back.",
                name,
                status,
                undo["config"],
            )
            self.wait(context, {}, float(state["deadline"]), then="undo", undo=undo)
            return  # not deferrable: the wait came back here, through execute_complete, and took it back
        if endpoint["EndpointConfigName"] != undo["config"] or status != "InService":
            return
        previous = undo.get("previous")
        if previous:
            self.log.warning(
                "AUDIT undo: %s goes back from %s to %s: %s", name, undo["config"], previous, refusal
            )
            self.hook.update_endpoint(name, previous, None)
        else:
            self.log.warning("AUDIT undo: deleting %s, created by this task: %s", name, refusal)
            self.hook.delete_endpoint(name)
        self.records.record(
            undo["group"],
            "deployment-undone",
            key=event_key("deployment-undone", run_key_of(context)),
            environment=self.environment,
            airflow_run=airflow_run_of(context),
            reason=str(refusal)[:1000],
            details={"endpoint": name, "config": undo["config"], "back_to": previous},
        )

    def resume(self, context: Context, plan: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        state = event.get("state") or {}
        # "undo": a change refused during its wait was waited for to take it back, and is allowed again.
        if event.get("status") in WAITING_FOR_SERVICE:  # moving again since the wait ended (maintenance...)
            return self.wait(context, plan, float(state["deadline"]), then=state["then"])
        if state.get("then") == "reconsider":
            return self.converge(context, plan, float(state["deadline"]))
        return self.check_settled(
            context, event["status"], event.get("config"), event.get("failure_reason"), plan
        )

    def check_settled(
        self,
        context: Context,
        status: str,
        config: str | None,
        failure_reason: str | None,
        plan: dict[str, Any],
    ) -> dict[str, Any]:
        if status != "InService":
            raise AirflowFailException(
                f"Deployment of {self.endpoint_name} failed: endpoint is {status} ({failure_reason or 'no reason'})."
            )
        if config != plan["config"]:
            raise AirflowFailException(
                f"Deployment of {self.endpoint_name} was rolled back: it serves {config}, not {plan['config']} "
                f"({failure_reason or 'no reason given'})."
            )
        return self.finish(context, plan, changed=True)

    def finish(
        self, context: Context, plan: dict[str, Any], changed: bool, settled: bool = True
    ) -> dict[str, Any]:
        shares = traffic_shares([spec for spec, _ in plan["production"]])
        if settled:
            variants = [
                {
                    "name": spec.name,
                    "arn": spec.model_package_arn,
                    "version": int(spec.model_package_arn.rsplit("/", 1)[1]),
                    "traffic_percent": shares.get(spec.name),
                    "shadow": spec.name not in shares,
                }
                for spec, _ in [*plan["production"], *plan["shadow"]]
            ]
            newest = max(variants, key=lambda v: v["version"])
            self.records.record(
                group_from_arn(newest["arn"]),
                "deployed",
                key=event_key("deployed", run_key_of(context)),
                version=newest["version"],
                arn=newest["arn"],
                environment=self.environment,
                airflow_run=airflow_run_of(context),
                details={
                    "endpoint": self.endpoint_name,
                    "config": plan["config"],
                    "variants": variants,
                    "changed": changed,
                },
            )
        return {
            "endpoint": self.endpoint_name,
            "config": plan["config"],
            "changed": changed,
            "variants": [
                {
                    "name": spec.name,
                    "model": model,
                    "version_arn": spec.model_package_arn,
                    "traffic_percent": shares[spec.name],
                }
                for spec, model in plan["production"]
            ],
            "shadow_variants": [
                {"name": spec.name, "model": model, "version_arn": spec.model_package_arn}
                for spec, model in plan["shadow"]
            ],
            "deployment_config": plan["routing"] if changed else None,
        }
