"""The reference DAGs can be triggered from the UI with their defaults: a param with no value by default is
optional (its type allows null), as Airflow's trigger form reads it; and the words people type for "nothing"
never land in a version's lineage."""

from __future__ import annotations

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
