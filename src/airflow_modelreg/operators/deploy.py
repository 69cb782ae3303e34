"""Deploy approved versions to SageMaker endpoints, shift traffic between variants, and compare them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import conf
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.config import resolve_ladder
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
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX
from airflow_modelreg.domain.validation import (
    group_from_arn,
    parse_s3_uri,
    validate_entity_name,
    validate_role_arn,
)
from airflow_modelreg.hooks.endpoint import EndpointHook
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.hooks.release import ReleaseRecords, event_key
from airflow_modelreg.links.model_registry import EndpointLink
from airflow_modelreg.operators.register import airflow_run_of, run_key_of
from airflow_modelreg.triggers.endpoint import EndpointSettledTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EndpointOperatorBase(AwsBaseOperator[EndpointHook]):
    """An operator on the endpoints of one environment.

    The environment is required: its ladder entry binds the endpoints it may act on, and its connection
    (when the ladder names one) is the account the endpoint lives in. The registry and the audit log are
    reached through the operator's own connection.
    """

    aws_hook_class = EndpointHook
    operator_extra_links = (EndpointLink(),)

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

    @cached_property
    def ladder_in_use(self) -> EnvironmentLadder:
        return resolve_ladder(self.ladder)

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # The endpoint lives in the environment's account: its connection when the ladder names one.
        params = dict(super()._hook_parameters)
        env = self.ladder_in_use.get(self.environment)
        if env.aws_conn_id:
            params["aws_conn_id"] = env.aws_conn_id
            params["region_name"] = None  # the environment's connection says where
        return params

    @cached_property
    def records(self) -> ReleaseRecords:
        return ReleaseRecords(
            self.ladder_in_use,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
            parameter_prefix=self.parameter_prefix,
            registry=self.hook if isinstance(self.hook, ModelRegistryHook) else None,
        )

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
            groups = {group_from_arn(arn) for arn in arns}
            if len(groups) != 1:
                raise policy.Refused(
                    f"Refused: an endpoint serves versions of one group; got {', '.join(sorted(groups))}."
                )
            group = groups.pop()
            allowed = self.records.deployable(group, self.environment, rehash=verify_artifact, asked=arns)
            policy.check_deployable(allowed, arns, endpoint_name)
        except GovernanceError as refusal:
            self.records.refusal(
                group, f"serve {', '.join(arns)} on {endpoint_name} ({self.environment})", str(refusal)
            )
            raise AirflowFailException(str(refusal)) from refusal
        return allowed

    def persist_link(self, context: Context, endpoint_name: str) -> None:
        EndpointLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            endpoint_name=endpoint_name,
        )

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
    :param deferrable: wait in the triggerer, without a worker slot.
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
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
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
        plan = self.plan()
        self.persist_link(context, self.endpoint_name)
        endpoint = self.hook.describe_endpoint(self.endpoint_name)
        if (
            endpoint
            and endpoint["EndpointConfigName"] == plan["config"]
            and endpoint["EndpointStatus"] == "InService"
        ):
            self.log.info("%s already serves %s; nothing to change.", self.endpoint_name, plan["config"])
            return self.finish(context, plan, changed=False)
        for spec, model in [*plan["production"], *plan["shadow"]]:
            if self.hook.ensure_model(model, spec.model_package_arn, self.execution_role_arn):
                self.log.info("Created model %s for %s", model, spec.model_package_arn)
        self.hook.ensure_endpoint_config(plan["config"], plan["production"], plan["shadow"], plan["capture"])
        if endpoint is None:
            self.hook.create_endpoint(
                self.endpoint_name, plan["config"], tags={"managed-by": "airflow-modelreg"}
            )
            self.log.info("Creating endpoint %s with %s", self.endpoint_name, plan["config"])
        elif endpoint["EndpointConfigName"] != plan["config"]:
            self.hook.update_endpoint(self.endpoint_name, plan["config"], plan["routing"])
            self.log.info("Updating %s to %s (%s)", self.endpoint_name, plan["config"], self.routing)
        if not self.wait_for_completion:
            return self.finish(context, plan, changed=True, settled=False)
        if self.deferrable:
            self.defer(
                trigger=EndpointSettledTrigger(
                    endpoint_name=self.endpoint_name,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    botocore_config=self.botocore_config,
                    poll_interval=self.poll_interval,
                    timeout_at=time.time() + self.max_wait_seconds,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.max_wait_seconds + 60),
            )
        endpoint = self.hook.wait_settled(self.endpoint_name, self.max_wait_seconds, self.poll_interval)
        return self.check_settled(
            context,
            endpoint["EndpointStatus"],
            endpoint["EndpointConfigName"],
            endpoint.get("FailureReason"),
            plan,
        )

    def execute_complete(self, context: Context, event: dict[str, Any]) -> dict[str, Any]:
        if event.get("status") in ("error", "timeout"):
            raise AirflowFailException(
                f"Waiting for {self.endpoint_name} failed: {event.get('message') or event.get('last_status')}"
            )
        # The versions were checked (artifacts re-hashed) before the writes; approval is checked again.
        plan = self.plan(verify_artifact=False)
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
