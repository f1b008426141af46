"""Defender-visible telemetry: the fixed property schema, and the records, spans and counters the real
Azure Monitor exporter sends (captured on a local ingestion endpoint; nothing leaves loopback)."""
from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from emulator import EmulatorCredential
from remediators import check_by_id
from remediators.base import Evaluation, Mode
from tests.support.fixtures import ACCOUNT_ID, BOT_APPID, BOT_OID, drifted_account
from tests.support.samples import arm_event
from warden import telemetry
from warden.config import ConfigError
from warden.engine import RetryRequested
from warden.exemptions import NO_EXEMPTION
from warden.model import Action, ActionRecord, Caller, EventRecord, Outcome
from warden.policy import FlapState, decide
from warden.records import action_fields, event_fields
from warden.runtime import build_runtime

REPO = Path(__file__).resolve().parents[2]
WRITE = "Microsoft.CognitiveServices/accounts/write"
ALICE = dict(oid="a11ce000-0000-4000-8000-000000000001", name="alice@contoso.com")


def sample_event_record() -> EventRecord:
    act = ActionRecord("e1", "c1", ACCOUNT_ID, "Microsoft.CognitiveServices/accounts", "cogsvc-local-auth", "high",
                       "ticket", Action.TICKETED, "mode ticket", Caller("oid", "appid", "n", "1.2.3.4"), "detail",
                       {"properties.disableLocalAuth": None}, {}, {"status": "honoured", "checks": ["x"], "until": "u",
                                                                 "reason": "r", "problem": None}, "T-1", False, "err")
    return EventRecord("e1", "c1", "type", ACCOUNT_ID, "Microsoft.CognitiveServices/accounts", "op", Outcome.TICKETED,
                       "why", Caller("oid"), 1.0, 1, [act], "err", "event",
                       {"status": "refused", "checks": ["*"], "until": None, "reason": "", "problem": "p"})


# -- the schema ---------------------------------------------------------------------------------------

def test_schema_names_every_field_of_the_event_and_action_records():
    record = sample_event_record()
    for fields in (event_fields(record), action_fields(record.actions[0])):
        for key in fields:
            assert key in telemetry.FIELD_PROPERTIES, f"records field {key!r} has no telemetry property"
            assert set(telemetry.FIELD_PROPERTIES[key]) <= set(telemetry.SCHEMA)
    produced = set().union(*(set(p) for p in telemetry.event_properties(record)))
    assert produced <= set(telemetry.SCHEMA)
    assert all(name.startswith("dw_") and name == name.lower() for name in telemetry.SCHEMA)
    assert set(telemetry.EVENT_PROPERTIES) | set(telemetry.ACTION_PROPERTIES) == set(telemetry.SCHEMA)


def test_schema_values_are_strings_and_json_for_before_and_after():
    event, action = telemetry.event_properties(sample_event_record())
    assert all(isinstance(v, str) for v in {**event, **action}.values())
    assert action["dw_dry_run"] == "false" and action["dw_flapping"] == "false"
    assert json.loads(action["dw_before"]) == {"properties.disableLocalAuth": None}
    assert "dw_after" not in action  # empty values are left out
    assert event["dw_exemption_checks"] == "*" and event["dw_subscription_id"] == ACCOUNT_ID.split("/")[2]


def test_docs_show_the_generated_schema_table_and_the_whole_vocabulary():
    text = (REPO / "docs" / "remediation-log.md").read_text(encoding="utf-8")
    start, end = "<!-- schema:start -->", "<!-- schema:end -->"
    assert text[text.index(start) + len(start):text.index(end)].strip() == telemetry.schema_markdown()
    outcomes = set(re.findall(r"^\| `([a-z-]+)` \|", _section(text, "## Outcomes"), re.M))
    actions = set(re.findall(r"^\| `([a-z-]+)` \|", _section(text, "## Actions"), re.M))
    assert outcomes == {o.value for o in Outcome}
    assert actions == {a.value for a in Action}


def _section(text: str, heading: str) -> str:
    body = text[text.index(heading) + len(heading):]
    return body[: body.index("\n## ")] if "\n## " in body else body


def test_flap_hold_is_recognised_in_the_policys_own_words():
    check = check_by_id("cogsvc-public-network")
    plan = decide(check, Evaluation(applicable=True, passed=False, detail="public"), Mode.REVERT, NO_EXEMPTION,
                  None, FlapState(3, 3, ("deploy-pipeline",)), dry_run=False)
    record = ActionRecord("e", None, ACCOUNT_ID, "t", check.id, "high", "revert", Action.TICKETED, plan.reason)
    assert telemetry.is_flap_hold(record)
    assert telemetry.flatten(action_fields(record))["dw_flapping"] == "true"
    record.reason = "mode ticket"
    assert not telemetry.is_flap_hold(record)


