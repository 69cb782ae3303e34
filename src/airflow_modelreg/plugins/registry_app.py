"""The registry view's FastAPI app: read-only pages and a JSON API over the registry, the environment
pointers, the endpoints, the drift checks and the audit log. Mounted by Airflow's API server at
:data:`~airflow_modelreg.registry_view_paths.PREFIX` (see :mod:`airflow_modelreg.plugins.registry_view`).

Airflow gives a plugin's app no authentication: every route here depends on :func:`reader`, which
identifies the caller as Airflow's own routes do (a ``Bearer`` token, else the UI's ``_token`` cookie,
through ``airflow.api_fastapi.core_api.security.get_user``) and asks the auth manager whether that user may
read each of the release's DAGs (``is_authorized_dag``, method ``GET``). No credentials: 401 (pages
redirect to Airflow's login); a user who may not read them: 403.
"""

# No ``from __future__ import annotations``: FastAPI reads the routes' ``Annotated`` dependencies, defined
# inside create_app, from the live annotations.
import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from airflow_modelreg import registry_view_paths as paths
from airflow_modelreg.domain import audit as audit_rows
from airflow_modelreg.domain import registry_view as view
from airflow_modelreg.domain.errors import InvalidInputError, ModelRegError, NotFoundError
from airflow_modelreg.plugins.registry_data import RegistryData

log = logging.getLogger(__name__)

# The DAGs a reader of the view must be allowed to read (``[modelreg] registry_view_dag_ids``).
DEFAULT_DAG_IDS = ("train_and_register", "promote_model")
TEMPLATES = Path(__file__).resolve().parent / "templates"


