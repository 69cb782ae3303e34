"""Airflow Assets for data-aware scheduling: "a new model was approved for (group, environment)"."""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

# Tasks whose target environment is only known at run time declare this alias as an outlet; the
# promotion adds the (group, environment) asset to it with the pointer as the event's extra.
APPROVALS_ALIAS = AssetAlias("modelreg-approvals")


def approved_model_asset(group: str, environment: str) -> Asset:
    """The Asset updated each time a version is promoted to (or rolled back in) ``environment``."""
    return Asset(
        name=f"modelreg/{group}/{environment}", uri=f"modelreg://{group}/{environment}", group="model"
    )


def drift_detected_asset(group: str) -> Asset:
    """The Asset updated when drift is detected for a group's deployed model: retraining schedules on it."""
    return Asset(name=f"modelreg/{group}/drift", uri=f"modelreg://{group}/drift", group="model")