def test_tokens_keys_and_signatures_never_reach_a_property():
    jwt = EmulatorCredential().get_token("https://management.azure.com/.default").token
    record = sample_event_record()
    record.error = (f"401 with Authorization: Bearer {jwt}; url https://hooks.example/x?sig=s3cr3tvalue&sv=1; "
                    f"AccountKey=c2VjcmV0a2V5PT0=; {{\"key1\": \"abcd1234\"}}")
    text = json.dumps(telemetry.event_properties(record))
    for secret in (jwt, jwt.split(".")[1], "s3cr3tvalue", "c2VjcmV0a2V5PT0=", "abcd1234"):
        assert secret not in text
    assert "[redacted" in text


def test_importing_telemetry_and_the_runtime_loads_no_opentelemetry():
    code = ("import sys, warden.telemetry, warden.runtime, warden.remediation_log, warden.table_state;"
            "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry', 'azure.monitor', 'azure.data'))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("env, words", [
    ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "IngestionEndpoint=https://x/"}, "no InstrumentationKey"),
    ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "garbage"}, "Key=Value"),
    ({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k;IngestionEndpoint=http://127.0.0.1:1/",
      "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": "Authorization=AAD;ClientId=abc"}, "needs an https"),
])
def test_telemetry_settings_errors_say_what_to_change(env, words):
    with pytest.raises(ConfigError, match=words):
        telemetry.settings_from_env(env)


