"""The outbox and its neighbours: joining queued work, cancelling, the engine's record of delivery state, the
timer function, `python -m warden tickets`, and the settings that build the sink."""
from __future__ import annotations

import io
import json

import pytest

from tests.support.fixtures import ACCOUNT_ID, drifted_account
from tests.support.samples import arm_event
from tests.warden.ticketing.conftest import CHECK_ID, make_ticket
from warden.cli import main
from warden.config import ConfigError, from_mapping
from warden.events import triage
from warden.model import Action, Outcome
from warden.ticketing.durable import DurableTicketSink
from warden.ticketing.factory import build_ticket_sink, load_settings
from warden.ticketing.store import MemoryEntityStore, resource_partition
from warden.tickets import ticket_key

KEY = ticket_key(ACCOUNT_ID, CHECK_ID)


def test_queued_ticket_and_its_recurrence_are_one_entry_with_the_latest_content(make_case, durable, clock):
    case = make_case("github")
    case.fake.fail_next(503, count=10)
    sink = durable(case.tracker(attempts=1))
    sink.open(make_ticket())
    sink.open(make_ticket(detail="seen again by a later event"))
    (entry,) = sink.pending()
    assert entry.op == "open" and entry.attempts == 1  # the recurrence did not call the tracker
    case.fake.clear_failures()
    clock.advance(minutes=5)
    assert len(sink.deliver_due().delivered) == 1
    (issue,) = case.fake.issues()
    assert "seen again by a later event" in issue.body


def test_resolve_before_delivery_cancels_the_queued_ticket(make_case, durable, clock, entity_store):
    case = make_case("jira")
    case.fake.fail_next(503, count=10)
    sink = durable(case.tracker(attempts=1))
    sink.open(make_ticket())
    case.fake.clear_failures()
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "reverted by the bot")
    assert sink.pending() == []
    clock.advance(hours=1)
    assert sink.deliver_due().delivered == [] and case.fake.issues == {}
    (row,) = entity_store.partition(resource_partition(ACCOUNT_ID))
    assert row.data["status"] == "closed" and row.data["delivery"] == "cancelled"


def test_failed_close_is_queued_and_delivered_later(make_case, durable, clock):
    case = make_case("azure-devops")
    sink = durable(case.tracker(attempts=1))
    sink.open(make_ticket())
    case.fake.fail_next(503, count=1)
    sink.resolve(ACCOUNT_ID, [CHECK_ID], "fixed by the owner")
    (entry,) = sink.pending()
    assert entry.op == "resolve" and entry.state == "queued"
    clock.advance(minutes=5)
    assert len(sink.deliver_due().delivered) == 1
    (item,) = case.fake.items.values()
    assert item.fields["System.State"] == "Closed"


