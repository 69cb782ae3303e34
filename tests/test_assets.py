"""The Assets the reference DAGs update are all declared, named and grouped alike: Airflow records an asset
event from an alias only for an asset some DAG declares ("AssetModel ... not found; cannot create asset
event" otherwise), and the Assets page groups them by ``group``."""

from __future__ import annotations

import pytest

from airflow_modelreg.assets import approved_model_asset, drift_detected_asset
from tests.conftest import ROOT

ENVIRONMENTS = ("dev", "test", "uat", "prod")


def _assets(condition):
    """The assets of a schedule's condition (``AssetAll``/``AssetAny`` nest them in ``objects``)."""
    if condition is None:
        return
    nested = getattr(condition, "objects", None)
    if nested is None:
        yield condition
        return
    for item in nested:
        yield from _assets(item)


@pytest.fixture(scope="module")
def declared():
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import Asset

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors, bag.import_errors
    found = {}
    for dag in bag.dags.values():
        scheduled = list(_assets(getattr(dag.timetable, "asset_condition", None)))
        for task in dag.tasks:
            for asset in [*scheduled, *task.inlets, *task.outlets]:
                if isinstance(asset, Asset):
                    found[asset.uri] = asset
    return found


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_environment_the_promotions_emit_for_is_declared(declared, environment):
    expected = approved_model_asset("churn", environment)
    assert expected.uri in declared, sorted(declared)
    assert declared[expected.uri] == expected


def test_the_providers_assets_share_one_naming_scheme_and_group(declared):
    ours = {uri: asset for uri, asset in declared.items() if uri.startswith("modelreg://")}
    assert drift_detected_asset("churn").uri in ours
    for uri, asset in ours.items():
        assert asset.group == "model", (uri, asset.group)
        assert asset.name == "modelreg/" + uri.removeprefix("modelreg://"), (uri, asset.name)
