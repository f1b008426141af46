"""`python -m warden demo`: the whole product in a minute, on loopback only.

Starts the ARM + Event Grid emulator (HTTPS) and a webhook receiver standing in for a Teams workflow,
seeds a small estate of AI resources, then lets people make realistic changes through ARM. ARM emits
Event Grid events with the callers' claims; each event reaches the bot through the same Functions
trigger the host would call. The bot's own writes come back as echo events, which it recognises.
"""
from __future__ import annotations

import copy
import json
import sys
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any, TextIO

SUB = "00000000-1111-2222-3333-444444444444"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-ai-prod/providers"
ACCOUNTS = f"{RG}/Microsoft.CognitiveServices/accounts"
WORKSPACES = f"{RG}/Microsoft.MachineLearningServices/workspaces"
BOT = {"oid": "0b07c0de-0000-4000-8000-00000000b071", "appid": "0b07c0de-0000-4000-8000-0000000a99a1", "name": "driftwarden"}
ALICE = {"oid": "a11ce000-0000-4000-8000-000000000001", "appid": "04b07795-8ddb-461a-bbee-02f9e1bf7b46", "name": "alice@contoso.com"}
PIPELINE = {"oid": "c1c1c1c1-0000-4000-8000-000000000002", "appid": "c1c1c1c1-0000-4000-8000-0000000000a2", "name": "deploy-pipeline"}


