"""Shared fixtures: an isolated AIRFLOW_HOME, the local AWS stand-in over HTTP, and a task context."""

from __future__ import annotations

import email
import gc
import json
import os
import socket
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_modelreg.testing.harness import airflow_environment  # noqa: E402  (imports no airflow)

# Each test session gets its own Airflow home and database (a scheduler on a shared SQLite file would
# pick up a test's runs). Set before anything imports airflow.
ROOT = Path(__file__).resolve().parents[1]
DAG_FOLDERS = [ROOT / "dags", ROOT / "tests" / "dags"]
_HOME = Path(tempfile.mkdtemp(prefix="modelreg-airflow-home-"))
AIRFLOW_ENV = airflow_environment(_HOME, DAG_FOLDERS)
os.environ.update(AIRFLOW_ENV)
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

import pytest  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402

from airflow_modelreg.testing.standin import StandIn  # noqa: E402
from tests.cpu_hog import CpuHog  # noqa: E402


def pytest_addoption(parser):
    group = parser.getgroup("load", "running the suite on a busy machine")
    group.addoption(
        "--cpu-hog",
        action="store_true",
        help="keep every core busy while the tests run (make test-under-load)",
    )
    group.addoption(
        "--cpu-hog-minutes",
        type=float,
        default=60,
        help="the hog stops by itself after this long, whatever happens to the test run (default 60)",
    )
    group.addoption(
        "--approval-timing-runs",
        type=int,
        default=10,
        help="answers per delay (0, 0.5, 1, 3 s) in the approval timing test, per executor (default 10)",
    )


def pytest_configure(config):
    # One hog for the whole run: started by the controlling process, not by each xdist worker.
    if config.getoption("--cpu-hog") and not hasattr(config, "workerinput"):
        config._cpu_hog = CpuHog(limit_s=config.getoption("--cpu-hog-minutes") * 60).start()


def pytest_unconfigure(config):
    hog = getattr(config, "_cpu_hog", None)
    if hog is not None:
        hog.stop()


def pytest_collection_modifyitems(config, items):
    # Longest first: xdist hands out tests in collection order, and a three-minute test collected last
    # (the workflow under throttling, alphabetically late) kept one worker busy minutes after the others
    # had finished. Stable: everything else keeps its order.
    def expected_seconds(item) -> float:
        marker = item.get_closest_marker("slow")
        return 0 if marker is None else marker.kwargs.get("seconds", 20)

    items.sort(key=expected_seconds, reverse=True)


# Garbage collection took a third of a test process's CPU: a worker holds two and a half million objects
# (Airflow, botocore's service models, the API apps, the stand-in's state), and each full collection scans
# all of them (0.7 s, about twenty times in a module of workflow tests). Objects that have lived through a
# test are frozen (left out of collections; they are freed as usual when their last reference goes), so a
# full collection scans only what the running test made. Measured on tests/operators/test_promote.py and
# test_deploy.py: 18.4 s of collection (56 s of CPU) became 6.4-7.2 s (43-44 s); 2.69 million objects stay
# frozen at the end, where 2.57 million stayed alive without freezing.
FREEZE_AFTER_OBJECTS = 300_000


def pytest_collection_finish(session):
    gc.freeze()


def pytest_runtest_teardown(item, nextitem):
    if len(gc.get_objects(generation=2)) > FREEZE_AFTER_OBJECTS:
        gc.collect(1)  # the young generations' garbage first: what is frozen is never collected
        gc.freeze()


def pytest_report_header(config):
    hog = getattr(config, "_cpu_hog", None)
    if hog is not None:
        return f"cpu hog: {hog.count} busy processes (stop after {hog.limit_s / 60:.0f} min at most)"
    return None


@pytest.fixture(scope="session")
def standin():
    """The stand-in on a free loopback port; the ``aws_default`` connection points at it."""
    server = StandIn().start()
    previous = {key: os.environ.get(key) for key in server.environment()}
    os.environ.update(server.environment())
    yield server
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    server.stop()


@pytest.fixture(scope="session")
def airflow(standin):
    """A migrated Airflow database and a runner for DAGs (``dag.test()``) with a scripted approver."""
    from airflow_modelreg.testing.harness import InProcessAirflow, migrate_database

    migrate_database(AIRFLOW_ENV)
    return InProcessAirflow(DAG_FOLDERS)


@pytest.fixture
def ladder_variable(airflow):
    """Set the ``modelreg_ladder`` Variable for a test, and remove it afterwards."""
    import json

    from airflow.models import Variable

    def set_ladder(config):
        Variable.set("modelreg_ladder", json.dumps(config))

    yield set_ladder
    Variable.delete("modelreg_ladder")


@pytest.fixture
def aws(standin):
    """A clean stand-in for one test: every resource forgotten, call counters and faults reset."""
    from tests.helpers import AUDIT_BUCKET

    standin.reset()
    standin.boto3_client("s3").create_bucket(Bucket=AUDIT_BUCKET)  # the audit log every ladder names
    standin.reset_calls()
    standin.clear_faults()
    return standin


@pytest.fixture
def bucket(aws):
    name = f"models-{uuid.uuid4().hex[:8]}"
    aws.boto3_client("s3").create_bucket(Bucket=name)
    return name


@dataclass
class RecordingTaskInstance:
    """The part of a task instance that operators use, recording what they push to XCom."""

    dag_id: str = "train_and_register"
    run_id: str = "manual__2026-11-23T00:00:00+00:00"
    task_id: str = "register"
    map_index: int = -1
    try_number: int = 1
    max_tries: int = 3
    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any, **_: Any) -> None:
        self.xcom[key] = value

    def xcom_pull(self, task_ids: str | None = None, key: str = "return_value", **_: Any) -> Any:
        return self.xcom.get(key)


@dataclass
class DagRunInfo:
    dag_id: str = "train_and_register"
    run_id: str = "manual__2026-11-23T00:00:00+00:00"
    triggering_user_name: str | None = None


class TaskStateStore:
    """Airflow's task state store as a task sees it (``context["task_state_store"]``): one per task of a run,
    shared by all its tries (unlike XCom, which a new try starts without)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any, **_: Any) -> None:
        self.values[key] = json.dumps(value)  # JSON only, as the real store

    def delete(self, key: str) -> None:
        self.values.pop(key, None)


@pytest.fixture
def make_context():
    """Build the context an operator's ``execute`` receives, for one DAG run and task. Contexts of the same
    task and run (its tries) share one task state store for the test."""
    stores: dict[tuple[str, str, str, int], dict[str, Any]] = {}

    def build(task_id: str = "register", run_id: str = "manual__2026-11-23T00:00:00+00:00", **kwargs: Any):
        ti = RecordingTaskInstance(task_id=task_id, run_id=run_id, **kwargs)
        store = TaskStateStore(stores.setdefault((ti.dag_id, run_id, task_id, ti.map_index), {}))
        return {
            "ti": ti,
            "task_instance": ti,
            "dag_run": DagRunInfo(dag_id=ti.dag_id, run_id=run_id),
            "task_state_store": store,
        }

    return build


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's handler API
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["AIRFLOW_CONN_SMTP_TEST"] = json.dumps(
        {
            "conn_type": "smtp",
            "host": "127.0.0.1",
            "port": port,
            "extra": {"disable_tls": True, "disable_ssl": True, "from_email": "modelreg@example.com"},
        }
    )
    yield inbox
    controller.stop()
    os.environ.pop("AIRFLOW_CONN_SMTP_TEST", None)
