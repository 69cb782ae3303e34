"""An executor that makes Airflow 3.3.2's approval race happen every time, for the reproduction tests.

``LateExitLocalExecutor`` is Airflow's LocalExecutor, except that it reports the exit of a task's worker
(the "success" the scheduler reads after a HITL task parked) only when the same try has been dispatched
again, that is once an answer resumed it. On a busy machine that order happens by chance (the worker's
exit is slow, the answer fast); here it happens every time. Nothing else changes: the scheduler, the API
server and the task code are Airflow's.

Each held exit leaves a marker file named for the try in ``$MODELREG_LATE_EXIT_DIR``, so a test answers
only once the exit it wants reported late has happened.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from airflow.executors.local_executor import LocalExecutor
from airflow.models.taskinstancekey import TaskInstanceKey
from airflow.utils.state import TaskInstanceState


def marker_name(dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    return quote(f"{dag_id}.{run_id}.{task_id}.{try_number}", safe="")


class LateExitLocalExecutor(LocalExecutor):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dispatched: Counter[TaskInstanceKey] = Counter()
        self.exits: Counter[TaskInstanceKey] = Counter()
        self.held: dict[TaskInstanceKey, tuple[Any, Any]] = {}
        self.markers = Path(os.environ["MODELREG_LATE_EXIT_DIR"])

    def _process_workloads(self, workload_list: Any) -> None:
        super()._process_workloads(workload_list)
        for workload in workload_list:
            key = workload.key
            if not isinstance(key, TaskInstanceKey):
                continue
            self.dispatched[key] += 1
            if key in self.held:  # the resumed try is on its way: now report the parked try's exit
                super().change_state(key, *self.held.pop(key))

    def change_state(self, key: Any, state: Any, info: Any = None, remove_running: bool = True) -> None:
        if isinstance(key, TaskInstanceKey) and state == TaskInstanceState.SUCCESS:
            self.exits[key] += 1
            if self.exits[key] == 1 and self.dispatched[key] == 1:
                self.held[key] = (state, info)
                self.running.discard(key)
                (self.markers / marker_name(key.dag_id, key.run_id, key.task_id, key.try_number)).touch()
                return
        super().change_state(key, state, info, remove_running)
