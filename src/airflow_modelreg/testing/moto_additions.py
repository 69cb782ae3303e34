"""What moto 5.2.5 lacks for this workflow, added to its SageMaker backend as the AWS API reference documents.

Each addition is pinned by a test in ``tests/testing/test_standin.py``. Applied once per process by
:func:`install`; the stand-in server calls it before it serves its first request.

Added or corrected:

* ``UpdateEndpoint``, with ``EndpointStatus`` passing through ``Updating`` (and ``RollingBack`` when a
  blue/green ``DeploymentConfig`` names an alarm that is in ``ALARM`` at the end of the bake).
* ``CreateEndpoint`` passes through ``Creating`` before ``InService``, as SageMaker does.
* ``ShadowProductionVariants`` on endpoint configs and endpoints (moto drops them silently).
* ``CreateMonitoringSchedule``, ``DescribeMonitoringSchedule``, ``ListMonitoringSchedules``,
  ``ListMonitoringExecutions``, ``DeleteMonitoringSchedule``; executions are recorded by
  :func:`record_monitoring_execution` the way Model Monitor would write them.
* ``DeleteModelPackage``; version numbers are never reused after a delete.
* ``AddTags``/``ListTags``/``DeleteTags`` on a model package ARN (moto raises ``ValueError``).
* ``CreateModelPackage`` honours ``ClientToken``: the same token returns the version it first made.
* "SageMaker Model Package State Change" events reach EventBridge (and its rules' targets) when a version
  is created or its approval status is set, as SageMaker sends them.
* ``UpdateModelPackage`` merges ``CustomerMetadataProperties`` and leaves fields it was not given alone
  (moto replaces the metadata and clears the approval status), and accepts ``ModelLifeCycle``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.responses import ActionResult, EmptyResult
from moto.events.models import events_backends
from moto.s3.models import s3_backends
from moto.sagemaker import models as sm_models
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter

# How long an endpoint stays in Creating/Updating before it settles. Real SageMaker takes minutes; the
# stand-in keeps the transition visible to sensors and triggers without slowing tests down.
TRANSITION_SECONDS = 0.5

_lock = threading.RLock()
_installed = False


def _now() -> datetime:
    return datetime.now(UTC)


def _state(backend: SageMakerModelBackend) -> dict[str, Any]:
    """Per-account, per-region state that moto's backend has no place for."""
    state = getattr(backend, "_standin_state", None)
    if state is None:
        state = {
            "client_tokens": {},  # ClientToken -> model package ARN
            "deleted_packages": {},  # ARN -> ModelPackage kept only so versions are never reused
            "monitoring_schedules": {},  # name -> dict
            "monitoring_executions": {},  # schedule name -> list of dict
            "shadow_variants": {},  # endpoint config name -> list
        }
        backend._standin_state = state  # type: ignore[attr-defined]
    return state


