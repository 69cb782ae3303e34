"""Where the registry view (the provider's Airflow plugin) serves each page and API route.

One module for both sides: the plugin's FastAPI app mounts its routes at these paths, and the operator extra
links point at them, so a link cannot drift from the page it names. Paths are relative to Airflow's API
server root (``[api] base_url``'s path is prepended by the caller). Imports no Airflow.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

# The plugin's FastAPI app is mounted here (``fastapi_apps``' ``url_prefix``).
PREFIX = "/modelreg"
UI = PREFIX + "/ui"
API = PREFIX + "/api"


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def groups_page() -> str:
    """Every model package group: versions, pending decisions, the version each environment runs."""
    return UI + "/groups"


def group_page(group: str) -> str:
    """One group: the environment ladder, versions, pending decisions, endpoints, the latest drift result."""
    return f"{UI}/groups/{_segment(group)}"


def environment_page(group: str, environment: str) -> str:
    """One environment of a group: the version it runs, who approved it and when, and its history."""
    return f"{group_page(group)}/environments/{_segment(environment)}"


def version_page(group: str, version: int | str) -> str:
    """One version's card: metrics against the environment's current version, lineage, digest, DAG runs."""
    return f"{group_page(group)}/versions/{_segment(str(version))}"


def endpoint_page(endpoint: str) -> str:
    """One endpoint: its variants, the version each serves, and their current traffic weights."""
    return f"{UI}/endpoints/{_segment(endpoint)}"


def drift_page(endpoint: str) -> str:
    """The latest drift result for an endpoint's capture: per-feature table and a link to the HTML report."""
    return f"{endpoint_page(endpoint)}/drift"


def drift_report_page(report_uri: str) -> str:
    """One drift report (the self-contained HTML file the drift check wrote), served through the plugin."""
    return f"{UI}/drift-report?{urlencode({'uri': report_uri})}"


def audit_page(group: str, *, environment: str | None = None, version: int | str | None = None) -> str:
    """A group's audit trail (what ``airflow-modelreg audit`` prints), optionally filtered."""
    query = {key: str(value) for key, value in (("environment", environment), ("version", version)) if value}
    return f"{group_page(group)}/audit" + (f"?{urlencode(query)}" if query else "")
