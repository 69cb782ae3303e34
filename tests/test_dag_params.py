"""The reference DAGs can be triggered from the UI with their defaults: a param with no value by default is
optional (its type allows null), as Airflow's trigger form reads it; and the words people type for "nothing"
never land in a version's lineage."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

# Params a run cannot do without: the trigger form rightly asks for them.
REQUIRED = {("promote_model", "arn")}


@pytest.fixture(scope="module")
def reference_dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags


def _allows_null(schema):
    kind = schema.get("type")
    return kind == "null" or (isinstance(kind, list) and "null" in kind)


def test_a_param_without_a_default_value_is_optional(reference_dags):
    """Airflow's trigger form marks a field required unless its type allows null, and greys Trigger out
    while a required field is empty (``""`` counts as empty): such a param must allow null."""
    offending = []
    for dag_id, dag in reference_dags.items():
        for name, param in dag.params.items():
            spec = dag.params.get_param(name)
            if param in (None, "") and not _allows_null(spec.schema) and (dag_id, name) not in REQUIRED:
                offending.append(f"{dag_id}.{name}")
    assert not offending, offending


def test_train_and_register_validates_with_its_defaults_and_without_a_drift_report(reference_dags):
    from airflow.sdk.definitions.param import ParamsDict

    params = reference_dags["train_and_register"].params
    assert params.validate()["drift_report"] is None
    for conf in ({"drift_report": None}, {"drift_report": "s3://modelreg-demo/drift-reports/r.json"}):
        merged = ParamsDict({**params.dump(), **conf})
        assert merged.validate()["drift_report"] == conf["drift_report"]


@pytest.mark.parametrize("typed", ["none", "None", " NULL ", "n/a", "-", ""])
def test_words_for_nothing_are_not_lineage(typed):
    from airflow_modelreg.domain.metadata import lineage_values

    assert lineage_values({"drift-report": typed, "reason": "drift detected"}) == {"reason": "drift detected"}


# What Airflow 3 leaves out of a task's context for a run without a logical date (the REST API's and the
# UI's manual runs): a template naming one fails with "'data_interval_end' is undefined".
NEEDS_A_LOGICAL_DATE = re.compile(
    r"\b(data_interval_(start|end)|logical_date|ds|ds_nodash|ts|ts_nodash|ts_nodash_with_tz|prev_ds|next_ds)\b"
)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def test_no_reference_dag_templates_need_a_logical_date(reference_dags):
    """monitor_drift once templated ``data_interval_end`` and failed when triggered through the REST API
    (no logical date); ``tests/test_drift_dags.py`` runs it with ``logical_date=None``. Every reference
    DAG's templates stay free of what such a run lacks."""
    offending = []
    for dag_id, dag in reference_dags.items():
        for task in dag.tasks:
            for field in task.template_fields:
                for text in _strings(getattr(task, field, None)):
                    for template in re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text, flags=re.S):
                        if NEEDS_A_LOGICAL_DATE.search(template):
                            offending.append(f"{dag_id}.{task.task_id}.{field}: {template}")
    assert not offending, offending
