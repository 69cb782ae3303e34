"""What moto 5.2.5 lacks for this workflow, added to its SageMaker backend as the AWS API reference documents.

Each addition is pinned by a test in ``tests/testing/test_standin.py``, and every response the additions
return is checked against botocore's own output shapes by ``tests/testing/test_contract.py``. TESTING.md
lists each behaviour with the documentation page it follows and what is still not modelled. Applied once per
process by :func:`install`; the stand-in server calls it before it serves its first request.

Added or corrected:

* Endpoints change state asynchronously, in real (short, configurable) time: ``CreateEndpoint`` passes
  through ``Creating``; ``UpdateEndpoint`` and ``UpdateEndpointWeightsAndCapacities`` through ``Updating``
  (the new weights are ``DesiredWeight`` until the update settles, then ``CurrentWeight``);
  ``DeleteEndpoint`` through ``Deleting``. A blue/green ``DeploymentConfig`` whose alarm is in ``ALARM`` at
  the end of the bake rolls back through ``RollingBack``. ``SystemUpdating``, ``Failed`` (with
  ``FailureReason``) and a failing next create/update are injected through the control API
  (:func:`inject_endpoint_state`). An update, weight change or delete while one is in progress is refused
  with SageMaker's ``ValidationException``; ``DeleteEndpoint`` is the only operation a ``Failed`` endpoint
  accepts. ``PendingDeploymentSummary`` is returned while a create or a config update is in progress.
* ``DescribeEndpoint`` answers in the shape SageMaker documents (``DataCaptureConfig`` as the summary with
  ``CaptureStatus``, weights of 0 kept, no ``ProductionVariants`` while ``Creating``).
* ``InvokeEndpoint`` (sagemaker-runtime) refuses an endpoint that does not exist or does not serve, picks a
  variant by weight (or ``TargetVariant``), answers with a score, and writes data capture as SageMaker does:
  JSON Lines under ``{DestinationS3Uri}/{endpoint}/{variant}/yyyy/mm/dd/hh/``, payloads ``BASE64`` unless
  ``CaptureContentTypeHeader`` lists the content type as CSV or JSON, sampled at
  ``InitialSamplingPercentage``, written in batches a short time later (:func:`flush_captures`).
* ``ShadowProductionVariants`` on endpoint configs and endpoints (moto drops them silently).
* ``CreateMonitoringSchedule``, ``DescribeMonitoringSchedule``, ``ListMonitoringSchedules``,
  ``ListMonitoringExecutions``, ``DeleteMonitoringSchedule``; executions (``Completed``,
  ``CompletedWithViolations``, ``Failed`` with ``FailureReason``, ``Stopped``...) are recorded by
  :func:`record_monitoring_execution` the way Model Monitor would write them.
* ``DeleteModelPackage``; version numbers are never reused after a delete.
* ``AddTags``/``ListTags``/``DeleteTags`` on a model package ARN (moto raises ``ValueError``).
* ``CreateModelPackage`` honours ``ClientToken``: the same token returns the version it first made.
* ``CreateModelPackage``/``UpdateModelPackage`` enforce the documented limits: at most 50
  ``CustomerMetadataProperties`` (keys up to 128, values up to 256 characters) and an
  ``ApprovalDescription`` of at most 1,024 characters, refused with SageMaker's ``ValidationException``.
* "SageMaker Model Package State Change" events reach EventBridge (and its rules' targets) when a version
  is created or its approval status is set, as SageMaker sends them.
* ``UpdateModelPackage`` merges ``CustomerMetadataProperties`` and leaves fields it was not given alone
  (moto replaces the metadata and clears the approval status), and accepts ``ModelLifeCycle``.

SQS: a receive no longer computes every queue attribute per message handed out (same answer; a deep queue's
receive took seconds), and :func:`enqueue_messages` fills a deep queue in one control call.

Parameter Store needs nothing here: moto 5.2.5 already keeps the last 100 versions of a parameter and refuses
a new one with ``ParameterMaxVersionLimitExceeded`` when the oldest carries a label (pinned by a test).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, EmptyResult
from moto.events.models import events_backends
from moto.s3.models import s3_backends
from moto.sagemaker import models as sm_models
from moto.sagemaker.exceptions import ResourceInUseException, ResourceNotFound, ValidationError
from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend, sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse
from moto.sagemaker.utils import arn_formatter
from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

# How long an endpoint stays Creating/Updating/Deleting, and how long captured requests wait before their file
# is written. Real SageMaker takes minutes; short delays keep the transitions visible to sensors and triggers
# (so an operator that does not wait for them fails here as it would on AWS) without slowing tests down.
SETTINGS: dict[str, float] = {
    "transition_seconds": float(os.environ.get("MODELREG_STANDIN_TRANSITION_SECONDS", "0.5")),
    "capture_flush_seconds": float(os.environ.get("MODELREG_STANDIN_CAPTURE_FLUSH_SECONDS", "1.0")),
}

# EndpointStatus values (DescribeEndpoint), by what each allows.
IN_PROGRESS = ("Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting")
SERVING = ("InService", "Updating", "SystemUpdating", "RollingBack", "UpdateRollbackFailed")
INJECTABLE = ("SystemUpdating", "Failed", "OutOfService", "UpdateRollbackFailed", "InService")
MONITORING_EXECUTION_STATUSES = (
    "Pending",
    "Completed",
    "CompletedWithViolations",
    "InProgress",
    "Failed",
    "Stopping",
    "Stopped",
)
MAX_CUSTOMER_METADATA_ENTRIES = 50
MAX_APPROVAL_DESCRIPTION = 1024

_lock = threading.RLock()
_installed = False
_random = random.Random(0)  # variant choice and capture sampling: reproducible from a fresh stand-in


def configure(**settings: float) -> dict[str, float]:
    """Change the stand-in's delays (``transition_seconds``, ``capture_flush_seconds``); returns them all."""
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        raise ValueError(f"Unknown stand-in setting(s) {sorted(unknown)}; known: {sorted(SETTINGS)}.")
    for key, value in settings.items():
        if not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key} must be a number of seconds >= 0, not {value!r}.")
        SETTINGS[key] = float(value)
    return dict(SETTINGS)


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
def _endpoint_arn(backend: SageMakerModelBackend, name: str) -> str:
    return FakeEndpoint.arn_formatter(name, backend.account_id, backend.region_name)


