"""What the registry view reads, through the provider's hooks, with short-lived caches in the API server.

Counting a group's versions takes one ``ListModelPackages`` call per 100 versions: about a hundred calls for
a group of 10,000, far too slow for every page view. So each group's *index* (every version's number, ARN,
status and creation time, from the listing alone) is kept for ``index_ttl`` seconds in the API server's
process; a stale index is served while a fresh one is read in the background, and the first view of a
group, before any index exists, shows its first page from a single listing call. A refresh is incremental:
the versions registered since (newest first, until a known one) and the versions now pending (a listing
filtered by status); a version no longer pending is described for its new status. A full listing, which
also notices deleted versions and decisions changed outside the pending state, runs every ``full_ttl``
seconds, after an incremental refresh and in the background: it takes seconds at 10,000 versions, and no
request waits for it. Each request then
describes only the versions of the page it shows (in parallel, and cached by ARN and status: a description
changes when a decision changes the status).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from airflow_modelreg.domain import metadata as md
from airflow_modelreg.domain import policy
from airflow_modelreg.domain import registry_view as view
from airflow_modelreg.domain.environments import EnvironmentLadder
from airflow_modelreg.domain.errors import InvalidInputError, NotFoundError
from airflow_modelreg.domain.markdown import s3_console_url
from airflow_modelreg.domain.pointers import DEFAULT_PREFIX, Pointer, parameter_name
from airflow_modelreg.domain.validation import parse_s3_uri, validate_group_name

log = logging.getLogger(__name__)
DEFAULT_INDEX_TTL = 10.0
DEFAULT_FULL_TTL = 300.0
# How long a request waits for a stale index's refresh before answering with the stale one, marked so.
DEFAULT_REFRESH_WAIT = 2.0
HOOK_TTL = 60.0
_PARALLEL = 8
_DESCRIBED_CACHE = 5000


@dataclass(frozen=True)
class GroupIndex:
    versions: tuple[view.VersionSummary, ...]  # newest first
    listed_at: float  # monotonic
    listed_at_wall: float  # time.time(), for the page
    full_at: float  # monotonic, of the last full listing

    def with_status(self, status: str | None) -> tuple[view.VersionSummary, ...]:
        if status is None:
            return self.versions
        return tuple(v for v in self.versions if v.status == status)


class _IndexAsRegistry:
    """The index as the registry reader :func:`~airflow_modelreg.audit_store.audit_trail` expects."""

    def __init__(self, index: GroupIndex, registry: Any) -> None:
        self.index, self.registry = index, registry

    def list_versions(self, group: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        for summary in self.index.with_status(status):
            yield {
                "ModelPackageVersion": summary.version,
                "ModelApprovalStatus": summary.status,
                "ModelPackageArn": summary.arn,
            }

    def describe_version(self, arn: str) -> dict[str, Any]:
        return self.registry.describe_version(arn)


class RegistryData:
    """The registry view's reads of one AWS connection (the registry's; an environment whose ladder entry
    names its own connection has its pointers and endpoints read through that one).

    :param aws_conn_id: the Airflow AWS connection of the registry.
    :param ladder: returns the environment ladder (the ``modelreg_ladder`` Variable), read on each request.
    :param pointer_prefix: the Parameter Store prefix of the environment pointers.
    :param index_ttl: seconds a group's index is fresh.
    :param full_ttl: seconds between full listings of a group (refreshes in between are incremental).
    """

    def __init__(
        self,
        aws_conn_id: str | None,
        ladder: Callable[[], EnvironmentLadder],
        pointer_prefix: str = DEFAULT_PREFIX,
        index_ttl: float = DEFAULT_INDEX_TTL,
        full_ttl: float = DEFAULT_FULL_TTL,
        refresh_wait: float = DEFAULT_REFRESH_WAIT,
    ) -> None:
        self.aws_conn_id = aws_conn_id
        self._ladder = ladder
        self.pointer_prefix = pointer_prefix
        self.index_ttl = index_ttl
        self.full_ttl = full_ttl
        self.refresh_wait = refresh_wait
        self._lock = threading.Lock()
        self._indexes: dict[str, GroupIndex] = {}
        self._listing: dict[str, Future[GroupIndex]] = {}
        self._relisting: set[str] = set()
        self._described: dict[tuple[str, str], dict[str, Any]] = {}
        # Records found to be this provider's, by what was checked: when (monotonic), for current pointers
        # (whose version's record can change) and decisions; history entries and their events never change.
        self._verified: dict[tuple[str, ...], float] = {}
        self._hooks: dict[tuple[str, str | None], tuple[Any, float]] = {}
        self._pool = ThreadPoolExecutor(max_workers=_PARALLEL, thread_name_prefix="modelreg-view")
        # Listings run apart from the requests' own work, which may wait for them.
        self._lister = ThreadPoolExecutor(max_workers=4, thread_name_prefix="modelreg-list")

    # ------------------------------------------------------------------------------------- hooks
    def ladder(self) -> EnvironmentLadder:
        return self._ladder()

    def _hook(self, kind: str, conn_id: str | None, build: Callable[[], Any]) -> Any:
        """A hook kept for ``HOOK_TTL`` seconds: each new one reads its Airflow connection (a metadata
        database query in the API server); a changed connection is used within that time."""
        key = (kind, conn_id)
        with self._lock:
            kept = self._hooks.get(key)
        if kept is not None and time.monotonic() - kept[1] < HOOK_TTL:
            return kept[0]
        hook = build()
        with self._lock:
            self._hooks[key] = (hook, time.monotonic())
        return hook

    def registry(self) -> Any:
        from airflow_modelreg.hooks.model_registry import ModelRegistryHook

        return self._hook(
            "registry", self.aws_conn_id, lambda: ModelRegistryHook(aws_conn_id=self.aws_conn_id)
        )

    def _pointers_hook(self, environment: Any) -> Any:
        from airflow_modelreg.hooks.parameter_store import ParameterStoreHook

        return self._hook(
            "ssm",
            environment.aws_conn_id or self.aws_conn_id,
            lambda: ParameterStoreHook.for_environment(environment, self.aws_conn_id),
        )

    def _endpoint_hook(self, environment: Any) -> Any:
        from airflow_modelreg.hooks.endpoint import EndpointHook

        conn_id = environment.aws_conn_id or self.aws_conn_id
        return self._hook("endpoint", conn_id, lambda: EndpointHook(aws_conn_id=conn_id))

    def _audit_hook(self) -> Any:
        from airflow_modelreg.hooks.audit_log import AuditLogHook

        uri = self.ladder().audit_log_uri
        if not uri:
            raise NotFoundError(
                'No audit log: set "audit_log" (s3://bucket/prefix) in the modelreg_ladder Variable.'
            )
        return AuditLogHook(aws_conn_id=self.aws_conn_id, log_uri=uri)

    def _records(self) -> Any:
        """The release records as the operators read them (:class:`~airflow_modelreg.hooks.release.
        ReleaseRecords`): the view checks pointers and decisions with their very checks, and never writes."""
        from airflow_modelreg.hooks.release import ReleaseRecords

        ladder = self.ladder()
        key = f"{self.aws_conn_id}|{ladder.audit_log_uri}|{self.pointer_prefix}|{ladder.names}"
        return self._hook(
            "records",
            key,
            lambda: ReleaseRecords(
                ladder,
                aws_conn_id=self.aws_conn_id,
                parameter_prefix=self.pointer_prefix,
                registry=self.registry(),
            ),
        )

    def _known(self, key: tuple[str, ...], ttl: float | None) -> bool:
        with self._lock:
            at = self._verified.get(key)
        return at is not None and (ttl is None or time.monotonic() - at < ttl)

    def _remember(self, key: tuple[str, ...]) -> None:
        with self._lock:
            if len(self._verified) >= _DESCRIBED_CACHE:
                self._verified.pop(next(iter(self._verified)))
            self._verified[key] = time.monotonic()

    def pointer_problems(self, group: str, environment: str, pointer: Pointer) -> list[str]:
        """Why the environment's current ``pointer`` is not one this provider wrote and can check (empty
        when it is): the operators' own check (``ReleaseRecords.pointer_problems``), reading only."""
        key = ("pointer", group, environment, pointer.to_json())
        if self._known(key, self.index_ttl):
            return []
        try:
            problems = self._records().pointer_problems(group, environment, pointer)
        except InvalidInputError as error:  # no audit log configured: nothing can be checked
            problems = [str(error)]
        except Exception as error:  # noqa: BLE001 - unreadable records leave it unverified, the page shown
            problems = [f"it cannot be checked: {error}"]
        if not problems:
            self._remember(key)
        return problems

    def _history_problems(self, group: str, environment: str, pointer: Pointer) -> list[str]:
        """An earlier pointer of the environment: checked against the audit event of the run that wrote it."""
        from airflow_modelreg.hooks.release import event_key

        key = ("history", group, environment, pointer.to_json())
        if self._known(key, None):
            return []
        try:
            audit = self._records().audit
            event = audit.find(group, event_key(policy.pointer_event_kind(pointer), pointer.run_key))
        except Exception as error:  # noqa: BLE001 - unreadable: unverified, the page still shown
            return [f"it cannot be checked: {error}"]
        problems = policy.pointer_event_problems(pointer, environment, event)
        if not problems:
            self._remember(key)
        return problems

    def check_decisions(self, group: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows whose decision names who decided (``modelreg:decided-by``), checked as the approval sensor
        checks one: the audit log's ``decided`` event of the run the metadata names must exist, be about
        this version, and still explain the registry's status and description. Other rows are left as
        they are; a claim that does not hold shows nobody as having decided."""
        from airflow_modelreg.hooks.release import event_key  # the hooks import boto3: not at plugin load

        def checked(row: dict[str, Any]) -> dict[str, Any]:
            described = self._described.get((str(row["arn"]), str(row["status"])))
            claim = str(((described or {}).get("CustomerMetadataProperties") or {}).get(md.DECIDED_BY) or "")
            if not claim or row.get("status") not in (policy.APPROVED, policy.REJECTED) or described is None:
                return row
            facts = policy.VersionFacts.from_description(described)
            key = ("decision", str(row["arn"]), claim, facts.status, facts.description)
            if self._known(key, self.index_ttl):
                return {**row, "decision_verified": True, "decision_problem": None}
            name, run_key = md.decided_by_claim({md.DECIDED_BY: claim})
            try:
                event = self._records().audit.find(group, event_key("decided", run_key)) if run_key else None
            except Exception as error:  # noqa: BLE001 - unreadable: unverified, the page still shown
                return view.unverified_decision(row, f"it cannot be checked: {error}")
            if event is not None and (event.get("arn") != facts.arn or event.get("version") != facts.number):
                problem: str | None = "the audit log's decision of the run it names is about another version"
            elif event is not None and (event.get("actor") or {}).get("name") != name:
                problem = "the audit log's decision of the run it names was made by someone else"
            else:
                problem = policy.decision_problem(facts, [event] if event is not None else [])
            if problem:
                return view.unverified_decision(row, problem)
            self._remember(key)
            return {**row, "decision_verified": True, "decision_problem": None}

        return list(self._pool.map(checked, rows))

    # ----------------------------------------------------------------------------------- indexes
    def _list_index(self, group: str) -> GroupIndex:
        with self._lock:
            previous = self._indexes.get(group)
        now = time.monotonic()
        registry = self.registry()
        if previous is None:
            index = GroupIndex(self._listed(group, registry), now, time.time(), now)
        else:
            index = GroupIndex(self._updated(group, previous, registry), now, time.time(), previous.full_at)
            if now - previous.full_at >= self.full_ttl:
                with self._lock:
                    start = group not in self._relisting
                    self._relisting.add(group)
                if start:
                    self._lister.submit(self._relist, group)
        with self._lock:
            self._indexes[group] = index
            self._listing.pop(group, None)
        return index

    def _listed(self, group: str, registry: Any) -> tuple[view.VersionSummary, ...]:
        return tuple(map(view.VersionSummary.from_summary, registry.list_versions(group)))

    def _relist(self, group: str) -> None:
        """The full listing, in the background: it replaces the index unless a newer one was taken since."""
        try:
            now = time.monotonic()
            versions = self._listed(group, self.registry())
            with self._lock:
                current = self._indexes.get(group)
                if current is None or current.listed_at <= now:
                    self._indexes[group] = GroupIndex(versions, now, time.time(), now)
                else:  # a refresh taken after this listing began is newer: keep it, note the listing
                    self._indexes[group] = GroupIndex(
                        current.versions, current.listed_at, current.listed_at_wall, now
                    )
        except Exception as error:  # noqa: BLE001 - tried again at the next refresh
            log.warning("Listing every version of %s failed: %s", group, error)
        finally:
            with self._lock:
                self._relisting.discard(group)

    def _updated(self, group: str, previous: GroupIndex, registry: Any) -> tuple[view.VersionSummary, ...]:
        """``previous`` with the versions registered since and the pending ones' current status."""
        newest = previous.versions[0].version if previous.versions else 0
        added = []
        for listed in registry.list_versions(group, page_size=100):
            summary = view.VersionSummary.from_summary(listed)
            if summary.version <= newest:
                break
            added.append(summary)
        pending = {
            s.version: s
            for s in map(view.VersionSummary.from_summary, registry.list_versions(group, status=view.PENDING))
        }
        decided = [v for v in previous.versions if v.status == view.PENDING and v.version not in pending]

        def now_of(summary: view.VersionSummary) -> view.VersionSummary | None:
            try:
                return view.VersionSummary.from_summary(registry.describe_version(summary.arn))
            except NotFoundError:
                return None  # deleted

        changed = dict(zip([v.version for v in decided], self._pool.map(now_of, decided), strict=True))
        kept: list[view.VersionSummary] = []
        for version in previous.versions:
            current = pending.get(version.version) or changed.get(version.version, version)
            if current is not None:
                kept.append(current)
        return tuple(added) + tuple(kept)

    def _refresh(self, group: str) -> Future[GroupIndex]:
        with self._lock:
            running = self._listing.get(group)
            if running is None:
                running = self._listing[group] = self._lister.submit(self._list_index, group)
        return running

    def index(self, group: str, wait: bool = True) -> GroupIndex | None:
        """The group's index, never older than ``index_ttl`` when it can be helped: a stale one is refreshed
        first (waiting up to ``refresh_wait`` seconds; past that the stale one is answered, and
        :meth:`is_fresh` says it is being refreshed). With ``wait``, listed now when there is none yet
        (``None`` otherwise: the listing started, the caller says "counting")."""
        validate_group_name(group)
        with self._lock:
            index = self._indexes.get(group)
        if index is not None and self.is_fresh(index):
            return index
        future = self._refresh(group)
        try:
            if index is not None:
                return future.result(timeout=self.refresh_wait)
            return future.result() if wait else None
        except FutureTimeout:
            return index
        except Exception:
            with self._lock:
                self._listing.pop(group, None)
            if index is not None:  # the refresh failed: the last index, marked stale, rather than no page
                return index
            raise

    def is_fresh(self, index: GroupIndex) -> bool:
        """Whether ``index`` is within the documented lag (``index_ttl`` seconds)."""
        return time.monotonic() - index.listed_at < self.index_ttl

    def forget(self, group: str | None = None) -> None:
        """Drop cached indexes and descriptions (all, or one group's index)."""
        with self._lock:
            if group is None:
                self._indexes.clear()
                self._described.clear()
            else:
                self._indexes.pop(group, None)

    def describe(self, summaries: list[view.VersionSummary]) -> list[dict[str, Any]]:
        """``DescribeModelPackage`` of each, in parallel, cached by ARN and status."""
        registry = self.registry()
        wanted = [s for s in summaries if (s.arn, s.status) not in self._described]
        for summary, described in zip(
            wanted, self._pool.map(lambda s: registry.describe_version(s.arn), wanted), strict=True
        ):
            with self._lock:
                if len(self._described) >= _DESCRIBED_CACHE:
                    self._described.pop(next(iter(self._described)))
                # Keyed by the status it was described with (the listing's may lag a decision by an instant).
                self._described[(summary.arn, str(described.get("ModelApprovalStatus")))] = described
                self._described[(summary.arn, summary.status)] = described
        return [self._described[(s.arn, s.status)] for s in summaries]

    # ------------------------------------------------------------------------------------- groups
    def group_names(self) -> list[str]:
        client = self.registry().conn
        names: list[str] = []
        kwargs: dict[str, Any] = {"MaxResults": 100, "SortBy": "Name", "SortOrder": "Ascending"}
        while True:
            page = client.list_model_package_groups(**kwargs)
            names += [g["ModelPackageGroupName"] for g in page.get("ModelPackageGroupSummaryList", [])]
            if not page.get("NextToken"):
                return names
            kwargs["NextToken"] = page["NextToken"]

    def groups(self) -> list[dict[str, Any]]:
        """Every group: versions and pending counts (``None`` while first counted) and what each
        environment runs."""
        names = self.group_names()
        ladder = self.ladder()

        def one(group: str) -> dict[str, Any]:
            index = self.index(group, wait=False)
            found = view.counts(index.versions) if index else None
            checked = self.checked_pointers(group, ladder)
            return {
                "group": group,
                "versions": found["total"] if found else None,
                "pending": found[view.PENDING] if found else None,
                # Counted longer ago than the documented lag, a refresh under way: the page says so.
                "refreshing": bool(index and not self.is_fresh(index)),
                "as_of": index.listed_at_wall if index else None,
                "environments": {
                    name: (pointer.version if pointer else None) for name, (pointer, _) in checked.items()
                },
                # Environments whose pointer is not verified (changed outside Airflow): shown as such.
                "unverified": [name for name, (_, problems) in checked.items() if problems],
            }

        return list(self._pool.map(one, names))

    def checked_pointers(
        self, group: str, ladder: EnvironmentLadder
    ) -> dict[str, tuple[Pointer | None, list[str]]]:
        """Per environment: its current pointer and why it is not verified (empty when it is). A parameter
        that holds no pointer this provider writes is ``(None, [why])``."""

        def read(environment: Any) -> tuple[Pointer | None, list[str]]:
            name = parameter_name(self.pointer_prefix, group, environment.name)
            try:
                found = self._pointers_hook(environment).get_pointer(name)
            except InvalidInputError as malformed:
                return None, [f"{name} holds a value airflow-modelreg never writes: {malformed}"]
            if not found:
                return None, []
            return found[0], self.pointer_problems(group, environment.name, found[0])

        return dict(zip(ladder.names, self._pool.map(read, ladder.environments), strict=True))

    def pointers(self, group: str, ladder: EnvironmentLadder) -> dict[str, Pointer | None]:
        """Per environment: its current pointer when verified (what it runs, as far as can be told)."""
        return {
            name: (pointer if not problems else None)
            for name, (pointer, problems) in self.checked_pointers(group, ladder).items()
        }

    def ladder_columns(self, group: str) -> list[dict[str, Any]]:
        ladder = self.ladder()

        def history(environment: Any) -> list[tuple[int, Pointer, Any]]:
            name = parameter_name(self.pointer_prefix, group, environment.name)
            try:
                return list(self._pointers_hook(environment).history(name))
            except InvalidInputError:
                return []

        histories = dict(zip(ladder.names, self._pool.map(history, ladder.environments), strict=True))
        checked = self.checked_pointers(group, ladder)
        earlier = [
            (name, number, pointer) for name, entries in histories.items() for number, pointer, _ in entries
        ]
        found = self._pool.map(lambda item: self._history_problems(group, item[0], item[2]), earlier)
        history_problems: dict[str, dict[int, list[str]]] = {}
        for (name, number, _), problems in zip(earlier, found, strict=True):
            history_problems.setdefault(name, {})[number] = problems
        columns = view.ladder_columns(
            ladder.names,
            {name: pointer for name, (pointer, _) in checked.items()},
            histories,
            {name: problems for name, (_, problems) in checked.items()},
            history_problems,
        )
        for column in columns:
            pointer, problems = checked[column["environment"]]
            if pointer is None and problems:
                column["current"] = view.unreadable_pointer_cell(problems[0])
        return columns

    def versions_page(self, group: str, page: int = 1, per_page: int = 25, status: str | None = None) -> dict:
        """One page of the group's versions, newest first, optionally of one status, as table rows."""
        view.check_page(page, per_page)
        view.check_status(status)
        index = self.index(group, wait=page > 1)
        if index is None:  # the first view of the group: its first page from one listing call
            listed = self.registry().list_versions(group, status=status, page_size=per_page)
            first = [
                view.VersionSummary.from_summary(s) for _, s in zip(range(per_page), listed, strict=False)
            ]
            shown = view.Page(tuple(first), 1, per_page, len(first))
            counted, as_of, refreshing = None, None, False
        else:
            shown = view.page_of(index.with_status(status), page, per_page)
            if page > shown.pages:
                raise NotFoundError(
                    f"No page {page}: {group} has {shown.pages} page(s) of {per_page} version(s)"
                    + (f" with status {status}." if status else ".")
                )
            counted, as_of = view.counts(index.versions), index.listed_at_wall
            refreshing = not self.is_fresh(index)
        rows = self.check_decisions(group, [view.version_row(d) for d in self.describe(list(shown.items))])
        paging = shown.to_json()
        if counted is None:
            paging.update(total=None, pages=None)
        return {
            "group": group,
            "status": status,
            "counts": counted,
            "as_of": as_of,
            "refreshing": refreshing,
            **paging,
            "versions": rows,
        }

    def pending(self, group: str, limit: int = 50) -> list[dict[str, Any]]:
        """Versions waiting for a decision, newest first, each with where to answer it in Airflow."""
        index = self.index(group, wait=False)
        if index is None:  # not counted yet: one listing call filtered by status
            listed = self.registry().list_versions(group, status=view.PENDING, page_size=limit)
            waiting = [
                view.VersionSummary.from_summary(s) for _, s in zip(range(limit), listed, strict=False)
            ]
        else:
            waiting = list(index.with_status(view.PENDING)[:limit])
        rows = [view.version_row(d) for d in self.describe(waiting)]
        return [
            {**row, "required_action_link": view.required_action_link(row["airflow_run"])} for row in rows
        ]

    def check_group(self, group: str) -> None:
        """Raise :class:`NotFoundError` (404) unless the registry has the group (known for ``index_ttl``)."""
        validate_group_name(group)
        key = ("group", group)
        if self._known(key, self.index_ttl):
            return
        self.registry().describe_group(group)
        self._remember(key)

    def endpoints(self, group: str | None = None, environments: Collection[str] = ()) -> list[dict[str, Any]]:
        """The ladder's endpoints of every environment: state, and each variant's current weight. With
        ``group``, only that group's: those serving one of its versions, and those of ``environments`` (where
        the group runs, as its verified pointers say), never another group's."""
        ladder = self.ladder()
        wanted = [(env, name) for env in ladder.environments for name in env.endpoints]
        if group is not None:
            return [
                endpoint
                for endpoint in self.endpoints()
                if endpoint["environment"] in environments
                or any((v.get("serves") or {}).get("group") == group for v in endpoint["variants"])
            ]

        def one(item: tuple[Any, str]) -> dict[str, Any]:
            environment, name = item
            hook = self._endpoint_hook(environment)
            described = hook.describe_endpoint(name)
            if described is None:
                return {"endpoint": name, "environment": environment.name, "status": None, "variants": []}
            variants = described.get("ProductionVariants") or []
            total = sum(float(v.get("CurrentWeight") or 0) for v in variants) or 1.0
            serves = self._versions_served(hook, described.get("EndpointConfigName"))
            return {
                "endpoint": name,
                "environment": environment.name,
                "status": described.get("EndpointStatus"),
                "config": described.get("EndpointConfigName"),
                "variants": [
                    {
                        "name": v.get("VariantName"),
                        "current_weight": v.get("CurrentWeight"),
                        "desired_weight": v.get("DesiredWeight"),
                        "share": float(v.get("CurrentWeight") or 0) / total,
                        "instances": v.get("CurrentInstanceCount"),
                        "serves": serves.get(str(v.get("VariantName"))),
                    }
                    for v in variants
                ],
            }

        return list(self._pool.map(one, wanted))

    @staticmethod
    def _versions_served(hook: Any, config: str | None) -> dict[str, dict[str, Any]]:
        """Per variant of an endpoint config: the group and version its model was created from (a model
        made from a model package names its ARN), or nothing for other models."""
        if not config:
            return {}
        try:
            variants = hook.conn.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"]
        except Exception:  # noqa: BLE001 - the weights are still worth showing without it
            return {}
        served = {}
        for variant in variants:
            try:
                model = hook.conn.describe_model(ModelName=variant["ModelName"])
            except Exception:  # noqa: BLE001 - a deleted model: nothing to say about it
                continue
            containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
            arn = next((c["ModelPackageName"] for c in containers if c.get("ModelPackageName")), None)
            if arn and arn.count("/") == 2 and arn.rsplit("/", 1)[1].isdigit():
                _, group, number = arn.rsplit("/", 2)
                served[variant["VariantName"]] = {
                    "group": group,
                    "version": int(number),
                    "model": model["ModelName"],
                }
        return served

    # ------------------------------------------------------------------------------------ versions
    def version(self, group: str, number: int) -> dict[str, Any]:
        """One version's card: its row, metrics beside what each environment runs, and its runs."""
        found = [self._summary(group, number)]
        [row] = self.check_decisions(group, [view.version_row(self.describe(found)[0])])
        ladder = self.ladder()
        pointers = self.pointers(group, ladder)
        runs_now = {name: p for name, p in pointers.items() if p is not None}
        running = sorted({p.version for p in runs_now.values()})
        current_rows = {
            r["version"]: r
            for r in map(view.version_row, self.describe([self._summary(group, n) for n in running]))
        }
        environments_of: dict[int, list[str]] = {}
        for name, pointer in runs_now.items():
            environments_of.setdefault(pointer.version, []).append(name)
        comparisons = [  # one per version running somewhere, naming every environment that runs it
            {
                "environment": ", ".join(names),
                "environments": names,
                "version": number_now,
                "metrics": view.metric_comparison(
                    row["metrics"], current_rows.get(number_now, {}).get("metrics")
                ),
            }
            for number_now, names in environments_of.items()
        ]
        audit_error = None
        try:
            events = self._audit_hook().events(group, version=number)
        except NotFoundError as error:  # no audit log configured
            events, audit_error = [], str(error)
        except Exception as error:  # noqa: BLE001 - the rest of the card is still worth showing
            events, audit_error = [], f"The audit log cannot be read: {error}"
        described = self.describe(found)[0]
        return {
            **row,
            "group": group,
            "lineage": described.get("MetadataProperties") or {},
            "artifact_console_url": s3_console_url(str(row["artifact"]), self._region())
            if row["artifact"]
            else None,
            "runs_in": [name for name, p in runs_now.items() if p.version == number],
            "required_action_link": (
                view.required_action_link(row["airflow_run"]) if row["status"] == view.PENDING else None
            ),
            "comparisons": comparisons,
            "runs": view.version_runs(row, events),
            "audit_error": audit_error,
        }

    def _region(self) -> str | None:
        try:
            return str(self.registry().conn.meta.region_name)
        except Exception:  # noqa: BLE001 - the console's link without a region still opens the object
            return None

    def _summary(self, group: str, number: int) -> view.VersionSummary:
        """A version's summary: from the index, else described by its ARN (a version's ARN is its group's,
        ``model-package-group/<group>`` becoming ``model-package/<group>/<number>``)."""
        index = self.index(group, wait=False)
        for summary in index.versions if index is not None else ():
            if summary.version == number:
                return summary
        # Not counted yet, or newer than the index: described by its ARN.
        group_arn = self.registry().describe_group(group)["ModelPackageGroupArn"]
        arn = group_arn.replace(":model-package-group/", ":model-package/", 1) + f"/{number}"
        described = self.registry().describe_version(arn)
        return view.VersionSummary.from_summary(described)

    # --------------------------------------------------------------------------------------- audit
    def audit(self, group: str, environment: str | None = None, version: int | None = None) -> list[dict]:
        """The group's audit trail (what ``airflow-modelreg audit`` prints), optionally filtered."""
        from airflow_modelreg.audit_store import audit_trail
        from airflow_modelreg.domain import audit_log

        index = self.index(group)
        assert index is not None
        events = audit_trail(
            group, log_hook=self._audit_hook(), registry_hook=_IndexAsRegistry(index, self.registry())
        )
        return [e for e in events if audit_log.matches(e, environment=environment, version=version)]

    # --------------------------------------------------------------------------------------- drift
    def drift_report(self, uri: str) -> tuple[str, str]:
        """A drift report the provider wrote (``.../drift_report.html`` or ``.json``): (content type, text).
        Nothing else is served: the view must not become a reader of any object its connection can reach."""
        bucket, key = parse_s3_uri(uri, "drift report URI")
        if key.endswith("/drift_report.html"):
            content_type = "text/html; charset=utf-8"
        elif key.endswith("/drift_report.json"):
            content_type = "application/json"
        else:
            raise InvalidInputError(
                f"Not a drift report: {uri!r}. The view serves only the drift_report.html or "
                "drift_report.json files the drift check writes."
            )
        body = self.registry().s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return content_type, body.decode("utf-8", errors="replace")

    def drift_result(self, verdict: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The latest drift verdict (from Airflow's XCom) with its report's per-feature table."""
        if not verdict:
            return None
        features: list[dict[str, Any]] = []
        if verdict.get("report_uri"):
            import json

            try:
                _, text = self.drift_report(str(verdict["report_uri"]))
                features = view.drift_features(json.loads(text))
            except (NotFoundError, InvalidInputError, ValueError):
                features = []
            except Exception as error:  # noqa: BLE001 - the verdict stays worth showing without its table
                if "NoSuchKey" not in str(error):
                    raise
        return {
            **verdict,
            "features": features,
            "airflow_run_link": view.run_link(verdict.get("airflow_run")),
        }
