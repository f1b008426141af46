"""Microsoft.MachineLearningServices/workspaces/computes: compute instances and compute clusters (AmlCompute).

Mind the nesting: the ARM `properties` object is the Compute (`computeType`, `disableLocalAuth`, ...) and
`properties.properties` holds the type-specific ComputeInstance / AmlCompute settings. None of the checked
settings can change on a live compute (disableLocalAuth is read/create only; the compute PATCH carries only
`properties.properties.scaleSettings`), so no check has a fix: the manual fix is delete and recreate.

Scenarios (each has a test of the same name in tests/remediators/test_ml_compute.py):
- local auth allowed on a compute instance or cluster, absent counts as allowed -> ticket; not revertible
- compute instance with public SSH (sshPublicAccess Enabled; absent counts as Disabled) -> ticket
- cluster with the remote-login port open (Enabled, or NotSpecified/absent without a subnet) -> ticket
- node public IP (enableNodePublicIp true; absent counts as true on a cluster; absent on a compute
  instance counts as true when it reports a public IP address) -> ticket
- compute instance or cluster without a subnet -> ticket
- other compute types (attached AKS, Databricks, ...) -> not applicable
- compute secrets fetched (computes/listKeys) while local auth is not disabled -> ticket naming the caller

Containment (opt-in per check with the config key `containment`): the immutable-setting checks (local
auth, public SSH, node public IP, no subnet) declare `stop` for a compute instance that is Running. The
finding still gets its ticket with the recreate steps; the stop is recorded as its own `contained`
action (`would-contain` in dry-run). Clusters (AmlCompute) have no stop: scale settings are theirs.
"""
from __future__ import annotations

from typing import Any, Mapping

from remediators import props
from remediators.base import (
    Check,
    CheckContext,
    Containment,
    Evaluation,
    ManualFix,
    Mode,
    NOT_APPLICABLE,
    OperationRole,
    PolicyRef,
    ResourceKind,
    Severity,
    failed,
    passed,
)

TYPE = "Microsoft.MachineLearningServices/workspaces/computes"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

KEY_OPERATIONS = (f"{TYPE}/listKeys/action",)

COMPUTE_INSTANCE = "ComputeInstance"
AML_COMPUTE = "AmlCompute"

_IMMUTABLE = (
    "{what} cannot change on an existing compute (the compute PATCH carries only scaleSettings): "
    "the compute must be deleted and recreated, which loses its local state and running jobs"
)

_PUT_URL = "https://management.azure.com<workspace-id>/computes/<name>?api-version=2025-12-01"

_RECREATE_CLI = (
    "az ml compute delete -g <rg> -w <workspace> -n <name> --yes; then recreate it with the secure settings: "
    "az ml compute create -g <rg> -w <workspace> -n <name> --type {type} --size <vm-size> {flags}"
)
_SECURE_FLAGS = "--ssh-public-access-enabled false --enable-node-public-ip false --vnet-name <vnet> --subnet <subnet>"

_RECREATE_BICEP = (
    "resource compute 'Microsoft.MachineLearningServices/workspaces/computes@2025-12-01' = { parent: ws, name: '<name>', "
    "location: location, properties: { computeType: '<ComputeInstance|AmlCompute>', disableLocalAuth: true, properties: { "
    "vmSize: '<vm-size>', enableNodePublicIp: false, subnet: { id: '<subnet-id>' }, "
    "sshSettings: { sshPublicAccess: 'Disabled' } /* ComputeInstance */, remoteLoginPortPublicAccess: 'Disabled' /* AmlCompute */ } } }"
)

_RECREATE_PORTAL = (
    "Studio > Compute > <name> > Delete; then + New with 'No public IP', SSH access off, the virtual network "
    "and subnet selected"
)


def _compute_type(resource: Mapping[str, Any]) -> str | None:
    value = props.get(resource, "properties.computeType")
    for known in (COMPUTE_INSTANCE, AML_COMPUTE):
        if props.equals(value, known):
            return known
    return None


def _subnet_id(resource: Mapping[str, Any]) -> str | None:
    return props.text(props.get(resource, "properties.properties.subnet.id")) or None


# Containment ------------------------------------------------------------------------------------