def _variant_view(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """ProductionVariantSummary of a config's variants (SageMaker reports a weight of 0 and defaults to 1.0;
    moto drops a zero weight)."""
    view = []
    for variant in variants:
        weight = float(variant.get("InitialVariantWeight", 1.0))
        count = variant.get("InitialInstanceCount")
        summary: dict[str, Any] = {"VariantName": variant["VariantName"]}
        summary["CurrentWeight"] = summary["DesiredWeight"] = weight
        if count is not None:
            summary["CurrentInstanceCount"] = summary["DesiredInstanceCount"] = int(count)
        view.append(summary)
    return view


def _pending_view(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """PendingProductionVariantSummary: what a deployment in progress is moving to."""
    view = []
    for variant in variants:
        pending: dict[str, Any] = {
            "VariantName": variant["VariantName"],
            "DesiredWeight": float(variant.get("InitialVariantWeight", 1.0)),
        }
        if variant.get("InitialInstanceCount") is not None:
            pending["DesiredInstanceCount"] = int(variant["InitialInstanceCount"])
        if variant.get("InstanceType"):
            pending["InstanceType"] = variant["InstanceType"]
        view.append(pending)
    return view


def _begin(endpoint: FakeEndpoint, status: str, kind: str, seconds: float | None = None, **data: Any) -> None:
    """Put an endpoint in a transitional ``status``; it settles ``seconds`` later (on the next read)."""
    endpoint.endpoint_status = status
    endpoint._standin_pending = {  # type: ignore[attr-defined]
        "kind": kind,
        "settles_at": time.monotonic() + (SETTINGS["transition_seconds"] if seconds is None else seconds),
        **data,
    }


def _settle(backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> None:
    """Advance an endpoint through the transitions whose time has come (lazily, on read)."""
    while True:
        pending = getattr(endpoint, "_standin_pending", None)
        if not pending or time.monotonic() < pending["settles_at"]:
            return
        endpoint._standin_pending = None  # type: ignore[attr-defined]
        _complete(backend, endpoint, pending)


def _complete(backend: SageMakerModelBackend, endpoint: FakeEndpoint, pending: dict[str, Any]) -> None:
    kind = pending["kind"]
    fail = getattr(endpoint, "_standin_fail_next", None)
    if kind == "delete":
        backend.endpoints.pop(endpoint.endpoint_name, None)
        return
    if kind == "create":
        endpoint._standin_pending_deployment = None  # type: ignore[attr-defined]
        if fail:
            endpoint._standin_fail_next = None  # type: ignore[attr-defined]
            endpoint.endpoint_status, endpoint.failure_reason = "Failed", fail
            return
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = sm_models.utcnow()
        return
    if kind in ("rollback", "system"):
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = sm_models.utcnow()
        return
    if kind == "weights":
        for variant in endpoint.production_variants:
            if "DesiredWeight" in variant:
                variant["CurrentWeight"] = variant["DesiredWeight"]
            if "DesiredInstanceCount" in variant:
                variant["CurrentInstanceCount"] = variant["DesiredInstanceCount"]
        endpoint.endpoint_status = "InService"
        endpoint.last_modified_time = sm_models.utcnow()
        return
    # An update: blue/green with auto-rollback checks its alarms at the end of the bake; an injected failure
    # rolls back too. Either way the endpoint ends InService on its OLD config, with a FailureReason.
    endpoint._standin_pending_deployment = None  # type: ignore[attr-defined]
    firing = [name for name in pending.get("alarms") or [] if _alarm_state(backend, name) == "ALARM"]
    if firing or fail:
        endpoint._standin_fail_next = None  # type: ignore[attr-defined]
        reason = (
            f"Update rolled back: CloudWatch alarm(s) {', '.join(firing)} in ALARM during deployment."
            if firing
            else fail
        )
        endpoint.failure_reason = reason  # type: ignore[assignment]
        _begin(endpoint, "RollingBack", "rollback")
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
    if endpoint is not None:
        _settle(backend, endpoint)
        endpoint = backend.endpoints.get(name)  # a delete may just have completed
    if endpoint is None:
        raise ValidationError(message=f"Could not find endpoint '{_endpoint_arn(backend, name)}'.")
    return endpoint


def _refuse_unless_updatable(endpoint: FakeEndpoint) -> None:
    """SageMaker's answer to a change while another is in progress, or to anything but a delete when Failed."""
    if endpoint.endpoint_status in IN_PROGRESS:
        raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
    if endpoint.endpoint_status == "Failed":
        raise ValidationError(message=f'Cannot update failed endpoint "{endpoint.arn}".')


def _capture_summary(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """DataCaptureConfigSummary, as DescribeEndpoint reports the endpoint config's DataCaptureConfig."""
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": config["DestinationS3Uri"],
        "KmsKeyId": config.get("KmsKeyId") or "",
    }


def describe_endpoint_response(backend: SageMakerModelBackend, endpoint: FakeEndpoint) -> dict[str, Any]:
    """DescribeEndpoint's answer, in the shape the API reference documents."""
    response: dict[str, Any] = {
        "EndpointName": endpoint.endpoint_name,
        "EndpointArn": endpoint.arn,
        "EndpointConfigName": endpoint.endpoint_config_name,
        "EndpointStatus": endpoint.endpoint_status,
        "CreationTime": endpoint.creation_time,
        "LastModifiedTime": endpoint.last_modified_time,
    }
    if endpoint.endpoint_status != "Creating":
        response["ProductionVariants"] = [dict(variant) for variant in endpoint.production_variants]
        shadows = _state(backend)["shadow_variants"].get(endpoint.endpoint_config_name)
        if shadows:
            response["ShadowProductionVariants"] = _variant_view(shadows)
    capture = _capture_summary(endpoint.data_capture_config)
    if capture:
        response["DataCaptureConfig"] = capture
    deployment = getattr(endpoint, "_standin_last_deployment_config", None)
    if deployment:
        response["LastDeploymentConfig"] = deployment
    pending = getattr(endpoint, "_standin_pending_deployment", None)
    if pending:
        config = backend.endpoint_configs[pending["EndpointConfigName"]]
        summary: dict[str, Any] = {
            "EndpointConfigName": pending["EndpointConfigName"],
            "ProductionVariants": _pending_view(config.production_variants),
            "StartTime": pending["StartTime"],
        }
        shadows = _state(backend)["shadow_variants"].get(pending["EndpointConfigName"])
        if shadows:
            summary["ShadowProductionVariants"] = _pending_view(shadows)
        response["PendingDeploymentSummary"] = summary
    if endpoint.failure_reason:
        response["FailureReason"] = endpoint.failure_reason
    return response


def _describe_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        endpoint = _endpoint_or_error(backend, self._get_param("EndpointName"))
        response = describe_endpoint_response(backend, endpoint)
    return ActionResult(response)


_moto_list_endpoints = SageMakerResponse.list_endpoints


def _list_endpoints(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        for endpoint in list(backend.endpoints.values()):
            _settle(backend, endpoint)
        return _moto_list_endpoints(self)


def _create_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    with _lock:
        existing = backend.endpoints.get(name)
        if existing is not None:
            _settle(backend, existing)
        if name in backend.endpoints:
            raise ValidationError(
                message=f'Cannot create already existing endpoint "{_endpoint_arn(backend, name)}".'
            )
        if config_name not in backend.endpoint_configs:
            arn = arn_formatter("endpoint-config", config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
        endpoint = backend.create_endpoint(
            endpoint_name=name, endpoint_config_name=config_name, tags=self._get_param("Tags")
        )
        config = backend.endpoint_configs[config_name]
        endpoint.production_variants = _variant_view(config.production_variants)
        endpoint._standin_fail_next = _state(backend).setdefault("fail_next", {}).pop(name, None)  # type: ignore[attr-defined]
        endpoint._standin_pending_deployment = {"EndpointConfigName": config_name, "StartTime": _now()}  # type: ignore[attr-defined]
        _begin(endpoint, "Creating", "create")
    return ActionResult({"EndpointArn": endpoint.arn})


def _update_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    name = self._get_param("EndpointName")
    config_name = self._get_param("EndpointConfigName")
    deployment = self._get_param("DeploymentConfig")
    with _lock:
        endpoint = _endpoint_or_error(backend, name)
        _refuse_unless_updatable(endpoint)
        if config_name not in backend.endpoint_configs:
            arn = arn_formatter("endpoint-config", config_name, backend.account_id, backend.region_name)
            raise ValidationError(message=f"Could not find endpoint configuration '{arn}'.")
        alarms = [
            alarm["AlarmName"]
            for alarm in ((deployment or {}).get("AutoRollbackConfiguration") or {}).get("Alarms", [])
        ]
        endpoint.failure_reason = None
        endpoint._standin_last_deployment_config = deployment  # type: ignore[attr-defined]
        endpoint._standin_pending_deployment = {"EndpointConfigName": config_name, "StartTime": _now()}  # type: ignore[attr-defined]
        _begin(endpoint, "Updating", "update", config=config_name, alarms=alarms)
    return ActionResult({"EndpointArn": endpoint.arn})


def _update_endpoint_weights(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        endpoint = _endpoint_or_error(backend, self._get_param("EndpointName"))
        _refuse_unless_updatable(endpoint)
        desired = self._get_param("DesiredWeightsAndCapacities") or []
        by_name = {variant["VariantName"]: variant for variant in endpoint.production_variants}
        seen: set[str] = set()
        for change in desired:
            name = change.get("VariantName")
            if name in seen:
                raise ValidationError(message=f'The variant name "{name}" was non-unique within the request.')
            if name not in by_name:
                raise ValidationError(
                    message=f'The variant name(s) "{name}" is/are not present within endpoint configuration '
                    f'"{endpoint.endpoint_config_name}".'
                )
            seen.add(name)
        # The request is accepted: the desired values show at once, the current ones when the update settles.
        for change in desired:
            variant = by_name[change["VariantName"]]
            if change.get("DesiredWeight") is not None:
                variant["DesiredWeight"] = float(change["DesiredWeight"])
            if change.get("DesiredInstanceCount") is not None:
                variant["DesiredInstanceCount"] = int(change["DesiredInstanceCount"])
        endpoint.failure_reason = None
        _begin(endpoint, "Updating", "weights")
    return ActionResult({"EndpointArn": endpoint.arn})


def _delete_endpoint(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    with _lock:
        endpoint = _endpoint_or_error(backend, self._get_param("EndpointName"))
        if endpoint.endpoint_status in IN_PROGRESS:
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        endpoint._standin_pending_deployment = None  # type: ignore[attr-defined]
        _begin(endpoint, "Deleting", "delete")
    return EmptyResult()


def inject_endpoint_state(
    account_id: str,
    region_name: str,
    endpoint_name: str,
    status: str | None = None,
    failure_reason: str | None = None,
    seconds: float | None = None,
    fail_next: str | None = None,
    settle_now: bool = False,
) -> dict[str, Any]:
    """Put an endpoint in a state only AWS itself causes, for tests and demos (control API).

    ``status``: ``SystemUpdating`` (maintenance, back to InService after ``seconds``), ``Failed`` (with
    ``failure_reason``), ``OutOfService``, ``UpdateRollbackFailed`` or ``InService``. ``fail_next``: the
    endpoint's next create (it may not exist yet) ends ``Failed``, or its next ``UpdateEndpoint`` rolls back,
    with this ``FailureReason``. Returns the endpoint as ``DescribeEndpoint`` would (or ``{}``)."""
    backend = sagemaker_backends[account_id][region_name]
    with _lock:
        if fail_next is not None and endpoint_name not in backend.endpoints:
            _state(backend).setdefault("fail_next", {})[endpoint_name] = fail_next
            return {}
        endpoint = _endpoint_or_error(backend, endpoint_name)
        if settle_now and getattr(endpoint, "_standin_pending", None):
            endpoint._standin_pending["settles_at"] = 0.0  # type: ignore[attr-defined]
            _settle(backend, endpoint)
            if endpoint_name not in backend.endpoints:
                return {}
        if fail_next is not None:
            endpoint._standin_fail_next = fail_next  # type: ignore[attr-defined]
        if status is not None:
            if status not in INJECTABLE:
                raise ValueError(
                    f"Cannot inject endpoint status {status!r}; choose from {', '.join(INJECTABLE)}."
                )
            if status == "Failed" and not failure_reason:
                raise ValueError("A Failed endpoint needs a failure_reason (SageMaker always gives one).")
            endpoint._standin_pending = None  # type: ignore[attr-defined]
            endpoint._standin_pending_deployment = None  # type: ignore[attr-defined]
            if status == "SystemUpdating":
                _begin(endpoint, status, "system", seconds)
            else:
                endpoint.endpoint_status = status
            endpoint.failure_reason = failure_reason  # type: ignore[assignment]
            endpoint.last_modified_time = sm_models.utcnow()
        return json.loads(json.dumps(describe_endpoint_response(backend, endpoint), default=str))


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
    if not response.get("DataCaptureConfig"):
        response.pop("DataCaptureConfig", None)  # moto answers {} for a config without capture
    shadows = _state(backend)["shadow_variants"].get(name)
    if shadows:
        response["ShadowProductionVariants"] = shadows
    return ActionResult(response)


# ---------------------------------------------------------------------------- invocations, capture
class InvocationError(ValueError):
    """A request an endpoint refuses (sagemaker-runtime answers ``ValidationError``)."""


class _RuntimeValidationError(ServiceException):
    code = "ValidationError"


_captures: dict[tuple[str, str], list[str]] = {}  # (account, S3 key prefix of one hour) -> JSON lines
_capture_timer: threading.Timer | None = None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _encoded(payload: bytes, content_type: str, header: Mapping[str, Any] | None) -> tuple[str, str]:
    """(data, encoding) as data capture writes a payload: text for a content type that
    ``CaptureContentTypeHeader`` lists as CSV or JSON, else base64 (SageMaker's default)."""
    media = _media_type(content_type)
    header = header or {}
    if media in {_media_type(t) for t in header.get("CsvContentTypes") or []}:
        return payload.decode("utf-8", "replace"), "CSV"
    if media in {_media_type(t) for t in header.get("JsonContentTypes") or []}:
        return payload.decode("utf-8", "replace"), "JSON"
    return base64.b64encode(payload).decode("ascii"), "BASE64"


def _score(text: str) -> str:
    """A stable pseudo-score in [0, 1) for one request line (the stand-in has no model to run)."""
    return f"{int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) / 2**32:.6f}"


def _model_output(body: bytes, content_type: str) -> tuple[bytes, str]:
    media = _media_type(content_type)
    text = body.decode("utf-8", "replace")
    if media == "text/csv":
        lines = [line for line in text.splitlines() if line.strip()] or [""]
        return ("\n".join(_score(line) for line in lines) + "\n").encode(), "text/csv; charset=utf-8"
    if media.endswith("json"):
        return json.dumps({"predictions": [{"score": float(_score(text))}]}).encode(), "application/json"
    return _score(text).encode(), "text/plain; charset=utf-8"


def invoke(
    account_id: str,
    region_name: str,
    endpoint_name: str,
    body: bytes,
    content_type: str = "application/octet-stream",
    target_variant: str | None = None,
    inference_id: str | None = None,
) -> tuple[bytes, str, str]:
    """Serve one request as an endpoint would; returns (output, content type, variant).

    Captures the request and response when the endpoint's config enables data capture (sampled)."""
    backend = sagemaker_backends[account_id][region_name]
    with _lock:
        endpoint = backend.endpoints.get(endpoint_name)
        if endpoint is not None:
            _settle(backend, endpoint)
        if (
            endpoint is None
            or endpoint_name not in backend.endpoints
            or endpoint.endpoint_status not in SERVING
        ):
            raise InvocationError(f"Endpoint {endpoint_name} of account {account_id} not found.")
        weights = {v["VariantName"]: float(v.get("CurrentWeight", 0.0)) for v in endpoint.production_variants}
        if target_variant is not None:
            if target_variant not in weights:
                raise InvocationError(
                    f"Invalid target variant {target_variant} for endpoint {endpoint_name}."
                )
            variant = target_variant
        elif sum(weights.values()) <= 0:
            raise InvocationError(f"Endpoint {endpoint_name} has no variant with traffic.")
        else:
            variant = _random.choices(list(weights), weights=list(weights.values()))[0]
        output, output_type = _model_output(body, content_type)
        capture = endpoint.data_capture_config or {}
        sampled = _random.random() * 100 < float(capture.get("InitialSamplingPercentage", 0))
        if capture and capture.get("EnableCapture", True) and sampled:
            _capture(
                account_id,
                endpoint_name,
                variant,
                capture,
                body,
                content_type,
                output,
                output_type,
                inference_id,
            )
    return output, output_type, variant


def _capture(
    account_id: str,
    endpoint_name: str,
    variant: str,
    config: Mapping[str, Any],
    body: bytes,
    content_type: str,
    output: bytes,
    output_type: str,
    inference_id: str | None,
) -> None:
    """Buffer one capture record; the file is written ``capture_flush_seconds`` later, as SageMaker
    writes capture files in batches some time after the requests."""
    global _capture_timer
    modes = {option.get("CaptureMode") for option in config.get("CaptureOptions") or []}
    header = config.get("CaptureContentTypeHeader")
    captured: dict[str, Any] = {}
    if modes & {"Input", "InputAndOutput"}:
        data, encoding = _encoded(body, content_type, header)
        captured["endpointInput"] = {
            "observedContentType": content_type,
            "mode": "INPUT",
            "data": data,
            "encoding": encoding,
        }
    if modes & {"Output", "InputAndOutput"}:
        data, encoding = _encoded(output, output_type, header)
        captured["endpointOutput"] = {
            "observedContentType": output_type,
            "mode": "OUTPUT",
            "data": data,
            "encoding": encoding,
        }
    now = _now()
    metadata: dict[str, Any] = {
        "eventId": str(uuid.uuid4()),
        "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {"captureData": captured, "eventMetadata": metadata, "eventVersion": "0"}
    prefix = f"{config['DestinationS3Uri'].rstrip('/')}/{endpoint_name}/{variant}/{now:%Y/%m/%d/%H}"
    _captures.setdefault((account_id, prefix), []).append(json.dumps(record, separators=(",", ":")))
    if _capture_timer is None:
        _capture_timer = threading.Timer(SETTINGS["capture_flush_seconds"], flush_captures)
        _capture_timer.daemon = True
        _capture_timer.start()


def discard_captures() -> None:
    """Forget buffered capture records (the stand-in was reset: their endpoints and buckets are gone)."""
    global _capture_timer
    with _lock:
        _captures.clear()
        if _capture_timer is not None:
            _capture_timer.cancel()
            _capture_timer = None


def flush_captures() -> int:
    """Write every buffered capture record now, one JSON Lines file per endpoint, variant and hour; returns
    the number of records written. A destination that cannot be written loses its records, as SageMaker's do."""
    global _capture_timer
    with _lock:
        pending = dict(_captures)
        _captures.clear()
        if _capture_timer is not None:
            _capture_timer.cancel()
            _capture_timer = None
    written = 0
    for (account_id, prefix), lines in pending.items():
        now = _now()
        uri = f"{prefix}/{now:%M-%S}-{now.microsecond // 1000:03d}-{uuid.uuid4()}.jsonl"
        try:
            _put_s3_object(account_id, uri, ("\n".join(lines) + "\n").encode())
            written += len(lines)
        except Exception:  # a missing bucket or a refused write: SageMaker drops the capture silently too
            continue
    return written


def _invoke_endpoint(self: SageMakerRuntimeResponse) -> tuple[int, dict[str, str], bytes]:
    name = self.path.split("/")[2]
    body = self.raw_body if isinstance(self.raw_body, bytes) else str(self.raw_body or "").encode()
    try:
        output, output_type, variant = invoke(
            self.current_account,
            self.region,
            name,
            body,
            self.headers.get("Content-Type") or "application/octet-stream",
            self.headers.get("X-Amzn-SageMaker-Target-Variant"),
            self.headers.get("X-Amzn-SageMaker-Inference-Id"),
        )
    except InvocationError as refused:
        raise _RuntimeValidationError(str(refused)) from None
    return 200, {"Content-Type": output_type, "x-Amzn-Invoked-Production-Variant": variant}, output


# --------------------------------------------------------------------------------- model packages
def _model_package_or_error(backend: SageMakerModelBackend, name_or_arn: str) -> Any:
    mapped = backend.model_package_name_mapping.get(name_or_arn, name_or_arn)
    package = backend.model_packages.get(mapped)
    if package is None:
        raise ValidationError(message=f"Model Package {name_or_arn} does not exist.")
    return package


def _constraint_violation(field: str, value: Any, constraint: str) -> ValidationError:
    """SageMaker's wording for a request that breaks a documented limit."""
    return ValidationError(
        message=f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: "
        f"{constraint}"
    )


def _check_metadata(properties: Mapping[str, Any] | None) -> None:
    """``CustomerMetadataProperties``: at most 50 entries, keys of 1-128 and values of 0-256 characters."""
    if properties is None:
        return
    if len(properties) > MAX_CUSTOMER_METADATA_ENTRIES:
        raise _constraint_violation(
            "customerMetadataProperties",
            dict(properties),
            f"Member must have length less than or equal to {MAX_CUSTOMER_METADATA_ENTRIES}",
        )
    for key, value in properties.items():
        if not 1 <= len(key) <= 128:
            raise _constraint_violation(
                "customerMetadataProperties",
                dict(properties),
                "Map keys must satisfy constraint: [Member must have length less than or equal to 128, "
                "Member must have length greater than or equal to 1]",
            )
        if len(str(value)) > 256:
            raise _constraint_violation(
                "customerMetadataProperties",
                dict(properties),
                "Map value must satisfy constraint: [Member must have length less than or equal to 256]",
            )


def _check_approval_description(description: str | None) -> None:
    if description is not None and len(description) > MAX_APPROVAL_DESCRIPTION:
        raise _constraint_violation(
            "approvalDescription",
            description,
            f"Member must have length less than or equal to {MAX_APPROVAL_DESCRIPTION}",
        )


def _create_model_package(self: SageMakerResponse) -> ActionResult:
    backend = self.sagemaker_backend
    token = self._get_param("ClientToken")
    state = _state(backend)
    _check_metadata(self._get_param("CustomerMetadataProperties"))
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
    description = self._get_param("ApprovalDescription")
    _check_approval_description(description)
    _check_metadata(self._get_param("CustomerMetadataProperties"))
    with _lock:
        package = _model_package_or_error(backend, self._get_param("ModelPackageArn"))
        merged = dict(package.customer_metadata_properties or {})
        merged.update(self._get_param("CustomerMetadataProperties") or {})
        for key in self._get_param("CustomerMetadataPropertiesToRemove") or []:
            merged.pop(key, None)
        # The version's map is a CustomerMetadataMap too (DescribeModelPackage's output shape): the limit
        # holds for what the version would carry after the merge, checked before anything changes.
        _check_metadata(merged)
        status = self._get_param("ModelApprovalStatus")
        if status is not None:
            package.set_model_approval_status(status)
        if description is not None:
            package.approval_description = description
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
    # Required in DescribeModelPackage's output; for a version it is its group's name (moto omits it).
    response.setdefault("ModelPackageName", package.model_package_name)
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
    The status defaults to ``CompletedWithViolations`` when there are violations, else ``Completed``. An
    execution that did not complete (``Failed``, which needs a ``failure_reason`` as SageMaker always gives
    one, ``Stopped``, ``InProgress``...) writes no report, whatever ``violations`` says.
    """
    if status is None:
        status = "CompletedWithViolations" if violations else "Completed"
    if status not in MONITORING_EXECUTION_STATUSES:
        raise ValueError(
            f"Unknown MonitoringExecutionStatus {status!r}; expected one of {', '.join(MONITORING_EXECUTION_STATUSES)}."
        )
    if status == "Failed" and not failure_reason:
        raise ValueError(
            "A Failed Model Monitor execution needs a failure_reason (SageMaker always gives one)."
        )
    completed = status.startswith("Completed")
    backend = sagemaker_backends[account_id][region_name]
    with _lock:
        schedule = _schedule_or_error(backend, schedule_name)
        scheduled_time = scheduled_time or _now().replace(minute=0, second=0, microsecond=0)
        definition = schedule["MonitoringScheduleConfig"].get("MonitoringJobDefinition") or {}
        outputs = (definition.get("MonitoringOutputConfig") or {}).get("MonitoringOutputs") or []
        base_uri = outputs[0]["S3Output"]["S3Uri"].rstrip("/") if outputs else None
        # Each execution runs its own processing job (two at the same hour must not share one).
        job_name = f"model-monitoring-{scheduled_time:%Y%m%d%H%M}-{uuid.uuid4().hex[:12]}"
        report_uri = None
        if base_uri:
            report_uri = f"{base_uri}/{schedule['EndpointName']}/{schedule_name}/{scheduled_time:%Y/%m/%d/%H}"
            if violations is not None and completed:
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
        job.processing_job_status = {"Pending": "InProgress", "Stopping": "Stopping"}.get(
            status, "Completed" if completed else status
        )
        if failure_reason:
            job.failure_reason = failure_reason  # type: ignore[attr-defined]
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


def enqueue_messages(account_id: str, region_name: str, queue_name: str, bodies: list[str]) -> int:
    """Put many messages in an SQS queue at once (control API), as SendMessage would one by one.

    For benchmarks that need a deep queue: moto 5.2.5's SendMessage computes every queue attribute, the
    approximate message counts included, on each send, so a send costs time in proportion to the queue's
    length and 10,000 sends take tens of minutes here (SQS does not slow down so). Receiving and deleting
    still go through the ordinary API."""
    from moto.sqs.models import Message, sqs_backends

    queue = sqs_backends[account_id][region_name].get_queue(queue_name)
    messages = []
    for body in bodies:
        message = Message(str(uuid.uuid4()), body)
        message.mark_sent()
        messages.append(message)
    with queue._messages_lock:
        queue._messages.extend(messages)
        queue._messages_lock.notify_all()
    return len(messages)


def _put_s3_object(account_id: str, uri: str, body: bytes) -> None:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    s3_backends[account_id]["aws"].put_object(bucket, key, body)


# ------------------------------------------------------------------------------------- install
_RESPONSE_METHODS = {
    "create_endpoint": _create_endpoint,
    "delete_endpoint": _delete_endpoint,
    "list_endpoints": _list_endpoints,
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


def _retained(self: Any, queue_name: str, message: Any) -> bool:
    """Whether a message is within its queue's retention period (moto's own check, minus its cost).

    moto 5.2.5 computes every attribute of the queue, the approximate message counts included (a scan of the
    queue), for each message it hands out: a receive from a queue of 10,000 messages took 8 s here. The
    retention period is read directly; the answer is the same."""
    from moto.core.utils import unix_time

    queue = self.get_queue(queue_name)
    return int(queue.message_retention_period) + message.sent_timestamp / 1000 > unix_time()


def install() -> None:
    """Add the missing actions to moto's SageMaker responses (idempotent, once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        for name, method in _RESPONSE_METHODS.items():
            setattr(SageMakerResponse, name, method)
        SageMakerRuntimeResponse.invoke_endpoint = _invoke_endpoint  # type: ignore[method-assign,assignment]
        from moto.sqs.models import SQSBackend

        SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
        _installed = True
