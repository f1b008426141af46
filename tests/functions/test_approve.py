"""Approving a proposed revert through the HTTP function (v2 model), against the ARM emulator, Azurite and the
GitHub fake: the engine proposes when a guard holds a revert back; an allow-listed approver applies exactly
that PATCH while the etag is unchanged; everything else writes nothing."""
from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import azure.functions as func
import pytest

from emulator.trackers import GitHubFake
from tests.support.fixtures import ACCOUNT_ID, drifted_account
from tests.support.samples import arm_event
from warden.approvals import (ApprovalService, ApprovalSettings, ProposalStore, Proposals, install_approval_service)
from warden.events import triage
from warden.model import Action, Outcome
from warden.table_state import StorageSettings, ensure_table
from warden.ticketing.durable import DurableTicketSink
from warden.ticketing.github import GitHubTracker
from warden.ticketing.store import TableEntityStore

APPROVER = "a1a1a1a1-0000-4000-8000-00000000a001"
STRANGER = "b2b2b2b2-0000-4000-8000-00000000b002"
WRITE = "Microsoft.CognitiveServices/accounts/write"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


class Clock:
    def __init__(self):
        self.now = datetime.now(timezone.utc)

    def __call__(self):
        return self.now


@pytest.fixture
def github():
    with GitHubFake() as fake:
        yield fake


@pytest.fixture
def world(emu, make_harness, github, azurite, table_prefix, monkeypatch):
    """A drifted account without a private endpoint (the guard holds the revert back), handled by the engine
    with proposals and GitHub tickets; the approval service installed for the HTTP function."""
    service = StorageSettings(connection_string=azurite).service_client()
    clock = Clock()
    settings = ApprovalSettings(frozenset({APPROVER}), timedelta(hours=72), "https://app.example/api", "api://driftwarden")
    proposals = Proposals(ProposalStore(TableEntityStore(ensure_table(service, f"{table_prefix}proposals"))), settings, clock)
    tickets = DurableTicketSink(GitHubTracker("octo/security", lambda: github.token, api_url=github.url),
                                TableEntityStore(ensure_table(service, f"{table_prefix}tickets")), clock=clock)
    emu.put_resource(ACCOUNT_ID, drifted_account(private_endpoint=False, publicNetworkAccess="Enabled"))
    harness = make_harness({"modes": {"cogsvc-private-endpoint-missing": "off"}}, tickets=tickets)
    harness.engine.proposals = proposals
    record = harness.engine.handle(triage(arm_event(ACCOUNT_ID, WRITE, name="mallory@contoso.com")))
    assert record.outcome is Outcome.TICKETED
    install_approval_service(ApprovalService(harness.arm, proposals, harness.recorder, tickets, clock=clock))
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "true")
    emu.clear_requests()
    yield {"harness": harness, "proposals": proposals, "clock": clock, "record": record}
    install_approval_service(None)


def proposal_of(world):
    ((proposal, _),) = [(p, e) for p, e in world["proposals"].store.of_resource(ACCOUNT_ID) if p.status == "pending"]
    return proposal


def principal(oid: str, name: str = "alice@contoso.com") -> dict[str, str]:
    document = {"auth_typ": "aad", "claims": [{"typ": OID_CLAIM, "val": oid}, {"typ": "name", "val": name}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(document).encode()).decode(),
            "X-MS-CLIENT-PRINCIPAL-ID": oid, "X-MS-CLIENT-PRINCIPAL-NAME": name}


def approve(app_functions, proposal_id: str, headers: dict[str, str]):
    request = func.HttpRequest("POST", f"https://app.example/api/proposals/{proposal_id}/approve", headers=headers,
                               route_params={"proposal_id": proposal_id}, body=b"")
    response = app_functions["approve_proposal"].get_user_function()(request)
    return response.status_code, json.loads(response.get_body())


def writes(emu):
    return [r for r in emu.requests if r.method in ("PATCH", "PUT", "POST")]


def test_function_is_indexed_as_a_post_route_with_function_key_auth(app_functions):
    (trigger, _) = json.loads(app_functions["approve_proposal"].get_function_json())["bindings"]
    assert trigger["type"] == "httpTrigger" and trigger["methods"] == ["POST"]
    assert trigger["route"] == "proposals/{proposal_id}/approve" and trigger["authLevel"] == "FUNCTION"


def test_engine_proposes_the_exact_patch_with_the_etag_and_the_ticket_says_how_to_approve(world, emu, github):
    proposal = proposal_of(world)
    assert proposal.body == {"properties": {"publicNetworkAccess": "Disabled"}}
    assert proposal.etag == emu.get_resource(ACCOUNT_ID)["etag"]
    assert proposal.ticket == "github:octo/security#2" and proposal.caller["name"] == "mallory@contoso.com"
    (issue,) = github.issues()
    assert f"https://app.example/api/proposals/{proposal.id}/approve" in issue.body
    assert proposal.expires_at - world["clock"]() == timedelta(hours=72)


