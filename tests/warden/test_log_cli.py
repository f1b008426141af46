"""`python -m warden log` and `python -m warden exemptions` against a store seeded by the real runtime
(emulator as ARM, Azurite as Table Storage): readable tables and JSON lines."""
from __future__ import annotations

import io
import json
from datetime import date, timedelta

import pytest

from emulator import EmulatorCredential
from tests.support.fixtures import ACCOUNT_ID, BOT_APPID, BOT_OID, drifted_account
from tests.support.samples import arm_event
from warden.cli import main
from warden.runtime import build_runtime

WRITE = "Microsoft.CognitiveServices/accounts/write"
ALICE = dict(oid="a11ce000-0000-4000-8000-000000000001", name="alice@contoso.com")
PIPELINE = dict(oid="c1c1c1c1-0000-4000-8000-000000000002", appid="c1c1c1c1-0000-4000-8000-0000000000a2",
                name="deploy-pipeline")
BOB = dict(oid="b0b00000-0000-4000-8000-000000000003", name="bob@contoso.com")


def resource(name: str) -> str:
    return ACCOUNT_ID.replace("oai-prod", name)


@pytest.fixture
def seeded(emu, azurite, table_prefix, monkeypatch):
    """Four changes handled by the runtime with durable storage; the CLI reads the same storage."""
    in_20_days = (date.today() + timedelta(days=20)).isoformat()
    emu.put_resource(resource("revert-me"), drifted_account(resource("revert-me"), publicNetworkAccess="Enabled"))
    emu.put_resource(resource("ticket-me"), drifted_account(resource("ticket-me"), publicNetworkAccess="Disabled",
                                                            disableLocalAuth=False))
    honoured = drifted_account(resource("exempt-me"), publicNetworkAccess="Enabled")
    honoured["tags"] = {"warden-exempt": "cogsvc-public-network", "warden-exempt-until": in_20_days,
                        "warden-exempt-reason": "vendor load test (SEC-1234)"}
    emu.put_resource(resource("exempt-me"), honoured)
    refused = drifted_account(resource("refused-me"), publicNetworkAccess="Disabled", disableLocalAuth=False)
    refused["tags"] = {"warden-exempt": "cogsvc-local-auth", "warden-exempt-until": in_20_days}
    emu.put_resource(resource("refused-me"), refused)
    environ = {"DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite, "DRIFTWARDEN_TABLE_PREFIX": table_prefix,
               "DRIFTWARDEN_CONFIG_JSON": json.dumps({"self_principal_ids": [BOT_OID, BOT_APPID],
                                                      "arm": {"endpoint": emu.base_url}})}
    runtime = build_runtime(environ, credential=EmulatorCredential(oid=BOT_OID, appid=BOT_APPID),
                            connection_verify=emu.ca_pem_path)
    for name, who in (("revert-me", ALICE), ("ticket-me", PIPELINE), ("exempt-me", ALICE), ("refused-me", BOB)):
        runtime.handle_event(arm_event(resource(name), WRITE, **who))
    for key in ("DRIFTWARDEN_STORAGE_CONNECTION_STRING", "DRIFTWARDEN_TABLE_PREFIX"):
        monkeypatch.setenv(key, environ[key])
    monkeypatch.delenv("DRIFTWARDEN_STORAGE_ACCOUNT", raising=False)


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out), out.getvalue()


def test_log_prints_a_readable_table_of_events_and_their_actions(seeded):
    code, text = run("log")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split() == ["TIME", "OUTCOME", "RESOURCE", "CALLER", "REASON"]
    assert any("reverted" in l and "rg-ai/revert-me" in l and "alice@contoso.com" in l for l in lines)
    assert any("ticketed" in l and "rg-ai/ticket-me" in l and "deploy-pipeline" in l for l in lines)
    assert any("exempt" in l and "rg-ai/exempt-me" in l for l in lines)
    revert_action = next(l for l in lines if "└ reverted" in l)
    assert "cogsvc-public-network" in revert_action and 'publicNetworkAccess: "Enabled" -> "Disabled"' in revert_action
    assert any("└ ticketed" in l and "cogsvc-local-auth" in l and "ticket log:dw-" in l for l in lines)
    assert lines[-1] == "4 entries"


