"""Generated estates of AI resources for sweep and scale tests, with a known share of drift."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from typing import Any

DEFAULT_SUBSCRIPTION = "00000000-0000-4000-8000-00000000e57a"
CS_ACCOUNT = "Microsoft.CognitiveServices/accounts"
ML_WORKSPACE = "Microsoft.MachineLearningServices/workspaces"
ML_COMPUTE = f"{ML_WORKSPACE}/computes"
ML_ONLINE_ENDPOINT = f"{ML_WORKSPACE}/onlineEndpoints"
ML_DATASTORE = f"{ML_WORKSPACE}/datastores"

_KIND_WEIGHTS = ((CS_ACCOUNT, 40), (ML_WORKSPACE, 12), (ML_COMPUTE, 24), (ML_ONLINE_ENDPOINT, 12), (ML_DATASTORE, 12))
_CHILDREN_PER_WORKSPACE = 8
_LOCATIONS = ("eastus", "westeurope", "swedencentral", "eastus2")
_ACCOUNT_KINDS = ("OpenAI", "AIServices", "TextAnalytics", "FormRecognizer")

Body = dict[str, Any]


class _Builder:
    """Resource bodies: compliant with every catalog check unless drift() loosens one setting."""

    def __init__(self, rng: random.Random, subscription_id: str) -> None:
        self.rng = rng
        self.sub = subscription_id

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _approved_pe(self, resource_id: str) -> list[Body]:
        name = f"pe-{self.rng.getrandbits(32):08x}"
        return [{
            "id": f"{resource_id}/privateEndpointConnections/{name}",
            "name": name,
            "properties": {
                "privateEndpoint": {"id": f"/subscriptions/{self.sub}/resourceGroups/rg-network/providers/"
                                          f"Microsoft.Network/privateEndpoints/{name}"},
                "privateLinkServiceConnectionState": {"status": "Approved", "description": "Auto-Approved",
                                                      "actionsRequired": "None"},
                "provisioningState": "Succeeded",
            },
        }]

    def _common(self, resource_id: str, resource_type: str, location: str) -> Body:
        return {
            "id": resource_id,
            "name": resource_id.rsplit("/", 1)[1],
            "type": resource_type,
            "location": location,
            "etag": f'"{self.uid()}"',
            "tags": {"env": self.rng.choice(("dev", "test", "prod")), "owner": f"team-{self.rng.randint(1, 9)}"},
            "systemData": {"createdBy": "estate@contoso.example", "createdByType": "User",
                           "createdAt": "2025-01-01T00:00:00.0000000Z"},
        }

    def account(self, rid: str, location: str, drift: str | None) -> Body:
        name = rid.rsplit("/", 1)[1]
        body = self._common(rid, CS_ACCOUNT, location)
        body.update(
            kind=self.rng.choice(_ACCOUNT_KINDS),
            sku={"name": "S0"},
            identity={"type": "SystemAssigned", "principalId": self.uid(), "tenantId": self.uid()},
            properties={
                "endpoint": f"https://{name}.cognitiveservices.azure.com/",
                "customSubDomainName": name,
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Disabled",
                "disableLocalAuth": True,
                "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "ipRules": [],
                                "virtualNetworkRules": []},
                "restrictOutboundNetworkAccess": True,
                "allowedFqdnList": ["contoso.example"],
                "privateEndpointConnections": self._approved_pe(rid),
            },
        )
        props = body["properties"]
        if drift == "cogsvc-public-network":
            props["publicNetworkAccess"] = "Enabled"
            props["networkAcls"]["defaultAction"] = "Allow"
        elif drift == "cogsvc-local-auth":
            if self.rng.random() < 0.5:
                del props["disableLocalAuth"]  # a missing value counts as the insecure default
            else:
                props["disableLocalAuth"] = False
        return body

    def workspace(self, rid: str, location: str, drift: str | None) -> Body:
        body = self._common(rid, ML_WORKSPACE, location)
        body.update(
            kind="Default",
            sku={"name": "Basic", "tier": "Basic"},
            identity={"type": "SystemAssigned", "principalId": self.uid(), "tenantId": self.uid()},
            properties={
                "friendlyName": rid.rsplit("/", 1)[1],
                "provisioningState": "Succeeded",
                "publicNetworkAccess": "Disabled",
                "allowPublicAccessWhenBehindVnet": False,
                "managedNetwork": {"isolationMode": "AllowOnlyApprovedOutbound", "status": {"status": "Active"}},
                "systemDatastoresAuthMode": "Identity",
                "privateEndpointConnections": self._approved_pe(rid),
            },
        )
        if drift == "aml-ws-public-network":
            if self.rng.random() < 0.5:
                del body["properties"]["publicNetworkAccess"]
            else:
                body["properties"]["publicNetworkAccess"] = "Enabled"
        return body

    def compute(self, rid: str, location: str, drift: str | None) -> Body:
        body = self._common(rid, ML_COMPUTE, location)
        instance = self.rng.random() < 0.5
        subnet = {"id": f"/subscriptions/{self.sub}/resourceGroups/rg-network/providers/Microsoft.Network/"
                        "virtualNetworks/vnet-ml/subnets/compute"}
        inner: Body = {"vmSize": "STANDARD_DS3_V2", "subnet": subnet, "enableNodePublicIp": False}
        if instance:
            inner.update(sshSettings={"sshPublicAccess": "Disabled"}, state="Running")
        else:
            inner.update(remoteLoginPortPublicAccess="Disabled",
                         scaleSettings={"maxNodeCount": 4, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT5M"})
        body["properties"] = {
            "computeType": "ComputeInstance" if instance else "AmlCompute",
            "computeLocation": location,
            "provisioningState": "Succeeded",
            "disableLocalAuth": True,
            "properties": inner,
        }
        if drift == "aml-compute-local-auth":
            body["properties"]["disableLocalAuth"] = False
        return body

    def online_endpoint(self, rid: str, location: str, drift: str | None) -> Body:
        body = self._common(rid, ML_ONLINE_ENDPOINT, location)
        body.update(
            kind="Managed",
            identity={"type": "SystemAssigned", "principalId": self.uid(), "tenantId": self.uid()},
            properties={
                "authMode": "AADToken",
                "publicNetworkAccess": "Disabled",
                "provisioningState": "Succeeded",
                "scoringUri": f"https://{rid.rsplit('/', 1)[1]}.{location}.inference.ml.azure.com/score",
                "traffic": {"blue": 100},
            },
        )
        if drift == "aml-oe-key-auth":
            body["properties"]["authMode"] = "Key"
        return body

    def datastore(self, rid: str, location: str, drift: str | None) -> Body:
        body = self._common(rid, ML_DATASTORE, location)
        del body["location"]  # datastores are proxy resources: no location
        body["properties"] = {
            "datastoreType": "AzureBlob",
            "accountName": f"st{self.rng.getrandbits(40):010x}",
            "containerName": "data",
            "endpoint": "core.windows.net",
            "protocol": "https",
            "isDefault": False,
            "credentials": {"credentialsType": "None"},
            "serviceDataAccessAuthIdentity": "WorkspaceSystemAssignedIdentity",
        }
        if drift == "aml-datastore-credential-auth":
            body["properties"]["credentials"] = {"credentialsType": "AccountKey",
                                                 "secrets": {"secretsType": "AccountKey"}}
        return body


_DRIFTS: dict[str, tuple[str, ...]] = {
    CS_ACCOUNT: ("cogsvc-public-network", "cogsvc-local-auth"),
    ML_WORKSPACE: ("aml-ws-public-network",),
    ML_COMPUTE: ("aml-compute-local-auth",),
    ML_ONLINE_ENDPOINT: ("aml-oe-key-auth",),
    ML_DATASTORE: ("aml-datastore-credential-auth",),
}


def build_estate(
    n: int, drift_rate: float, subscription_id: str = DEFAULT_SUBSCRIPTION, seed: int = 0
) -> tuple[list[tuple[str, Body]], dict[str, Any]]:
    """n resources across accounts, workspaces and their computes / endpoints / datastores.

    Deterministic for a seed. The summary names every drifted resource and the check it fails
    (a public account also fails `cogsvc-network-acls-open`, listed with it).
    """
    if n < 0 or not 0.0 <= drift_rate <= 1.0:
        raise ValueError("n must be >= 0 and drift_rate within [0, 1]")
    rng = random.Random(seed)
    build = _Builder(rng, subscription_id)
    groups = [f"rg-ai-{i:02d}" for i in range(max(1, min(20, n // 500)))]
    kinds = [k for k, _ in _KIND_WEIGHTS]
    weights = [w for _, w in _KIND_WEIGHTS]
    resources: list[tuple[str, Body]] = []
    drifted: dict[str, list[str]] = {}
    workspace: tuple[str, str] | None = None  # (id, location) of the workspace children go under
    children = 0
    while len(resources) < n:
        kind = rng.choices(kinds, weights)[0]
        if kind not in (CS_ACCOUNT, ML_WORKSPACE) and (workspace is None or children >= _CHILDREN_PER_WORKSPACE):
            kind = ML_WORKSPACE
        index = len(resources)
        drift = rng.choice(_DRIFTS[kind]) if rng.random() < drift_rate else None
        if kind in (CS_ACCOUNT, ML_WORKSPACE):
            location = rng.choice(_LOCATIONS)
            prefix = "cog" if kind == CS_ACCOUNT else "mlw"
            rid = (f"/subscriptions/{subscription_id}/resourceGroups/{rng.choice(groups)}/providers/"
                   f"{kind}/{prefix}-{index:05d}")
            body = build.account(rid, location, drift) if kind == CS_ACCOUNT else build.workspace(rid, location, drift)
            if kind == ML_WORKSPACE:
                workspace, children = (rid, location), 0
        else:
            assert workspace is not None
            parent_id, location = workspace
            child_type = kind.rsplit("/", 1)[1]
            rid = f"{parent_id}/{child_type}/{child_type[:2].lower()}-{index:05d}"
            maker = {ML_COMPUTE: build.compute, ML_ONLINE_ENDPOINT: build.online_endpoint,
                     ML_DATASTORE: build.datastore}[kind]
            body = maker(rid, location, drift)
            children += 1
        resources.append((rid, body))
        if drift is not None:
            checks = [drift, "cogsvc-network-acls-open"] if drift == "cogsvc-public-network" else [drift]
            drifted[rid] = checks
    by_type = Counter(body["type"] for _, body in resources)
    summary: dict[str, Any] = {
        "subscription_id": subscription_id,
        "total": len(resources),
        "drifted": len(drifted),
        "by_type": dict(by_type),
        "drifted_by_check": dict(Counter(c for checks in drifted.values() for c in checks)),
        "drifted_ids": drifted,
        "resource_groups": groups,
        "in_resource_graph": sum(v for t, v in by_type.items() if t in (CS_ACCOUNT, ML_WORKSPACE, ML_ONLINE_ENDPOINT)),
    }
    return resources, summary
