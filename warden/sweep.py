"""Reconciliation sweep: find every in-scope resource of every covered type and run it through the engine.

Events are hints that can be lost (dead-lettered, filtered, missed during an outage); the sweep catches
what they missed. It enumerates with Azure Resource Graph (one query, paged with skip tokens, 1,000 rows a
page, its per-principal quota headers respected and 429 retried with a capped Retry-After), and lists
through ARM the child types Resource Graph does not hold (computes, datastores) under each workspace it
found. Each resource becomes a `ResourceChange(source="sweep", payload=<ARM-shaped body>)` handled by the
same `Engine.handle` as an event: the pure checks run on the payload with no ARM call; only a resource
found drifted is re-read through ARM (the engine's rule: a payload may clear a resource, only ARM's current
state may convict one) before any action. Resource Graph lags ARM: it is never used to verify anything.

Concurrency with events: a drifted item takes a per-resource lease (`StateStore.claim_resource`) for the
time the engine handles it; a resource whose lease another holder has is skipped and recorded `ignored`
("being handled by <holder>"). Writes carry If-Match and a 412 makes the engine re-read and decide again,
so even a worker that does not take the lease cannot make a second write.

The run ends with one summary (counts by type, outcome, check and action), logged as one structured record
on the logger `driftwarden.sweep`, returned to the caller (the timer function, `python -m warden sweep`).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol

import remediators
from remediators.base import CheckContext, Mode, ResourceKind
from warden import resource_id as rid
from warden.arm import ArmError, ResourceGone
from warden.config import ArmSettings, Config
from warden.engine import EventBusy
from warden.model import (Action, Caller, ChangeKind, EventRecord, Outcome, ResourceChange, Triage, Verdict)
from warden.state import Claim

log = logging.getLogger("driftwarden.sweep")

EVENT_TYPE = "Driftwarden.Sweep"
SCHEMA = "sweep"
PAGE_SIZE = 1000  # Resource Graph returns at most 1,000 rows a page
MAX_FINDINGS = 1000  # resources listed by name in the returned summary (counts are always complete)

# Child types Resource Graph's `resources` table does not hold (reference/azure-platform-facts.md §4.3):
# enumerated through ARM (`GET <parent>/<child>`) under each parent found in Resource Graph. The other
# covered child types (onlineEndpoints, serverlessEndpoints) are in the table and come from the query.
ARM_LISTED_TYPES = frozenset({
    "microsoft.machinelearningservices/workspaces/computes",
    "microsoft.machinelearningservices/workspaces/datastores",
})

# Outcomes that leave something for a human (or a later run) to do: the CLI exits 1 when one occurs.
ATTENTION = frozenset({"ticketed", "contained", "reported", "dry-run", "failed", "pending"})


class SweepError(Exception):
    """The enumeration itself failed (Resource Graph unreachable after retries, bad query, no access)."""


# -- Resource Graph ---------------------------------------------------------------------------------

@dataclass
class GraphPage:
    rows: list[dict[str, Any]]
    skip_token: str | None
    total_records: int | None
    quota_remaining: int | None
    quota_resets_after: float | None  # seconds


class GraphQuery(Protocol):
    """What the sweep needs from Resource Graph: one page of a query."""

    def page(self, query: str, subscriptions: list[str], top: int, skip_token: str | None) -> GraphPage: ...


class ResourceGraph:
    """Resource Graph through azure-mgmt-resourcegraph, with the ARM client's capped retry policy (429 and
    5xx retried, Retry-After capped). The SDK is imported when the first query is sent, never at import."""

    def __init__(self, credential: Any, settings: ArmSettings, connection_verify: Any = True):
        self._credential = credential
        self._settings = settings
        self._verify = connection_verify
        self._client = None
        self._lock = threading.Lock()
        self.calls = 0  # HTTP requests sent, retries included

    def _get_client(self):
        with self._lock:
            if self._client is None:
                from azure.core.pipeline import policies
                from azure.mgmt.resourcegraph import ResourceGraphClient

                from warden.arm import capped_retry_policy

                self._client = ResourceGraphClient(
                    self._credential, base_url=self._settings.endpoint, connection_verify=self._verify,
                    retry_policy=capped_retry_policy(self._settings),
                    custom_hook_policy=policies.CustomHookPolicy(raw_request_hook=self._count),
                    connection_timeout=self._settings.timeout_seconds, read_timeout=self._settings.timeout_seconds)
            return self._client

    def _count(self, request) -> None:
        self.calls += 1

    def page(self, query: str, subscriptions: list[str], top: int, skip_token: str | None) -> GraphPage:
        from azure.core.exceptions import AzureError
        from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

        request = QueryRequest(subscriptions=subscriptions or None, query=query,
                               options=QueryRequestOptions(top=top, skip_token=skip_token, result_format="objectArray"))
        try:
            response, headers = self._get_client().resources(
                request, cls=lambda pipeline_response, body, _: (body, pipeline_response.http_response.headers))
        except AzureError as error:
            status = getattr(error, "status_code", None)
            raise SweepError(f"Resource Graph query failed{f' ({status})' if status else ''}: "
                             f"{getattr(error, 'message', None) or error}") from None
        rows = response.data if isinstance(response.data, list) else []
        return GraphPage(rows, response.skip_token, response.total_records,
                         _int(headers.get("x-ms-user-quota-remaining")),
                         _duration(headers.get("x-ms-user-quota-resets-after")))

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def graph_query(types: Iterable[str], resource_groups: Iterable[str] = ()) -> str:
    """The KQL of the sweep: covered types (Resource Graph lower-cases them), only the columns the checks read,
    `id` projected (skip-token paging needs it) and a stable order."""
    query = f"resources | where type in~ ({_kql_list(sorted(t.lower() for t in types))})"
    groups = sorted({g.lower() for g in resource_groups})
    if groups:
        query += f" | where resourceGroup in~ ({_kql_list(groups)})"
    return query + (" | project id, name, type, kind, location, resourceGroup, subscriptionId, sku, identity, tags,"
                    " properties | order by id asc")


def _kql_list(values: Iterable[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in values)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _duration(value: Any) -> float | None:
    """`hh:mm:ss` (Resource Graph's x-ms-user-quota-resets-after) in seconds."""
    if value is None:
        return None
    try:
        parts = [float(p) for p in str(value).strip().split(":")]
    except ValueError:
        return None
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


# -- Rows -> ARM-shaped bodies ------------------------------------------------------------------------

_ROW_TOP_LEVEL = ("kind", "location", "sku", "identity", "tags", "zones", "extendedLocation", "managedBy", "plan",
                  "etag", "systemData")


def arm_shape(row: Mapping[str, Any], kind: ResourceKind) -> dict[str, Any]:
    """A Resource Graph row as the ARM GET body the checks read: the registry's proper-cased type, the id in its
    canonical form, `properties` kept as they are (the checks read 1/0 booleans and any key casing), the
    top-level members the checks use, Resource Graph's own columns (resourceGroup, tenantId, ...) dropped."""
    parsed = rid.parse(str(row["id"]))
    resource_id = str(parsed)
    properties = row.get("properties")
    if isinstance(properties, str):  # a `dynamic` column rendered as text
        try:
            properties = json.loads(properties)
        except ValueError:
            properties = None
    body: dict[str, Any] = {"id": resource_id, "name": row.get("name") or parsed.name,
                            "type": kind.type, "properties": properties if isinstance(properties, Mapping) else {}}
    for key in _ROW_TOP_LEVEL:
        value = row.get(key)
        if value is not None and value != "":
            body[key] = value
    return body


def sweep_event_id(run_id: str, resource_id: str, key: str | None = None) -> str:
    """Unique per run and resource; hashes the id so no resource name becomes a key. `key` = rid.key(resource_id)
    when the caller has it already."""
    digest = hashlib.sha256((key or rid.key(resource_id)).encode()).hexdigest()[:20]
    return f"sweep:{run_id}:{digest}"


# -- Options, progress, summary ----------------------------------------------------------------------

@dataclass(frozen=True)
class SweepOptions:
    subscriptions: tuple[str, ...] = ()  # empty: every subscription the identity can read (within config scope)
    types: tuple[str, ...] = ()  # covered resource types, any casing; empty: all covered types
    dry_run: bool = False  # on top of the configured dry_run: record "would revert" / "would ticket"
    page_size: int = PAGE_SIZE
    run_id: str | None = None


class Progress(Protocol):
    def __call__(self, done: int, total: int, drifted: int) -> None: ...


@dataclass
class SweepSummary:
    run_id: str
    started: datetime
    dry_run: bool
    subscriptions: list[str]
    types: list[str]
    finished: datetime | None = None
    complete: bool = True
    error: str | None = None
    resources: int = 0  # handled by the engine
    drifted: int = 0  # handled with at least one finding (payload or re-read)
    by_type: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    checks: dict[str, Counter] = field(default_factory=dict)  # check id -> action -> count
    skipped_busy: int = 0  # another worker held the resource's lease
    out_of_scope: int = 0
    errors: int = 0  # items whose handling raised (recorder down, bug): also in `problems`
    problems: list[str] = field(default_factory=list)
    graph_pages: int = 0
    graph_rows: int = 0
    graph_requests: int = 0  # HTTP requests to Resource Graph, retries included
    quota_pauses: int = 0
    quota_paused_seconds: float = 0.0
    arm_listings: int = 0  # child collections listed through ARM (pages followed inside)
    arm_calls: int = 0  # every ARM request of the run: listings, re-reads, writes
    graph_seconds: float = 0.0  # waiting on Resource Graph (pauses included)
    arm_seconds: float = 0.0  # waiting on ARM
    duration_seconds: float = 0.0
    past_due: bool | None = None  # the timer fired late
    findings: list[dict[str, Any]] = field(default_factory=list)  # drifted, gone or failed resources, up to MAX_FINDINGS
    findings_truncated: bool = False

    @property
    def processing_seconds(self) -> float:
        return max(0.0, self.duration_seconds - self.graph_seconds - self.arm_seconds)

    @property
    def needs_attention(self) -> bool:
        return not self.complete or self.errors > 0 or any(self.outcomes.get(o) for o in ATTENTION)

    def as_json(self, findings: bool = True) -> dict[str, Any]:
        data = {
            "record": "sweep",
            "run_id": self.run_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "complete": self.complete,
            "error": self.error,
            "dry_run": self.dry_run,
            "subscriptions": self.subscriptions,
            "types": self.types,
            "resources": self.resources,
            "drifted": self.drifted,
            "by_type": dict(sorted(self.by_type.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "checks": {check: dict(sorted(actions.items())) for check, actions in sorted(self.checks.items())},
            "skipped_busy": self.skipped_busy,
            "out_of_scope": self.out_of_scope,
            "errors": self.errors,
            "problems": self.problems,
            "graph": {"pages": self.graph_pages, "rows": self.graph_rows, "requests": self.graph_requests,
                      "quota_pauses": self.quota_pauses, "quota_paused_seconds": round(self.quota_paused_seconds, 3)},
            "arm": {"listings": self.arm_listings, "calls": self.arm_calls},
            "seconds": {"total": round(self.duration_seconds, 3), "graph_wait": round(self.graph_seconds, 3),
                        "arm_wait": round(self.arm_seconds, 3), "processing": round(self.processing_seconds, 3)},
            "past_due": self.past_due,
        }
        if findings:
            data["findings"] = self.findings
            data["findings_truncated"] = self.findings_truncated
        return data

    def text(self) -> str:
        lines = [f"sweep {self.run_id}{' (dry run)' if self.dry_run else ''}: {self.resources} resources, "
                 f"{self.drifted} drifted, {self.duration_seconds:.1f} s"
                 + ("" if self.complete else f" -- INCOMPLETE: {self.error}")]
        lines.append("  outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())) or "none"))
        for check, actions in sorted(self.checks.items()):
            lines.append(f"  {check:34} " + ", ".join(f"{k} {v}" for k, v in sorted(actions.items())))
        extra = [f"{n} {label}" for n, label in ((self.skipped_busy, "skipped (an event holds the resource)"),
                                                (self.out_of_scope, "out of scope"), (self.errors, "errors")) if n]
        if extra:
            lines.append("  " + ", ".join(extra))
        lines.append(f"  resource graph: {self.graph_pages} pages, {self.graph_rows} rows, {self.quota_pauses} quota pauses;"
                     f" arm: {self.arm_listings} child listings, {self.arm_calls} calls")
        for finding in self.findings:
            checks = ", ".join(f"{c}={a}" for c, a in finding["checks"].items())
            lines.append(f"  {finding['outcome']:10} {finding['resource_id']}  {checks}")
        if self.findings_truncated:
            lines.append(f"  ... more in the remediation log (correlation id {self.run_id})")
        for problem in self.problems:
            lines.append(f"  problem: {problem}")
        return "\n".join(lines)


# -- ARM access with the wait time measured ---------------------------------------------------------

class _TimedArm:
    """The engine's ARM access, counting the time spent waiting on HTTP (the summary separates it from work)."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.seconds = 0.0

    @property
    def calls(self) -> int:
        return self._inner.calls

    def _timed(self, name: str, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return getattr(self._inner, name)(*args)
        finally:
            self.seconds += time.perf_counter() - started

    def get(self, *args):
        return self._timed("get", *args)

    def patch(self, *args):
        return self._timed("patch", *args)

    def put(self, *args):
        return self._timed("put", *args)

    def list(self, *args):
        return self._timed("list", *args)

    def post_action(self, *args):
        return self._timed("post_action", *args)

    def __getattr__(self, name: str) -> Any:  # close, settings, ...
        return getattr(self._inner, name)


# -- The sweep --------------------------------------------------------------------------------------

def select_kinds(types: Iterable[str] = ()) -> list[ResourceKind]:
    """The covered kinds named (any casing), or all of them. Unknown names raise ValueError listing the known."""
    wanted = [t for t in types if t]
    if not wanted:
        return list(remediators.kinds())
    chosen = []
    for name in wanted:
        kind = remediators.kind_for(name.strip())
        if kind is None:
            known = ", ".join(k.type for k in remediators.kinds())
            raise ValueError(f"resource type {name!r} is not covered; covered types: {known}")
        if kind not in chosen:
            chosen.append(kind)
    return chosen


class Sweeper:
    """One sweep run over an engine (its config, ARM client, recorder, state) and a Resource Graph source."""

    def __init__(self, engine: Any, graph: GraphQuery, *, sleep: Callable[[float], None] = time.sleep,
                 progress: Progress | None = None, quota_pause_cap: float | None = None):
        self._engine = engine
        self._graph = graph
        self._sleep = sleep
        self._progress = progress
        self._pause_cap = quota_pause_cap

    def run(self, options: SweepOptions = SweepOptions(), past_due: bool | None = None) -> SweepSummary:
        engine = self._engine
        config: Config = engine.config
        if options.dry_run and not config.dry_run:
            config = dataclasses.replace(config, dry_run=True)
        arm = _TimedArm(engine.arm)
        engine = dataclasses.replace(engine, config=config, arm=arm)
        kinds = select_kinds(options.types)
        subscriptions = self._subscriptions(config, options)
        run_id = options.run_id or uuid.uuid4().hex[:12]
        summary = SweepSummary(run_id, engine.clock(), config.dry_run, subscriptions, [k.type for k in kinds],
                               past_due=past_due)
        started = time.perf_counter()
        calls_before = arm.calls
        graph_requests_before = getattr(self._graph, "calls", 0)
        run = _Run(engine, config, arm, summary, kinds, self._progress)
        try:
            self._enumerate(run, options, subscriptions)
        except SweepError as error:
            summary.complete, summary.error = False, str(error)
        except Exception as error:  # a bug: the summary still says the run is incomplete, and why
            log.exception("sweep %s stopped", run_id)
            summary.complete, summary.error = False, f"{type(error).__name__}: {error}"
        finally:
            summary.duration_seconds = time.perf_counter() - started
            summary.arm_seconds = arm.seconds
            summary.arm_calls = arm.calls - calls_before
            summary.graph_requests = getattr(self._graph, "calls", 0) - graph_requests_before
            summary.finished = engine.clock()
            run.done()
        log.info(json.dumps(summary.as_json(findings=False), default=str, sort_keys=True))
        return summary

    @staticmethod
    def _subscriptions(config: Config, options: SweepOptions) -> list[str]:
        asked = [s.strip().lower() for s in options.subscriptions if s and s.strip()]
        allowed = config.scope.subscriptions
        outside = [s for s in asked if allowed and s not in allowed]
        if outside:
            raise ValueError(f"subscription(s) {', '.join(outside)} are outside the configured scope "
                             f"({', '.join(sorted(allowed))})")
        return list(dict.fromkeys(asked)) or sorted(allowed)

    def _enumerate(self, run: "_Run", options: SweepOptions, subscriptions: list[str]) -> None:
        listed = [k for k in run.kinds if k.type.lower() in ARM_LISTED_TYPES]
        parents = {k.type.rsplit("/", 1)[0].lower() for k in listed}
        graph_types = {k.type.lower() for k in run.kinds if k.type.lower() not in ARM_LISTED_TYPES} | parents
        groups = {g.split("/", 1)[1] for g in run.config.scope.resource_groups}
        query = graph_query(graph_types, groups)
        parent_ids: list[str] = []
        selected = {k.type.lower() for k in run.kinds}

        skip_token: str | None = None
        while True:
            page = self._page(run.summary, query, subscriptions, options.page_size, skip_token)
            if page.total_records is not None and skip_token is None:
                run.expect(page.total_records)
            for row in page.rows:
                kind = _row_kind(row)
                if kind is None:
                    continue
                try:
                    body = arm_shape(row, kind)
                except rid.InvalidResourceId as error:
                    run.problem(f"Resource Graph row with an unusable id skipped: {error}")
                    continue
                if not run.in_scope(body["id"]):
                    continue
                if kind.type.lower() in parents:
                    parent_ids.append(body["id"])
                if kind.type.lower() in selected:
                    run.handle(kind, body)
                else:
                    run.expect(-1)  # a parent fetched only to find its children
            skip_token = page.skip_token
            if not skip_token:
                break

        for parent_id in parent_ids:
            parent_type = rid.parse(parent_id).type.lower()
            for kind in listed:
                if kind.type.rsplit("/", 1)[0].lower() != parent_type:
                    continue
                items = self._list_children(run, parent_id, kind)
                run.expect(len(items))
                for item in items:
                    if isinstance(item, Mapping) and item.get("id"):
                        body = dict(item)
                        body["type"] = kind.type
                        run.handle(kind, body)

    def _page(self, summary: SweepSummary, query: str, subscriptions: list[str], top: int,
              skip_token: str | None) -> GraphPage:
        started = time.perf_counter()
        try:
            page = self._graph.page(query, subscriptions, top, skip_token)
            summary.graph_pages += 1
            summary.graph_rows += len(page.rows)
            if page.skip_token and page.quota_remaining is not None and page.quota_remaining <= 0:
                # Every page counts against the principal's quota (about 15 queries per 5 s): wait for the window
                # to reset rather than run into 429s.
                pause = page.quota_resets_after if page.quota_resets_after is not None else 1.0
                cap = self._pause_cap if self._pause_cap is not None else max(5.0, self._engine.config.arm.retry_after_cap_seconds)
                pause = min(max(pause, 0.0), cap)
                summary.quota_pauses += 1
                summary.quota_paused_seconds += pause
                self._sleep(pause)
            return page
        finally:
            summary.graph_seconds += time.perf_counter() - started

    def _list_children(self, run: "_Run", parent_id: str, kind: ResourceKind) -> list[Any]:
        collection = f"{parent_id}/{kind.type.rsplit('/', 1)[1]}"
        try:
            items = run.arm.list(collection, kind.api_version)
        except ResourceGone:
            return []  # the parent was deleted since Resource Graph saw it
        except ArmError as error:
            run.problem(f"listing {kind.type} under {parent_id} failed: {error}")
            return []
        finally:
            run.summary.arm_listings += 1
        return items


def _row_kind(row: Any) -> ResourceKind | None:
    if not isinstance(row, Mapping) or not row.get("id") or not row.get("type"):
        return None
    return remediators.kind_for(str(row["type"]))


class _Run:
    """The per-run bookkeeping: leases, engine calls, tallies, progress."""

    def __init__(self, engine: Any, config: Config, arm: _TimedArm, summary: SweepSummary, kinds: list[ResourceKind],
                 progress: Progress | None):
        self.engine = engine
        self.config = config
        self.arm = arm
        self.summary = summary
        self.kinds = kinds
        self._progress = progress
        self._seen: set[str] = set()
        self._total = 0
        self._done = 0
        self._last_tick = 0.0

    # progress
    def expect(self, count: int) -> None:
        self._total += count
        self._tick()

    def _tick(self, force: bool = False) -> None:
        if self._progress is None:
            return
        now = time.monotonic()
        if force or now - self._last_tick >= 0.1:
            self._last_tick = now
            self._progress(self._done, max(self._total, self._done), self.summary.drifted)

    def done(self) -> None:
        self._tick(force=True)

    def problem(self, text: str, error: bool = True) -> None:
        """Something the operator should read; `error` counts an item the engine could not record itself."""
        if error:
            self.summary.errors += 1
        if len(self.summary.problems) < 20:
            self.summary.problems.append(text)

    def in_scope(self, resource_id: str) -> bool:
        inside, _ = self.config.scope.contains(resource_id)
        if not inside:
            self.summary.out_of_scope += 1
        return inside

    # one resource
    def handle(self, kind: ResourceKind, body: dict[str, Any]) -> None:
        parsed = rid.parse(str(body["id"]))
        resource_id = str(parsed)
        key = resource_id.lower()  # rid.key
        if key in self._seen:  # a row repeated across pages while the graph changed under the query
            self._total -= 1
            return
        self._seen.add(key)
        self._done += 1
        change = self._change(kind, resource_id, key, parsed.subscription_id, body)
        # Only an item that may lead to an action takes the resource lease; a clean one is recorded compliant
        # without an ARM call and cannot act.
        lease = _payload_fails(kind, body, self.config)
        summary = self.summary
        try:
            if lease:
                claim = self.engine.state.claim_resource(resource_id, change.event_id, self.engine.clock())
                if claim is not Claim.TAKEN:
                    summary.skipped_busy += 1
                    self._record_busy(change)
                    return
            try:
                record = self.engine.handle(Triage(change.event_id, Verdict.RELEVANT,
                                                   "reconciliation sweep: evaluate the current state",
                                                   resource_id, change.operation, change))
            finally:
                if lease:
                    self.engine.state.release_resource(resource_id, change.event_id)
        except EventBusy:  # an engine that leases resources itself found this one taken
            summary.skipped_busy += 1
            self._record_busy(change)
            return
        except Exception as error:  # one resource never stops the sweep; the summary counts it
            self.problem(f"{resource_id}: {type(error).__name__}: {error}")
            log.exception("sweep %s: handling %s failed", summary.run_id, resource_id)
            return
        finally:
            self._tick()
        self._tally(kind, record)

    def _change(self, kind: ResourceKind, resource_id: str, key: str, subscription_id: str,
                body: Mapping[str, Any]) -> ResourceChange:
        system = body.get("systemData") if isinstance(body.get("systemData"), Mapping) else {}
        # Only a display name: never an oid/appid, or the engine would take a resource the bot last touched for
        # the echo of its own write and skip findings that are still open.
        last_modified_by = system.get("lastModifiedBy")
        return ResourceChange(
            event_id=sweep_event_id(self.summary.run_id, resource_id, key), event_type=EVENT_TYPE, schema=SCHEMA,
            kind=ChangeKind.WRITE, resource_id=resource_id, resource_type=kind.type,
            operation=f"{kind.type}/read", caller=Caller(name=str(last_modified_by) if last_modified_by else None),
            correlation_id=self.summary.run_id, event_time=self.engine.clock(),
            subscription_id=subscription_id, payload=body, source="sweep")

    def _record_busy(self, change: ResourceChange) -> None:
        record = EventRecord(change.event_id, change.correlation_id, change.event_type, change.resource_id,
                             change.resource_type, change.operation, Outcome.IGNORED,
                             "drift seen by the sweep, but another worker (an event) is handling this resource now: "
                             "its re-read decides", change.caller, source="sweep")
        self.engine.recorder.record(record)
        self.summary.outcomes[Outcome.IGNORED.value] += 1

    def _tally(self, kind: ResourceKind, record: EventRecord) -> None:
        summary = self.summary
        summary.resources += 1
        summary.by_type[kind.type] += 1
        summary.outcomes[record.outcome.value] += 1
        findings = [a for a in record.actions if a.action is not Action.VERIFIED]
        for action in record.actions:
            summary.checks.setdefault(action.check_id, Counter())[action.action.value] += 1
        if findings or record.outcome in (Outcome.FAILED, Outcome.GONE):
            if findings:
                summary.drifted += 1
            if record.outcome is Outcome.FAILED:
                self.problem(f"{record.resource_id}: {record.reason}", error=False)  # recorded `failed` already
            if len(summary.findings) >= MAX_FINDINGS:
                summary.findings_truncated = True
            else:
                summary.findings.append({"resource_id": record.resource_id, "type": kind.type,
                                         "outcome": record.outcome.value, "event_id": record.event_id,
                                         "checks": _actions_by_check(findings)})


def _actions_by_check(actions: list[Any]) -> dict[str, str]:
    """check id -> action, `ticketed+contained` when a finding has a containment record next to its ticket."""
    shown: dict[str, str] = {}
    for action in actions:
        shown[action.check_id] = f"{shown[action.check_id]}+{action.action.value}" if action.check_id in shown \
            else action.action.value
    return shown


def _payload_fails(kind: ResourceKind, body: Mapping[str, Any], config: Config) -> bool:
    """Whether any enabled check fails on the payload: the engine's first, pure step, run here only to decide
    whether the item needs the resource lease."""
    ctx = CheckContext()
    for check in kind.checks:
        if config.mode(check.id) is Mode.OFF:
            continue
        evaluation = check.evaluate(body, ctx)
        if evaluation.applicable and not evaluation.passed:
            return True
    return False


# -- Composition for the timer function -------------------------------------------------------------

_graph: GraphQuery | None = None
_graph_lock = threading.Lock()


def build_graph(config: Config, environ: Mapping[str, str] | None = None, credential: Any = None) -> ResourceGraph:
    """Resource Graph with the app's identity, at the configured ARM endpoint (and CA bundle, for the emulator)."""
    import os

    env = os.environ if environ is None else environ
    if credential is None:
        from warden.arm import build_credential

        credential = build_credential(config.managed_identity_client_id, env)
    return ResourceGraph(credential, config.arm, connection_verify=env.get("DRIFTWARDEN_ARM_CA_BUNDLE") or True)


def get_graph(config: Config) -> GraphQuery:
    global _graph
    with _graph_lock:
        if _graph is None:
            _graph = build_graph(config)
        return _graph


def run_scheduled(past_due: bool = False) -> SweepSummary:
    """The timer function's body: sweep the configured scope with the worker's runtime. Raises SweepError when the
    enumeration failed (the invocation shows failed); per-resource failures are recorded and counted instead."""
    from warden.runtime import get_runtime

    runtime = get_runtime()
    summary = Sweeper(runtime.engine, get_graph(runtime.config)).run(SweepOptions(), past_due=past_due)
    if not summary.complete:
        raise SweepError(f"sweep {summary.run_id} incomplete: {summary.error}")
    return summary
