"""Generated estates, the published samples, and seeding from them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from arm_helpers import SUB
from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

from emulator import ArmEmulator, load_sample, samples_dir
from emulator.estate import CS_ACCOUNT, ML_COMPUTE, ML_DATASTORE, ML_ONLINE_ENDPOINT, ML_WORKSPACE


def test_generate_estate_of_10000_is_fast_and_drifts_at_the_requested_rate(emu: ArmEmulator) -> None:
    started = time.monotonic()
    summary = emu.generate_estate(10_000, drift_rate=0.2, subscription_id=SUB, seed=1)
    elapsed = time.monotonic() - started

    assert elapsed < 2.0
    assert summary["total"] == len(emu.list_resources()) == 10_000
    assert 0.18 <= summary["drifted"] / 10_000 <= 0.22
    assert set(summary["by_type"]) == {CS_ACCOUNT, ML_WORKSPACE, ML_COMPUTE, ML_ONLINE_ENDPOINT, ML_DATASTORE}
    assert set(summary["drifted_by_check"]) >= {"cogsvc-public-network", "cogsvc-local-auth", "aml-ws-public-network",
                                                "aml-compute-local-auth", "aml-oe-key-auth",
                                                "aml-datastore-credential-auth"}


def test_estate_is_deterministic_for_a_seed() -> None:
    from emulator.estate import build_estate

    first, _ = build_estate(50, 0.5, SUB, seed=3)
    second, _ = build_estate(50, 0.5, SUB, seed=3)

    assert first == second


def test_estate_drift_shows_in_the_resources(emu: ArmEmulator) -> None:
    summary = emu.generate_estate(400, drift_rate=0.3, subscription_id=SUB, seed=2)

    for resource in emu.list_resources(CS_ACCOUNT):
        props = resource["properties"]
        insecure = props.get("publicNetworkAccess") == "Enabled" or props.get("disableLocalAuth") is not True
        assert insecure == (resource["id"] in summary["drifted_ids"])
    for resource in emu.list_resources(ML_ONLINE_ENDPOINT):
        assert (resource["properties"]["authMode"] == "Key") == (resource["id"] in summary["drifted_ids"])


def test_estate_children_sit_under_existing_workspaces(emu: ArmEmulator) -> None:
    emu.generate_estate(300, drift_rate=0.1, subscription_id=SUB)
    workspaces = {w["id"].lower() for w in emu.list_resources(ML_WORKSPACE)}

    for compute in emu.list_resources(ML_COMPUTE):
        assert compute["id"].lower().rsplit("/computes/", 1)[0] in workspaces


def test_estate_is_served_over_arm(emu: ArmEmulator, cs_client: CognitiveServicesManagementClient) -> None:
    emu.generate_estate(120, drift_rate=0.2, subscription_id=SUB)

    listed = list(cs_client.accounts.list())

    assert len(listed) == len(emu.list_resources(CS_ACCOUNT)) > 0


def test_load_sample_returns_the_spec_example_get_body() -> None:
    body = load_sample("cogsvc-account-get.spec-example-2025-09-01.json")

    assert body["name"] == "myAccount"
    assert body["type"] == "Microsoft.CognitiveServices/accounts"


def test_load_sample_returns_recorded_files_and_other_folders_verbatim() -> None:
    recorded = load_sample("cogsvc-account-get-default-public.recorded.json")
    events = load_sample("eventgrid/egschema-resource-write-success.json")

    assert recorded["properties"]["publicNetworkAccess"] == "Enabled"
    assert events[0]["eventType"] == "Microsoft.Resources.ResourceWriteSuccess"


def test_samples_dir_honours_the_environment_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "arm").mkdir()
    (tmp_path / "arm" / "x.json").write_text('{"only": "here"}')
    monkeypatch.setenv("DRIFTWARDEN_SAMPLES", str(tmp_path))

    assert samples_dir() == tmp_path
    assert load_sample("x") == {"only": "here"}


def test_seed_from_samples_gives_ml_placeholders_real_ids(emu: ArmEmulator) -> None:
    seeded = emu.seed_from_samples(SUB, "rg-samples")

    assert len(seeded) == 8
    endpoint_id = seeded["ml-online-endpoint-get.spec-example-2025-12-01.json"]
    endpoint = emu.get_resource(endpoint_id)
    assert endpoint is not None
    assert endpoint_id.startswith(f"/subscriptions/{SUB}/resourceGroups/rg-samples/providers/"
                                  "Microsoft.MachineLearningServices/workspaces/testworkspace/onlineEndpoints/")
    assert (endpoint["id"], endpoint["type"]) == (endpoint_id, ML_ONLINE_ENDPOINT)
    assert endpoint["location"] == "eastus2euap"
    assert "string" not in endpoint["identity"]["userAssignedIdentities"]
    assert endpoint["properties"]["authMode"] == "AMLToken"
    workspace_id = seeded["ml-workspace-get.spec-example-2025-12-01.json"]
    assert emu.get_resource(workspace_id) is not None
