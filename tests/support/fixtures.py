"""Shared pytest fixtures: the ARM emulator over HTTPS, a webhook receiver, and an engine wired to them."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from emulator import ArmEmulator, EmulatorCredential, WebhookReceiver
from tests.support.samples import arm_body
from warden.arm import ArmClient
from warden.config import Config, from_mapping
from warden.engine import Engine
from warden.records import MemoryRecorder
from warden.state import MemoryState
from warden.tickets import WebhookTicketSink

BOT_OID = "0b07c0de-0000-4000-8000-00000000b071"
BOT_APPID = "0b07c0de-0000-4000-8000-0000000a99a1"
SUBSCRIPTION = "00000000-1111-2222-3333-444444444444"
ACCOUNT_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod"


def approved_private_endpoint(resource_id: str) -> dict[str, Any]:
    return {"id": f"{resource_id}/privateEndpointConnections/pe-1",
            "properties": {"privateLinkServiceConnectionState": {"status": "Approved", "description": "approved"}}}


def drifted_account(resource_id: str = ACCOUNT_ID, *, private_endpoint: bool = True, **properties: Any) -> dict[str, Any]:
    """The recorded real account GET (public access Enabled), made compliant on every other check."""
    body = arm_body("cogsvc-account-get-default-public.recorded.json")
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"].update(disableLocalAuth=True, networkAcls={"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
                              privateEndpointConnections=[approved_private_endpoint(resource_id)] if private_endpoint else [])
    body["properties"].update(properties)
    return body


@dataclass
class Harness:
    emu: ArmEmulator
    engine: Engine
    recorder: MemoryRecorder
    arm: ArmClient
    config: Config
    state: MemoryState


@pytest.fixture
def emu():
    with ArmEmulator() as emulator:
        yield emulator


@pytest.fixture
def webhook():
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def make_harness(emu) -> Callable[..., Harness]:
    """`make_harness(config={...}, tickets=sink)` -> an Engine talking to the emulator with the real ARM client."""
    clients: list[ArmClient] = []

    def build(config: dict[str, Any] | None = None, tickets: Any = None, state: Any = None) -> Harness:
        raw = copy.deepcopy(config or {})
        raw.setdefault("self_principal_ids", [BOT_OID, BOT_APPID])
        raw.setdefault("arm", {})
        raw["arm"] = {"endpoint": emu.base_url, "lro_wait_seconds": 0.5, "backoff_factor": 0.01, **raw["arm"]}
        cfg = from_mapping(raw)
        arm = ArmClient(EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden"), cfg.arm,
                        connection_verify=emu.ca_pem_path)
        clients.append(arm)
        recorder = MemoryRecorder()
        store = state or MemoryState()
        sink = tickets if tickets is not None else _NoTickets()
        return Harness(emu, Engine(cfg, arm, recorder, sink, store), recorder, arm, cfg, store)

    yield build
    for client in clients:
        client.close()


class _NoTickets:
    """A sink that refuses: a test that opens a ticket without wiring a receiver fails loudly."""

    def open(self, ticket):
        raise AssertionError(f"unexpected ticket {ticket.key} for {ticket.check_id}")

    def resolve(self, resource_id, check_ids, note):
        pass


@pytest.fixture
def webhook_sink(webhook) -> WebhookTicketSink:
    return WebhookTicketSink(webhook.url)
