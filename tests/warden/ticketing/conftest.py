"""Fixtures for the ticket tests: each tracker against its local fake, the durable sink on Azurite, a clock."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable

import pytest

import remediators
from emulator.trackers import AzureDevOpsFake, GitHubFake, JiraFake, Request, ServiceNowFake, TeamsWorkflowFake
from tests.support.fixtures import ACCOUNT_ID
from warden.model import Caller
from warden.table_state import StorageSettings, ensure_table
from warden.ticketing.azure_devops import AzureDevOpsTracker
from warden.ticketing.durable import DurableTicketSink
from warden.ticketing.github import GitHubTracker
from warden.ticketing.http import basic_auth, tracker_retry_policy
from warden.ticketing.jira import JiraTracker
from warden.ticketing.servicenow import ServiceNowTracker
from warden.ticketing.store import TableEntityStore
from warden.ticketing.teams import teams_workflow_sink
from warden.tickets import Ticket, build_ticket

CHECK_ID = "cogsvc-local-auth"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_ticket(resource_id: str = ACCOUNT_ID, check_id: str = CHECK_ID, *, detail: str = "local (key) authentication "
                "is allowed: disableLocalAuth is absent (keys allowed)", caller: Caller | None = None,
                reason: str = "mode ticket", proposal: dict[str, Any] | None = None) -> Ticket:
    check = remediators.check_by_id(check_id)
    return build_ticket(check, resource_id, detail, reason, caller or Caller("0000aaaa-0000-4000-8000-000000000001",
                        None, "dev@contoso.com", "203.0.113.7"), "2026-05-01T10:00:00+00:00", date.today(), 90,
                        "evt-1", "corr-1", proposal=proposal, observed={"properties.disableLocalAuth": None})


@dataclass
class TrackerCase:
    """One tracker wired to its fake. `secret` holds the credential the sink sends (tests break and fix it)."""

    name: str
    fake: Any
    build: Callable[[dict[str, str], Any], Any]  # (secret holder, retry policy) -> tracker
    good_secret: str
    is_create: Callable[[Request], bool]
    tickets: Callable[[], list[Any]]  # what the tracker holds, one entry per ticket
    comments: Callable[[Any], list[Any]]  # recurrence/resolution comments of one ticket
    closed: Callable[[Any], bool]
    throttle: Callable[[int], None]
    secret: dict[str, str] = field(default_factory=dict)
    sleeps: list[float] = field(default_factory=list)

    def tracker(self, **policy: Any):
        self.secret.setdefault("value", self.good_secret)
        return self.build(self.secret, tracker_retry_policy(sleep=self.sleeps.append, **policy))


def _github(fake: GitHubFake) -> TrackerCase:
    return TrackerCase(
        "github", fake, lambda s, p: GitHubTracker("octo/security", lambda: s["value"], api_url=fake.url, retry_policy=p),
        fake.token, lambda r: r.method == "POST" and r.path.endswith("/issues"),
        lambda: fake.issues(), lambda issue: issue.comments, lambda issue: issue.state == "closed",
        lambda seconds: fake.fail_next(429, 1, {"retry-after": str(seconds), "x-ratelimit-remaining": "0"},
                                       {"message": "API rate limit exceeded"}))


def _azure_devops(fake: AzureDevOpsFake) -> TrackerCase:
    return TrackerCase(
        "azure-devops", fake, lambda s, p: AzureDevOpsTracker(fake.org_url, "Security", lambda: basic_auth("", s["value"]),
                                                               retry_policy=p),
        fake.pat, lambda r: r.method == "POST" and "/workitems/$" in r.path,
        lambda: list(fake.items.values()), lambda item: item.comments,
        lambda item: item.fields.get("System.State") == "Closed", lambda seconds: fake.throttle(1, seconds))


def _servicenow(fake: ServiceNowFake) -> TrackerCase:
    return TrackerCase(
        "servicenow", fake, lambda s, p: ServiceNowTracker(fake.url, lambda: basic_auth(fake.user, s["value"]), retry_policy=p),
        fake.password, lambda r: r.method == "POST" and r.path.endswith("/table/incident"),
        lambda: list(fake.incidents.values()),
        lambda incident: [text for name, text in fake.journal.get(incident["sys_id"], []) if name == "work_notes"],
        lambda incident: incident["state"] == "6", lambda seconds: fake.throttle(1, seconds))


def _jira(fake: JiraFake) -> TrackerCase:
    return TrackerCase(
        "jira", fake, lambda s, p: JiraTracker(fake.url, "SEC", lambda: basic_auth(fake.email, s["value"]), retry_policy=p),
        fake.api_token, lambda r: r.method == "POST" and r.path == "/rest/api/3/issue",
        lambda: list(fake.issues.values()), lambda issue: issue.comments, lambda issue: issue.category == "done",
        lambda seconds: fake.throttle(1, seconds))


def _teams(fake: TeamsWorkflowFake) -> TrackerCase:
    def build(secret: dict[str, str], policy: Any):
        return teams_workflow_sink(fake.workflow_url.replace(f"sig={fake.sig}", f"sig={secret['value']}"), retry_policy=policy)

    resolved = lambda card: "resolved" in card["body"][0]["inlines"][0]["text"]  # noqa: E731
    return TrackerCase(
        "teams", fake, build, fake.sig, lambda r: r.method == "POST",
        lambda: [c for c in fake.cards if not resolved(c)], lambda card: [], lambda card: any(map(resolved, fake.cards)),
        lambda seconds: fake.throttle(1, seconds))


FAKES = {"github": (GitHubFake, _github), "azure-devops": (AzureDevOpsFake, _azure_devops),
         "servicenow": (ServiceNowFake, _servicenow), "jira": (JiraFake, _jira), "teams": (TeamsWorkflowFake, _teams)}
TRACKERS_WITH_TICKETS = ("github", "azure-devops", "servicenow", "jira")


@pytest.fixture(params=list(FAKES))
def case(request) -> TrackerCase:
    fake_type, make = FAKES[request.param]
    with fake_type() as fake:
        yield make(fake)


@pytest.fixture(params=TRACKERS_WITH_TICKETS)
def ticket_case(request) -> TrackerCase:
    fake_type, make = FAKES[request.param]
    with fake_type() as fake:
        yield make(fake)


@pytest.fixture
def make_case():
    """make_case(name) -> a started TrackerCase (stopped at the end of the test)."""
    started: list[Any] = []

    def build(name: str) -> TrackerCase:
        fake_type, make = FAKES[name]
        fake = fake_type().start()
        started.append(fake)
        return make(fake)

    yield build
    for fake in started:
        fake.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def entity_store(azurite, table_prefix) -> TableEntityStore:
    """The tickets table of this test, on the session's Azurite."""
    service = StorageSettings(connection_string=azurite).service_client()
    return TableEntityStore(ensure_table(service, f"{table_prefix}tickets"))


@pytest.fixture
def durable(entity_store, clock):
    """durable(tracker) -> DurableTicketSink on Azurite with the test's clock."""
    return lambda tracker: DurableTicketSink(tracker, entity_store, clock=clock, jitter=lambda: 0.5)
