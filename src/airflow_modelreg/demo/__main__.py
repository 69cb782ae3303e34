"""``make demo``: the model lifecycle on the local AWS stand-in, through real Airflow code paths.

Each DAG runs with ``dag.test()`` (the scheduler's task runner, the Task SDK, XCom, templating), and every
approval is answered by a scripted person through Airflow's HITL REST API, as a person in the UI would.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

ROOT = Path.cwd()
DEMO_DIR = ROOT / ".demo"
LADDER = {
    "registration_approvers": ["bob"],
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {"name": "prod", "approvers": ["dave"]},
    ],
}
BUCKET = "modelreg-demo"


class Timeline:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, stage: str, detail: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {stage:<12} {detail}", flush=True)


def main() -> int:
    from airflow_modelreg.testing.harness import airflow_environment, migrate_database
    from airflow_modelreg.testing.standin import StandIn

    timeline = Timeline()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    DEMO_DIR.mkdir()
    standin = StandIn().start()
    try:
        os.environ.update(standin.environment())
        env = airflow_environment(DEMO_DIR / "airflow-home", [ROOT / "dags"])
        os.environ.update(env)
        timeline.say("stand-in", f"local AWS stand-in serving at {standin.endpoint_url}")
        migrate_database(env)
        timeline.say("airflow", f"database migrated in {DEMO_DIR / 'airflow-home'}")
        return run_lifecycle(standin, timeline)
    finally:
        standin.stop()


def run_lifecycle(standin, timeline: Timeline) -> int:
    import json

    from airflow.models import Variable

    from airflow_modelreg.testing.harness import InProcessAirflow

    airflow = InProcessAirflow([ROOT / "dags"])
    Variable.set("modelreg_ladder", json.dumps(LADDER))
    standin.boto3_client("s3").create_bucket(Bucket=BUCKET)
    timeline.say("setup", "approvers: registration and dev bob, test and uat carol, prod dave")

    def bob_approves_registration():
        bob = airflow.approver("bob")
        request = bob.wait_for("train_and_register", "request_approval")
        timeline.say("approval", f"bob sees '{request.subject}' in the Airflow UI and approves")
        return bob.approve(request, reason="AUC above the gate; lineage checks out")

    timeline.say("register", "train_and_register: train a model, register version 1, ask for approval")
    run = airflow.run("train_and_register", {"reason": "first model"}, bob_approves_registration)
    if str(run.state) != "success":
        timeline.say("FAILED", f"train_and_register ended {run.state}: {airflow.task_states(run)}")
        return 1
    version = airflow.xcom(run, "request_approval")
    timeline.say(
        "registry",
        f"{version['group']} v{version['version']} is {version['status']} "
        f"(registered by {version['registered_by']}, the user who triggered the run; "
        f"sha256 {version['digest'][:12]}..., metrics {version['metrics']})",
    )

    def four_approvals():
        for env, person in (("dev", "bob"), ("test", "carol"), ("uat", "carol"), ("prod", "dave")):
            approver = airflow.approver(person)
            request = approver.wait_for("promote_model", f"promote_to_{env}")
            timeline.say("approval", f"{person} sees '{request.subject}' and approves")
            approver.approve(request, reason=f"checks passed for {env}")

    timeline.say("promote", "promote_model: dev -> test -> uat -> prod, one approver per step")
    run = airflow.run("promote_model", {"arn": version["arn"]}, four_approvals)
    if not succeeded(airflow, run, timeline):
        return 1
    for env in ("dev", "test", "uat", "prod"):
        pointer = airflow.xcom(run, f"promote_to_{env}")["pointer"]
        timeline.say(
            "pointer",
            f"/modelreg/churn/{env} -> v{pointer['version']} (approved by {pointer['approved_by']} "
            f"at {pointer['approved_at']})",
        )

    timeline.say("inference", "batch_inference in prod: resolve the approved model, score 2000 customers")
    run = airflow.run("batch_inference", {"environment": "prod"})
    if not succeeded(airflow, run, timeline):
        return 1
    scored = airflow.xcom(run, "score_batch")
    timeline.say(
        "inference",
        f"prod scored {scored['rows']} rows with v{scored['version']} (batch AUC {scored['batch_auc']}); "
        "prod is the last environment, so no promotion is requested",
    )
    print_audit(version["group"])
    return 0


def succeeded(airflow, run, timeline: Timeline) -> bool:
    if str(run.state) == "success":
        return True
    timeline.say("FAILED", f"{run.dag_id} ended {run.state}: {airflow.task_states(run)}")
    return False


def print_audit(group: str) -> None:
    from airflow_modelreg.domain.audit import render
    from airflow_modelreg.domain.environments import EnvironmentLadder
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    events = ModelRegistryHook().audit(group, EnvironmentLadder.from_config(LADDER))
    print(f"\nAudit of {group} (airflow-modelreg audit {group}):\n")
    print(render(events))
    print()


if __name__ == "__main__":
    sys.exit(main())
