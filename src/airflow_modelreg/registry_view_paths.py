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


def audit_csv(group: str, *, environment: str | None = None, version: int | str | None = None) -> str:
    """A group's audit trail as a CSV download (the same columns as ``airflow-modelreg audit --format csv``)."""
    query = {key: str(value) for key, value in (("environment", environment), ("version", version)) if value}
    return f"{API}/groups/{_segment(group)}/audit?{urlencode({**query, 'format': 'csv'})}"


def api_groups() -> str:
    """JSON: every group with its counts and the version each environment runs."""
    return API + "/groups"


def api_group(group: str) -> str:
    """JSON: one group's ladder, pending decisions, endpoints and latest drift result."""
    return f"{API}/groups/{_segment(group)}"


def api_versions(group: str, *, page: int = 1, per_page: int = 25, status: str | None = None) -> str:
    """JSON: one page of a group's versions, newest first, optionally of one approval status."""
    query = {"page": page, "per_page": per_page, **({"status": status} if status else {})}
    return f"{api_group(group)}/versions?{urlencode(query)}"


def api_version(group: str, version: int | str) -> str:
    """JSON: one version's card."""
    return f"{api_group(group)}/versions/{_segment(str(version))}"
