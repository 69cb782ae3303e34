"""Every module a DAG file uses from this provider, imported at once: for ``airflow_local_settings.py``.

Airflow's DAG processor pre-imports, in its long-lived parent, only modules whose names start with
``airflow.`` (``[dag_processor] parsing_pre_import_modules``); this provider's are imported again in every
forked parse, with the Amazon provider, boto3 and botocore behind them. Airflow imports
``airflow_local_settings`` in every process when it starts, so this line in it puts the provider in the
parent once and each parse pays only for the DAG file::

    import airflow_modelreg.preload  # noqa: F401

It also loads Airflow's ``@task`` decorator, which the reference DAGs use: ``airflow.sdk`` imports it lazily
on first use (``__getattr__`` in airflow/sdk/__init__.py), so the DAG processor's pre-import of
``airflow.sdk`` leaves it to every parse (about 30 ms each). And it builds one Asset: Airflow reads every
provider's asset-URI handlers on the first Asset a process builds (``_get_uri_normalizer`` in
airflow/sdk/definitions/asset/__init__.py, importing the Amazon provider's S3 hook and the Postgres and
file handlers), which a DAG processor would otherwise do in every parse of a DAG with an Asset.
"""

from __future__ import annotations

import importlib

import airflow_modelreg.assets
import airflow_modelreg.notifications.email
import airflow_modelreg.operators.approval
import airflow_modelreg.operators.compare
import airflow_modelreg.operators.deploy
import airflow_modelreg.operators.drift
import airflow_modelreg.operators.promote
import airflow_modelreg.operators.register
import airflow_modelreg.operators.resolve
import airflow_modelreg.operators.set_approval
import airflow_modelreg.operators.traffic
import airflow_modelreg.sensors.drift
import airflow_modelreg.sensors.endpoint
import airflow_modelreg.sensors.model_approval  # noqa: F401

# Reads every provider's asset-URI handlers once, here in the parent (see above).
airflow_modelreg.assets.approved_model_asset("preload", "dev")

# Airflow's @task (see above), once Airflow is imported: imported as the first module of a process (before
# Airflow itself), Airflow 3.3.0 is left without it in sys.modules.
importlib.import_module("airflow.sdk.definitions.decorators")