def test_engine_records_a_ticket_queued_by_the_outbox_as_ticketed_not_failed(emu, make_harness, make_case, durable):
    case = make_case("github")
    case.fake.fail_next(503, count=20)
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled", disableLocalAuth=False))
    harness = make_harness({"modes": {"cogsvc-private-endpoint-missing": "off"}}, tickets=durable(case.tracker(attempts=1)))

    record = harness.engine.handle(triage(arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")))

    assert record.outcome is Outcome.TICKETED and not record.retry_requested
    (action,) = record.actions
    assert action.action is Action.TICKETED and action.ticket == f"queued:github:{KEY}" and action.error is None


def test_engine_records_a_misconfigured_tracker_with_the_problem_and_does_not_ask_for_redelivery(
        emu, make_harness, make_case, durable):
    case = make_case("servicenow")
    case.secret["value"] = "expired"
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled", disableLocalAuth=False))
    harness = make_harness({"modes": {"cogsvc-private-endpoint-missing": "off"}}, tickets=durable(case.tracker()))

    record = harness.engine.handle(triage(arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")))

    (action,) = record.actions
    assert record.outcome is Outcome.TICKETED and action.ticket.startswith("misconfigured:servicenow:")
    assert "401" in action.error


def _env(case, azurite, table_prefix, **extra):
    return {"DRIFTWARDEN_TICKET_TRACKER": "github", "DRIFTWARDEN_GITHUB_REPO": "octo/security",
            "DRIFTWARDEN_GITHUB_API_URL": case.fake.url, "DRIFTWARDEN_GITHUB_TOKEN": case.fake.token,
            "DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite, "DRIFTWARDEN_TABLE_PREFIX": table_prefix, **extra}


def test_cli_lists_pending_and_failed_deliveries_and_retries_on_demand(make_case, azurite, table_prefix, monkeypatch):
    case = make_case("github")
    env = _env(case, azurite, table_prefix, DRIFTWARDEN_GITHUB_TOKEN="revoked")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    sink = build_ticket_sink(from_mapping({}), env)
    assert sink.open(make_ticket()).delivery == "misconfigured"

    out = io.StringIO()
    assert main(["tickets", "--format", "json"], out) == 1
    (line,) = [json.loads(l) for l in out.getvalue().splitlines()]
    assert line["key"] == KEY and line["state"] == "misconfigured" and line["last_status"] == 401
    assert "revoked" not in out.getvalue()

    monkeypatch.setenv("DRIFTWARDEN_GITHUB_TOKEN", case.fake.token)
    out = io.StringIO()
    assert main(["tickets", "--retry"], out) == 0
    assert "delivered 1" in out.getvalue() and "the ticket outbox is empty" in out.getvalue()
    assert len(case.fake.issues()) == 1


def test_settings_refuse_a_secret_in_the_json_and_name_the_app_setting():
    with pytest.raises(ConfigError, match="app setting"):
        load_settings({"DRIFTWARDEN_TICKETS_JSON": json.dumps({"tracker": "github", "github": {"token": "ghp_x"}})})
    with pytest.raises(ConfigError, match="DRIFTWARDEN_GITHUB_TOKEN"):
        build_ticket_sink(from_mapping({}), {"DRIFTWARDEN_TICKETS_JSON": json.dumps(
            {"tracker": "github", "github": {"repo": "octo/security"}})})
    with pytest.raises(ConfigError, match="not a tracker"):
        load_settings({"DRIFTWARDEN_TICKET_TRACKER": "bugzilla"})


def test_settings_build_each_tracker_behind_the_durable_sink(make_case, azurite, table_prefix):
    sink = build_ticket_sink(from_mapping({}), _env(make_case("github"), azurite, table_prefix))
    assert isinstance(sink, DurableTicketSink) and sink.tracker.name == "github"
    env = {"DRIFTWARDEN_TICKETS_JSON": json.dumps({"tracker": "jira", "jira": {
        "site_url": "https://contoso.atlassian.net", "project": "SEC", "email": "bot@contoso.com"}}),
        "DRIFTWARDEN_JIRA_API_TOKEN": "t"}
    assert build_ticket_sink(from_mapping({}), env).name == "jira"  # no storage: the tracker alone
    assert build_ticket_sink(from_mapping({}), {}) is None
    legacy = build_ticket_sink(from_mapping({"ticket_webhook_url": "https://logic.example/hook"}), {},
                               store=MemoryEntityStore())
    assert legacy.tracker.name == "webhook"


def test_azure_devops_without_a_pat_uses_an_entra_token_for_the_devops_application(make_case):
    from azure.core.credentials import AccessToken

    case = make_case("azure-devops")
    case.fake.bearer = "entra-token"
    scopes = []

    class Credential:
        def get_token(self, *wanted, **kwargs):
            scopes.extend(wanted)
            return AccessToken("entra-token", 4_102_444_800)

    env = {"DRIFTWARDEN_TICKET_TRACKER": "azure-devops", "DRIFTWARDEN_ADO_ORG_URL": case.fake.org_url,
           "DRIFTWARDEN_ADO_PROJECT": "Security"}
    tracker = build_ticket_sink(from_mapping({}), env, credential=Credential())
    assert tracker.open(make_ticket()).startswith("azure-devops:")
    assert scopes == ["499b84ac-1321-427f-aa17-267ca6975798/.default"]