# --------------------------------------------------------------------------------------- endpoints
def _variant_view(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return FakeEndpoint._process_production_variants(None, variants)  # type: ignore[arg-type]


def _settle(backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
    """Advance an endpoint through its transition once its time has come (lazily, on read)."""
    pending = getattr(endpoint, "_standin_pending", None)
    if not pending or time.monotonic() < pending["settles_at"]:
        return
    endpoint._standin_pending = None  # type: ignore[attr-defined]
    if pending["kind"] == "create":
        endpoint.endpoint_status = "InService"
        return
    if pending["kind"] == "rollback":
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = sm_models.utcnow()
        return
    # An update: blue/green with auto-rollback checks its alarms at the end of the bake.
    alarms = pending.get("alarms") or []
    firing = [name for name in alarms if _alarm_state(backend, name) == "ALARM"]
    if firing:
        endpoint.endpoint_status = "RollingBack"
        reason = f"Update rolled back: CloudWatch alarm(s) {', '.join(firing)} in ALARM during deployment."
        endpoint.failure_reason = reason  # type: ignore[assignment]
        endpoint._standin_pending = {  # type: ignore[attr-defined]
            "kind": "rollback",
            "settles_at": time.monotonic() + TRANSITION_SECONDS,
        }
        return
    config = backend.endpoint_configs[pending["config"]]
    endpoint.endpoint_config_name = pending["config"]
    endpoint.production_variants = _variant_view(config.production_variants)
    endpoint.data_capture_config = config.data_capture_config
    endpoint.endpoint_status = "InService"
    endpoint.failure_reason = None
    endpoint.last_modified_time = sm_models.utcnow()


def _alarm_state(backend: SageMakerModelBackend, alarm_name: str) -> str | None:
    alarms = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    alarm = alarms.get(alarm_name)
    return alarm.state_value if alarm else None


def _endpoint_or_error(backend: SageMakerModelBackend, name: str) -> FakeEndpoint:
    endpoint = backend.endpoints.get(name)
    if endpoint is None:
        arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
        raise ValidationError(message=f"Could not find endpoint '{arn}'.")
    return endpoint


def _describe_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        endpoint = _endpoint_or_error(backend, self._get_param("EndpointName"))
        _settle(backend, endpoint)
        response = endpoint.response_object
        shadows = _state(backend)["shadow_variants"].get(endpoint.endpoint_config_name)
        if shadows:
            response["ShadowProductionVariants"] = _variant_view(shadows)
        deployment = getattr(endpoint, "_standin_last_deployment_config", None)
        if deployment:
            response["LastDeploymentConfig"] = deployment
        if endpoint.failure_reason:
            response["FailureReason"] = endpoint.failure_reason
    return ActionResult(response)


def _create_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    with _lock:
        if name in backend.endpoints:
            arn = FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint "{arn}".')
        endpoint = backend.create_endpoint(
            endpoint_name=name,
            endpoint_config_name=self._get_param("EndpointConfigName"),
            tags=self._get_param("Tags"),
        )
        endpoint.endpoint_status = "Creating"
        endpoint._standin_pending = {  # type: ignore[attr-defined]
            "kind": "create",
            "settles_at": time.monotonic() + TRANSITION_SECONDS,
        }
    return ActionResult({"EndpointArn": endpoint.arn})


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    deployment = self._get_param("DeploymentConfig")
    with _lock:
        endpoint = _endpoint_or_error(backend, name)
        _settle(backend, endpoint)
        if endpoint.endpoint_status != "InService":
            raise ValidationError(
                message=f'Cannot update in-progress endpoint "{endpoint.arn}".'
                if endpoint.endpoint_status in ("Creating", "Updating", "RollingBack")
                else f'Cannot update endpoint "{endpoint.arn}" in status {endpoint.endpoint_status}.'
            )
        if config_name not in backend.endpoint_configs:
            arn = arn_formatter("endpoint-config", config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
        alarms = [
            alarm["AlarmName"]
            for alarm in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])
        ]
        endpoint.endpoint_status = "Updating"
        endpoint.failure_reason = None
        endpoint._standin_last_deployment_config = deployment  # type: ignore[attr-defined]
        endpoint._standin_pending = {  # type: ignore[attr-defined]
            "kind": "update",
            "config": config_name,
            "alarms": alarms,
            "settles_at": time.monotonic() + TRANSITION_SECONDS,
        }
    return ActionResult({"EndpointArn": endpoint.arn})


def _update_endpoint_weights(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        endpoint = _endpoint_or_error(backend, self._get_param("EndpointName"))
        _settle(backend, endpoint)
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        arn = backend.update_endpoint_weights_and_capacities(
            endpoint_name=self._get_param("EndpointName"),
            desired_weights_and_capacities=self._get_param("DesiredWeightsAndCapacities"),
        )
    return ActionResult({"EndpointArn": arn})


def _create_endpoint_config(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointConfigName")
    shadows = self._get_param("ShadowProductionVariants") or []
    with _lock:
        if name in backend.endpoint_configs:
            arn = arn_formatter("endpoint-config", name, backend.account_id, backend.region_name)
            raise ValidationError(message=f'Cannot create already existing endpoint configuration "{arn}".')
        # Shadow variants follow the same rules as production variants (the model must exist).
        backend.validate_production_variants(shadows)
        config = backend.create_endpoint_config(
            endpoint_config_name=name,
            async_inference_config=self._get_param("AsyncInferenceConfig"),
            production_variants=self._get_param("ProductionVariants"),
            data_capture_config=self._get_param("DataCaptureConfig"),
            tags=self._get_param("Tags"),
            kms_key_id=self._get_param("KmsKeyId"),
        )
        if shadows:
            _state(backend)["shadow_variants"][name] = shadows
    return ActionResult({"EndpointConfigArn": config.endpoint_config_arn})


def _describe_endpoint_config(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointConfigName")
    response = backend.describe_endpoint_config(name)
    shadows = _state(backend)["shadow_variants"].get(name)
    if shadows:
        response["ShadowProductionVariants"] = shadows
    return ActionResult(response)


# --------------------------------------------------------------------------------- model packages
def _model_package_or_error(backend: SageMakerModelBackend, name_or_arn: str) -> Any:
    mapped = backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    package = backend.model_packages.get(mapped)
    if package is None:
        raise ValidationError(message=f"Model Package {name_or_arn} does not exist.")
    return package


def _create_model_package(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    token = self._get_param("ClientToken")
    state = _state(backend)
    with _lock:
        if token and token in state["client_tokens"]:
            arn = state["client_tokens"][token]
            if arn in backend.model_packages:
                return ActionResult({"ModelPackageArn": arn})
        # Deleted versions are counted so their numbers are never handed out again, as in AWS.
        deleted = state["deleted_packages"]
        backend.model_packages.update(deleted)
        try:
            arn = backend.create_model_package(
                model_package_name=self._get_param("ModelPackageName"),
                model_package_group_name=self._get_param("ModelPackageGroupName"),
                model_package_description=self._get_param("ModelPackageDescription"),
                inference_specification=self._get_param("InferenceSpecification"),
                validation_specification=self._get_param("ValidationSpecification"),
                source_algorithm_specification=self._get_param("SourceAlgorithmSpecification"),
                certify_for_marketplace=self._get_param("CertifyForMarketplace", False),
                tags=self._get_param("Tags"),
                model_approval_status=self._get_param("ModelApprovalStatus"),
                metadata_properties=self._get_param("MetadataProperties"),
                model_metrics=self._get_param("ModelMetrics"),
                client_token=token,
                customer_metadata_properties=self._get_param("CustomerMetadataProperties"),
                drift_check_baselines=self._get_param("DriftCheckBaselines"),
                domain=self._get_param("Domain"),
                task=self._get_param("Task"),
                sample_payload_url=self._get_param("SamplePayloadUrl"),
                additional_inference_specifications=self._get_param("AdditionalInferenceSpecifications"),
            )
        finally:
            for deleted_arn in deleted:
                backend.model_packages.pop(deleted_arn, None)
        package = backend.model_packages[arn]
        package.tags = package.tags or []
        package._standin_life_cycle = self._get_param("ModelLifeCycle")  # type: ignore[attr-defined]
        if token:
            state["client_tokens"][token] = arn
        _emit_state_change(backend, package)
    return ActionResult({"ModelPackageArn": arn})


def _update_model_package(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        package = _model_package_or_error(backend, self._get_param("ModelPackageArn"))
        status = self._get_param("ModelApprovalStatus")
        if status is not None:
            package.set_model_approval_status(status)
        description = self._get_param("ApprovalDescription")
        if description is not None:
            package.approval_description = description
        merged = dict(package.customer_metadata_properties or {})
        merged.update(self._get_param("CustomerMetadataProperties") or {})
        for key in self._get_param("CustomerMetadataPropertiesToRemove") or []:
            merged.pop(key, None)
        package.customer_metadata_properties = merged
        package.add_additional_inference_specifications(
            self._get_param("AdditionalInferenceSpecificationsToAdd")
        )
        life_cycle = self._get_param("ModelLifeCycle")
        if life_cycle is not None:
            package._standin_life_cycle = life_cycle
        package.modifications_done()
        if status is not None:
            _emit_state_change(backend, package)
    return ActionResult({"ModelPackageArn": package.arn})


def _describe_model_package(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    package = _model_package_or_error(backend, self._get_param("ModelPackageName"))
    response = package.gen_response_object()
    life_cycle = getattr(package, "_standin_life_cycle", None)
    if life_cycle:
        response["ModelLifeCycle"] = life_cycle
    return ActionResult(response)


def _delete_model_package(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        package = _model_package_or_error(backend, self._get_param("ModelPackageName"))
        del backend.model_packages[package.arn]
        for key in [k for k, v in backend.model_package_name_mapping.items() if v == package.arn]:
            del backend.model_package_name_mapping[key]
        _state(backend)["deleted_packages"][package.arn] = package
    return EmptyResult()


def _emit_state_change(backend: SageMakerModelBackend, package: Any) -> None:
    """Send "SageMaker Model Package State Change" to EventBridge, as SageMaker does on create and update."""
    detail = {
        "ModelPackageGroupName": package.model_package_group_name,
        "ModelPackageVersion": package.model_package_version,
        "ModelPackageArn": package.arn,
        "ModelPackageName": package.model_package_name,
        "ModelApprovalStatus": package.model_approval_status,
        "ApprovalDescription": package.approval_description,
        "CreationTime": package.creation_time.isoformat() if package.creation_time else None,
    }
    events = events_backends[backend.account_id][backend.region_name]
    events.put_events(
        [
            {
                "Source": "aws.sagemaker",
                "DetailType": "SageMaker Model Package State Change",
                "Detail": json.dumps(detail),
                "Resources": [package.arn],
            }
        ]
    )


# ------------------------------------------------------------------------------------------- tags
def _resource_for_tags(backend: SageMakerModelBackend, arn: str) -> Any:
    if ":model-package/" in arn:
        package = backend.model_packages.get(arn)
        if package is None:
            raise ValidationError(message=f"Model Package {arn} does not exist.")
        package.tags = package.tags or []
        return package
    return backend._get_resource_from_arn(arn)


def _add_tags(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        resource = _resource_for_tags(backend, self._get_param("ResourceArn"))
        new = self._get_param("Tags") or []
        keys = {tag["Key"] for tag in new}
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in keys] + new
    return ActionResult({"Tags": resource.tags})


def _list_tags(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    resource = _resource_for_tags(backend, self._get_param("ResourceArn"))
    return ActionResult({"Tags": list(resource.tags or [])})


def _delete_tags(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        resource = _resource_for_tags(backend, self._get_param("ResourceArn"))
        keys = set(self._get_param("TagKeys") or [])
        resource.tags = [tag for tag in resource.tags if tag["Key"] not in keys]
    return EmptyResult()


# ---------------------------------------------------------------------------- monitoring schedules
def _schedule_or_error(backend: SageMakerModelBackend, name: str) -> dict[str, Any]:
    schedule = _state(backend)["monitoring_schedules"].get(name)
    if schedule is None:
        arn = arn_formatter("monitoring-schedule", name, backend.account_id, backend.region_name)
        raise ResourceNotFound(message=f"Could not find monitoring schedule '{arn}'.")
    return schedule


def _create_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    config = self._get_param("MonitoringScheduleConfig") or {}
    with _lock:
        schedules = _state(backend)["monitoring_schedules"]
        arn = arn_formatter("monitoring-schedule", name, backend.account_id, backend.region_name)
        if name in schedules:
            raise ResourceInUseException(message=f"Monitoring schedule '{arn}' already exists.")
        definition = config.get("MonitoringJobDefinition") or {}
        endpoint_input = (definition.get("MonitoringInputs") or [{}])[0].get("EndpointInput") or {}
        now = _now()
        schedules[name] = {
            "MonitoringScheduleArn": arn,
            "MonitoringScheduleName": name,
            "MonitoringScheduleStatus": "Scheduled",
            "MonitoringType": config.get("MonitoringType", "DataQuality"),
            "CreationTime": now,
            "LastModifiedTime": now,
            "MonitoringScheduleConfig": config,
            "EndpointName": endpoint_input.get("EndpointName"),
            "Tags": self._get_param("Tags") or [],
        }
    return ActionResult({"MonitoringScheduleArn": arn})


def _describe_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    schedule = dict(_schedule_or_error(backend, name))
    schedule.pop("Tags", None)
    executions = _state(backend)["monitoring_executions"].get(name) or []
    if executions:
        schedule["LastMonitoringExecutionSummary"] = executions[-1]
    return ActionResult(schedule)


def _list_monitoring_schedules(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    endpoint_name = self._get_param("EndpointName")
    summaries = [
        {
            key: schedule[key]
            for key in (
                "MonitoringScheduleName",
                "MonitoringScheduleArn",
                "CreationTime",
                "LastModifiedTime",
                "MonitoringScheduleStatus",
                "EndpointName",
                "MonitoringType",
            )
            if schedule.get(key) is not None
        }
        for schedule in _state(backend)["monitoring_schedules"].values()
        if endpoint_name is None or schedule.get("EndpointName") == endpoint_name
    ]
    return ActionResult({"MonitoringScheduleSummaries": summaries})


def _delete_monitoring_schedule(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    with _lock:
        _schedule_or_error(backend, name)
        del _state(backend)["monitoring_schedules"][name]
    return EmptyResult()


def _list_monitoring_executions(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("MonitoringScheduleName")
    endpoint_name = self._get_param("EndpointName")
    status = self._get_param("StatusEquals")
    executions = [
        execution
        for schedule_name, recorded in _state(backend)["monitoring_executions"].items()
        if name is None or schedule_name == name
        for execution in recorded
        if (endpoint_name is None or execution.get("EndpointName") == endpoint_name)
        and (status is None or execution["MonitoringExecutionStatus"] == status)
    ]
    descending = (self._get_param("SortOrder") or "Descending") == "Descending"
    executions.sort(key=lambda e: e["ScheduledTime"], reverse=descending)
    max_results = int(self._get_param("MaxResults") or 10)
    start = int(self._get_param("NextToken") or 0)
    page = executions[start : start + max_results]
    result: dict[str, Any] = {"MonitoringExecutionSummaries": page}
    if start + max_results < len(executions):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


def record_monitoring_execution(
    account_id: str,
    region_name: str,
    schedule_name: str,
    violations: list[dict[str, Any]] | None,
    status: str | None = None,
    scheduled_time: datetime | None = None,
    failure_reason: str | None = None,
) -> dict[str, Any]:
    """Record one Model Monitor execution the way SageMaker would leave it.

    A processing job is created with the schedule's output location; when ``violations`` is given,
    ``constraint_violations.json`` (``{"violations": [...]}``) is written to S3 under that output, at the
    path Model Monitor uses: ``{S3Uri}/{endpoint}/{schedule}/{yyyy}/{mm}/{dd}/{hh}/``.
    The status defaults to ``CompletedWithViolations`` when there are violations, else ``Completed``.
    """
    backend = sagemaker_backends[account_id][region_name]
    with _lock:
        schedule = _schedule_or_error(backend, schedule_name)
        scheduled_time = scheduled_time or _now().replace(minute=0, second=0, microsecond=0)
        if status is None:
            status = "CompletedWithViolations" if violations else "Completed"
        definition = schedule["MonitoringScheduleConfig"].get("MonitoringJobDefinition") or {}
        outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
        base_uri = outputs[0]["S3Output"]["S3Uri"].rstrip("/") if outputs else None
        job_name = f"model-monitoring-{scheduled_time:%Y%m%d%H%M}-{abs(hash(schedule_name)) % 10**8:08d}"
        report_uri = None
        if base_uri:
            report_uri = f"{base_uri}/{schedule['EndpointName']}/{schedule_name}/{scheduled_time:%Y/%m/%d/%H}"
            if violations is not None:
                _put_s3_object(
                    account_id,
                    f"{report_uri}/constraint_violations.json",
                    json.dumps({"violations": violations}).encode(),
                )
        backend.create_processing_job(
            app_specification={
                "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
            },
            experiment_config={},
            network_config={},
            processing_inputs=[],
            processing_job_name=job_name,
            processing_output_config={
                "Outputs": [
                    {
                        "OutputName": "result",
                        "S3Output": {
                            "S3Uri": report_uri or "",
                            "LocalPath": "/opt/ml/processing/output",
                            "S3UploadMode": "EndOfJob",
                        },
                    }
                ]
            },
            role_arn=f"arn:aws:iam::{account_id}:role/model-monitor",
            tags=[],
            stopping_condition={"MaxRuntimeInSeconds": 3600},
        )
        job = backend.processing_jobs[job_name]
        job.processing_job_status = "Completed" if status.startswith("Completed") else status
        execution = {
            "MonitoringScheduleName": schedule_name,
            "ScheduledTime": scheduled_time,
            "CreationTime": _now(),
            "LastModifiedTime": _now(),
            "MonitoringExecutionStatus": status,
            "ProcessingJobArn": job.arn,
            "EndpointName": schedule["EndpointName"],
            "MonitoringType": schedule["MonitoringType"],
        }
        if failure_reason:
            execution["FailureReason"] = failure_reason
        _state(backend)["monitoring_executions"].setdefault(schedule_name, []).append(execution)
        return {**execution, "ReportUri": report_uri}


def _put_s3_object(account_id: str, uri: str, body: bytes) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3_backends[account_id]["aws"].put_object(bucket, key, body)


# ------------------------------------------------------------------------------------- install
_RESPONSE_METHODS = {
    "create_endpoint": _create_endpoint,
    "describe_endpoint": _describe_endpoint,
    "update_endpoint": _update_endpoint,
    "update_endpoint_weights_and_capacities": _update_endpoint_weights,
    "create_endpoint_config": _create_endpoint_config,
    "describe_endpoint_config": _describe_endpoint_config,
    "create_model_package": _create_model_package,
    "update_model_package": _update_model_package,
    "describe_model_package": _describe_model_package,
    "delete_model_package": _delete_model_package,
    "add_tags": _add_tags,
    "list_tags": _list_tags,
    "delete_tags": _delete_tags,
    "create_monitoring_schedule": _create_monitoring_schedule,
    "describe_monitoring_schedule": _describe_monitoring_schedule,
    "list_monitoring_schedules": _list_monitoring_schedules,
    "delete_monitoring_schedule": _delete_monitoring_schedule,
    "list_monitoring_executions": _list_monitoring_executions,
}


def install() -> None:
    """Add the missing actions to moto's SageMaker responses (idempotent, once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        for name, method in _RESPONSE_METHODS.items():
            setattr(SageMakerResponse, name, method)
        _installed = True
