"""The Defender-visible content under infra/monitoring/ (saved KQL queries, the workbook, the Sentinel
analytics rules) reads only the documented remediation-log schema (warden/telemetry.py SCHEMA), only the
outcome / action vocabulary of warden/model.py and only real check ids. Offline: no workspace needed."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import remediators
from warden.model import Action, Outcome
from warden.telemetry import SCHEMA

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "infra" / "monitoring"
QUERY_FILES = sorted((MONITORING / "queries").glob("*.kql"))
RULE_FILES = sorted((MONITORING / "analytics-rules").glob("*.json"))
WORKBOOK = MONITORING / "workbook.json"

CHECK_IDS = {check.id for check in remediators.all_checks()}
VOCABULARY = {"dw_outcome": {o.value for o in Outcome}, "dw_action": {a.value for a in Action},
              "dw_record": {"event", "action"}, "dw_exemption_status": {"honoured", "refused"},
              "dw_dry_run": {"true", "false"}, "dw_flapping": {"true", "false"}}

SENTINEL_TACTICS = {"Reconnaissance", "ResourceDevelopment", "InitialAccess", "Execution", "Persistence",
                    "PrivilegeEscalation", "DefenseEvasion", "CredentialAccess", "Discovery", "LateralMovement",
                    "Collection", "Exfiltration", "CommandAndControl", "Impact", "PreAttack",
                    "ImpairProcessControl", "InhibitResponseFunction"}
DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?)?$")


def workbook_queries() -> dict[str, str]:
    workbook = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    return {item["name"]: item["content"]["query"] for item in workbook["items"] if item["type"] == 3}


def rules() -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in RULE_FILES}


def all_queries() -> list[tuple[str, str]]:
    found = [(f"queries/{p.name}", p.read_text(encoding="utf-8")) for p in QUERY_FILES]
    found += [(f"workbook.json#{name}", text) for name, text in workbook_queries().items()]
    found += [(f"analytics-rules/{name}.json", rule["query"]) for name, rule in rules().items()]
    return found


def minutes(duration: str) -> int:
    match = DURATION.match(duration)
    assert match and duration not in ("P", "PT"), f"{duration!r} is not an ISO 8601 duration"
    days, hours, mins = (int(g or 0) for g in match.groups())
    return days * 1440 + hours * 60 + mins


# -- the content exists --------------------------------------------------------------------------------

def test_saved_queries_cover_the_log_failures_exemptions_flapping_and_repeat_offenders():
    assert {p.stem for p in QUERY_FILES} >= {"remediation-log", "failures", "exemptions", "flapping-resources",
                                             "repeat-offenders"}


def test_analytics_rules_cover_failure_flapping_key_retrieval_and_long_exemptions():
    assert set(rules()) >= {"remediation-failed", "revert-flapping", "key-retrieval-local-auth", "exemption-over-30-days"}


# -- only the documented schema ------------------------------------------------------------------------

@pytest.mark.parametrize("where, query", all_queries(), ids=[w for w, _ in all_queries()])
def test_every_property_a_query_reads_is_in_the_documented_schema(where, query):
    used = set(re.findall(r"\bdw_[a-z0-9_]+", query))
    assert used, f"{where} reads no remediation-log property"
    assert used <= set(SCHEMA), f"{where} reads undocumented properties {sorted(used - set(SCHEMA))}"


@pytest.mark.parametrize("where, query", all_queries(), ids=[w for w, _ in all_queries()])
def test_every_value_a_query_compares_is_in_the_vocabulary(where, query):
    for name, allowed in VOCABULARY.items():
        for operator, operand in re.findall(rf"Properties\.{name}\)\s*(==|!=|!in|in)\s*(\([^)]*\)|\"[^\"]*\")", query):
            values = set(re.findall(r'"([^"]*)"', operand))
            assert values <= allowed, f"{where}: {name} {operator} {sorted(values - allowed)} (allowed {sorted(allowed)})"
    # Action/Outcome columns derived from the properties, compared later in the query
    for column, name in (("Action", "dw_action"), ("Outcome", "dw_outcome"), ("LatestOutcome", "dw_outcome")):
        for operand in re.findall(rf"\b{column}\s*(?:==|!=)\s*\"([^\"]*)\"", query):
            assert operand in VOCABULARY[name], f"{where}: {column} == {operand!r}"


@pytest.mark.parametrize("where, query", all_queries(), ids=[w for w, _ in all_queries()])
def test_check_ids_named_in_queries_exist(where, query):
    named = set(re.findall(r'"((?:cogsvc|aml)-[a-z0-9-]+)"', query))
    assert named <= CHECK_IDS, f"{where} names unknown check ids {sorted(named - CHECK_IDS)}"
    for suffix in re.findall(r'endswith\s+"(-[a-z0-9-]+)"', query):
        assert any(c.endswith(suffix) for c in CHECK_IDS), f"{where}: no check id ends with {suffix!r}"


@pytest.mark.parametrize("where, query", all_queries(), ids=[w for w, _ in all_queries()])
def test_queries_read_the_remediation_records_of_app_traces_and_are_balanced(where, query):
    code = "\n".join(line.split("//", 1)[0] for line in query.splitlines())
    assert "AppTraces" in code and "dw_record" in code, where
    for opening, closing in ("()", "[]", "{}"):
        assert code.count(opening) == code.count(closing), f"{where}: unbalanced {opening}{closing}"
    assert code.count('"') % 2 == 0, f"{where}: unbalanced quotes"
    tables = set(re.findall(r"\b(App[A-Z][A-Za-z]+)\b", code))
    assert tables <= {"AppTraces"}, f"{where} reads {sorted(tables)}: the remediation log is in AppTraces"


def test_check_families_the_queries_group_match_the_registry():
    """repeat-offenders and the key-retrieval rule select checks by suffix: the families are non-empty."""
    assert {c for c in CHECK_IDS if c.endswith("-key-retrieval")} >= {"cogsvc-key-retrieval", "aml-ws-key-retrieval"}
    assert {c for c in CHECK_IDS if c.endswith("-public-network")} >= {"cogsvc-public-network", "aml-ws-public-network"}


# -- the workbook ---------------------------------------------------------------------------------------

def test_workbook_is_a_notebook_whose_saved_query_sections_are_the_saved_queries_verbatim():
    workbook = json.loads(WORKBOOK.read_text(encoding="utf-8"))
    assert workbook["version"] == "Notebook/1.0"
    queries = workbook_queries()
    for path in QUERY_FILES:
        assert path.stem in queries, f"the workbook has no section for {path.name}"
        assert queries[path.stem] == path.read_text(encoding="utf-8"), (
            f"workbook.json section {path.stem!r} differs from queries/{path.name}: copy the file's text into it")
    for item in workbook["items"]:
        if item["type"] == 3:
            assert item["content"]["resourceType"] == "microsoft.operationalinsights/workspaces"
            assert item["content"]["timeContextFromParameter"] == "TimeRange"
    (parameters,) = [i for i in workbook["items"] if i["type"] == 9]
    assert [p["name"] for p in parameters["content"]["parameters"]] == ["TimeRange"]


# -- the Sentinel rules -------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", sorted(p.stem for p in RULE_FILES))
def test_analytics_rule_is_a_valid_scheduled_rule(key):
    rule = rules()[key]
    assert rule["key"] == key
    for name in ("displayName", "description", "severity", "query", "queryFrequency", "queryPeriod",
                 "triggerOperator", "triggerThreshold", "tactics", "enabled"):
        assert name in rule, f"{key}: missing {name}"
    assert rule["displayName"].startswith("Driftwarden: ") and len(rule["displayName"]) <= 256
    assert 50 <= len(rule["description"]) <= 5000
    assert rule["severity"] in ("High", "Medium", "Low", "Informational")
    assert rule["triggerOperator"] in ("GreaterThan", "LessThan", "Equal", "NotEqual")
    assert isinstance(rule["triggerThreshold"], int) and rule["triggerThreshold"] >= 0
    assert rule["enabled"] is True
    frequency, period = minutes(rule["queryFrequency"]), minutes(rule["queryPeriod"])
    assert 5 <= frequency <= 14 * 1440 and frequency <= period <= 14 * 1440, (frequency, period)
    assert rule["tactics"] and set(rule["tactics"]) <= SENTINEL_TACTICS
    assert all(re.fullmatch(r"T\d{4}", t) for t in rule.get("techniques", []))
    columns = set(re.findall(r"\b([A-Z][A-Za-z]+)\b", rule["query"]))
    for entity in rule.get("entityMappings", []):
        for mapping in entity["fieldMappings"]:
            assert mapping["columnName"] in columns, f"{key}: entity column {mapping['columnName']} is not in the query"
    assert len(rule["query"]) <= 10000  # Sentinel's limit on a scheduled rule's query


def test_key_retrieval_rule_covers_every_key_retrieval_check():
    query = rules()["key-retrieval-local-auth"]["query"]
    assert 'endswith "-key-retrieval"' in query and '"aml-datastore-secret-retrieval"' in query


def test_long_exemption_rule_uses_thirty_days():
    assert re.search(r"Days > 30\b", rules()["exemption-over-30-days"]["query"])