# ------------------------------------------------------------------------------------------ auth
def authorise(user: Any, dag_ids: Sequence[str] | None = None) -> None:
    """403 unless the auth manager lets ``user`` read every DAG of ``dag_ids`` (default: the configured)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    dag_ids = configured_dag_ids() if dag_ids is None else dag_ids
    manager = get_auth_manager()
    refused = [
        dag_id
        for dag_id in dag_ids
        if not manager.is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user)
    ]
    if refused:
        raise HTTPException(
            status_code=403,
            detail=f"Forbidden: the registry view needs read access to the DAGs {', '.join(refused)}.",
        )


def configured_dag_ids() -> tuple[str, ...]:
    from airflow.configuration import conf

    value = conf.get("modelreg", "registry_view_dag_ids", fallback="") or ""
    return tuple(d.strip() for d in value.split(",") if d.strip()) or DEFAULT_DAG_IDS


# ------------------------------------------------------------------------------------- the app
def create_app(
    data: RegistryData,
    user: Callable[..., Any] | None = None,
    authorised: Callable[[Any], None] = authorise,
    drift_verdicts: Callable[[Sequence[str], Callable[[str], bool]], dict[str, Any] | None] | None = None,
    waiting_requests: Callable[[Sequence[str]], dict[str, str] | None] | None = None,
    waiting_promotions: Callable[[str], list[dict[str, Any]]] | None = None,
    may_read_dag: Callable[[Any, str], bool] | None = None,
    recorded_reports: Callable[[str, Callable[[str], bool]], bool] | None = None,
) -> FastAPI:
    """The view's app over ``data``. ``user`` (a FastAPI dependency; default: Airflow's own ``get_user``, which
    reads a ``Bearer`` token, else the UI's ``_token`` cookie) identifies the caller, ``authorised``
    raises 403 for a caller who may not read the view; ``drift_verdicts`` finds the latest drift verdict
    for a list of endpoints among those of the DAGs a predicate allows (default: Airflow's XCom);
    ``may_read_dag`` says whether the caller may read a DAG (default: the auth manager), which the drift
    results, read from any DAG's XCom, are filtered by; ``waiting_requests`` finds, per request subject, the
    Required Action that waits unanswered (default: Airflow's HITL requests; ``None`` when they cannot be
    read); ``waiting_promotions`` lists a group's promotion and rollback approvals that wait in Airflow;
    ``recorded_reports`` says whether a drift verdict of the provider, from a DAG a predicate allows, names a
    report URI (default: Airflow's XCom). Tests without an API server replace the first two."""
    import jinja2

    if user is None:
        from airflow.api_fastapi.core_api.security import get_user as user
    latest_verdict = drift_verdicts or latest_drift_verdict
    readable = may_read_dag or dag_readable
    waiting = waiting_requests or waiting_required_actions
    promotions = waiting_promotions or waiting_promotion_approvals
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True)
    app = FastAPI(title="airflow-modelreg registry view", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.data = data
    page_parts = ThreadPoolExecutor(max_workers=4, thread_name_prefix="modelreg-page")
    api = paths.API.removeprefix(paths.PREFIX)
    ui = paths.UI.removeprefix(paths.PREFIX)

    def readable_by(caller: Any) -> Callable[[str], bool]:
        """Whether ``caller`` may read a DAG, asked once per DAG per request."""
        known: dict[str, bool] = {}

        def may_read(dag_id: str) -> bool:
            if dag_id not in known:
                known[dag_id] = readable(caller, dag_id)
            return known[dag_id]

        return may_read

    def reader(caller: Annotated[Any, Depends(user)]) -> Any:
        """Every route's dependency: the caller, authenticated and authorised (401/403 otherwise)."""
        authorised(caller)
        return caller

    Reader = Annotated[Any, Depends(reader)]

    def is_api(request: Request) -> bool:
        return paths.API + "/" in request.url.path or request.url.path.startswith(api + "/")

    @app.exception_handler(StarletteHTTPException)
    async def login_or_refuse(request: Request, error: StarletteHTTPException) -> Response:
        """Pages: no credentials go to Airflow's login, a refusal is a page; the API answers JSON."""
        if is_api(request) or error.status_code not in (401, 403):
            return await http_exception_handler(request, error)
        if error.status_code == 401:
            from airflow.api_fastapi.app import get_auth_manager

            login = get_auth_manager().get_url_login()
            # Path only: an absolute address built from the request's Host header could send the user
            # elsewhere after logging in.
            root, path = str(request.scope.get("root_path", "")), request.url.path
            back = quote(path if path.startswith(root + "/") else root + path, safe="/")
            if request.url.query:
                back += "?" + request.url.query
            return RedirectResponse(f"{login}?next={quote(back, safe='')}", status_code=303)
        return render(request, "refused.html", {"detail": error.detail}, status=error.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        """The API answers FastAPI's 422; a page answers a page saying which parameter is wrong."""
        if is_api(request):
            return await request_validation_exception_handler(request, error)
        wrong = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}" for e in error.errors()
        )
        return render(request, "refused.html", {"detail": f"Invalid request: {wrong}."}, status=400)

    @app.exception_handler(ModelRegError)
    async def model_reg_error(request: Request, error: ModelRegError) -> Response:
        status = (
            404 if isinstance(error, NotFoundError) else 400 if isinstance(error, InvalidInputError) else 502
        )
        if is_api(request):
            return JSONResponse({"detail": str(error)}, status_code=status)
        return render(request, "refused.html", {"detail": str(error)}, status=status)

    def ui_root(request: Request) -> str:
        """The Airflow UI's root (``[api] base_url``'s path), where the app is mounted under."""
        return str(request.scope.get("root_path", "")).removesuffix(paths.PREFIX)

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        root = ui_root(request)
        html = templates.get_template(name).render(
            root=root, paths=paths, quote=quote, statuses=view.STATUSES, **context
        )
        return HTMLResponse(html, status_code=status)

    def where_decided(group: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Point each pending row's Required Action link at the request that waits for that version, in
        whichever DAG run asks (the registering run's is only a guess: another DAG may ask)."""
        asking = {
            view.approval_subject(group, row["version"]): row for row in rows if row["required_action_link"]
        }
        found = waiting(list(asking)) if asking else {}
        if found is None:  # Airflow's requests could not be read: the registering run's is the best guess
            return rows
        for subject, row in asking.items():
            # No request waits for it (its approval task ended, or it was never asked): nothing to answer.
            row["required_action_link"] = found.get(subject)
        return rows

    # ------------------------------------------------------------------------------ JSON API

    def group_overview(group: str, caller: Any) -> dict[str, Any]:
        """The group's ladder, pending decisions, endpoints and drift: only its own (404 for no group)."""
        data.check_group(group)
        columns = data.ladder_columns(group)
        runs_in = [c["environment"] for c in columns if c["current"] and c["current"]["verified"]]
        endpoints = data.endpoints(group, runs_in)
        names = [e["endpoint"] for e in endpoints]
        return {
            "group": group,
            "ladder": columns,
            "pending": where_decided(group, data.pending(group)),
            "promotions": promotions(group),
            "endpoints": endpoints,
            "drift": data.drift_result(latest_verdict(names, readable_by(caller))) if names else None,
        }

    @app.get(api + "/groups")
    def api_groups(_: Reader) -> dict[str, Any]:
        return {"groups": data.groups(), "environments": list(data.ladder().names)}

    @app.get(api + "/groups/{group}")
    def api_group(group: str, caller: Reader) -> dict[str, Any]:
        return group_overview(group, caller)

    @app.get(api + "/groups/{group}/versions")
    def api_versions(
        group: str,
        _: Reader,
        page: int = 1,
        per_page: Annotated[int, Query(le=view.MAX_PER_PAGE, ge=1)] = 25,
        status: str | None = None,
    ) -> dict[str, Any]:
        data.check_group(group)
        return data.versions_page(group, page, per_page, status or None)

    @app.get(api + "/groups/{group}/versions/{version}")
    def api_version(group: str, version: int, _: Reader) -> dict[str, Any]:
        return where_decided(group, [data.version(group, version)])[0]

    @app.get(api + "/groups/{group}/audit")
    def api_audit(
        group: str,
        _: Reader,
        environment: str | None = None,
        version: int | None = None,
        format: str = "json",  # noqa: A002 - the query parameter's name
    ) -> Response:
        data.check_group(group)
        events = data.audit(group, environment or None, version)
        if format == "csv":
            name = f"{group}-audit.csv"
            return PlainTextResponse(
                audit_rows.render(events, "csv"),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        if format != "json":
            raise InvalidInputError(f"Unknown format {format!r}: use json or csv.")
        return JSONResponse({"group": group, "events": [audit_rows.row(e) for e in events]})

    # --------------------------------------------------------------------------------- pages
    @app.get(ui + "/groups", response_class=HTMLResponse)
    def page_groups(request: Request, _: Reader) -> HTMLResponse:
        return render(
            request, "groups.html", {"groups": data.groups(), "environments": list(data.ladder().names)}
        )

    @app.get(ui + "/groups/{group}", response_class=HTMLResponse)
    def page_group(
        request: Request,
        group: str,
        caller: Reader,
        page: int = 1,
        per_page: int = 25,
        status: str = "",
    ) -> HTMLResponse:
        # The two halves read different things: side by side, the page waits for the slower only.
        overview = page_parts.submit(group_overview, group, caller)
        versions = data.versions_page(group, page, per_page, status or None)
        return render(request, "group.html", {**overview.result(), "versions": versions})

    @app.get(ui + "/groups/{group}/environments/{environment}")
    def page_environment(request: Request, group: str, environment: str, _: Reader) -> Response:
        return RedirectResponse(f"{ui_root(request)}{paths.group_page(group)}#env-{quote(environment)}")

    @app.get(ui + "/groups/{group}/versions/{version}", response_class=HTMLResponse)
    def page_version(request: Request, group: str, version: int, _: Reader) -> HTMLResponse:
        return render(
            request, "version.html", {"card": where_decided(group, [data.version(group, version)])[0]}
        )

    @app.get(ui + "/groups/{group}/audit", response_class=HTMLResponse)
    def page_audit(
        request: Request, group: str, _: Reader, environment: str = "", version: str = ""
    ) -> HTMLResponse:
        data.check_group(group)
        if version.strip() and not version.strip().isdigit():
            raise InvalidInputError(f"Invalid version {version!r}: a version is a number (1, 2, ...).")
        number = int(version) if version.strip() else None
        events = data.audit(group, environment or None, number)
        csv_link = f"{ui_root(request)}{paths.audit_csv(group, environment=environment, version=number)}"
        return render(
            request,
            "audit.html",
            {
                "group": group,
                "rows": [audit_rows.row(e) for e in events],
                "environment": environment,
                "version": version,
                "environments": list(data.ladder().names),
                "csv_link": csv_link,
            },
        )

    @app.get(ui + "/endpoints/{endpoint}", response_class=HTMLResponse)
    def page_endpoint(request: Request, endpoint: str, caller: Reader) -> HTMLResponse:
        return render(request, "endpoint.html", endpoint_context(endpoint, caller))

    @app.get(ui + "/endpoints/{endpoint}/drift", response_class=HTMLResponse)
    def page_drift(request: Request, endpoint: str, caller: Reader) -> HTMLResponse:
        return render(request, "endpoint.html", endpoint_context(endpoint, caller))

    def endpoint_context(endpoint: str, caller: Any) -> dict[str, Any]:
        environment = data.ladder().environment_of_endpoint(endpoint)
        if environment is None:
            raise NotFoundError(
                f"Endpoint {endpoint!r} serves no environment of the modelreg_ladder Variable."
            )
        found = [e for e in data.endpoints() if e["endpoint"] == endpoint]
        verdict = latest_verdict([endpoint], readable_by(caller))
        return {"endpoint": found[0], "drift": data.drift_result(verdict)}

    @app.get(ui + "/drift-report")
    def page_drift_report(uri: str, caller: Reader) -> Response:
        # Only a report a drift verdict of the provider names (the connection reads more than reports), sandboxed
        # (whoever may write the report prefix can replace it): see airflow_modelreg.plugins.drift_reports.
        from airflow_modelreg.aws_calls import call_aws
        from airflow_modelreg.plugins import drift_reports

        # As for the drift results on the pages: only a verdict of a DAG the caller may read counts.
        if not (recorded_reports or drift_reports.recorded_drift_report)(uri, readable_by(caller)):
            raise NotFoundError(
                f"No drift report {uri!r}: the view serves only the reports named by the verdicts of drift "
                "checks you may read."
            )
        content_type, text = call_aws(f"Drift report {uri}", data.drift_report, uri=uri)
        return Response(text, media_type=content_type, headers=drift_reports.REPORT_HEADERS)

    return app


def dag_readable(user: Any, dag_id: str) -> bool:
    """Whether the auth manager lets ``user`` read the DAG ``dag_id`` (``is_authorized_dag``, GET)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

    return bool(get_auth_manager().is_authorized_dag(method="GET", details=DagDetails(id=dag_id), user=user))


def latest_drift_verdict(
    endpoints: Sequence[str], readable: Callable[[str], bool] = lambda dag_id: True
) -> dict[str, Any] | None:
    """The newest drift verdict in Airflow's XCom (``DecideDriftOperator``, ``ModelDriftSensor``) about one of
    ``endpoints`` (its window or execution names it), from a DAG ``readable`` allows: drift results come
    from any DAG that uses the drift operators, and a reader sees only those of the DAGs they may read."""
    from airflow_modelreg.plugins.drift_reports import recorded_verdicts

    try:
        found = recorded_verdicts(readable, limit=50)
    except Exception as error:  # noqa: BLE001 - no verdict is better than no page
        log.warning("Reading the latest drift verdicts failed: %s", error)
        return None
    verdicts = [v for v in found if isinstance(v, dict) and "drift_detected" in v]
    # Only a verdict about one of ``endpoints``: never another endpoint's (another group's) as a fallback.
    for verdict in verdicts:
        if set(endpoints) & verdict_endpoints(verdict):
            return verdict
    return None


def verdict_endpoints(verdict: Mapping[str, Any]) -> set[str]:
    """What a drift verdict may be about: the endpoint it names, and each path segment of its capture
    window's prefixes and its execution (SageMaker writes an endpoint's captured data under its name)."""
    import re

    found = {str(verdict["endpoint"])} if verdict.get("endpoint") else set()
    given = verdict.get("window")
    window: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    texts = [
        str(window.get("prefix") or ""),
        *map(str, window.get("prefixes") or ()),
        str(verdict.get("execution") or ""),
    ]
    for text in texts:
        found |= {part for part in re.split(r"[/:]", text) if part}
    return found


def _waiting_requests(subject_filter: Any) -> list[tuple[str, str, str, str]] | None:
    """(subject, dag_id, run_id, task_id) of each HITL request that waits for an answer, newest first: not
    answered, and its task not ended (a failed or timed-out approval task waits for nobody). ``None`` when
    Airflow's metadata database cannot be read."""
    from airflow.models.hitl import HITLDetail
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import State
    from sqlalchemy import select

    query = (
        select(HITLDetail.subject, TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id)
        .join(TaskInstance, TaskInstance.id == HITLDetail.ti_id)
        .where(subject_filter(HITLDetail.subject))
        .where(HITLDetail.responded_at.is_(None))
        .where(TaskInstance.state.notin_(list(State.finished)))
        .order_by(HITLDetail.created_at.desc())
    )
    try:
        with create_session() as session:
            return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]
    except Exception as error:  # noqa: BLE001 - the registering run's link is better than no page
        log.warning("Reading the waiting Required Actions failed: %s", error)
        return None


def waiting_promotion_approvals(group: str) -> list[dict[str, Any]]:
    """The group's promotion and rollback approvals that wait in Airflow (their request subjects are
    :func:`~airflow_modelreg.domain.registry_view.promotion_subject`), each with its Required Action."""
    from sqlalchemy import or_

    prefixes = view.promotion_subject_prefixes(group)
    found = _waiting_requests(
        lambda subject: or_(*(subject.startswith(p, autoescape=True) for p in prefixes))
    )
    return view.promotion_rows(group, found or [])


def waiting_required_actions(subjects: Sequence[str]) -> dict[str, str] | None:
    """Per subject of ``subjects``: the Required Action page of the newest request with that subject that
    waits for an answer (Airflow's HITL requests, in its metadata database); ``None`` when they cannot be
    read."""
    wanted = list(subjects)
    found = _waiting_requests(lambda subject: subject.in_(wanted))
    if found is None:
        return None
    links: dict[str, str] = {}
    for subject, dag_id, run_id, task_id in found:
        links.setdefault(subject, view.task_required_action_link(dag_id, run_id, task_id))
    return links
