"""Promote an approved version up the ladder, dev -> test -> uat -> prod, with a person at each step.

The story: after registration approval, this DAG takes the version one environment at a time. Each step
is a task group: ``prepare`` checks the release policy before anyone is asked (approved, artifact unchanged,
no environment skipped) and records the request; ``approve`` shows the target environment's approvers the
version card (metrics, lineage, digest, what the environment runs now, who approved the earlier steps, the
approvals so far) and waits, without a worker slot, for their decision in the Airflow UI, one request per
approval the environment's quorum needs (prod: two distinct people, in the reference ladder); ``commit``
checks everything again and then records the stage in the registry, moves the environment's pointer in
Parameter Store (``/modelreg/<group>/<environment>``, in that environment's account when the ladder names a
connection) and writes the audit log; an Asset event "approved for <environment>" lets deploy and inference
DAGs follow. A rejection stops the climb; no step can be skipped and the registrant cannot approve.

Approvers come from the ``modelreg_ladder`` Variable. Defaults run on the local AWS stand-in.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG, Param

from airflow_modelreg.assets import APPROVALS_ALIAS, approved_model_asset
from airflow_modelreg.operators.promote import promotion_step

ENVIRONMENTS = ("dev", "test", "uat", "prod")
# The reference DAGs' group (train_and_register registers it): its environments' Assets are declared here,
# so the alias's events for them land (Airflow drops an alias event for an asset no DAG declares).
GROUP = "churn"

with DAG(
    dag_id="promote_model",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["modelreg", "reference"],
    params={
        "arn": Param("", type="string", description="ARN of the approved version to promote"),
        "evidence": Param({}, type="object", description="Facts for the approvers (inference metrics...)"),
    },
    render_template_as_native_obj=True,
    doc_md=__doc__,
) as dag:
    previous = None
    for environment in ENVIRONMENTS:
        step = promotion_step(
            f"promote_to_{environment}",
            model_package_arn="{{ params.arn }}",
            environment=environment,
            evidence="{{ params.evidence }}",
            outlets=[APPROVALS_ALIAS],
            inlets=[approved_model_asset(GROUP, environment)],
        )
        if previous is not None:
            previous >> step
        previous = step
