"""Property: no write the bot can produce loosens security or touches a property outside its checks' own.

Random account and workspace bodies go through the real engine (every revertible check in revert mode)
and the real ARM client to the emulator; the test inspects the PATCH bodies ARM received.
"""
from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings, strategies as st

import remediators
from emulator import ArmEmulator, EmulatorCredential
from remediators import props
from remediators.base import CheckContext
from tests.support.fixtures import ACCOUNT_ID, SUBSCRIPTION
from tests.support.samples import arm_body, arm_event
from warden.arm import ArmClient
from warden.config import from_mapping
from warden.engine import Engine
from warden.events import triage
from warden.records import MemoryRecorder
from warden.state import MemoryState

WORKSPACE_ID = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ml/providers/Microsoft.MachineLearningServices/workspaces/ws1"

bools = st.sampled_from([None, True, False, 0, 1, "true", "false", "True"])
access = st.sampled_from([None, "Enabled", "Disabled", "enabled", "DISABLED"])
pe_status = st.sampled_from(["Approved", "Pending", "Rejected", "approved"])
connections = st.lists(pe_status, max_size=2).map(
    lambda states: [{"id": f"/pe/{i}", "properties": {"privateLinkServiceConnectionState": {"status": s}}}
                    for i, s in enumerate(states)])
identity = st.sampled_from([None, "None", "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "systemassigned"])
acls = st.one_of(st.none(), st.fixed_dictionaries({
    "defaultAction": st.sampled_from(["Allow", "Deny", "allow"]),
    "bypass": st.sampled_from(["AzureServices", "None"]),
    "ipRules": st.lists(st.sampled_from([{"value": "100.0.0.0/24"}, {"value": "203.0.113.7"}]), max_size=2, unique_by=lambda r: r["value"]),
    "virtualNetworkRules": st.just([]),
}))


def _set(body, key, value):
    if value is not None:
        body["properties"][key] = value


@st.composite
def accounts(draw):
    body = arm_body("cogsvc-account-get-default-public.recorded.json")
    body["properties"].pop("publicNetworkAccess", None)
    _set(body, "publicNetworkAccess", draw(access))
    _set(body, "disableLocalAuth", draw(bools))
    _set(body, "networkAcls", draw(acls))
    body["properties"]["privateEndpointConnections"] = draw(connections)
    kind = draw(identity)
    if kind is not None:
        body["identity"] = {"type": kind}
    return ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write", body


@st.composite
def workspaces(draw):
    body = arm_body("ml-workspace-get.spec-example-2025-12-01.json")
    for key in ("publicNetworkAccess", "systemDatastoresAuthMode"):
        body["properties"].pop(key, None)
    _set(body, "publicNetworkAccess", draw(access))
    _set(body, "systemDatastoresAuthMode", draw(st.sampled_from([None, "AccessKey", "Identity", "UserDelegationSAS", "accesskey"])))
    body["properties"]["privateEndpointConnections"] = draw(connections)
    return WORKSPACE_ID, "Microsoft.MachineLearningServices/workspaces/write", body


def all_revert_modes():
    return {c.id: "revert" for c in remediators.all_checks() if c.fix is not None}


def leaves(document, prefix=""):
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            yield from leaves(value, path + ".")
        else:
            yield path, value


def owns(owned: set[str], path: str) -> bool:
    return any(path.lower() == o.lower() or path.lower().startswith(o.lower() + ".") for o in owned)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=st.one_of(accounts(), workspaces()))
def test_no_write_loosens_security_or_touches_foreign_properties(case):
    resource_id, operation, body = case
    emu, engine = _world()
    emu.put_resource(resource_id, body)
    before = emu.get_resource(resource_id)
    emu.clear_requests()

    engine.handle(triage(arm_event(resource_id, operation)))

    kind = remediators.kind_for(before["type"])
    failing = [c for c in kind.checks if c.fix is not None and not c.evaluate(before, CheckContext()).passed]
    owned = {path for c in failing for path in c.fix.paths_owned(before)}
    changes = {ch.path: ch for c in failing for ch in c.fix.changes(before)}
    for request in [r for r in emu.requests if r.method in ("PATCH", "PUT")]:
        for path, value in leaves(request.body):
            assert owns(owned, path), f"write touched {path}, owned only {owned}"
            if path in changes:
                assert value in changes[path].secure_values, f"{path}={value!r} is not a secure value"
            else:
                current = props.get(before, path)
                # An absent rule list and an empty one mean the same: no rules.
                assert value == current or (value == [] and current is None), f"{path} changed from {current!r} to {value!r}"
    after = emu.get_resource(resource_id)
    for check in kind.checks:
        if check.evaluate(before, CheckContext()).passed:
            assert check.evaluate(after, CheckContext()).passed, f"{check.id} passed before the bot wrote and fails after"


_cache: dict = {}


def _world():
    """One emulator and engine for every example (hypothesis runs many; starting one each time is wasteful)."""
    if not _cache:
        emu = ArmEmulator().start()
        config = from_mapping({"modes": all_revert_modes(), "arm": {"endpoint": emu.base_url, "lro_wait_seconds": 1}})
        arm = ArmClient(EmulatorCredential(oid="bot", appid="bot"), config.arm, connection_verify=emu.ca_pem_path)
        tickets = _CountingTickets()
        _cache.update(emu=emu, engine=Engine(config, arm, MemoryRecorder(), tickets, MemoryState()))
    return _cache["emu"], _cache["engine"]


class _CountingTickets:
    def open(self, ticket):
        return f"test:{ticket.key}"

    def resolve(self, resource_id, check_ids, note):
        pass


def teardown_module(module):
    if _cache:
        _cache["emu"].stop()
