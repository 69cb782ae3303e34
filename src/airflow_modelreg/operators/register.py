"""Register a trained model as a new version of a model package group, once per DAG run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain.errors import GovernanceError, InvalidInputError, NotFoundError
from airflow_modelreg.domain.quality_gate import QualityGate
from airflow_modelreg.domain.validation import (
    MAX_METADATA_VALUE_LENGTH,
    parse_s3_uri,
    validate_approval_status,
    validate_customer_metadata,
    validate_group_name,
    validate_training_job_arn,
)
from airflow_modelreg.domain.versions import summarize
from airflow_modelreg.hooks.model_registry import ModelRegistryHook
from airflow_modelreg.links.registry_view import VERSION_LINKS, persist_version_links

if TYPE_CHECKING:
    from airflow.sdk import Context


def airflow_run_of(context: Context) -> str:
    """``dag_id/run_id/task_id`` of the running task: how the provider names an Airflow run in AWS."""
    ti = context["ti"]
    return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}"


def run_key_of(context: Context) -> str:
    """The key of this task run (DAG, run, task, map index): the same on every try and every retry."""
    ti = context["ti"]
    return md.idempotency_key(ti.dag_id, ti.run_id, ti.task_id, getattr(ti, "map_index", -1))


def triggering_user(context: Context) -> str | None:
    dag_run = context.get("dag_run")
    return getattr(dag_run, "triggering_user_name", None) if dag_run is not None else None


class RegisterModelVersionOperator(AwsBaseOperator[ModelRegistryHook]):
    """Register a trained model as a new version of a model package group.

    Idempotent under retries and re-runs of the same DAG run: the request carries a ``ClientToken`` derived
    from the DAG run and task, the same key is kept in the version's ``CustomerMetadataProperties`` and names
    the "registered" event in the audit log, so a retry finds the version the first try made in O(1) calls.
    A retry whose inputs differ from that version's (another artifact URI, new bytes at the same URI, other
    metrics) is refused: it would otherwise return a version that is not what the retry trained.

    Who registers counts as the registrant and may never approve the version: the user who triggered the
    run (or ``registered_by``), the DAG's owners, and anyone named in ``registrants``. Keys under the
    provider's reserved prefix ``modelreg:`` are refused in ``custom_metadata`` (use ``lineage``).
    ``initial_status="Approved"`` is refused unless the ladder allows automated registration approval.

    The artifact's SHA-256 (streamed from S3) is recorded on the version so later steps can prove it never
    changed. Metrics (a dict, or an evaluation report already in S3) become ``ModelMetrics`` and are also
    kept in the metadata for cheap comparisons. An optional quality gate registers a failing version as
    ``Rejected`` with the reason (``on_gate_failure="reject"``) or does not register it (``"fail"``).

    :param group: model package group name; created with ``group_description`` if missing.
    :param model_data_url: S3 URI of the model artifact (``model.tar.gz``).
    :param image_uri: inference container image.
    :param content_types: MIME types the model accepts.
    :param response_types: MIME types the model returns.
    :param inference_instance_types: real-time instance types the version supports (``ml.*``).
    :param transform_instance_types: batch transform instance types the version supports (``ml.*``).
    :param container_environment: environment variables for the inference container.
    :param metrics: evaluation metrics, ``{"auc": 0.91}``; written to S3 next to the artifact.
    :param evaluation_report_uri: an evaluation report already in S3 (instead of ``metrics``).
    :param quality_gate: a :class:`QualityGate` or its keyword arguments as a dict.
    :param on_gate_failure: ``"reject"`` (register as Rejected with the reason) or ``"fail"``.
    :param commit_id: source commit of the training code.
    :param repository: source repository of the training code.
    :param training_job_arn: training job that produced the artifact.
    :param training_data_uris: data the model was trained on.
    :param custom_metadata: free metadata kept on the version (keys must not start with ``modelreg:``).
    :param lineage: further lineage facts (``{"reason": ..., "drift-report": ...}``), kept as
        ``modelreg:lineage:<name>``; empty values and words for nothing (``none``, ``null``, ``-``...) are left out.
    :param registered_by: who registers (defaults to the user who triggered the DAG run, else
        ``airflow:<dag_id>``); that person may not approve the version.
    :param registrants: more user names who count as the registrant (the training code's authors...).
    :param initial_status: approval status of a version that passes the gate.
    :param ladder: environment ladder (defaults to the ``modelreg_ladder`` Variable): its audit log, and
        whether ``initial_status="Approved"`` is allowed.
    :param group_description: description of the group, used only when this task creates it (templated).
    :param description: the version's ``ModelPackageDescription`` (templated; default: none).
    """

    aws_hook_class = ModelRegistryHook
    template_fields: Sequence[str] = aws_template_fields(
        "group",
        "group_description",
        "description",
        "model_data_url",
        "image_uri",
        "metrics",
        "evaluation_report_uri",
        "commit_id",
        "repository",
        "training_job_arn",
        "training_data_uris",
        "custom_metadata",
        "lineage",
        "registered_by",
        "registrants",
        "initial_status",
    )
    template_fields_renderers = {"metrics": "json", "custom_metadata": "json", "lineage": "json"}
    operator_extra_links = VERSION_LINKS
    ui_color = "#b6e3c8"

    def __init__(
        self,
        *,
        group: str,
        model_data_url: str,
        image_uri: str,
        content_types: Sequence[str] = ("text/csv",),
        response_types: Sequence[str] = ("text/csv",),
        inference_instance_types: Sequence[str] = ("ml.m5.large",),
        transform_instance_types: Sequence[str] = ("ml.m5.large",),
        container_environment: Mapping[str, str] | None = None,
        group_description: str | None = None,
        description: str | None = None,
        metrics: Mapping[str, float] | None = None,
        evaluation_report_uri: str | None = None,
        quality_gate: QualityGate | Mapping[str, Any] | None = None,
        on_gate_failure: str = "reject",
        commit_id: str | None = None,
        repository: str | None = None,
        training_job_arn: str | None = None,
        training_data_uris: Sequence[str] | None = None,
        custom_metadata: Mapping[str, str] | None = None,
        lineage: Mapping[str, str] | None = None,
        registered_by: str | None = None,
        registrants: Sequence[str] | None = None,
        initial_status: str = "PendingManualApproval",
        ladder: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.group = group
        self.group_description = group_description
        self.description = description
        self.model_data_url = model_data_url
        self.image_uri = image_uri
        self.content_types = list(content_types)
        self.response_types = list(response_types)
        self.inference_instance_types = list(inference_instance_types)
        self.transform_instance_types = list(transform_instance_types)
        self.container_environment = dict(container_environment or {})
        self.metrics = metrics
        self.evaluation_report_uri = evaluation_report_uri
        self.quality_gate = (
            quality_gate
            if isinstance(quality_gate, QualityGate) or quality_gate is None
            else QualityGate(**quality_gate)
        )
        if on_gate_failure not in ("reject", "fail"):
            raise InvalidInputError(f"on_gate_failure is {on_gate_failure!r}; expected 'reject' or 'fail'.")
        self.on_gate_failure = on_gate_failure
        self.commit_id = commit_id
        self.repository = repository
        self.training_job_arn = training_job_arn
        self.training_data_uris = training_data_uris
        self.custom_metadata = custom_metadata
        self.lineage = lineage
        self.registered_by = registered_by
        self.registrants = registrants
        self.initial_status = initial_status
        self.ladder = ladder

    # ---------------------------------------------------------------------------------- validate
    def _validated_metrics(self) -> dict[str, float] | None:
        metrics = self.metrics
        if isinstance(metrics, str):  # rendered from a template such as "{{ ti.xcom_pull(...) }}"
            try:
                metrics = json.loads(metrics)
            except ValueError as error:
                raise InvalidInputError(f"metrics is not a JSON object: {metrics!r}") from error
        if metrics is not None and self.evaluation_report_uri:
            raise InvalidInputError("Give either metrics or evaluation_report_uri, not both.")
        if metrics is None:
            return None
        if not isinstance(metrics, Mapping):
            raise InvalidInputError(f"metrics is {metrics!r}; expected a mapping of name to number.")
        return md.validate_metrics(metrics)

    def _validate(self) -> None:
        validate_group_name(self.group)
        parse_s3_uri(self.model_data_url, "model artifact URI")
        if self.evaluation_report_uri:
            parse_s3_uri(self.evaluation_report_uri, "evaluation report URI")
        validate_approval_status(self.initial_status)
        if self.training_job_arn:
            validate_training_job_arn(self.training_job_arn)
        for uri in self._training_data_uris():
            parse_s3_uri(uri, "training data URI")
        if not self.image_uri or not isinstance(self.image_uri, str):
            raise InvalidInputError(f"image_uri is {self.image_uri!r}; expected a container image URI.")
        for kind in ("inference_instance_types", "transform_instance_types"):
            for instance_type in getattr(self, kind):
                if not str(instance_type).startswith("ml."):
                    raise InvalidInputError(
                        f"Instance type {instance_type!r} in {kind} is not a SageMaker instance type "
                        "(they start with 'ml.', for example 'ml.m5.large')."
                    )
        if not self.content_types or not self.response_types:
            raise InvalidInputError("content_types and response_types need at least one MIME type each.")
        custom = self.custom_metadata
        if custom is not None and not isinstance(custom, Mapping):
            raise InvalidInputError(f"custom_metadata is {custom!r}; expected a mapping of key to text.")
        policy.check_reserved_metadata(custom or {})
        self._lineage()

    def _registrants(self, context: Context) -> tuple[str, list[str]]:
        """Who registers, and everyone who counts as the registrant (none of them may approve)."""
        triggered_by = triggering_user(context)
        registered_by = self.registered_by or triggered_by or f"airflow:{context['ti'].dag_id}"
        names = [registered_by]
        owner = getattr(context.get("task"), "owner", None) or ""
        extra = [self.registrants] if isinstance(self.registrants, str) else list(self.registrants or [])
        # Whoever triggered the run counts as a registrant too, whatever `registered_by` says.
        for name in [triggered_by or "", *str(owner).split(","), *extra]:
            name = name.strip()
            if name and name not in names:
                names.append(name)
        return registered_by, names

    def _metadata(
        self, context: Context, key: str, digest: str, metrics: Mapping[str, float]
    ) -> dict[str, str]:
        registered_by, registrants = self._registrants(context)
        properties: dict[str, Any] = {
            # An empty value means "none" (SageMaker refuses empty values), so it is left out.
            **{
                key: value
                for key, value in dict(self.custom_metadata or {}).items()
                if value not in (None, "")
            },
            md.IDEMPOTENCY_KEY: key,
            md.ARTIFACT_SHA256: digest,
            md.ARTIFACT_URI: self.model_data_url,
            md.REGISTERED_BY: registered_by,
            md.REGISTRANTS: ",".join(registrants),
            md.REGISTERED_AT: datetime.now(UTC).isoformat(timespec="seconds"),
            md.AIRFLOW_RUN: airflow_run_of(context),
            **md.metric_entries(metrics),
        }
        if self.training_job_arn:
            properties[f"{md.LINEAGE_PREFIX}training-job"] = self.training_job_arn
        if self.training_data_uris:
            properties[f"{md.LINEAGE_PREFIX}training-data"] = ",".join(self._training_data_uris())
        for name, value in self._lineage().items():
            properties[f"{md.LINEAGE_PREFIX}{name}"] = value
        return validate_customer_metadata(properties)

    def _lineage(self) -> dict[str, str]:
        lineage = self.lineage
        if isinstance(lineage, str):  # rendered from a template
            try:
                lineage = json.loads(lineage)
            except ValueError as error:
                raise InvalidInputError(f"lineage is not a JSON object: {lineage!r}") from error
        if lineage is not None and not isinstance(lineage, Mapping):
            raise InvalidInputError(f"lineage is {lineage!r}; expected a mapping of name to text.")
        return md.lineage_values(lineage)

    def _training_data_uris(self) -> list[str]:
        uris = self.training_data_uris or []
        return [uris] if isinstance(uris, str) else list(uris)

    # ----------------------------------------------------------------------------------- execute
    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_modelreg.config import resolve_ladder
        from airflow_modelreg.hooks.release import ReleaseRecords, event_key

        ladder = resolve_ladder(self.ladder)
        records = ReleaseRecords.of_task(self, ladder)
        try:
            self._validate()
            policy.check_registration_status(ladder, self.initial_status)
        except GovernanceError as refusal:
            records.refusal(
                self.group, f"register {self.model_data_url} as {self.initial_status}", str(refusal)
            )
            raise AirflowFailException(str(refusal)) from refusal
        metrics = self._validated_metrics()
        key = run_key_of(context)

        # Read everything before the first write: a bad report or a missing artifact fails cleanly.
        if self.evaluation_report_uri:
            metrics = md.metrics_from_report(
                self.hook.read_json(self.evaluation_report_uri), self.evaluation_report_uri
            )
        metrics = metrics or {}
        digest = self.hook.artifact_sha256(self.model_data_url)

        # A retry (or a re-run of this DAG run) finds what an earlier try registered, in O(1) calls.
        earlier = records.audit.find(self.group, event_key("registered", key))
        if earlier:
            existing = self.hook.describe_version(earlier["arn"])
            self._check_same_inputs(records, existing, digest, metrics)
            self.log.info(
                "Version %s was registered by an earlier try of this DAG run; returning it.", earlier["arn"]
            )
            return self._finish(context, existing)

        properties = self._metadata(context, key, digest, metrics)
        try:
            policy.check_metadata_capacity(
                properties,
                [f"modelreg:env:{name}" for name in ladder.names] + ["modelreg:decided-by"],
                "registering this version (with room for its approval and a record per environment)",
            )
        except GovernanceError as refusal:
            raise AirflowFailException(str(refusal)) from refusal
        status, gate_reason = self.initial_status, None
        if self.quality_gate and not self.quality_gate.is_empty:
            try:
                approved = self.hook.latest_approved_version(self.group)
            except NotFoundError:
                approved = None
            approved_metrics = md.metrics_from_metadata((approved or {}).get("CustomerMetadataProperties"))
            result = self.quality_gate.evaluate(metrics, approved_metrics)
            gate_reason = f"Quality gate {result.reason}"
            properties[md.QUALITY_GATE] = gate_reason[:MAX_METADATA_VALUE_LENGTH]
            if not result.passed:
                if self.on_gate_failure == "fail":
                    raise AirflowFailException(f"{gate_reason}. The version was not registered.")
                status = "Rejected"
            self.log.info(gate_reason)

        # Writes: group, metrics report, version, audit event. Each is idempotent, so a crash between them
        # is repaired by the retry.
        self.hook.ensure_group(self.group, self.group_description)
        report_uri = self.evaluation_report_uri
        if not report_uri and metrics:
            bucket, artifact_key = parse_s3_uri(self.model_data_url)
            prefix = artifact_key.rsplit("/", 1)[0] if "/" in artifact_key else ""
            report_uri = f"s3://{bucket}/{prefix + '/' if prefix else ''}evaluation-{key}.json"
            self.hook.write_json(report_uri, md.evaluation_report(metrics))
        spec: dict[str, Any] = {
            "ModelApprovalStatus": status,
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": self.image_uri,
                        "ModelDataUrl": self.model_data_url,
                        **({"Environment": self.container_environment} if self.container_environment else {}),
                    }
                ],
                "SupportedContentTypes": self.content_types,
                "SupportedResponseMIMETypes": self.response_types,
                "SupportedRealtimeInferenceInstanceTypes": self.inference_instance_types,
                "SupportedTransformInstanceTypes": self.transform_instance_types,
            },
            "MetadataProperties": {
                key_: value
                for key_, value in {
                    "CommitId": self.commit_id,
                    "Repository": self.repository,
                    "GeneratedBy": f"airflow:{airflow_run_of(context)}",
                }.items()
                if value
            },
            "CustomerMetadataProperties": properties,
        }
        if self.description:
            spec["ModelPackageDescription"] = self.description
        if report_uri:
            spec["ModelMetrics"] = {
                "ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": report_uri}}
            }
        arn = self.hook.register_version(self.group, client_token=key, **spec)
        version = self.hook.describe_version(arn)
        props = version.get("CustomerMetadataProperties") or {}
        registered_by, registrants = props.get(md.REGISTERED_BY), props.get(md.REGISTRANTS, "")
        records.record(
            self.group,
            "registered",
            key=event_key("registered", key),
            version=int(version["ModelPackageVersion"]),
            arn=arn,
            status=version.get("ModelApprovalStatus"),
            actor={"id": registered_by, "name": registered_by},
            reason=gate_reason,
            airflow_run=airflow_run_of(context),
            details={
                "digest": props.get(md.ARTIFACT_SHA256),
                "artifact": props.get(md.ARTIFACT_URI),
                "metrics": md.metrics_from_metadata(props),
                "registrants": [name for name in registrants.split(",") if name],
                "image": self.image_uri,
                "commit": self.commit_id,
            },
        )
        # A crash between CreateModelPackage and the audit event leaves the first try's version, which the
        # ClientToken hands back: it is recorded above as what exists, and refused if it is not what this
        # try meant to register.
        self._check_same_inputs(records, version, digest, metrics)
        self.log.info("Registered %s as %s (artifact sha256 %s)", arn, status, digest)
        return self._finish(context, version)

    def _check_same_inputs(
        self, records: Any, version: Mapping[str, Any], digest: str, metrics: Mapping[str, float]
    ) -> None:
        """Refuse a retry whose artifact (URI or bytes) or metrics differ from the version it finds."""
        props = version.get("CustomerMetadataProperties") or {}
        differences = []
        if props.get(md.ARTIFACT_URI) != self.model_data_url:
            differences.append(f"artifact {props.get(md.ARTIFACT_URI)} != {self.model_data_url}")
        if props.get(md.ARTIFACT_SHA256) != digest:
            differences.append(
                f"artifact SHA-256 recorded {props.get(md.ARTIFACT_SHA256)} != {digest} now (new bytes at the "
                "same URI)"
            )
        recorded = md.metrics_from_metadata(props)
        # Always compared: a retry whose evaluation produced nothing is not the version registered with metrics.
        if recorded != {name: float(value) for name, value in metrics.items()}:
            differences.append(f"metrics recorded {recorded} != {dict(metrics)}")
        if differences:
            message = (
                f"Refused: this DAG run already registered {version.get('ModelPackageArn')}, but this try's inputs "
                f"differ: {'; '.join(differences)}. A version is never changed after registration: start a new "
                "DAG run to register the new model as a new version."
            )
            records.refusal(
                self.group, f"retry the registration of {version.get('ModelPackageArn')}", message
            )
            raise AirflowFailException(message)

    def _finish(self, context: Context, version: dict[str, Any]) -> dict[str, Any]:
        props = version.get("CustomerMetadataProperties") or {}
        gate = props.get(md.QUALITY_GATE)
        # A gate-rejected version carries its reason as the decision's description too.
        if (
            version.get("ModelApprovalStatus") == "Rejected"
            and gate
            and not version.get("ApprovalDescription")
        ):
            version = self.hook.set_approval_status(version["ModelPackageArn"], "Rejected", description=gate)
        persist_version_links(context, self, version)
        return {**summarize(version), "quality_gate": gate}
