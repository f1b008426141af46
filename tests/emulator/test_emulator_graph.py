"""Resource Graph stand-in: paging, row shape, coverage gaps, KQL subset, quota headers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from arm_helpers import ACCOUNT_ID, SUB, RawArm
from azure.mgmt.resourcegraph import ResourceGraphClient
from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

from emulator import ArmEmulator, EmulatorCredential
from emulator.kql import KqlError, run_query

AI_TYPES_QUERY = (
    "resources | where type in~ ('microsoft.cognitiveservices/accounts', "
    "'microsoft.machinelearningservices/workspaces', 'microsoft.machinelearningservices/workspaces/computes', "
    "'microsoft.machinelearningservices/workspaces/onlineendpoints') | project id, name, type, properties"
)


@pytest.fixture
def graph(emu: ArmEmulator, cred: EmulatorCredential) -> Iterator[ResourceGraphClient]:
    client = ResourceGraphClient(cred, **emu.client_kwargs())
    yield client
    client.close()


def _all_rows(graph: ResourceGraphClient, query: str, top: int) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        page = graph.resources(QueryRequest(subscriptions=[SUB], query=query,
                                            options=QueryRequestOptions(top=top, skip_token=token)))
        rows.extend(page.data)
        pages += 1
        token = page.skip_token
        if not token:
            return rows, pages


def test_graph_pages_through_skip_token_across_pages(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    summary = emu.generate_estate(2500, drift_rate=0.2, subscription_id=SUB, seed=7)

    rows, pages = _all_rows(graph, AI_TYPES_QUERY, top=400)

    assert len(rows) == summary["in_resource_graph"]
    assert pages == -(-len(rows) // 400) and pages >= 3
    assert len({r["id"] for r in rows}) == len(rows)


def test_graph_rows_have_lower_case_types_and_no_computes(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    emu.seed_from_samples(SUB, "rg-samples")

    result = graph.resources(QueryRequest(subscriptions=[SUB], query=AI_TYPES_QUERY))

    types = {r["type"] for r in result.data}
    assert types == {"microsoft.cognitiveservices/accounts", "microsoft.machinelearningservices/workspaces",
                     "microsoft.machinelearningservices/workspaces/onlineendpoints"}
    assert result.total_records == result.count == 5
    assert result.result_truncated == "false"


def test_graph_row_carries_resource_graph_columns(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    emu.seed_from_samples(SUB, "rg-Samples")

    (row,) = graph.resources(QueryRequest(
        subscriptions=[SUB], query="resources | where name =~ 'CS-NETWORKACLS'")).data

    assert row["resourceGroup"] == "rg-samples"
    assert row["location"] == "southcentralus"
    assert row["subscriptionId"] == SUB
    assert row["kind"] == "FormRecognizer"
    assert row["properties"]["networkAcls"]["defaultAction"] == "Deny"
    assert set(row) >= {"id", "name", "type", "location", "resourceGroup", "subscriptionId", "tags", "properties",
                        "identity", "kind", "sku"}


def test_graph_renders_booleans_as_integers_when_asked(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    emu.put_resource(ACCOUNT_ID, {"location": "eastus", "properties": {"disableLocalAuth": True,
                                                                      "networkAcls": {"bypassAll": False}}})
    query = "resources | where type =~ 'Microsoft.CognitiveServices/accounts'"

    plain = graph.resources(QueryRequest(subscriptions=[SUB], query=query)).data[0]["properties"]
    emu.graph_int_booleans = True
    ints = graph.resources(QueryRequest(subscriptions=[SUB], query=query)).data[0]["properties"]

    assert plain["disableLocalAuth"] is True
    assert ints["disableLocalAuth"] == 1 and ints["disableLocalAuth"] is not True
    assert ints["networkAcls"]["bypassAll"] == 0


def test_graph_type_comparison_is_case_sensitive_with_equals(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    emu.put_resource(ACCOUNT_ID, {"location": "eastus", "properties": {}})

    exact = graph.resources(QueryRequest(subscriptions=[SUB],
                                         query="resources | where type == 'Microsoft.CognitiveServices/accounts'"))

    assert exact.total_records == 0  # Resource Graph stores the type lower-cased


def test_graph_answers_quota_headers(raw: RawArm, emu: ArmEmulator) -> None:
    first = raw.send("POST", "/providers/Microsoft.ResourceGraph/resources",
                     {"subscriptions": [SUB], "query": "resources"}, api_version="2022-10-01")
    second = raw.send("POST", "/providers/Microsoft.ResourceGraph/resources",
                      {"subscriptions": [SUB], "query": "resources"}, api_version="2022-10-01")

    assert first.status_code == 200
    assert int(first.headers["x-ms-user-quota-remaining"]) == int(second.headers["x-ms-user-quota-remaining"]) + 1
    assert first.headers["x-ms-user-quota-resets-after"].startswith("00:00:0")


def test_graph_quota_can_be_enforced_with_429(raw: RawArm, emu: ArmEmulator) -> None:
    emu.graph.enforce_quota = True
    emu.graph.quota_per_window = 2
    body = {"subscriptions": [SUB], "query": "resources"}

    statuses = [raw.send("POST", "/providers/Microsoft.ResourceGraph/resources", body, api_version="2022-10-01")
                for _ in range(3)]

    assert [s.status_code for s in statuses] == [200, 200, 429]
    assert "Retry-After" in statuses[2].headers


def test_graph_rejects_unsupported_kql_with_400(raw: RawArm) -> None:
    response = raw.send("POST", "/providers/Microsoft.ResourceGraph/resources",
                        {"subscriptions": [SUB], "query": "resources | summarize count() by type"},
                        api_version="2022-10-01")

    assert response.status_code == 400
    assert "summarize" in response.json()["error"]["message"]


def test_graph_fault_injection_applies(emu: ArmEmulator, graph: ResourceGraphClient) -> None:
    emu.inject_fault("POST", "Microsoft.ResourceGraph", status=429, headers={"Retry-After": "0"})

    graph.resources(QueryRequest(subscriptions=[SUB], query="resources"))

    assert [r.status for r in emu.requests] == [429, 200]


def test_frozen_graph_lags_behind_arm_writes(emu: ArmEmulator, raw: RawArm, graph: ResourceGraphClient) -> None:
    emu.put_resource(ACCOUNT_ID, {"location": "eastus", "properties": {"publicNetworkAccess": "Enabled"}})
    emu.freeze_graph()
    raw.send("PATCH", ACCOUNT_ID, {"properties": {"publicNetworkAccess": "Disabled"}})
    query = "resources | project id, pna = properties.publicNetworkAccess"

    stale = graph.resources(QueryRequest(subscriptions=[SUB], query=query)).data
    emu.thaw_graph()
    fresh = graph.resources(QueryRequest(subscriptions=[SUB], query=query)).data

    assert stale[0]["pna"] == "Enabled"
    assert fresh[0]["pna"] == "Disabled"


ROWS = [
    {"id": "a", "type": "t1", "location": "eastus", "properties": {"pna": "Enabled", "n": 1}, "tags": {"x-y": "1"}},
    {"id": "b", "type": "t2", "location": "westus", "properties": {"pna": "Disabled", "n": 3}, "tags": {}},
    {"id": "c", "type": "t1", "location": "WestUS", "properties": {"n": 2}, "tags": {}},
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("resources | where type in~ ('T1')", ["a", "c"]),
        ("resources | where type !in~ ('T1')", ["b"]),
        ("resources | where location =~ 'westus' and properties.pna == 'Disabled'", ["b"]),
        ("resources | where properties.pna == 'Enabled' or isnull(properties.pna)", ["a", "c"]),
        ("resources | where not(type == 't1')", ["b"]),
        ("resources | where tags['x-y'] == '1'", ["a"]),
        ("resources | where id startswith 'A' | take 5", ["a"]),
        ("resources | order by id asc", ["a", "b", "c"]),
        ("resources | order by id | limit 2", ["c", "b"]),
    ],
)
def test_kql_subset_filters_like_kusto(query: str, expected: list[str]) -> None:
    assert [r["id"] for r in run_query(query, ROWS)] == expected


def test_kql_project_renames_and_count_counts() -> None:
    assert run_query("resources | project id, pna = properties.pna | take 1", ROWS) == [{"id": "a", "pna": "Enabled"}]
    assert run_query("resources | where type == 't1' | count", ROWS) == [{"Count": 2}]


@pytest.mark.parametrize("query", ["resourcecontainers", "resources | extend x = 1", "resources | where id ==",
                                   "resources | where id matches regex 'a'"])
def test_kql_outside_the_subset_is_an_error(query: str) -> None:
    with pytest.raises(KqlError):
        run_query(query, ROWS)
