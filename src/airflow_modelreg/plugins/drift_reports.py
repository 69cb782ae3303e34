"""Which drift reports the registry view serves, and how: only a report a drift verdict of this provider names,
sent so that nothing in it can run, fetch or navigate.

The view's AWS connection can read more than drift reports, and a report is an S3 object that whoever may
write the report prefix can replace. So the drift-report route serves a URI only when a verdict the
provider's drift checks recorded (the XCom ``return_value`` of :class:`DecideDriftOperator` or
:class:`ModelDriftSensor`) names it as its ``report_uri`` or ``report_html_uri`` (any other URI: 404, without
reading S3), and serves it under a Content-Security-Policy that sandboxes it: no script, no request, no
form, no navigation of the Airflow page (a planted ``<meta http-equiv="refresh">`` included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# The operators whose verdicts name the reports they wrote.
DRIFT_OPERATORS = ("DecideDriftOperator", "ModelDriftSensor")
# The report's own inline CSS and SVG only; ``sandbox`` (no allow-* keyword) gives the page a unique origin
# and blocks scripts, forms, pop-ups and any navigation it would start itself (``<meta refresh>`` too).
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
REPORT_HEADERS = {
    "Content-Security-Policy": REPORT_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _like_pattern(text: str) -> str:
    """A SQL ``LIKE`` pattern (escape character ``\\``) matching values that contain ``text`` literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def recorded_verdicts(
    readable: Callable[[str], bool], *, limit: int, containing: str | None = None
) -> list[Any]:
    """The verdicts the provider's drift checks recorded (the XCom ``return_value`` of ``DRIFT_OPERATORS``),
    newest first, of the DAGs ``readable`` allows, deserialised; with ``containing``, only those whose stored
    value contains that text (the database narrows, the caller matches exactly). At most ``limit`` rows are
    read. Raises what the database raises."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import Text, and_, cast, select

    query = (
        select(XComModel.dag_id, XComModel.value)
        .join(
            TaskInstance,
            and_(
                TaskInstance.dag_id == XComModel.dag_id,
                TaskInstance.run_id == XComModel.run_id,
                TaskInstance.task_id == XComModel.task_id,
                TaskInstance.map_index == XComModel.map_index,
            ),
        )
        .where(XComModel.key == "return_value")
        .where(TaskInstance.operator.in_(DRIFT_OPERATORS))
    )
    if containing is not None:
        query = query.where(cast(XComModel.value, Text).like(_like_pattern(containing), escape="\\"))
    query = query.order_by(XComModel.timestamp.desc()).limit(limit)
    with create_session() as session:
        return [XComModel.deserialize_value(row) for row in session.execute(query) if readable(row.dag_id)]


def recorded_drift_report(uri: str, readable: Callable[[str], bool] = lambda dag_id: True) -> bool:
    """Whether a drift verdict in Airflow's XCom, of a DAG ``readable`` allows (the caller may read it),
    names ``uri`` as its report (JSON or HTML). A failed lookup serves nothing."""
    if not uri.startswith("s3://"):
        return False
    try:
        found = recorded_verdicts(readable, limit=20, containing=uri)
    except Exception as error:  # noqa: BLE001 - a report that cannot be checked is not served
        log.warning("Looking up the drift verdicts that name %s failed: %s", uri, error)
        return False
    return any(
        isinstance(verdict, dict) and uri in (verdict.get("report_uri"), verdict.get("report_html_uri"))
        for verdict in found
    )