STATE_PATH = "properties.properties.state"
STOP_ACTION = f"{TYPE}/stop/action"


def _running_instance(resource: Mapping[str, Any]) -> bool:
    """Only a Running compute instance is stopped: a cluster has no stop, and an instance that is starting,
    stopping, stopped or busy with a job is left to the ticket (ARM refuses a stop in most of those states)."""
    return _compute_type(resource) == COMPUTE_INSTANCE and props.equals(props.get(resource, STATE_PATH), "Running")


STOP_INSTANCE = Containment(
    action="stop",
    rbac_action=STOP_ACTION,
    applies=_running_instance,
    description="stop the running compute instance until it is recreated (the user loses the running session)",
    evidence=(STATE_PATH,),
)


# aml-compute-local-auth ------------------------------------------------------------------------

def _local_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _compute_type(resource) is None:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.disableLocalAuth")
    if props.truthy(value) is True:
        return passed("local authentication is disabled", properties__disableLocalAuth=value)
    shown = "absent (local auth allowed)" if value is None else repr(value)
    return failed(f"local authentication is allowed: disableLocalAuth is {shown}", properties__disableLocalAuth=value)


LOCAL_AUTH = Check(
    id="aml-compute-local-auth",
    title="Compute allows local (key) authentication",
    severity=Severity.MEDIUM,
    risk="The compute accepts local credentials and keys that bypass Microsoft Entra ID and per-user auditing.",
    blast_radius="Recreate: the compute's local state and running jobs are lost.",
    manual_fix=ManualFix(
        cli=(
            "az ml compute delete -g <rg> -w <workspace> -n <name> --yes; then recreate it with local auth disabled: "
            f"az rest --method put --url \"{_PUT_URL}\" --body '{{\"location\":\"<region>\",\"properties\":"
            "{\"computeType\":\"<ComputeInstance|AmlCompute>\",\"disableLocalAuth\":true,\"properties\":"
            "{\"vmSize\":\"<vm-size>\",\"enableNodePublicIp\":false,\"subnet\":{\"id\":\"<subnet-id>\"}}}}'"
        ),
        bicep=_RECREATE_BICEP,
        portal=_RECREATE_PORTAL + "; assign policy a6f9a2d0 (Modify) so new computes get disableLocalAuth",
    ),
    policies=(
        PolicyRef("e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f", "Azure Machine Learning Computes should have local authentication methods disabled", "Audit"),
        PolicyRef("a6f9a2d0-cff7-4855-83ad-4cd750666512", "Configure Azure Machine Learning Computes to disable local authentication methods", "Modify"),
    ),
    benchmark="MCSB IM-1",
    evaluate=_local_auth,
    default_mode=Mode.TICKET,
    containment=STOP_INSTANCE,
    not_revertible_because=_IMMUTABLE.format(what="disableLocalAuth (x-ms-mutability read, create)"),
)


# aml-ci-ssh-public -----------------------------------------------------------------------------

