"""Scenarios of remediators/ml_compute.py on the published compute samples and hand-made variants."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_compute as mc
from remediators.base import CheckContext, Mode, OperationRole

INSTANCE = "ml-compute-instance-get.spec-example-2025-12-01"
CLUSTER_PATCH = "ml-compute-patch.spec-example-2025-12-01"
NO_OP = CheckContext()
LIST_KEYS = "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action"

CONFIG_CHECKS = (mc.LOCAL_AUTH, mc.CI_SSH_PUBLIC, mc.CLUSTER_SSH_PUBLIC, mc.NODE_PUBLIC_IP, mc.NO_VNET)


def compute(compute_type: str | None, inner: dict[str, Any] | None = None, **outer: Any) -> dict[str, Any]:
    properties: dict[str, Any] = dict(outer)
    if compute_type is not None:
        properties["computeType"] = compute_type
    if inner is not None:
        properties["properties"] = inner
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/computes/c",
        "type": mc.TYPE,
        "name": "c",
        "properties": properties,
    }


SUBNET = {"id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/ml"}


# Registration and declared shape ----------------------------------------------------------------

def test_kind_is_registered_under_the_compute_type():
    assert remediators.kind_for("Microsoft.MachineLearningServices/workspaces/computes") is mc.KIND
    assert mc.KIND.api_version == "2025-12-01"


def test_check_ids_and_default_modes_follow_the_catalog():
    declared = {c.id: (c.default_mode, c.revertible) for c in mc.KIND.checks}
    assert declared == {
        "aml-compute-local-auth": (Mode.TICKET, False),
        "aml-ci-ssh-public": (Mode.TICKET, False),
        "aml-cluster-ssh-public": (Mode.TICKET, False),
        "aml-compute-node-public-ip": (Mode.TICKET, False),
        "aml-compute-no-vnet": (Mode.TICKET, False),
        "aml-compute-key-retrieval": (Mode.TICKET, False),
    }


@pytest.mark.parametrize("check", mc.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == mc.TYPE
    assert check_metadata_problems(check, "aml-") == []


@pytest.mark.parametrize("check", CONFIG_CHECKS, ids=lambda c: c.id)
def test_immutable_settings_have_no_fix_and_a_recreate_manual_fix(check):
    assert check.fix is None
    assert "cannot change on an existing compute" in check.not_revertible_because
    assert "az ml compute delete" in check.manual_fix.cli
    assert "Delete" in check.manual_fix.portal


def test_recreate_steps_carry_the_secure_flags():
    assert "--ssh-public-access-enabled false" in mc.CI_SSH_PUBLIC.manual_fix.cli
    assert "--enable-node-public-ip false" in mc.NODE_PUBLIC_IP.manual_fix.cli
    assert "--subnet" in mc.NO_VNET.manual_fix.cli
    assert '"disableLocalAuth":true' in mc.LOCAL_AUTH.manual_fix.cli
    assert "disableLocalAuth: true" in mc.LOCAL_AUTH.manual_fix.bicep


def test_policies_are_the_catalog_built_ins():
    assert [p.definition_id for p in mc.LOCAL_AUTH.policies] == [
        "e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f", "a6f9a2d0-cff7-4855-83ad-4cd750666512"]
    assert [p.definition_id for p in mc.NO_VNET.policies] == ["7804b5c7-01dc-4723-969b-ae300cc07ff1"]
    assert mc.CI_SSH_PUBLIC.policies == () and mc.CLUSTER_SSH_PUBLIC.policies == ()


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/workspaces/computes/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/computes/delete", OperationRole.DELETE),
    (LIST_KEYS.lower(), OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/computes/start/action", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/computes/stop/action", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/computes/restart/action", OperationRole.EVALUATE),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert mc.KIND.role_of(operation) is role


# The published samples -----------------------------------------------------------------------------

def test_published_compute_instance_drifts_on_local_auth_ssh_and_public_ip(arm_sample):
    resource = arm_sample(INSTANCE)
    assert not mc.LOCAL_AUTH.evaluate(resource, NO_OP).passed
    ssh = mc.CI_SSH_PUBLIC.evaluate(resource, NO_OP)
    assert not ssh.passed
    assert ssh.observed == {"properties.properties.sshSettings.sshPublicAccess": "Enabled"}
    public_ip = mc.NODE_PUBLIC_IP.evaluate(resource, NO_OP)
    assert not public_ip.passed
    assert public_ip.observed["properties.properties.connectivityEndpoints.publicIpAddress"] == "10.0.0.1"


def test_published_compute_instance_is_in_a_subnet(arm_sample):
    result = mc.NO_VNET.evaluate(arm_sample(INSTANCE), NO_OP)
    assert result.passed
    assert result.observed == {"properties.properties.subnet.id": "test-subnet-resource-id"}


def test_published_compute_instance_is_not_a_cluster(arm_sample):
    assert not mc.CLUSTER_SSH_PUBLIC.evaluate(arm_sample(INSTANCE), NO_OP).applicable


def test_published_cluster_without_type_properties_counts_every_default_as_insecure(arm_sample):
    resource = arm_sample(CLUSTER_PATCH)  # AmlCompute, no properties.properties at all
    for check in (mc.LOCAL_AUTH, mc.CLUSTER_SSH_PUBLIC, mc.NODE_PUBLIC_IP, mc.NO_VNET):
        result = check.evaluate(resource, NO_OP)
        assert result.applicable and not result.passed, check.id
    assert not mc.CI_SSH_PUBLIC.evaluate(resource, NO_OP).applicable


# aml-compute-local-auth ----------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, "true", "True", 1, "1"])
def test_local_auth_passes_when_disabled(value):
    assert mc.LOCAL_AUTH.evaluate(compute("AmlCompute", disableLocalAuth=value), NO_OP).passed


@pytest.mark.parametrize("value", [False, "false", 0, "0", None])
def test_local_auth_fails_when_allowed_or_absent(value):
    outer = {} if value is None else {"disableLocalAuth": value}
    result = mc.LOCAL_AUTH.evaluate(compute("ComputeInstance", **outer), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.disableLocalAuth": value}


def test_local_auth_matches_compute_type_case_insensitively():
    assert not mc.LOCAL_AUTH.evaluate(compute("computeinstance"), NO_OP).passed


@pytest.mark.parametrize("compute_type", ["Kubernetes", "AKS", "Databricks", None])
def test_config_checks_are_not_applicable_to_other_compute_types(compute_type):
    resource = compute(compute_type, {"enableNodePublicIp": True}, disableLocalAuth=False)
    for check in CONFIG_CHECKS:
        assert not check.evaluate(resource, NO_OP).applicable, check.id


# aml-ci-ssh-public ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["Enabled", "enabled"])
def test_ci_ssh_public_fails_when_enabled(value):
    resource = compute("ComputeInstance", {"sshSettings": {"sshPublicAccess": value}, "subnet": SUBNET})
    assert not mc.CI_SSH_PUBLIC.evaluate(resource, NO_OP).passed


@pytest.mark.parametrize("inner", [{"sshSettings": {"sshPublicAccess": "disabled"}}, {"sshSettings": {}}, {}, None])
def test_ci_ssh_public_passes_when_disabled_or_absent(inner):
    assert mc.CI_SSH_PUBLIC.evaluate(compute("ComputeInstance", inner), NO_OP).passed


# aml-cluster-ssh-public ----------------------------------------------------------------------------

@pytest.mark.parametrize("inner", [
    {"remoteLoginPortPublicAccess": "Enabled", "subnet": SUBNET},
    {"remoteLoginPortPublicAccess": "enabled"},
    {"remoteLoginPortPublicAccess": "NotSpecified"},
    {"remoteLoginPortPublicAccess": "notspecified", "subnet": {"id": ""}},
    {"remoteLoginPortPublicAccess": "NotSpecified", "subnet": None},
    {},
])
def test_cluster_ssh_public_fails_when_enabled_or_unspecified_without_subnet(inner):
    assert not mc.CLUSTER_SSH_PUBLIC.evaluate(compute("AmlCompute", inner), NO_OP).passed


@pytest.mark.parametrize("inner", [
    {"remoteLoginPortPublicAccess": "Disabled"},
    {"remoteLoginPortPublicAccess": "disabled", "subnet": SUBNET},
    {"remoteLoginPortPublicAccess": "NotSpecified", "subnet": SUBNET},
    {"subnet": SUBNET},
])
def test_cluster_ssh_public_passes_when_disabled_or_unspecified_inside_a_subnet(inner):
    assert mc.CLUSTER_SSH_PUBLIC.evaluate(compute("AmlCompute", inner), NO_OP).passed


def test_cluster_ssh_public_reads_nested_keys_case_insensitively():
    resource = {"Properties": {"ComputeType": "amlcompute", "Properties": {"RemoteLoginPortPublicAccess": "DISABLED"}}}
    result = mc.CLUSTER_SSH_PUBLIC.evaluate(resource, NO_OP)
    assert result.applicable and result.passed


# aml-compute-node-public-ip ------------------------------------------------------------------------

@pytest.mark.parametrize("value", [True, "true", 1, "1"])
@pytest.mark.parametrize("compute_type", ["AmlCompute", "ComputeInstance"])
def test_node_public_ip_fails_when_enabled(compute_type, value):
    result = mc.NODE_PUBLIC_IP.evaluate(compute(compute_type, {"enableNodePublicIp": value}), NO_OP)
    assert not result.passed


@pytest.mark.parametrize("value", [False, "false", "False", 0, "0"])
@pytest.mark.parametrize("compute_type", ["AmlCompute", "ComputeInstance"])
def test_node_public_ip_passes_when_disabled(compute_type, value):
    assert mc.NODE_PUBLIC_IP.evaluate(compute(compute_type, {"enableNodePublicIp": value}), NO_OP).passed


def test_node_public_ip_fails_on_a_cluster_when_property_absent():
    result = mc.NODE_PUBLIC_IP.evaluate(compute("AmlCompute", {"subnet": SUBNET}), NO_OP)
    assert not result.passed
    assert "defaults to true" in result.detail


def test_node_public_ip_on_an_instance_without_the_property_follows_its_reported_public_ip():
    with_ip = compute("ComputeInstance", {"connectivityEndpoints": {"publicIpAddress": "20.1.2.3"}})
    without_ip = compute("ComputeInstance", {"connectivityEndpoints": {"privateIpAddress": "10.0.0.4"}})
    assert not mc.NODE_PUBLIC_IP.evaluate(with_ip, NO_OP).passed
    assert mc.NODE_PUBLIC_IP.evaluate(without_ip, NO_OP).passed


def test_node_public_ip_counts_an_unreadable_value_as_true():
    assert not mc.NODE_PUBLIC_IP.evaluate(compute("ComputeInstance", {"enableNodePublicIp": "maybe"}), NO_OP).passed


# aml-compute-no-vnet -------------------------------------------------------------------------------

@pytest.mark.parametrize("inner", [{}, {"subnet": None}, {"subnet": {}}, {"subnet": {"id": ""}}, {"subnet": {"id": "  "}}])
@pytest.mark.parametrize("compute_type", ["AmlCompute", "ComputeInstance"])
def test_no_vnet_fails_when_subnet_absent_or_empty(compute_type, inner):
    result = mc.NO_VNET.evaluate(compute(compute_type, inner), NO_OP)
    assert not result.passed
    assert result.observed == {"properties.properties.subnet.id": None}


def test_no_vnet_passes_with_a_subnet():
    assert mc.NO_VNET.evaluate(compute("AmlCompute", {"Subnet": {"ID": SUBNET["id"]}}), NO_OP).passed


# aml-compute-key-retrieval -------------------------------------------------------------------------

def test_key_retrieval_is_not_applicable_without_an_operation():
    assert not mc.KEY_RETRIEVAL.evaluate(compute("ComputeInstance"), NO_OP).applicable


def test_key_retrieval_is_not_applicable_to_a_start():
    ctx = CheckContext(operation="Microsoft.MachineLearningServices/workspaces/computes/start/action", caller="a")
    assert not mc.KEY_RETRIEVAL.evaluate(compute("ComputeInstance"), ctx).applicable


@pytest.mark.parametrize("operation", [LIST_KEYS, LIST_KEYS.lower()])
def test_key_retrieval_fails_and_names_the_caller_when_local_auth_is_allowed(operation, arm_sample):
    result = mc.KEY_RETRIEVAL.evaluate(arm_sample(INSTANCE), CheckContext(operation=operation, caller="dave"))
    assert result.applicable and not result.passed
    assert "dave" in result.detail


@pytest.mark.parametrize("value", [True, "true", 1])
def test_key_retrieval_passes_when_local_auth_is_disabled(value):
    ctx = CheckContext(operation=LIST_KEYS, caller="dave")
    assert mc.KEY_RETRIEVAL.evaluate(compute("AmlCompute", disableLocalAuth=value), ctx).passed
