"""IAM in the stand-in: the resource each call acts on, and AWS's answer when a policy refuses it.

moto's server enforces identity policies once it has served ``INITIAL_NO_AUTH_ACTION_COUNT`` calls (or after
``POST /moto-api/reset-auth`` with ``0``), but for most services it checks every call against the resource
``"*"`` (``moto/core/responses.py`` ``call_action``: only S3, SQS, IAM and STS compute the ARN). A statement
whose ``Resource`` names a SageMaker or Parameter Store ARN then never matches, and a policy scoped as AWS
recommends refuses everything. It also answers a refusal with an XML body that the JSON services' clients
cannot read ("403 Forbidden", no action named).

:func:`install` adds both for the actions this provider calls, as the Service Authorization Reference
describes them:

- the ARN of the resource the call acts on (:func:`resource_arn`): a version, group, model, endpoint config,
  endpoint, monitoring schedule, processing job, parameter or EventBridge rule; ``List*`` calls, CloudWatch
  and anything not in the table stay ``"*"`` (AWS supports no resource-level permission for the listings);
- the refusal in the service's own protocol, worded as AWS words it: ``User: <arn> is not authorized to
  perform: <action> on resource: <arn> because no identity-based policy allows the <action> action`` (or
  ``with an explicit deny in an identity-based policy``), for S3 too.

What it does not model: conditions (moto evaluates them without the request's context keys: no
``aws:PrincipalArn``, ``iam:PassedToService`` or ``sagemaker:ModelLifeCycle:stage``; a ``StringEquals`` on a
missing key passes and an ``ArnNotEquals`` holds, so a Deny conditioned that way refuses everyone), resource-based
policies, permissions boundaries,
service control policies, ``iam:PassRole`` (AWS checks it inside ``CreateModel``; nothing here does), the
second resource some actions require (``CreateEndpoint`` also needs its endpoint config), and the ``?``
wildcard. Nothing changes while enforcement is off, which is how every other test and the demo run.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

# SageMaker actions and where their resource's name is in the request: (resource type, parameter).
_SAGEMAKER: dict[str, tuple[str, str]] = {
    "CreateModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
    "DescribeModelPackageGroup": ("model-package-group", "ModelPackageGroupName"),
    "DescribeModelPackage": ("model-package", "ModelPackageName"),
    "UpdateModelPackage": ("model-package", "ModelPackageArn"),
    "DeleteModelPackage": ("model-package", "ModelPackageName"),
    "CreateModel": ("model", "ModelName"),
    "DescribeModel": ("model", "ModelName"),
    "DeleteModel": ("model", "ModelName"),
    "CreateEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DescribeEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "DeleteEndpointConfig": ("endpoint-config", "EndpointConfigName"),
    "CreateEndpoint": ("endpoint", "EndpointName"),
    "DescribeEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpoint": ("endpoint", "EndpointName"),
    "UpdateEndpointWeightsAndCapacities": ("endpoint", "EndpointName"),
    "DeleteEndpoint": ("endpoint", "EndpointName"),
    "CreateMonitoringSchedule": ("monitoring-schedule", "MonitoringScheduleName"),
    "DescribeMonitoringSchedule": ("monitoring-schedule", "MonitoringScheduleName"),
    "DescribeProcessingJob": ("processing-job", "ProcessingJobName"),
}
_SSM_PARAMETER_ACTIONS = {
    "GetParameter",
    "GetParameters",
    "GetParameterHistory",
    "PutParameter",
    "DeleteParameter",
    "LabelParameterVersion",
}
# moto names the action after the service's signing name, which is not always IAM's prefix for it.
_IAM_PREFIXES = {"monitoring": "cloudwatch"}
_EVENTS_RULE_PARAMETER = {"PutRule": "Name", "DescribeRule": "Name", "PutTargets": "Rule"}


def resource_arn(
    service: str,
    action: str,
    params: dict[str, Any],
    account_id: str,
    region: str,
    next_version: Any = None,
) -> str:
    """The ARN a call acts on, as IAM evaluates it, or ``"*"`` when the action has no resource-level
    permissions (``List*``) or is not in the table. ``next_version(group)`` gives the version number a
    ``CreateModelPackage`` in a group would get."""
    prefix = f"arn:aws:{service}:{region}:{account_id}"
    if service == "sagemaker":
        if action == "CreateModelPackage" and params.get("ModelPackageGroupName"):
            group = str(params["ModelPackageGroupName"])
            version = next_version(group) if next_version else 1
            return f"{prefix}:model-package/{group.lower()}/{version}"
        kind, field = _SAGEMAKER.get(action, ("", ""))
        name = params.get(field) if kind else None
        if not name:
            return "*"
        if str(name).startswith("arn:"):
            return str(name)
        return f"{prefix}:{kind}/{str(name).lower()}"  # SageMaker ARNs carry names in lower case
    if service == "ssm" and action in _SSM_PARAMETER_ACTIONS:
        name = params.get("Name") or (params.get("Names") or [None])[0]
        if not name:
            return "*"
        name = str(name).split(":", 1)[0]  # a version or label selector is not part of the ARN
        return f"{prefix}:parameter/{name.lstrip('/')}"
    if service == "events" and action in _EVENTS_RULE_PARAMETER:
        name = params.get(_EVENTS_RULE_PARAMETER[action])
        return f"{prefix}:rule/{name}" if name else "*"
    return "*"


def _params(response: Any) -> dict[str, Any]:
    """The request's top-level parameters (JSON protocols), whatever moto parsed so far."""
    body = getattr(response, "body", None)
    if isinstance(body, bytes | str) and body:
        import json

        try:
            loaded = json.loads(body)
        except ValueError:
            loaded = None
        if isinstance(loaded, dict):
            return loaded
    return {}


