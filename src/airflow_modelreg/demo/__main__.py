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
        f"(sha256 {version['digest'][:12]}..., metrics {version['metrics']})",
    )
    print_audit(standin, version["group"])
    return 0


def print_audit(standin, group: str) -> None:
    sm = standin.boto3_client("sagemaker")
    print("\nAudit of", group)
    print(f"{'version':<8} {'status':<22} {'registered by':<14} decision")
    for summary in sm.list_model_packages(ModelPackageGroupName=group, SortOrder="Ascending")[
        "ModelPackageSummaryList"
    ]:
        described = sm.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        props = described.get("CustomerMetadataProperties") or {}
        print(
            f"{described['ModelPackageVersion']:<8} {described['ModelApprovalStatus']:<22} "
            f"{props.get('modelreg:registered-by', '-'):<14} {described.get('ApprovalDescription', '-')}"
        )


if __name__ == "__main__":
    sys.exit(main())
