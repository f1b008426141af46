"""Scenarios of remediators/cognitive_account.py, on the published payloads and hand-made variants."""
from __future__ import annotations

import copy

import pytest

from remediators import cognitive_account as acct
from remediators.base import CheckContext, Mode

NO_CONTEXT = CheckContext()


def with_props(resource, **properties):
    resource = copy.deepcopy(resource)
    resource.setdefault("properties", {}).update(properties)
    return resource


APPROVED_PE = [{"id": "/pe/1", "properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}]
PENDING_PE = [{"id": "/pe/2", "properties": {"privateLinkServiceConnectionState": {"status": "Pending"}}}]


def test_public_network_fails_on_recorded_default_account(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    result = acct.PUBLIC_NETWORK.evaluate(account, NO_CONTEXT)
    assert not result.passed
    assert result.observed == {"properties.publicNetworkAccess": "Enabled"}


def test_public_network_fails_when_property_absent(arm_sample):
    account = arm_sample("cogsvc-account-get.spec-example-2025-09-01.json")
    result = acct.PUBLIC_NETWORK.evaluate(account, NO_CONTEXT)
    assert not result.passed and "absent" in result.detail


@pytest.mark.parametrize("value", ["Disabled", "disabled", "DISABLED"])
def test_public_network_passes_when_disabled_in_any_case(arm_sample, value):
    account = with_props(arm_sample("cogsvc-account-get.spec-example-2025-09-01.json"), publicNetworkAccess=value)
    assert acct.PUBLIC_NETWORK.evaluate(account, NO_CONTEXT).passed


def test_public_access_revert_guard_holds_only_with_approved_private_endpoint(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    assert not acct.PUBLIC_NETWORK.fix.guard(account).ok
    assert not acct.PUBLIC_NETWORK.fix.guard(with_props(account, privateEndpointConnections=PENDING_PE)).ok
    assert acct.PUBLIC_NETWORK.fix.guard(with_props(account, privateEndpointConnections=APPROVED_PE)).ok


def test_public_network_fix_sets_only_public_network_access(arm_sample, fix_problems):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    assert fix_problems(acct.PUBLIC_NETWORK, account) == []
    assert acct.PUBLIC_NETWORK.fix.body(account) == {"properties": {"publicNetworkAccess": "Disabled"}}


def test_network_acls_open_fails_when_acls_absent_and_public(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    assert not acct.NETWORK_ACLS_OPEN.evaluate(account, NO_CONTEXT).passed


def test_network_acls_pass_on_recorded_selected_networks_account(arm_sample):
    account = arm_sample("cogsvc-account-get-networkacls.recorded.json")
    assert acct.NETWORK_ACLS_OPEN.evaluate(account, NO_CONTEXT).passed


def test_network_acls_pass_when_public_access_disabled_whatever_the_rules(arm_sample):
    account = with_props(arm_sample("cogsvc-account-get-default-public.recorded.json"),
                         publicNetworkAccess="Disabled", networkAcls={"defaultAction": "Allow"})
    assert acct.NETWORK_ACLS_OPEN.evaluate(account, NO_CONTEXT).passed


def test_network_acls_fix_keeps_existing_allowlists(arm_sample, fix_problems):
    recorded = arm_sample("cogsvc-account-get-networkacls.recorded.json")
    account = copy.deepcopy(recorded)
    account["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert fix_problems(acct.NETWORK_ACLS_OPEN, account) == []
    body = acct.NETWORK_ACLS_OPEN.fix.body(account)
    acls = body["properties"]["networkAcls"]
    assert acls["defaultAction"] == "Deny"
    assert acls["ipRules"] == recorded["properties"]["networkAcls"]["ipRules"]
    assert acls["virtualNetworkRules"] == recorded["properties"]["networkAcls"]["virtualNetworkRules"]
    assert set(body) == {"properties"} and set(body["properties"]) == {"networkAcls"}


@pytest.mark.parametrize("value, secure", [(True, True), ("true", True), (1, True), ("1", True),
                                           (False, False), (0, False), ("false", False), (None, False)])
def test_local_auth_reads_every_boolean_spelling(arm_sample, value, secure):
    account = arm_sample("cogsvc-account-get.spec-example-2025-09-01.json")
    if value is not None:
        account = with_props(account, disableLocalAuth=value)
    assert acct.LOCAL_AUTH.evaluate(account, NO_CONTEXT).passed is secure


def test_local_auth_fix_sets_disable_local_auth_true(arm_sample, fix_problems):
    assert fix_problems(acct.LOCAL_AUTH, arm_sample("cogsvc-account-get-default-public.recorded.json")) == []


@pytest.mark.parametrize("identity, secure", [
    (None, False), ({"type": "None"}, False), ({"type": "SystemAssigned"}, True),
    ({"type": "systemassigned"}, True), ({"type": "SystemAssigned, UserAssigned"}, True),
    ({"type": "UserAssigned"}, True)])
def test_managed_identity_normalises_identity_types(arm_sample, identity, secure):
    account = arm_sample("cogsvc-account-get.spec-example-2025-09-01.json")
    if identity is not None:
        account["identity"] = identity
    assert acct.NO_MANAGED_IDENTITY.evaluate(account, NO_CONTEXT).passed is secure


def test_managed_identity_fix_adds_system_assigned_identity(arm_sample, fix_problems):
    account = arm_sample("cogsvc-account-get.spec-example-2025-09-01.json")
    assert fix_problems(acct.NO_MANAGED_IDENTITY, account) == []
    assert acct.NO_MANAGED_IDENTITY.fix.body(account) == {"identity": {"type": "SystemAssigned"}}


def test_private_endpoint_missing_counts_only_approved_connections(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    assert not acct.PRIVATE_ENDPOINT_MISSING.evaluate(account, NO_CONTEXT).passed
    assert not acct.PRIVATE_ENDPOINT_MISSING.evaluate(with_props(account, privateEndpointConnections=PENDING_PE), NO_CONTEXT).passed
    assert acct.PRIVATE_ENDPOINT_MISSING.evaluate(with_props(account, privateEndpointConnections=APPROVED_PE), NO_CONTEXT).passed


def test_key_retrieval_names_the_caller_when_local_auth_enabled(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    ctx = CheckContext(operation="microsoft.cognitiveservices/accounts/LISTKEYS/action", caller="mallory@contoso.com")
    result = acct.KEY_RETRIEVAL.evaluate(account, ctx)
    assert not result.passed
    assert "mallory@contoso.com" in result.detail and "listkeys" in result.detail.lower()


def test_key_retrieval_passes_when_local_auth_disabled(arm_sample):
    account = with_props(arm_sample("cogsvc-account-get-default-public.recorded.json"), disableLocalAuth=True)
    ctx = CheckContext(operation="Microsoft.CognitiveServices/accounts/regenerateKey/action", caller="ops")
    assert acct.KEY_RETRIEVAL.evaluate(account, ctx).passed


def test_key_retrieval_does_not_apply_to_writes_or_sweeps(arm_sample):
    account = arm_sample("cogsvc-account-get-default-public.recorded.json")
    assert not acct.KEY_RETRIEVAL.evaluate(account, CheckContext()).applicable
    assert not acct.KEY_RETRIEVAL.evaluate(account, CheckContext(operation=acct.WRITE)).applicable


@pytest.mark.parametrize("check", acct.KIND.checks, ids=lambda c: c.id)
def test_every_account_check_carries_complete_metadata(check, check_metadata_problems):
    assert check_metadata_problems(check, "cogsvc-") == []
    assert check.resource_type == acct.TYPE


def test_only_low_blast_radius_or_guarded_checks_default_to_revert():
    reverting = {c.id for c in acct.KIND.checks if c.default_mode is Mode.REVERT}
    assert reverting == {"cogsvc-public-network", "cogsvc-no-managed-identity"}
    assert acct.PUBLIC_NETWORK.fix.guard is not None
