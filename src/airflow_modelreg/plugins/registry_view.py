"""The registry view as an Airflow plugin: a FastAPI app mounted by the API server at ``/modelreg``, and an
entry in Airflow's navigation (an external view shown inside the UI, same origin) that opens its groups page.

Registered through the package's ``airflow.plugins`` entry point. Every Airflow process that loads plugins
imports this module, so it imports only Airflow's plugin base: the app itself (FastAPI, the hooks, boto3)
is built on the first request the API server passes to it.

Configuration (``airflow.cfg`` or ``AIRFLOW__MODELREG__*``), all optional:

- ``[modelreg] aws_conn_id``: the registry's Airflow AWS connection (default ``aws_default``, as the
  operators'); the view works against real AWS by changing only that connection.
- ``[modelreg] registry_view_dag_ids``: the DAGs a user must be allowed to read to see the view
  (default ``train_and_register,promote_model``).
- ``[modelreg] pointer_prefix``: the Parameter Store prefix of the environment pointers (``/modelreg``).
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from airflow_modelreg import registry_view_paths as paths


class LazyApp:
    """An ASGI app that builds the real one (:func:`build_app`) on its first request."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def app(self) -> Any:
        with self._lock:
            if self._app is None:
                self._app = build_app()
            return self._app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app()(scope, receive, send)


def read_ladder() -> Any:
    """The ``modelreg_ladder`` Variable as the API server reads it (its metadata database), else the default."""
    from airflow.models.variable import Variable

    from airflow_modelreg.config import LADDER_VARIABLE
    from airflow_modelreg.domain.environments import EnvironmentLadder

    return EnvironmentLadder.from_config(Variable.get(LADDER_VARIABLE, default_var=None))


def build_app() -> Any:
    from airflow.configuration import conf

    from airflow_modelreg.domain.pointers import DEFAULT_PREFIX
    from airflow_modelreg.plugins.registry_app import create_app
    from airflow_modelreg.plugins.registry_data import RegistryData

    data = RegistryData(
        aws_conn_id=conf.get("modelreg", "aws_conn_id", fallback="aws_default"),
        ladder=read_ladder,
        pointer_prefix=conf.get("modelreg", "pointer_prefix", fallback=DEFAULT_PREFIX),
    )
    return create_app(data)


class RegistryViewPlugin(AirflowPlugin):
    """The model registry inside the Airflow UI (read-only)."""

    name = "modelreg_registry_view"
    fastapi_apps = [{"app": LazyApp(), "url_prefix": paths.PREFIX, "name": "Model registry"}]
    external_views = [
        {
            "name": "Registry",  # the nav shows about nine characters under its icon
            # Shown inside the UI (an iframe at /plugin/model-registry, same origin: the _token cookie and the
            # UI's colour mode in localStorage reach the page).
            "href": paths.groups_page(),
            "url_route": "model-registry",
            "destination": "nav",
        }
    ]