def _next_version(response: Any) -> Any:
    def count(group: str) -> int:
        from moto.sagemaker.models import sagemaker_backends

        backend = sagemaker_backends[response.current_account][response.region]
        return 1 + sum(1 for p in backend.model_packages.values() if p.model_package_group_name == group)

    return count


def _determine_resource(service: str) -> Any:
    def determine(self: Any) -> str:
        try:
            return resource_arn(
                service,
                self._get_action(),
                _params(self),
                self.current_account,
                self.region,
                _next_version(self),
            )
        except Exception:  # an unexpected request shape: "*", so a scoped statement refuses, never grants
            return "*"

    return determine


def _denial_message(request: Any, resource: str, explicit: bool) -> str:
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {request._action} action"
    )
    on = f" on resource: {resource}" if resource != "*" else ""
    return f"User: {request._access_key.arn} is not authorized to perform: {request._action}{on} {why}"


def _check_action_permitted(self: Any, resource: str) -> None:
    """moto's ``IAMRequestBase.check_action_permitted``, with IAM's service prefix for the action, and
    remembering what refused the call for the answer."""
    from moto.iam.access_control import IAMPolicy, PermissionResult

    service, _, name = self._action.partition(":")
    self._action = f"{_IAM_PREFIXES.get(service, service)}:{name}"
    if self._action == "sts:GetCallerIdentity":
        return
    permitted = False
    for policy in self._access_key.collect_policies():
        result = IAMPolicy(policy).is_action_permitted(self._action, resource)
        if result == PermissionResult.DENIED:
            self._modelreg_denial = _denial_message(self, resource, explicit=True)
            self._raise_access_denied()
        if result == PermissionResult.PERMITTED:
            permitted = True
    if self._is_assuming_role_operation(resource):
        permitted = permitted and self._check_role_trust_relationship(resource)
    if not permitted:
        self._modelreg_denial = _denial_message(self, resource, explicit=False)
        self._raise_access_denied()


class AccessDenied(Exception):
    """A refusal on its way from the policy check to the response, in the service's protocol."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _raise_json_denial(self: Any) -> None:
    raise AccessDenied(getattr(self, "_modelreg_denial", f"not authorized to perform: {self._action}"))


def _raise_s3_denial(self: Any) -> None:
    from moto.s3.exceptions import S3ClientError

    raise S3ClientError(
        "AccessDenied", getattr(self, "_modelreg_denial", f"not authorized to perform: {self._action}")
    )


def _call_action(original: Any) -> Any:
    def call_action(self: Any) -> Any:
        try:
            return original(self)
        except AccessDenied as denied:
            from moto.core.exceptions import ServiceException
            from moto.core.responses import ActionResult

            class AccessDeniedException(ServiceException):  # defined here: moto serializes it in the
                code = "AccessDeniedException"  # request's protocol with the service's own model

            with warnings.catch_warnings():  # not every service model names the error; AWS sends it anyway
                warnings.simplefilter("ignore", UserWarning)
                return self.serialized(ActionResult(AccessDeniedException(denied.message)))

    return call_action


_lock = threading.Lock()
_installed = False


def install() -> None:
    """Resource ARNs and AWS-worded refusals in moto's IAM enforcement (idempotent, once per process)."""
    global _installed
    with _lock:
        if _installed:
            return
        from moto.core.responses import BaseResponse
        from moto.events.responses import EventsHandler
        from moto.iam.access_control import IAMRequest, IAMRequestBase, S3IAMRequest
        from moto.sagemaker.responses import SageMakerResponse
        from moto.ssm.responses import SimpleSystemManagerResponse

        SageMakerResponse._determine_resource = _determine_resource("sagemaker")  # type: ignore[attr-defined]
        SimpleSystemManagerResponse._determine_resource = _determine_resource("ssm")  # type: ignore[attr-defined]
        EventsHandler._determine_resource = _determine_resource("events")  # type: ignore[attr-defined]
        IAMRequestBase.check_action_permitted = _check_action_permitted  # type: ignore[method-assign]
        IAMRequest._raise_access_denied = _raise_json_denial  # type: ignore[method-assign]
        S3IAMRequest._raise_access_denied = _raise_s3_denial  # type: ignore[method-assign]
        BaseResponse.call_action = _call_action(BaseResponse.call_action)  # type: ignore[method-assign]
        _installed = True
