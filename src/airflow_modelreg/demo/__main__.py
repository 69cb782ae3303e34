"""``make demo``: the model lifecycle on the local AWS stand-in, through real Airflow code paths.

Each DAG runs with ``dag.test()`` (the scheduler's task runner, the Task SDK, XCom, templating), and every
approval is answered by a scripted person through Airflow's HITL REST API, as a person in the UI would.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from datetime import UTC
from pathlib import Path

ROOT = Path.cwd()
DEMO_DIR = ROOT / ".demo"
BUCKET = "modelreg-demo"
AUDIT_BUCKET = "modelreg-audit"
# Prod needs two distinct approvers: a quorum, which neither SageMaker nor Airflow offers on its own.
LADDER = {
    "registration_approvers": ["bob"],
    "audit_log": f"s3://{AUDIT_BUCKET}/log",
    "environments": [
        {"name": "dev", "approvers": ["bob"]},
        {"name": "test", "approvers": ["carol"]},
        {"name": "uat", "approvers": ["carol"]},
        {"name": "prod", "approvers": ["dave", "erin"], "quorum": 2, "endpoints": ["churn-prod"]},
    ],
}
PROMOTION_APPROVERS = {"dev": ["bob"], "test": ["carol"], "uat": ["carol"], "prod": ["dave", "erin"]}


class Timeline:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, stage: str, detail: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {stage:<12} {detail}", flush=True)


# What marks a checkout of this repository: the demo runs its reference DAGs and owns its .demo folder.
CHECKOUT_MARKERS = ("dags/train_and_register.py", "pyproject.toml")


def main() -> int:
    missing = [marker for marker in CHECKOUT_MARKERS if not (ROOT / marker).exists()]
    if missing:
        print(
            f"The demo runs the reference DAGs of a checkout of airflow-modelreg, from its top folder ({ROOT} "
            f"has no {', '.join(missing)}): clone the repository and run `make demo` there. Nothing was changed.",
            file=sys.stderr,
        )
        return 2
    try:
        from airflow_modelreg.testing.standin import StandIn
    except ImportError as missing_extra:
        print(
            f"The demo needs the local AWS stand-in ({missing_extra}): install the provider with its extra, "
            "`pip install 'airflow-modelreg[standin]'` (make demo does that).",
            file=sys.stderr,
        )
        return 2
    from airflow_modelreg.testing.harness import airflow_environment, migrate_database

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
        from airflow_modelreg.testing.harness import InProcessAirflow

        airflow = InProcessAirflow([ROOT / "dags"])
        standin.reset_calls()
        started = time.monotonic()
        code = run_lifecycle(airflow, standin, timeline)
        report_where_time_went(airflow, standin, time.monotonic() - started, timeline)
        return code
    finally:
        standin.stop()


def report_where_time_went(airflow, standin, seconds: float, timeline: Timeline) -> None:
    """Split the lifecycle's time: AWS (the stand-in serving calls), people (the scripted approvers looking
    at each request), and the rest, which is Airflow and this provider (including configured bake times and
    poll intervals). Written to ``.demo/lifecycle.json`` for ``make bench``."""
    import json

    usage = standin.usage()
    calls = usage["calls"]
    split = {
        "total_seconds": round(seconds, 2),
        "aws_calls": usage["total"],
        "aws_seconds": round(usage["seconds"], 2),
        "people_seconds": round(airflow.person_seconds, 2),
        "calls_by_action": dict(sorted(calls.items(), key=lambda item: -item[1])),
    }
    split["airflow_and_provider_seconds"] = round(seconds - split["aws_seconds"] - split["people_seconds"], 2)
    (DEMO_DIR / "lifecycle.json").write_text(json.dumps(split, indent=2))
    timeline.say(
        "time",
        f"lifecycle {split['total_seconds']:.0f}s: {split['aws_calls']} AWS calls served in "
        f"{split['aws_seconds']:.1f}s, people {split['people_seconds']:.0f}s, Airflow and the provider "
        f"{split['airflow_and_provider_seconds']:.0f}s",
    )


def run_lifecycle(airflow, standin, timeline: Timeline) -> int:
    import json

    from airflow.models import Variable

    Variable.set("modelreg_ladder", json.dumps(LADDER))
    standin.boto3_client("s3").create_bucket(Bucket=BUCKET)
    standin.boto3_client("s3").create_bucket(Bucket=AUDIT_BUCKET)
    timeline.say(
        "setup",
        "approvers: registration and dev bob, test and uat carol, prod dave and erin (both must approve); "
        f"every decision goes to the audit log s3://{AUDIT_BUCKET}/log",
    )

    versions = []
    for seed, why in ((7, "first model"), (21, "candidate trained on fresh data")):
        version = register_and_approve(airflow, timeline, seed, why)
        if version is None:
            return 1
        if not promote_everywhere(airflow, timeline, version):
            return 1
        versions.append(version)

    if not deploy_and_shift(airflow, standin, timeline):
        return 1
    if not serve_prod(airflow, timeline):
        return 1
    drift = detect_drift(airflow, standin, timeline)
    if drift is None or not detect_drift_fanned_out(airflow, timeline, drift):
        return 1
    retrained = retrain(airflow, timeline, drift)
    if retrained is None:
        return 1
    if not print_audit(retrained["group"]):
        timeline.say("FAILED", "the audit log did not verify")
        return 1
    timeline.say(
        "done",
        f"{retrained['group']} v{retrained['version']} waits for approval ({retrained['status']}); "
        f"drift report page: {DEMO_DIR / 'drift_report.html'}",
    )
    return 0


def register_and_approve(airflow, timeline: Timeline, seed: int, why: str) -> dict | None:
    def bob_approves():
        bob = airflow.approver("bob")
        request = bob.wait_for("train_and_register", "request_approval")
        timeline.say("approval", f"bob sees '{request.subject}' in the Airflow UI and approves")
        bob.approve(request, reason="AUC above the gate; lineage checks out")

    timeline.say("register", f"train_and_register ({why}): train, register, ask for approval")
    run = airflow.run("train_and_register", {"reason": why, "seed": seed}, bob_approves)
    if not succeeded(airflow, run, timeline):
        return None
    version = airflow.xcom(run, "request_approval")
    timeline.say(
        "registry",
        f"{version['group']} v{version['version']} is {version['status']} (registered by "
        f"{version['registered_by']}, the user who triggered the run; sha256 {version['digest'][:12]}..., "
        f"metrics {version['metrics']})",
    )
    return version


def promote_everywhere(airflow, timeline: Timeline, version: dict) -> bool:
    def approvals():
        for env, people in PROMOTION_APPROVERS.items():
            for person in people:
                approver = airflow.approver(person)
                request = approver.wait_for("promote_model", f"promote_to_{env}.approve")
                progress = (
                    "; the card shows 1 of 2 approvals (dave's)"
                    if "1 of 2 approvals" in (request.body or "")
                    else ""
                )
                timeline.say("approval", f"{person} sees '{request.subject}' and approves{progress}")
                approver.approve(request, reason=f"checks passed for {env}")

    timeline.say(
        "promote", f"promote_model v{version['version']}: dev -> test -> uat -> prod (prod: 2 approvers)"
    )
    run = airflow.run("promote_model", {"arn": version["arn"]}, approvals)
    if not succeeded(airflow, run, timeline):
        return False
    for env in ("dev", "test", "uat", "prod"):
        pointer = airflow.xcom(run, f"promote_to_{env}.commit")["pointer"]
        timeline.say(
            "pointer",
            f"/modelreg/churn/{env} -> v{pointer['version']} (approved by {pointer['approved_by']} "
            f"at {pointer['approved_at']}, previous {pointer['previous_version'] or '-'})",
        )
    return True


def deploy_and_shift(airflow, standin, timeline: Timeline) -> bool:
    standin.boto3_client("cloudwatch").put_metric_alarm(
        AlarmName="churn-prod-5xx",
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
        Dimensions=[{"Name": "EndpointName", "Value": "churn-prod"}],
    )
    timeline.say("deploy", "deploy_model (scheduled on 'approved for prod'): A/B endpoint, canary shift")
    run = airflow.run("deploy_model", {})
    if not succeeded(airflow, run, timeline):
        return False
    deployed = airflow.xcom(run, "deploy")
    for variant in deployed["variants"]:
        version = variant["version_arn"].rsplit("/", 1)[1]
        timeline.say(
            "deploy", f"{variant['name']}: v{version} at {variant['traffic_percent']}% ({variant['model']})"
        )
    shifted = airflow.xcom(run, "shift_traffic")
    timeline.say(
        "traffic",
        f"challenger moved 10% -> 50% -> 100% with alarm churn-prod-5xx OK at each step: {shifted['weights']}",
    )
    return True


def serve_prod(airflow, timeline: Timeline) -> bool:
    timeline.say("inference", "batch_inference in prod: resolve the approved model, score 2000 customers")
    run = airflow.run("batch_inference", {"environment": "prod"})
    if not succeeded(airflow, run, timeline):
        return False
    scored = airflow.xcom(run, "score_batch")
    timeline.say(
        "inference",
        f"prod scored {scored['rows']} rows with v{scored['version']} (batch AUC {scored['batch_auc']}); "
        "prod is the last environment, so no promotion is requested",
    )
    return True


def detect_drift(airflow, standin, timeline: Timeline) -> dict | None:
    from datetime import datetime, timedelta

    from airflow_modelreg.demo.traffic import write_capture

    s3 = standin.boto3_client("s3")
    capture = f"s3://{BUCKET}/capture/churn-prod"
    now = datetime.now(UTC)
    write_capture(s3, capture, "churn-prod", "champion", 1500, 0.0, now - timedelta(hours=1), seed=40)
    timeline.say(
        "traffic", "1500 ordinary requests reach churn-prod (captured to S3, base64 as SageMaker writes)"
    )
    # Triggered as the REST API triggers a run: without a logical date.
    run = airflow.dag("monitor_drift").test(logical_date=None)
    if not succeeded(airflow, run, timeline):
        return None
    healthy = airflow.xcom(run, "detect_drift")
    timeline.say(
        "drift",
        f"monitor_drift on a healthy hour: {healthy['reason']}; the run is green and announce_drift "
        f"{airflow.task_states(run)['announce_drift']}, so nothing retrains",
    )
    write_capture(s3, capture, "churn-prod", "challenger", 3000, 1.0, now, seed=41, broken_lines=2)
    timeline.say("traffic", "3000 requests of a shifted population reach churn-prod")
    run = airflow.run("monitor_drift", {})
    if not succeeded(airflow, run, timeline):
        return None
    drift = airflow.xcom(run, "detect_drift")
    if not drift["drift_detected"]:
        timeline.say("FAILED", f"monitor_drift missed the shift: {drift['reason']}")
        return None
    timeline.say(
        "drift",
        f"{drift['reason']}; {drift['rows']} rows, {drift['malformed_lines']} malformed lines skipped; "
        f"announce_drift updated the drift Asset; report {drift['report_uri']}",
    )
    bucket, _, key = drift["report_html_uri"].removeprefix("s3://").partition("/")
    (DEMO_DIR / "drift_report.html").write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return drift


def detect_drift_fanned_out(airflow, timeline: Timeline, one_pass: dict) -> bool:
    """The same check with dynamic task mapping: one profiling task per capture prefix, merged."""
    run = airflow.dag("monitor_drift_fanout").test(logical_date=None)
    if not succeeded(airflow, run, timeline):
        return False
    verdict = airflow.xcom(run, "decide_drift")
    same = verdict["drifted_features"] == one_pass["drifted_features"] and verdict["rows"] == one_pass["rows"]
    timeline.say(
        "drift",
        f"monitor_drift_fanout: {verdict['window']['tasks']} mapped profile_capture tasks (one per capture "
        f"prefix) merged into {verdict['rows']} rows: {verdict['reason']}"
        + (" (the verdict one pass gave)" if same else " (DIFFERS from one pass)"),
    )
    return same


def retrain(airflow, timeline: Timeline, drift: dict) -> dict | None:
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook

    timeline.say("retrain", "the drift Asset schedules train_and_register: retrain on recent data, register")
    run = airflow.run(
        "train_and_register",
        {"reason": drift["reason"], "drift_report": drift["report_uri"], "shift": 1.0, "seed": 33},
        # The demo stops where a person would take over: the approval request is left unanswered.
        mark_success_pattern="request_approval",
    )
    if not succeeded(airflow, run, timeline):
        return None
    registered = airflow.xcom(run, "register")
    version = ModelRegistryHook().describe_version(registered["arn"])
    lineage = version["CustomerMetadataProperties"]["modelreg:lineage:drift-report"]
    timeline.say(
        "registry",
        f"{registered['group']} v{registered['version']} registered, {version['ModelApprovalStatus']}; "
        f"lineage names the drift report {lineage}",
    )
    return {**registered, "status": version["ModelApprovalStatus"]}


def succeeded(airflow, run, timeline: Timeline) -> bool:
    if str(run.state) == "success":
        return True
    timeline.say("FAILED", f"{run.dag_id} ended {run.state}: {airflow.task_states(run)}")
    return False


def print_audit(group: str) -> bool:
    """``airflow-modelreg audit <group> --verify``, as a user would run it at the end."""
    import json

    from airflow_modelreg import registry_view_paths as paths
    from airflow_modelreg.cli import main as cli

    print(f"\nAudit of {group} (airflow-modelreg audit {group} --verify):\n", flush=True)
    code = cli(["audit", group, "--verify", "--ladder", json.dumps(LADDER)])
    print(flush=True)
    # The demo runs no API server; the registry view is served by one with this provider installed.
    print(
        f"In the Airflow UI (docker compose up, see README): http://localhost:8080{paths.group_page(group)}\n",
        flush=True,
    )
    return code == 0


if __name__ == "__main__":
    sys.exit(main())
