"""The offline CLI contract of the design brief: `check` and `triage` (run as a real subprocess)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.samples import arm_body, sample_path

ROOT = Path(__file__).resolve().parents[2]


def warden(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("DRIFTWARDEN_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "warden", *args], capture_output=True, text=True, cwd=ROOT,
                          env=environment, timeout=60)


def write(tmp_path: Path, name: str, document) -> str:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    return str(path)


def test_check_prints_one_json_line_per_applicable_check_and_exits_1_on_failure(tmp_path):
    recorded = write(tmp_path, "acct.json", arm_body("cogsvc-account-get-default-public.recorded.json"))
    result = warden("check", "--format", "json", recorded)
    assert result.returncode == 1, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    by_check = {row["check"]: row for row in rows}
    # cogsvc-key-retrieval applies only to listKeys events, so an offline check never prints it.
    assert set(by_check) == {"cogsvc-public-network", "cogsvc-network-acls-open", "cogsvc-local-auth",
                             "cogsvc-no-managed-identity", "cogsvc-private-endpoint-missing"}
    for row in rows:
        assert {"resource_id", "type", "check", "result", "fix", "detail"} <= set(row)
    assert by_check["cogsvc-public-network"]["result"] == "fail"
    assert by_check["cogsvc-public-network"]["fix"] == "ticket"  # no Approved private endpoint
    assert by_check["cogsvc-no-managed-identity"]["fix"] == "revert"
    assert by_check["cogsvc-private-endpoint-missing"]["fix"] == "report"


def test_check_exits_0_when_everything_passes_or_is_exempt(tmp_path):
    body = arm_body("cogsvc-account-get-networkacls.recorded.json")
    body["properties"].update(publicNetworkAccess="Disabled", disableLocalAuth=True,
                              privateEndpointConnections=[{"properties": {"privateLinkServiceConnectionState": {"status": "Approved"}}}])
    body["tags"] = {"warden-exempt": "cogsvc-no-managed-identity", "warden-exempt-until": "2099-01-01",
                    "warden-exempt-reason": "legacy"}
    config = write(tmp_path, "config.json", {"exemption_max_days": 365 * 100})
    result = warden("check", "--format", "json", write(tmp_path, "acct.json", body), env={"DRIFTWARDEN_CONFIG": config})
    assert result.returncode == 0, result.stdout
    results = {json.loads(line)["check"]: json.loads(line)["result"] for line in result.stdout.splitlines()}
    assert results["cogsvc-no-managed-identity"] == "exempt"
    assert set(results.values()) <= {"pass", "exempt"}


def test_check_accepts_arm_list_bodies_and_arrays(tmp_path):
    body = arm_body("cogsvc-account-get-default-public.recorded.json")
    listed = write(tmp_path, "list.json", {"value": [body, body]})
    array = write(tmp_path, "array.json", [body])
    result = warden("check", "--format", "json", listed, array)
    assert len(result.stdout.splitlines()) == 15


def test_check_prints_nothing_for_uncovered_types(tmp_path):
    storage = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/x",
               "type": "Microsoft.Storage/storageAccounts", "properties": {}}
    result = warden("check", write(tmp_path, "storage.json", storage))
    assert result.returncode == 0 and result.stdout == ""


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ({"type": "Microsoft.CognitiveServices/accounts"}, "no id"),
    ({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a"}, "no type"),
])
def test_check_exits_2_on_unusable_input_naming_file_and_problem(tmp_path, content, message):
    path = write(tmp_path, "bad.json", content)
    result = warden("check", path)
    assert result.returncode == 2
    assert path in result.stderr and message in result.stderr


def test_check_human_output_is_one_line_per_check(tmp_path):
    result = warden("check", write(tmp_path, "a.json", arm_body("cogsvc-account-get-default-public.recorded.json")))
    assert len(result.stdout.splitlines()) == 5 and "cogsvc-public-network" in result.stdout


def test_triage_prints_one_line_per_event_of_every_sample():
    files = sorted(str(p) for p in sample_path("eventgrid").glob("*.json"))
    result = warden("triage", *files)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == len(files)
    for row in rows:
        assert set(row) == {"event_id", "verdict", "resource_id", "operation", "reason"}
        assert row["verdict"] in {"relevant", "ignored", "invalid"}


def test_triage_of_a_non_json_file_exits_2(tmp_path):
    result = warden("triage", write(tmp_path, "x.json", "nope"))
    assert result.returncode == 2 and "not JSON" in result.stderr


def test_configuration_error_says_what_to_change(tmp_path):
    config = write(tmp_path, "c.json", {"modes": {"cogsvc-private-endpoint-missing": "revert"}})
    result = warden("check", write(tmp_path, "a.json", arm_body("cogsvc-account-get-default-public.recorded.json")),
                    env={"DRIFTWARDEN_CONFIG": config})
    assert result.returncode == 2 and "revert is not possible" in result.stderr
