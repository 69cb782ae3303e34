"""Resolving "the version approved for prod" as a group grows to 10,000 versions.

Ours: ``ModelRegistryHook.resolve_approved`` (read the pointer, describe one version). Baseline: list the
group's Approved versions newest first, paginated, and filter (what one would do without pointers, here
the best case: the newest approved is on the first page); and listing every version to filter client side."""

from __future__ import annotations

import time

from bench.common import median, table
from bench.standin_process import StandInProcess


def run() -> str:
    from airflow_modelreg.domain.pointers import Pointer
    from airflow_modelreg.hooks.model_registry import ModelRegistryHook
    from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

    rows = []
    ours_calls: list[int] = []
    with StandInProcess() as standin:
        sm = standin.boto3_client("sagemaker")
        sm.create_model_package_group(ModelPackageGroupName="churn")
        registry, pointers = ModelRegistryHook(), ParameterStoreHook()
        created = 0
        for size in (10, 100, 1000, 10000):
            while created < size:
                status = "Approved" if created % 10 == 0 else "Rejected"
                arn = sm.create_model_package(
                    ModelPackageGroupName="churn",
                    ModelApprovalStatus=status,
                    CustomerMetadataProperties={"modelreg:artifact-sha256": "d" * 64},
                )["ModelPackageArn"]
                created += 1
                if status == "Approved":
                    approved = arn
            pointers.put_pointer(
                "/modelreg/churn/prod",
                Pointer(
                    "churn",
                    "prod",
                    int(approved.rsplit("/", 1)[1]),
                    approved,
                    "d" * 64,
                    "dave",
                    "2026-11-23T00:00:00+00:00",
                    "bench",
                    "k",
                ),
            )
            measured = {}
            for name, call in (
                ("pointer", lambda: registry.resolve_approved("/modelreg/churn/prod", pointers)["arn"]),
                (
                    "list approved",
                    lambda: next(registry.list_versions("churn", status="Approved"))["ModelPackageArn"],
                ),
                (
                    "list all",
                    lambda: max(
                        (
                            v
                            for v in registry.list_versions("churn")
                            if v["ModelApprovalStatus"] == "Approved"
                        ),
                        key=lambda v: v["CreationTime"],
                    )["ModelPackageArn"],
                ),
            ):
                times = []
                for _ in range(3):
                    standin.reset_calls()
                    start = time.perf_counter()
                    assert call() == approved
                    times.append(time.perf_counter() - start)
                measured[name] = (sum(standin.calls().values()), median(times))
            print(f"resolve {size}: {measured}", flush=True)
            ours_calls.append(measured["pointer"][0])
            rows.append([f"{size:,}"] + [f"{c} calls, {t * 1000:.0f} ms" for c, t in measured.values()])
    return "\n".join(
        [
            "## Resolving the approved model (target: constant)",
            "",
            (__doc__ or "").strip(),
            "",
            table(
                [
                    "versions in the group",
                    "ours (pointer)",
                    "list Approved, newest first",
                    "list all and filter",
                ],
                rows,
            ),
            "",
            (
                f"Target met: {ours_calls[0]} calls at every size, whatever the group holds."
                if len(set(ours_calls)) == 1
                else f"**Target not met**: calls grew {ours_calls}."
            ),
        ]
    )
