"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

# The README on the repository, as pyproject.toml's [project.urls] Documentation (Airflow's Admin > Providers
# reads that one from the package metadata; this copy is for readers of the provider info).
DOCUMENTATION_URL = "https://github.com/airflow-modelreg/airflow-modelreg/blob/main/README.md"


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-modelreg",
        "name": "Model Registry (SageMaker) release process",
        "description": "Register, approve, promote, deploy and monitor models through the Amazon SageMaker "
        "Model Registry, with a human approval at each step.",
        "documentation-url": DOCUMENTATION_URL,
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Amazon SageMaker Model Registry",
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/model-registry.html",
                "tags": ["aws"],
            }
        ],
        "hooks": [
            {
                "integration-name": "Amazon SageMaker Model Registry",
                "python-modules": [
                    "airflow_modelreg.hooks.model_registry",
                    "airflow_modelreg.hooks.parameter_store",
                    "airflow_modelreg.hooks.endpoint",
                    "airflow_modelreg.hooks.monitoring",
                    "airflow_modelreg.hooks.audit_log",
                ],
            }
        ],
        "operators": [
            {
                "integration-name": "Amazon SageMaker Model Registry",
                "python-modules": [
                    "airflow_modelreg.operators.register",
                    "airflow_modelreg.operators.approval",
                    "airflow_modelreg.operators.set_approval",
                    "airflow_modelreg.operators.promote",
                    "airflow_modelreg.operators.resolve",
                    "airflow_modelreg.operators.deploy",
                    "airflow_modelreg.operators.traffic",
                    "airflow_modelreg.operators.compare",
                    "airflow_modelreg.operators.drift",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Amazon SageMaker Model Registry",
                "python-modules": [
                    "airflow_modelreg.sensors.model_approval",
                    "airflow_modelreg.sensors.endpoint",
                    "airflow_modelreg.sensors.drift",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": "Amazon SageMaker Model Registry",
                "python-modules": [
                    "airflow_modelreg.triggers.model_approval",
                    "airflow_modelreg.triggers.endpoint",
                ],
            }
        ],
        "asset-uris": [{"schemes": ["modelreg"], "handler": None}],
        "notifications": ["airflow_modelreg.notifications.email.ModelApprovalEmailNotifier"],
        "auth-managers": ["airflow_modelreg.auth.ApproverAwareSimpleAuthManager"],
        "extra-links": [
            "airflow_modelreg.links.model_registry.ModelVersionLink",
            "airflow_modelreg.links.model_registry.EndpointLink",
            "airflow_modelreg.links.registry_view.RegistryVersionLink",
            "airflow_modelreg.links.registry_view.RegistryEnvironmentLink",
            "airflow_modelreg.links.registry_view.RegistryEndpointLink",
            "airflow_modelreg.links.registry_view.RegistryDriftLink",
            "airflow_modelreg.links.registry_view.RegistryDriftReportLink",
        ],
    }