def _account(samples, name: str, *, public: bool, pe: bool, local_auth: bool = False, tags: dict | None = None) -> dict:
    body = samples("cogsvc-account-get-default-public.recorded.json")
    body["identity"] = {"type": "SystemAssigned"}
    body["properties"].update(
        publicNetworkAccess="Enabled" if public else "Disabled",
        disableLocalAuth=not local_auth,
        networkAcls={"defaultAction": "Deny", "ipRules": [], "virtualNetworkRules": []},
        privateEndpointConnections=[{"id": f"{ACCOUNTS}/{name}/privateEndpointConnections/pe-{name}",
                                     "properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}] if pe else [])
    body["tags"] = tags or {"owner": "ai-platform"}
    return body


def _estate(samples) -> dict[str, dict]:
    soon, past = (date.today() + timedelta(days=14)).isoformat(), (date.today() - timedelta(days=3)).isoformat()
    workspace = samples("ml-workspace-get.spec-example-2025-12-01.json")
    workspace["properties"]["publicNetworkAccess"] = "Disabled"
    compute = samples("ml-compute-instance-get.spec-example-2025-12-01.json")
    endpoint = samples("ml-online-endpoint-get.spec-example-2025-12-01.json")
    endpoint["properties"].update(authMode="Key", publicNetworkAccess="Disabled", provisioningState="Succeeded")
    return {
        f"{ACCOUNTS}/oai-chat": _account(samples, "oai-chat", public=False, pe=True),
        f"{ACCOUNTS}/oai-rag": _account(samples, "oai-rag", public=False, pe=True),
        f"{ACCOUNTS}/vision-lab": _account(samples, "vision-lab", public=False, pe=False),
        f"{ACCOUNTS}/speech-batch": _account(samples, "speech-batch", public=False, pe=True, local_auth=True),
        f"{ACCOUNTS}/vendor-poc": _account(samples, "vendor-poc", public=False, pe=True, tags={
            "warden-exempt": "cogsvc-public-network", "warden-exempt-until": soon,
            "warden-exempt-reason": "vendor load test from their network (SEC-1234)"}),
        f"{ACCOUNTS}/legacy-bot": _account(samples, "legacy-bot", public=False, pe=True, tags={
            "warden-exempt": "*", "warden-exempt-until": past, "warden-exempt-reason": "migration window"}),
        f"{WORKSPACES}/ml-research": workspace,
        f"{WORKSPACES}/ml-research/computes/ci-alice": compute,
        f"{WORKSPACES}/ml-research/onlineEndpoints/scoring": endpoint,
    }


def run_demo(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    import threading
    import urllib.request

    from emulator import ArmEmulator, EmulatorCredential, WebhookReceiver, load_sample
    from warden.arm import ArmClient
    from warden.config import ArmSettings
    from warden.records import MemoryRecorder
    from warden.runtime import build_runtime
    from warden.serve import DeliveryServer

    import os

    from warden.cli import main as cli_main
    from warden.local_services import Azurite

    started = time.monotonic()
    recorder = MemoryRecorder()
    key = "demo-shared-secret"
    with ArmEmulator() as emu, WebhookReceiver() as teams, Azurite() as azurite:
        for resource_id, body in _estate(load_sample).items():
            emu.put_resource(resource_id, body)
        storage = {"DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite.connection_string, "DRIFTWARDEN_TABLE_PREFIX": "demo"}
        environ = {**storage, "DRIFTWARDEN_CONFIG_JSON": json.dumps({
            "self_principal_ids": [BOT["oid"], BOT["appid"]],
            "ticket_webhook_url": teams.url,
            "arm": {"endpoint": emu.base_url, "lro_wait_seconds": 2},
        })}
        runtime = build_runtime(environ, recorders=(recorder,), credential=EmulatorCredential(**BOT),
                                connection_verify=emu.ca_pem_path)
        server = DeliveryServer(("127.0.0.1", 0), key, runtime.handle_event, runtime.engine.recorder)
        threading.Thread(target=server.serve_forever, daemon=True).start()

        people = {who["name"]: ArmClient(EmulatorCredential(**who), ArmSettings(endpoint=emu.base_url),
                                         connection_verify=emu.ca_pem_path) for who in (ALICE, PIPELINE)}
        cs, ml = "2025-09-01", "2025-12-01"

        def change(who: str, resource_id: str, api_version: str, body: dict[str, Any]) -> None:
            people[who].patch(resource_id, api_version, body, None)

        # What people do in the subscription. ARM turns each call into an Event Grid event with their claims.
        change("alice@contoso.com", f"{ACCOUNTS}/oai-chat", cs, {"properties": {"publicNetworkAccess": "Enabled"}})
        change("alice@contoso.com", f"{ACCOUNTS}/vision-lab", cs, {"properties": {"publicNetworkAccess": "Enabled"}})
        change("deploy-pipeline", f"{ACCOUNTS}/oai-rag", cs, {"properties": {"publicNetworkAccess": "Enabled"}})
        change("alice@contoso.com", f"{ACCOUNTS}/vendor-poc", cs, {"properties": {"publicNetworkAccess": "Enabled"}})
        change("alice@contoso.com", f"{ACCOUNTS}/legacy-bot", cs, {"properties": {"publicNetworkAccess": "Enabled"}})
        people["deploy-pipeline"].post_action(f"{ACCOUNTS}/speech-batch", "listKeys", cs)
        change("alice@contoso.com", f"{WORKSPACES}/ml-research", ml, {"properties": {"publicNetworkAccess": "Enabled"}})
        change("alice@contoso.com", f"{WORKSPACES}/ml-research/computes/ci-alice", ml, {"properties": {"description": "my box"}})
        change("alice@contoso.com", f"{WORKSPACES}/ml-research/onlineEndpoints/scoring", ml, {"tags": {"team": "search"}})
        emu.flush_events()
        emu.clear_requests()
        # ARM throttles the bot once: azure-core retries after Retry-After.
        emu.inject_fault(method="GET", path_contains="/accounts/oai-rag", status=429, headers={"Retry-After": "1"}, times=1)

        def post(event: Any) -> int:
            request = urllib.request.Request(server.url, data=json.dumps([event]).encode(), method="POST",
                                             headers={"aeg-sas-key": key, "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        # Event Grid's delivery loop, with what production also sees: a duplicate delivery, a malformed event,
        # a template deployment's write and a write to a resource type nobody covers.
        people_events = list(emu.events)
        oddities = [("duplicate delivery", copy.deepcopy(people_events[0])),
                    ("malformed event", {"id": "bad-1", "eventType": "Microsoft.Resources.ResourceWriteSuccess",
                                         "eventTime": "2026-11-29T10:00:00Z", "data": {"operationName": "x"}}),
                    ("template deployment", _deployment_event(people_events[0])),
                    ("storage account write", load_sample_event())]
        queue: list[tuple[str, Any]] = [("", e) for e in people_events[:1]] + oddities[:1] + \
                                       [("", e) for e in people_events[1:]] + oddities[1:]
        delivered = set()
        rows = []
        seen_events = len(emu.events)
        while queue:
            label, event = queue.pop(0)
            before = len(recorder.events)
            status = post(event)
            if status >= 500:  # Event Grid redelivers a failed delivery
                status = post(event)
            record = recorder.events[before] if len(recorder.events) > before else None
            rows.append((label, event, status, record))
            delivered.add(event.get("id") if isinstance(event, dict) else None)
            emu.flush_events()
            for echo in emu.events[seen_events:]:  # the echo of the bot's own writes
                queue.insert(0, ("echo of the bot's write", echo))
            seen_events = len(emu.events)
        server.shutdown()
        server.server_close()
        _print_report(out, rows, recorder, teams, runtime.engine.arm.calls, time.monotonic() - started)

        # The platform team tries opt-in containment for public SSH on compute instances, in dry-run first.
        trial = build_runtime({"DRIFTWARDEN_CONFIG_JSON": json.dumps({
            "dry_run": True, "containment": ["aml-ci-ssh-public"], "self_principal_ids": [BOT["oid"]],
            "arm": {"endpoint": emu.base_url}})}, recorders=(recorder,), credential=EmulatorCredential(**BOT),
            connection_verify=emu.ca_pem_path)
        emu.clear_events()
        people["alice@contoso.com"].post_action(f"{WORKSPACES}/ml-research/computes/ci-alice", "start", ml)
        emu.flush_events()
        contained = trial.handle_event(emu.events[-1])
        out.write("\nDry-run of compute containment (containment: [aml-ci-ssh-public], dry_run: true)\n")
        for action in contained.actions:
            out.write(f"  {action.action.value:13} {action.check_id:34} {action.reason[:110]}\n")

        # The same records, read back from the durable remediation log (Azure Table Storage, here Azurite).
        saved = {name: os.environ.get(name) for name in storage}
        os.environ.update(storage)
        try:
            out.write("\n$ python -m warden exemptions\n")
            cli_main(["exemptions"], out)
            out.write("\n$ python -m warden log --outcome reverted\n")
            cli_main(["log", "--outcome", "reverted"], out)
        finally:
            for name, value in saved.items():
                os.environ.pop(name, None) if value is None else os.environ.__setitem__(name, value)
        failed = [r for _, _, _, r in rows if r is not None and r.outcome.value == "failed"]
        return 1 if failed else 0


def _deployment_event(template: dict) -> dict:
    event = copy.deepcopy(template)
    event["id"] = event["id"] + "-deployment"
    deployment = f"/subscriptions/{SUB}/resourceGroups/rg-ai-prod/providers/Microsoft.Resources/deployments/main-20261129"
    event["subject"] = deployment
    event["data"].update(resourceUri=deployment, operationName="Microsoft.Resources/deployments/write")
    return event


def load_sample_event() -> dict:
    from emulator.samples import samples_dir

    path = samples_dir() / "eventgrid" / "egschema-resource-write-success.json"
    return json.loads(path.read_text())[0]


def _who(record) -> str:
    caller = record.caller if record else None
    return (caller.name or caller.app_id or "-") if caller else "-"


def _print_report(out: TextIO, rows, recorder, teams, bot_arm_calls: int, elapsed: float) -> None:
    def short(resource_id: str | None) -> str:
        return "/".join((resource_id or "-").split("/")[-2:])

    out.write("Driftwarden demo: every event, as the bot saw it\n\n")
    out.write(f"{'#':>2}  {'outcome':12} {'caller':18} {'operation':30} {'resource':28} note\n")
    for index, (label, event, status, record) in enumerate(rows, 1):
        if record is None:
            out.write(f"{index:>2}  {'(answered ' + str(status) + ')':12} {'-':18} {'-':30} {'-':28} {label}: acknowledged, no second action or record\n")
            continue
        operation = (record.operation or "-").split("/", 1)[-1]
        note = label or record.reason
        out.write(f"{index:>2}  {record.outcome.value:12} {_who(record)[:18]:18} {operation[-30:]:30} "
                  f"{short(record.resource_id)[:28]:28} {note[:110]}\n")

    outcomes = Counter(r.outcome.value for _, _, _, r in rows if r is not None)
    actions = [a for e in recorder.events for a in e.actions]
    out.write("\nSummary\n")
    out.write("  events by outcome: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) + "\n")
    out.write("  actions by kind:   " + ", ".join(f"{k} {v}" for k, v in sorted(Counter(a.action.value for a in actions).items())) + "\n")
    out.write(f"  tickets delivered to the Teams webhook: {len(teams.received)}\n")
    out.write(f"  ARM calls by the bot: {bot_arm_calls} (a 429 with Retry-After was retried transparently); "
              f"run time {elapsed:.1f} s\n")
    out.write("\nRemediation log (one line per finding)\n")
    out.write(f"  {'action':13} {'check':34} {'resource':28} reason\n")
    for action in actions:
        out.write(f"  {action.action.value:13} {action.check_id:34} {short(action.resource_id)[:28]:28} {action.reason[:120]}\n")