def _ci_ssh_public(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _compute_type(resource) != COMPUTE_INSTANCE:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.properties.sshSettings.sshPublicAccess")
    if props.equals(value, "Enabled"):
        return failed("the compute instance's SSH port is open to the internet (sshPublicAccess Enabled)",
                      properties__properties__sshSettings__sshPublicAccess=value)
    shown = "absent (defaults to Disabled)" if value is None else repr(value)
    return passed(f"public SSH access is {shown}", properties__properties__sshSettings__sshPublicAccess=value)


CI_SSH_PUBLIC = Check(
    id="aml-ci-ssh-public",
    title="Compute instance SSH port is publicly reachable",
    severity=Severity.HIGH,
    risk="The compute instance accepts SSH from any internet address, exposing it to brute force and key theft.",
    blast_radius="Recreate (or stop for containment): the user loses the running session and the instance's local state.",
    manual_fix=ManualFix(
        cli=_RECREATE_CLI.format(type=COMPUTE_INSTANCE, flags=_SECURE_FLAGS)
            + " (contain first with az ml compute stop -g <rg> -w <workspace> -n <name>)",
        bicep=_RECREATE_BICEP,
        portal=_RECREATE_PORTAL,
    ),
    policies=(),
    benchmark="MCSB NS-2",
    evaluate=_ci_ssh_public,
    default_mode=Mode.TICKET,
    containment=STOP_INSTANCE,
    not_revertible_because=_IMMUTABLE.format(what="sshSettings.sshPublicAccess"),
)


# aml-cluster-ssh-public ------------------------------------------------------------------------

def _cluster_ssh_public(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _compute_type(resource) != AML_COMPUTE:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.properties.remoteLoginPortPublicAccess")
    subnet = _subnet_id(resource)
    evidence = {"properties__properties__remoteLoginPortPublicAccess": value,
                "properties__properties__subnet__id": subnet}
    if props.equals(value, "Disabled"):
        return passed("the cluster's remote login port is closed to the internet", **evidence)
    if props.equals(value, "Enabled"):
        return failed("the cluster's remote login (SSH) port is open to the internet (Enabled)", **evidence)
    if value is None or props.equals(value, "NotSpecified"):
        shown = "absent (NotSpecified)" if value is None else repr(value)
        if subnet:
            return passed(f"remoteLoginPortPublicAccess is {shown} and the cluster is in a subnet, so the port stays closed",
                          **evidence)
        return failed(f"remoteLoginPortPublicAccess is {shown} with no subnet: the SSH port is open to the internet",
                      **evidence)
    return failed(f"remoteLoginPortPublicAccess is {value!r}, not Disabled", **evidence)


CLUSTER_SSH_PUBLIC = Check(
    id="aml-cluster-ssh-public",
    title="Compute cluster remote login port is publicly reachable",
    severity=Severity.HIGH,
    risk="Cluster nodes accept SSH from any internet address, exposing training nodes and their data.",
    blast_radius="Recreate: queued and running jobs on the cluster are killed.",
    manual_fix=ManualFix(
        cli=_RECREATE_CLI.format(type=AML_COMPUTE, flags=_SECURE_FLAGS + " --min-instances 0 --max-instances <n>"),
        bicep=_RECREATE_BICEP,
        portal=_RECREATE_PORTAL,
    ),
    policies=(),
    benchmark="MCSB NS-2",
    evaluate=_cluster_ssh_public,
    default_mode=Mode.TICKET,
    not_revertible_because=_IMMUTABLE.format(what="remoteLoginPortPublicAccess"),
)


# aml-compute-node-public-ip --------------------------------------------------------------------

def _node_public_ip(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    compute_type = _compute_type(resource)
    if compute_type is None:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.properties.enableNodePublicIp")
    public_ip = props.text(props.get(resource, "properties.properties.connectivityEndpoints.publicIpAddress")) or None
    evidence = {"properties__properties__enableNodePublicIp": value,
                "properties__properties__connectivityEndpoints__publicIpAddress": public_ip}
    flag = props.truthy(value)
    if flag is False:
        return passed("nodes have no public IP address (enableNodePublicIp false)", **evidence)
    if flag is True:
        return failed(f"nodes get public IP addresses: enableNodePublicIp is {value!r}", **evidence)
    if value is not None:
        return failed(f"enableNodePublicIp is unreadable ({value!r}); counted as true", **evidence)
    if compute_type == AML_COMPUTE:
        return failed("enableNodePublicIp is absent (defaults to true for clusters): nodes get public IP addresses",
                      **evidence)
    if public_ip:
        return failed(f"enableNodePublicIp is absent and the instance reports public IP address {public_ip}", **evidence)
    return passed("enableNodePublicIp is absent and the instance reports no public IP address", **evidence)


NODE_PUBLIC_IP = Check(
    id="aml-compute-node-public-ip",
    title="Compute nodes have public IP addresses",
    severity=Severity.MEDIUM,
    risk="Nodes with public IP addresses are directly addressable from the internet and egress without network controls.",
    blast_radius="Recreate: queued and running jobs and the instance's local state are lost; a no-public-IP compute needs a subnet or the managed VNet.",
    manual_fix=ManualFix(
        cli=_RECREATE_CLI.format(type="<ComputeInstance|AmlCompute>", flags=_SECURE_FLAGS),
        bicep=_RECREATE_BICEP,
        portal=_RECREATE_PORTAL,
    ),
    policies=(
        PolicyRef("7804b5c7-01dc-4723-969b-ae300cc07ff1", "Azure Machine Learning Computes should be in a virtual network", "Audit"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_node_public_ip,
    default_mode=Mode.TICKET,
    containment=STOP_INSTANCE,
    not_revertible_because=_IMMUTABLE.format(what="enableNodePublicIp"),
)


# aml-compute-no-vnet ---------------------------------------------------------------------------

def _no_vnet(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if _compute_type(resource) is None:
        return NOT_APPLICABLE
    subnet = _subnet_id(resource)
    if subnet:
        return passed(f"the compute is in subnet {subnet}", properties__properties__subnet__id=subnet)
    return failed("the compute is in no virtual network (properties.properties.subnet.id is absent or empty); "
                  "compliant only if the workspace uses a managed VNet",
                  properties__properties__subnet__id=subnet)


NO_VNET = Check(
    id="aml-compute-no-vnet",
    title="Compute is not in a virtual network",
    severity=Severity.MEDIUM,
    risk="Outside a virtual network the compute's traffic cannot be restricted by NSGs, firewalls or private endpoints.",
    blast_radius="Recreate: queued and running jobs and the instance's local state are lost.",
    manual_fix=ManualFix(
        cli=_RECREATE_CLI.format(type="<ComputeInstance|AmlCompute>", flags=_SECURE_FLAGS)
            + " (or enable the workspace managed VNet: aml-ws-managed-network)",
        bicep=_RECREATE_BICEP,
        portal=_RECREATE_PORTAL,
    ),
    policies=(
        PolicyRef("7804b5c7-01dc-4723-969b-ae300cc07ff1", "Azure Machine Learning Computes should be in a virtual network", "Audit"),
    ),
    benchmark="MCSB NS-2",
    evaluate=_no_vnet,
    default_mode=Mode.TICKET,
    containment=STOP_INSTANCE,
    not_revertible_because=_IMMUTABLE.format(what="the subnet"),
)


# aml-compute-key-retrieval ---------------------------------------------------------------------

def _key_retrieval(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if ctx.operation is None or ctx.operation.lower() not in {op.lower() for op in KEY_OPERATIONS}:
        return NOT_APPLICABLE
    value = props.get(resource, "properties.disableLocalAuth")
    who = ctx.caller or "an unknown caller"
    if props.truthy(value) is True:
        return passed(f"{who} called listKeys, but local auth is disabled on the compute",
                      properties__disableLocalAuth=value)
    shown = "absent (local auth allowed)" if value is None else repr(value)
    return failed(f"{who} called listKeys while disableLocalAuth is {shown}: compute secrets are usable",
                  properties__disableLocalAuth=value)


KEY_RETRIEVAL = Check(
    id="aml-compute-key-retrieval",
    title="Compute secrets retrieved while local authentication is allowed",
    severity=Severity.HIGH,
    risk="Someone read the compute's secrets (admin credentials, SSH or cluster keys) while they still work.",
    blast_radius="n/a: a secret retrieval cannot be undone; the lasting fix is aml-compute-local-auth (recreate the compute).",
    manual_fix=ManualFix(
        cli="Confirm the caller; recreate the compute with disableLocalAuth true (see aml-compute-local-auth) so its keys stop working",
        bicep="properties: { disableLocalAuth: true }",
        portal="Workspace > Access control (IAM): remove computes/listKeys/action from the caller's role; recreate the compute",
    ),
    policies=(
        PolicyRef("e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f", "Azure Machine Learning Computes should have local authentication methods disabled", "Audit"),
    ),
    benchmark="MCSB IM-1",
    evaluate=_key_retrieval,
    default_mode=Mode.TICKET,
    not_revertible_because="a secret retrieval already happened; nothing to revert (fix aml-compute-local-auth instead)",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning compute (instance or cluster)",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/listKeys/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/start/action": OperationRole.EVALUATE,
        f"{TYPE}/stop/action": OperationRole.EVALUATE,
        f"{TYPE}/restart/action": OperationRole.EVALUATE,
    },
    checks=(LOCAL_AUTH, CI_SSH_PUBLIC, CLUSTER_SSH_PUBLIC, NODE_PUBLIC_IP, NO_VNET, KEY_RETRIEVAL),
)