def test_telemetry_settings_default_to_our_own_temp_storage_and_can_turn_it_off():
    settings = telemetry.settings_from_env({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k"})
    assert settings.ingestion_endpoint.startswith("https://") and "driftwarden" in settings.storage_directory
    off = telemetry.settings_from_env({"APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=k",
                                       "DRIFTWARDEN_TELEMETRY_STORAGE_DIR": "off"})
    assert off.storage_directory is None
    assert telemetry.settings_from_env({}) is None


# -- through the real exporter ---------------------------------------------------------------------------

def resource(name: str) -> str:
    return ACCOUNT_ID.replace("oai-prod", name)


@pytest.fixture
def scenario(emu, azurite, table_prefix, monitored):
    """The runtime as the Function App builds it: Azure Monitor + Table Storage + the emulator as ARM."""
    soon = (date.today() + timedelta(days=20)).isoformat()
    emu.put_resource(resource("revert-me"), drifted_account(resource("revert-me"), publicNetworkAccess="Enabled"))
    emu.put_resource(resource("ticket-me"), drifted_account(resource("ticket-me"), publicNetworkAccess="Disabled", disableLocalAuth=False))
    exempt = drifted_account(resource("exempt-me"), publicNetworkAccess="Enabled")
    exempt["tags"] = {"warden-exempt": "cogsvc-public-network", "warden-exempt-until": soon,
                      "warden-exempt-reason": "vendor load test (SEC-1234)"}
    emu.put_resource(resource("exempt-me"), exempt)
    emu.put_resource(resource("fail-me"), drifted_account(resource("fail-me"), publicNetworkAccess="Enabled"))
    emu.inject_fault(method="GET", path_contains="/accounts/fail-me", status=500, times=None)
    environ = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": monitored.connection_string,
        "DRIFTWARDEN_STORAGE_CONNECTION_STRING": azurite, "DRIFTWARDEN_TABLE_PREFIX": table_prefix,
        "DRIFTWARDEN_CONFIG_JSON": json.dumps({"self_principal_ids": [BOT_OID, BOT_APPID],
                                               "arm": {"endpoint": emu.base_url, "max_retries": 0, "backoff_factor": 0.01}}),
    }
    runtime = build_runtime(environ, credential=EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden"),
                            connection_verify=emu.ca_pem_path)
    events = {name: arm_event(resource(name), WRITE, **ALICE) for name in ("revert-me", "ticket-me", "exempt-me", "fail-me")}
    return runtime, events


def captured(ingestion, event_id: str, timeout: float = 15.0) -> list[dict]:
    telemetry.flush()
    ingestion.wait_for(lambda i: any(m["properties"].get("dw_event_id") == event_id and
                                     m["properties"].get("dw_record") == "event" for m in i.messages()), timeout)
    return [m for m in ingestion.messages() if m["properties"].get("dw_event_id") == event_id]


def test_revert_ticket_exemption_and_failure_reach_ingestion_with_the_documented_properties(
        scenario, monitored, loopback_only):
    runtime, events = scenario
    for name in ("revert-me", "ticket-me", "exempt-me"):
        runtime.handle_event(events[name])
    with pytest.raises(RetryRequested):
        runtime.handle_event(events["fail-me"])

    for name, outcome, action in (("revert-me", "reverted", "reverted"), ("ticket-me", "ticketed", "ticketed"),
                                  ("exempt-me", "exempt", "exempt"), ("fail-me", "failed", None)):
        messages = captured(monitored, events[name]["id"])
        event = next(m for m in messages if m["properties"]["dw_record"] == "event")
        props = event["properties"]
        assert set(props) >= {"dw_schema", "dw_time", "dw_event_id", "dw_correlation_id", "dw_resource_id",
                              "dw_resource_type", "dw_outcome", "dw_reason", "dw_caller_oid", "dw_caller_name",
                              "dw_duration_ms", "dw_source", "dw_operation"}, name
        assert props["dw_outcome"] == outcome and props["dw_resource_id"] == resource(name)
        assert props["dw_caller_name"] == "alice@contoso.com" and props["dw_caller_oid"] == ALICE["oid"]
        assert {k for k in props if k.startswith("dw_")} <= set(telemetry.SCHEMA)  # the exporter adds code.*, logger_name
        actions = [m for m in messages if m["properties"]["dw_record"] == "action"]
        if action is None:
            assert event["severity"] == 3 and props["dw_error"] and actions == []
            continue
        (record,) = [m for m in actions if m["properties"]["dw_action"] == action]
        assert record["properties"]["dw_check_id"] in ("cogsvc-public-network", "cogsvc-local-auth")
        assert {"dw_mode", "dw_severity", "dw_reason", "dw_before", "dw_dry_run"} <= set(record["properties"])
        if name == "revert-me":
            assert json.loads(record["properties"]["dw_before"]) == {"properties.publicNetworkAccess": "Enabled"}
            assert json.loads(record["properties"]["dw_after"]) == {"properties.publicNetworkAccess": "Disabled"}
        if name == "ticket-me":
            assert record["properties"]["dw_ticket"].startswith("log:dw-")
        if name == "exempt-me":
            assert record["properties"]["dw_exemption_reason"] == "vendor load test (SEC-1234)"
            assert record["properties"]["dw_exemption_until"].startswith((date.today() + timedelta(days=20)).isoformat())
            assert props["dw_exemption_status"] == "honoured"


def test_each_event_is_one_span_and_its_log_records_share_its_operation_id(scenario, monitored, loopback_only):
    runtime, events = scenario
    runtime.handle_event(events["revert-me"])
    messages = captured(monitored, events["revert-me"]["id"])
    assert monitored.wait_for(lambda i: any(
        e["data"]["baseData"].get("properties", {}).get("dw_event_id") == events["revert-me"]["id"]
        for e in i.of_type("RequestData")), 10)
    (request,) = [e for e in monitored.of_type("RequestData")
                  if e["data"]["baseData"].get("properties", {}).get("dw_event_id") == events["revert-me"]["id"]]
    assert request["data"]["baseData"]["name"] == telemetry.SPAN_NAME
    assert request["data"]["baseData"]["properties"]["dw_outcome"] == "reverted"
    assert request["tags"]["ai.cloud.role"] == "driftwarden"
    operation = request["tags"]["ai.operation.id"]
    assert {m["tags"]["ai.operation.id"] for m in messages} == {operation}


def test_counters_by_outcome_and_action_are_exported(scenario, monitored, loopback_only):
    runtime, events = scenario
    runtime.handle_event(events["revert-me"])
    telemetry.flush()
    assert monitored.wait_for(lambda i: {"driftwarden.events", "driftwarden.actions"} <= {
        m["name"] for e in i.of_type("MetricData") for m in e["data"]["baseData"]["metrics"]}, 10)
    points = [(m["name"], e["data"]["baseData"].get("properties", {})) for e in monitored.of_type("MetricData")
              for m in e["data"]["baseData"]["metrics"]]
    assert ("driftwarden.events", {"dw_outcome": "reverted"}) in points
    assert ("driftwarden.actions", {"dw_action": "reverted", "dw_check_id": "cogsvc-public-network"}) in points


def test_no_token_or_key_is_in_anything_sent(scenario, monitored, loopback_only):
    runtime, events = scenario
    runtime.handle_event(events["revert-me"])
    captured(monitored, events["revert-me"]["id"])
    sent = json.dumps(monitored.envelopes)
    assert "eyJ" not in sent  # no JWT (the emulator's tokens are real JWTs)
    assert "AccountKey" not in sent and "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUz" not in sent