def test_log_json_is_one_object_per_event_with_the_documented_properties(seeded):
    code, text = run("log", "--format", "json")
    assert code == 0
    entries = [json.loads(line) for line in text.splitlines()]
    assert sorted(e["dw_resource_id"].rsplit("/", 1)[1] for e in entries) == ["exempt-me", "refused-me", "revert-me",
                                                                               "ticket-me"]
    revert = next(e for e in entries if e["dw_outcome"] == "reverted")
    assert revert["dw_caller_name"] == "alice@contoso.com" and revert["dw_event_id"]
    (action,) = revert["actions"]
    assert action["dw_action"] == "reverted" and action["dw_check_id"] == "cogsvc-public-network"
    assert json.loads(action["dw_after"]) == {"properties.publicNetworkAccess": "Disabled"}


@pytest.mark.parametrize("argv, expected", [
    (("--outcome", "reverted"), ["revert-me"]),
    (("--outcome", "ticketed"), ["refused-me", "ticket-me"]),
    (("--check", "cogsvc-local-auth"), ["refused-me", "ticket-me"]),
    (("--caller", "PIPELINE"), ["ticket-me"]),
    (("--caller", ALICE["oid"]), ["exempt-me", "revert-me"]),
    (("--resource", "exempt-me"), ["exempt-me"]),
    (("--since", "1h", "--outcome", "exempt"), ["exempt-me"]),
    (("--since", "2099-01-01"), []),
])
def test_log_filters(seeded, argv, expected):
    code, text = run("log", "--format", "json", *argv)
    assert code == 0
    assert sorted(json.loads(l)["dw_resource_id"].rsplit("/", 1)[1] for l in text.splitlines()) == expected


def test_log_refuses_an_unknown_outcome_and_a_bad_since(seeded, capsys):
    assert run("log", "--outcome", "fixed")[0] == 2
    assert "use one of" in capsys.readouterr().err
    assert run("log", "--since", "last tuesday")[0] == 2
    assert "duration" in capsys.readouterr().err


def test_log_without_storage_settings_says_which_to_set(monkeypatch, capsys):
    monkeypatch.delenv("DRIFTWARDEN_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("DRIFTWARDEN_STORAGE_ACCOUNT", raising=False)
    assert run("log")[0] == 2
    err = capsys.readouterr().err
    assert "DRIFTWARDEN_STORAGE_CONNECTION_STRING" in err and "DRIFTWARDEN_STORAGE_ACCOUNT" in err


def test_log_when_storage_is_unreachable_says_where_without_the_key(monkeypatch, capsys):
    from warden.local_services import connection_string, free_port

    monkeypatch.setenv("DRIFTWARDEN_STORAGE_CONNECTION_STRING", connection_string(free_port()))
    monkeypatch.delenv("DRIFTWARDEN_STORAGE_ACCOUNT", raising=False)
    assert run("log")[0] == 2
    err = capsys.readouterr().err
    assert "cannot read the remediation log at http://127.0.0.1:" in err and "AccountKey" not in err


def test_exemptions_table_lists_honoured_and_refused_with_days_left_and_who_set_them(seeded):
    code, text = run("exemptions")
    assert code == 0
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["RESOURCE", "CHECKS", "STATUS", "UNTIL"]
    refused = next(l for l in lines if "refused-me" in l)
    assert "refused" in refused and "bob@contoso.com" in refused
    assert "NOT HONOURED: tag warden-exempt-reason is missing" in refused
    honoured = next(l for l in lines if "exempt-me" in l)
    assert "honoured" in honoured and "alice@contoso.com" in honoured and "vendor load test" in honoured
    assert (date.today() + timedelta(days=20)).isoformat() in honoured
    assert lines.index(refused) < lines.index(honoured)  # problems first
    assert lines[-1] == "2 exemptions"


def test_exemptions_json_and_status_filter(seeded):
    code, text = run("exemptions", "--format", "json")
    views = {v["resource_id"].rsplit("/", 1)[1]: v for v in map(json.loads, text.splitlines())}
    assert set(views) == {"exempt-me", "refused-me"}
    assert views["exempt-me"]["status"] == "honoured" and 19 < views["exempt-me"]["days_left"] <= 21
    assert views["exempt-me"]["set_by"] == "alice@contoso.com" and views["exempt-me"]["checks"] == "cogsvc-public-network"
    assert views["refused-me"]["problem"].startswith("tag warden-exempt-reason is missing")
    code, text = run("exemptions", "--status", "refused", "--format", "json")
    assert [json.loads(l)["resource_id"].rsplit("/", 1)[1] for l in text.splitlines()] == ["refused-me"]