def test_approved_with_matching_etag_is_reverted_and_logged_with_the_approver(world, emu, github, app_functions):
    proposal = proposal_of(world)

    status, body = approve(app_functions, proposal.id, principal(APPROVER))

    assert status == 200 and body["status"] == "applied" and body["action"] == "reverted"
    (patch,) = writes(emu)
    assert patch.method == "PATCH" and patch.body == {"properties": {"publicNetworkAccess": "Disabled"}}
    assert patch.headers.get("If-Match") == proposal.etag
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Disabled"
    event = world["harness"].recorder.events[-1]
    assert event.outcome is Outcome.REVERTED and event.caller.object_id == APPROVER and event.source == "approval"
    (action,) = event.actions
    assert action.action is Action.REVERTED and APPROVER in action.reason and "alice@contoso.com" in action.reason
    assert action.caller.name == "mallory@contoso.com"  # who made the insecure change
    assert action.before == {"properties.publicNetworkAccess": "Enabled"}
    assert action.after == {"properties.publicNetworkAccess": "Disabled"}
    (issue,) = github.issues()
    assert issue.state == "closed" and "approved by" in issue.comments[-1]


def test_stale_etag_writes_nothing_and_re_evaluates(world, emu, app_functions):
    proposal = proposal_of(world)
    changed = emu.get_resource(ACCOUNT_ID)
    changed["tags"] = {"owner": "team-a"}
    emu.put_resource(ACCOUNT_ID, changed)  # somebody changed the resource: the etag moved, still public

    status, body = approve(app_functions, proposal.id, principal(APPROVER))

    assert status == 409 and body["status"] == "stale" and body["still_failing"] is True
    assert writes(emu) == []
    assert emu.get_resource(ACCOUNT_ID)["properties"]["publicNetworkAccess"] == "Enabled"
    fresh = proposal_of(world)
    assert fresh.id == body["new_proposal_id"] != proposal.id and fresh.etag == emu.get_resource(ACCOUNT_ID)["etag"]


def test_stale_etag_after_the_owner_fixed_it_reports_the_finding_gone(world, emu, app_functions):
    proposal = proposal_of(world)
    fixed = emu.get_resource(ACCOUNT_ID)
    fixed["properties"]["publicNetworkAccess"] = "Disabled"
    emu.put_resource(ACCOUNT_ID, fixed)

    status, body = approve(app_functions, proposal.id, principal(APPROVER))

    assert status == 409 and body["still_failing"] is False and "new_proposal_id" not in body
    assert writes(emu) == []


def test_unknown_approver_is_refused_with_403_and_nothing_is_read_or_written(world, emu, app_functions):
    proposal = proposal_of(world)
    status, body = approve(app_functions, proposal.id, principal(STRANGER))
    assert status == 403 and "allowlist" in body["reason"]
    assert emu.requests == []
    refusal = world["harness"].recorder.events[-1]
    assert refusal.outcome is Outcome.INVALID and refusal.caller.object_id == STRANGER


def test_request_without_a_client_principal_is_refused(world, app_functions):
    assert approve(app_functions, proposal_of(world).id, {})[0] == 401


def test_forged_principal_headers_are_refused_when_platform_authentication_is_off(world, app_functions, monkeypatch, emu):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    status, _ = approve(app_functions, proposal_of(world).id, principal(APPROVER))
    assert status == 403 and writes(emu) == []


def test_expired_proposal_is_refused(world, emu, app_functions):
    proposal = proposal_of(world)
    world["clock"].now += timedelta(hours=73)
    status, body = approve(app_functions, proposal.id, principal(APPROVER))
    assert status == 410 and body["status"] == "expired"
    assert writes(emu) == []
    assert approve(app_functions, proposal.id, principal(APPROVER))[0] == 410


def test_replayed_approval_causes_no_second_write(world, emu, app_functions):
    proposal = proposal_of(world)
    assert approve(app_functions, proposal.id, principal(APPROVER))[0] == 200
    status, body = approve(app_functions, proposal.id, principal(APPROVER))
    assert status == 200 and body["status"] == "already-applied" and APPROVER in body["approved_by"]
    assert len(writes(emu)) == 1


def test_unknown_proposal_is_404(world, app_functions):
    assert approve(app_functions, "0" * 48, principal(APPROVER))[0] == 404
    assert approve(app_functions, "../etc", principal(APPROVER))[0] == 404


def test_recurrence_refreshes_the_pending_proposal_instead_of_adding_one(world, emu):
    first = proposal_of(world)
    changed = emu.get_resource(ACCOUNT_ID)
    changed["tags"] = {"owner": "team-b"}
    emu.put_resource(ACCOUNT_ID, changed)
    world["harness"].engine.handle(triage(arm_event(ACCOUNT_ID, WRITE, name="mallory@contoso.com")))
    again = proposal_of(world)
    assert again.id == first.id and again.etag == emu.get_resource(ACCOUNT_ID)["etag"] != first.etag
