"""warden/generate.py: the custom role and Event Grid filters generated from the remediator registry, and
the deployment files that consume them. Fast and offline: no checkov, no Bicep compiler (infra/check.sh
runs those)."""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import remediators
from remediators.base import Fix, OperationRole, PropertyChange, ResourceKind
from warden import generate

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


# helpers ----------------------------------------------------------------------------------------

def all_operations_as_declared() -> list[str]:
    # ResourceKind lower-cases its operation keys; the modules declare mixed case (listKeys, onlineEndpoints).
    return [op for kind in remediators.kinds() for op in kind.operations]


def delivering(document: dict, operation: str) -> list[str]:
    event = generate.sample_event(operation)
    return [s["name"] for s in document["subscriptions"] if generate.matches(s["filter"], event)]


def with_kinds(monkeypatch: pytest.MonkeyPatch, *kinds: ResourceKind) -> None:
    monkeypatch.setattr(remediators, "kinds", lambda: tuple(kinds))


def example_kind(type_: str = "Microsoft.Example/widgets", operations: dict | None = None,
                 write_action: str | None = None) -> ResourceKind:
    """A registered-looking kind with one fixable check, built from a real check's metadata."""
    template = next(c for c in remediators.all_checks() if c.fix is not None)
    check = dataclasses.replace(
        template,
        id="example-widget-open",
        fix=Fix(changes=lambda r: (PropertyChange("properties.open", False, (False,)),),
                write_action=write_action or f"{type_}/write"),
    )
    return ResourceKind(
        type=type_,
        api_version="2024-01-01",
        read_action=f"{type_}/read",
        operations=operations or {f"{type_}/write": OperationRole.EVALUATE},
        checks=(check,),
    )


def strip_bicep_comments(text: str) -> str:
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


# event filter ---------------------------------------------------------------------------------

def test_every_registered_operation_is_delivered_exactly_once_case_insensitively():
    document = generate.event_filter()
    operations = all_operations_as_declared()
    assert operations, "the registry declares no operations"
    for operation in operations:
        for spelling in (operation, operation.lower(), operation.upper()):
            assert len(delivering(document, spelling)) == 1, spelling


def test_operations_the_registry_ignores_are_filtered_out():
    document = generate.event_filter()
    for operation in (
        "Microsoft.CognitiveServices/accounts/deployments/write",  # model deployments: frequent, irrelevant
        "Microsoft.CognitiveServices/accounts/raiPolicies/write",
        "Microsoft.Resources/deployments/write",  # the template deployment's own event
        "Microsoft.Storage/storageAccounts/write",
    ):
        assert delivering(document, operation) == [], operation


def test_failure_events_are_not_delivered():
    document = generate.event_filter()
    event = generate.sample_event("Microsoft.CognitiveServices/accounts/write")
    event["eventType"] = "Microsoft.Resources.ResourceWriteFailure"
    assert not any(generate.matches(s["filter"], event) for s in document["subscriptions"])


def test_filter_respects_event_grid_limits():
    document = generate.event_filter()
    assert generate.filter_limit_problems(document) == []
    for subscription in document["subscriptions"]:
        flt = subscription["filter"]
        values = [v for f in flt["advancedFilters"] for v in f["values"]]
        assert len(flt["advancedFilters"]) <= 25
        assert len(values) <= 25
        assert all(len(v) <= 512 for v in values)
        assert set(flt["includedEventTypes"]) == set(generate.INCLUDED_EVENT_TYPES)
        assert re.fullmatch(r"[a-z0-9-]{3,40}", subscription["name"])
    names = [s["name"] for s in document["subscriptions"]]
    assert len(names) == len(set(names))


def test_more_than_25_operations_are_split_over_several_subscriptions(monkeypatch):
    operations = {f"Microsoft.Example/widgets/op{i:02d}/action": OperationRole.EVALUATE for i in range(60)}
    with_kinds(monkeypatch, example_kind(operations=operations))
    document = generate.event_filter()
    assert len(document["subscriptions"]) == 3
    assert generate.filter_limit_problems(document) == []
    for operation in operations:
        assert len(delivering(document, operation)) == 1


def test_an_operation_declared_by_two_kinds_is_delivered_once(monkeypatch):
    shared = "Microsoft.Example/widgets/write"
    first = example_kind("Microsoft.Example/widgets")
    second = example_kind("Microsoft.Example/widgets/parts",
                          operations={shared: OperationRole.EVALUATE,
                                      "Microsoft.Example/widgets/parts/write": OperationRole.EVALUATE})
    second = dataclasses.replace(second, checks=tuple(dataclasses.replace(c, id="example-part") for c in second.checks))
    with_kinds(monkeypatch, first, second)
    document = generate.event_filter()
    assert delivering(document, shared) == ["dw-example-widgets"]
    assert generate.verify(generate.role_document(), document) == []


def test_resource_notifications_filter_covers_every_kind():
    document = generate.arn_filter()
    for kind in remediators.kinds():
        event = {"eventType": generate.ARN_CREATED_OR_UPDATED, "data": {"resourceInfo": {"type": kind.type.upper()}}}
        assert sum(generate.matches(s["filter"], event) for s in document["subscriptions"]) == 1
    assert generate.filter_limit_problems(document) == []


def test_matches_follows_event_grid_semantics_for_missing_keys():
    event = {"eventType": generate.WRITE_SUCCESS, "data": {"operationName": "x/write"}}
    not_in = {"advancedFilters": [{"operatorType": "StringNotIn", "key": "data.claims.appid", "values": ["a"]}]}
    string_in = {"advancedFilters": [{"operatorType": "StringIn", "key": "data.claims.appid", "values": ["a"]}]}
    assert generate.matches(not_in, event)  # a missing key matches the NotIn operators
    assert not generate.matches(string_in, event)  # and nothing else


# role ------------------------------------------------------------------------------------------

def test_every_write_a_fix_can_send_is_in_the_role():
    actions = {a.lower() for a in generate.role_actions()}
    fixes = [c for c in remediators.all_checks() if c.fix is not None]
    assert fixes, "no check has a Fix: the role test would prove nothing"
    for check in fixes:
        assert check.fix.write_action.lower() in actions, check.id


def test_every_kind_can_be_read_including_parents_of_child_kinds():
    actions = {a.lower() for a in generate.role_actions()}
    for kind in remediators.kinds():
        assert kind.read_action.lower() in actions
        for ancestor in generate.ancestor_types(kind.type):
            assert f"{ancestor}/read".lower() in actions


def test_role_has_no_wildcard_no_secret_action_and_no_generic_write():
    actions = generate.role_actions()
    assert actions == sorted(actions, key=str.lower)
    assert len({a.lower() for a in actions}) == len(actions)
    for action in actions:
        assert "*" not in action
        assert "listkeys" not in action.lower() and "listsecrets" not in action.lower()
        assert not generate.is_secret_action(action)
        assert not action.lower().startswith("microsoft.authorization/")


def test_role_writes_only_for_the_checks_enabled_for_revert():
    read_only = generate.role_actions([])
    assert not [a for a in read_only if a.lower().endswith(("/write", "/delete"))]
    one = next(c for c in remediators.all_checks() if c.fix is not None)
    assert one.fix.write_action in generate.role_actions([one.id])


def test_containment_actions_are_granted_only_when_opted_in():
    contained = [c for c in remediators.all_checks() if getattr(c, "containment_action", None)]
    if not contained:
        pytest.skip("no check declares a containment action")
    check = contained[0]
    assert check.containment_action not in generate.role_actions()
    assert check.containment_action in generate.role_actions(containment_check_ids=[check.id])


@pytest.mark.parametrize("action", [
    "Microsoft.Example/widgets/listKeys/action",
    "Microsoft.Example/widgets/*",
    "Microsoft.Example/*/write",
])
def test_registry_asking_for_a_secret_or_wildcard_action_is_rejected(monkeypatch, action):
    with_kinds(monkeypatch, example_kind(write_action=action))
    with pytest.raises(generate.RegistryError):
        generate.role_actions()


def test_a_fix_may_not_write_another_resource_type(monkeypatch):
    with_kinds(monkeypatch, example_kind(write_action="Microsoft.Authorization/roleAssignments/write"))
    with pytest.raises(generate.RegistryError, match="may only write the resource it checks"):
        generate.role_actions()


def test_unknown_or_unrevertible_check_ids_are_rejected():
    with pytest.raises(generate.RegistryError, match="unknown"):
        generate.role_actions(["no-such-check"])
    unrevertible = next(c for c in remediators.all_checks() if c.fix is None)
    with pytest.raises(generate.RegistryError, match="cannot be reverted"):
        generate.role_actions([unrevertible.id])


# drift between the registry and generated outputs ------------------------------------------------

def test_verify_accepts_freshly_generated_outputs():
    assert generate.verify(generate.role_document(), generate.event_filter()) == []
    assert generate.verify(generate.role_document([]), generate.event_filter()) == []


def test_verify_detects_a_new_operation_in_the_registry(monkeypatch):
    role, flt = generate.role_document(), generate.event_filter()
    kinds = list(remediators.kinds())
    first = kinds[0]
    new_operation = f"{first.type}/newThing/action"
    kinds[0] = dataclasses.replace(first, operations={**first.operations, new_operation: OperationRole.EVALUATE})
    with_kinds(monkeypatch, *kinds)
    problems = generate.verify(role, flt)
    assert any(new_operation.lower() in p and "not delivered" in p for p in problems), problems


def test_verify_detects_a_new_write_action_in_the_registry(monkeypatch):
    role, flt = generate.role_document(), generate.event_filter()
    with_kinds(monkeypatch, *remediators.kinds(), example_kind())
    problems = generate.verify(role, flt)
    assert "role: missing Microsoft.Example/widgets/write" in problems
    assert "role: missing Microsoft.Example/widgets/read" in problems
    assert any("microsoft.example/widgets/write" in p and "not delivered" in p for p in problems)


def test_verify_detects_grants_and_operations_the_registry_dropped(monkeypatch):
    role, flt = generate.role_document(), generate.event_filter()
    dropped = remediators.kinds()[-1]
    with_kinds(monkeypatch, *remediators.kinds()[:-1])
    problems = generate.verify(role, flt)
    assert any(p.startswith("role: grants") and dropped.read_action in p for p in problems)
    assert any("which no registered kind handles" in p for p in problems)


def test_verify_detects_hand_edited_outputs():
    role = generate.role_document()
    role["actions"] = [*role["actions"], "Microsoft.CognitiveServices/accounts/listKeys/action", "*/read"]
    flt = generate.event_filter()
    flt["subscriptions"][0]["filter"]["advancedFilters"][0]["values"].extend(f"x/{i}/action" for i in range(30))
    problems = generate.verify(role, flt)
    assert any("reveals or rotates a secret" in p for p in problems)
    assert any("wildcard" in p for p in problems)
    assert any("filter values (max 25)" in p for p in problems)


def test_cli_regenerates_and_verifies(tmp_path):
    out = tmp_path / "generated"
    run = [sys.executable, "-m", "warden.generate"]
    env = {k: v for k, v in os.environ.items() if k != "DRIFTWARDEN_CONFIG_JSON"}
    assert subprocess.run([*run, "all", "--output-dir", str(out)], cwd=ROOT, capture_output=True, env=env).returncode == 0
    assert json.loads((out / "config.json").read_text()) == {"dry_run": True}
    assert {p.name for p in out.iterdir()} == {"role.json", "filter.json", "arn-filter.json", "config.json"}
    assert subprocess.run([*run, "verify", "--dir", str(out)], cwd=ROOT, capture_output=True).returncode == 0
    role = json.loads((out / "role.json").read_text())
    role["actions"].pop()
    (out / "role.json").write_text(json.dumps(role))
    result = subprocess.run([*run, "verify", "--dir", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1 and "role: missing" in result.stderr


def test_generator_imports_no_azure_sdk():
    code = ("import sys, warden.generate as g; g.role_actions(); g.event_filter(); "
            "bad = sorted(m for m in sys.modules if m == 'azure' or m.startswith('azure.')); "
            "print(bad); sys.exit(1 if bad else 0)")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


# app configuration written by the hook ------------------------------------------------------------

def test_config_defaults_to_dry_run():
    assert generate.config_document(None, []) == {"dry_run": True}
    assert generate.config_document("  ", []) == {"dry_run": True}


def test_config_that_reverts_without_the_write_action_is_refused():
    reverting = next(c for c in remediators.all_checks() if c.fix is not None)
    config = json.dumps({"dry_run": False, "modes": {reverting.id: "revert"}})
    with pytest.raises(generate.RegistryError, match="would not grant their write action"):
        generate.config_document(config, [])
    # granted, or in dry run, it is accepted
    everything_else_ticket = {c.id: "ticket" for c in remediators.all_checks() if c.default_mode.value == "revert"}
    config = json.dumps({"dry_run": False, "modes": {**everything_else_ticket, reverting.id: "revert"}})
    assert generate.config_document(config, [reverting.id])["modes"][reverting.id] == "revert"
    assert generate.config_document(json.dumps({"dry_run": True, "modes": {reverting.id: "revert"}}), [])


def test_config_with_containment_needs_the_containment_action():
    contained = [c for c in remediators.all_checks() if getattr(c, "containment", None) is not None]
    if not contained:
        pytest.skip("no check declares a containment")
    check = contained[0]
    no_reverts = {c.id: "ticket" for c in remediators.all_checks() if c.default_mode.value == "revert"}
    config = json.dumps({"dry_run": False, "modes": {**no_reverts, check.id: "ticket"}, "containment": [check.id]})
    with pytest.raises(generate.RegistryError, match="containment"):
        generate.config_document(config, [])
    assert generate.config_document(config, [], containment_check_ids=[check.id])["containment"] == [check.id]


@pytest.mark.parametrize("text", ['{"dry_run": tru', '{"no_such_key": 1}', '[]'])
def test_invalid_config_is_refused_before_deployment(text):
    with pytest.raises(generate.RegistryError, match="DRIFTWARDEN_CONFIG_JSON"):
        generate.config_document(text, None)


def test_checks_doc_lists_every_check_with_its_metadata():
    text = generate.checks_markdown()
    for check in remediators.all_checks():
        assert f"### {check.id}" in text
        assert check.title in text
        assert f"Default mode: `{check.default_mode.value}`" in text


# the deployment files that consume the generated JSON -------------------------------------------------

def test_main_bicep_loads_the_generated_files_and_uses_their_fields():
    main = (INFRA / "main.bicep").read_text()
    for name in ("role.json", "filter.json", "arn-filter.json"):
        assert f"loadJsonContent('generated/{name}')" in main
    assert "loadTextContent('generated/config.json')" in main
    assert "generatedRole.actions" in main and "generatedFilter.subscriptions" in main
    subscriptions = (INFRA / "modules" / "eventgrid-subscriptions.bicep").read_text()
    assert "set.name" in subscriptions and "set['filter']" in subscriptions
    assert "maxEventsPerBatch: 1" in subscriptions and "'AzureFunction'" in subscriptions


def test_azd_hook_generates_before_provision():
    azure_yaml = (ROOT / "azure.yaml").read_text()
    assert "preprovision:" in azure_yaml and "infra/scripts/generate.sh" in azure_yaml
    script = (INFRA / "scripts" / "generate.sh").read_text()
    assert "-m warden.generate all --output-dir infra/generated" in script


def test_event_subscriptions_target_the_registered_trigger_function():
    source = (ROOT / "functions" / "eventgrid.py").read_text()
    name = re.search(r'function_name\("([^"]+)"\)\s*\n@bp\.event_grid_trigger', source)
    assert name, "functions/eventgrid.py no longer registers an Event Grid trigger"
    main = (INFRA / "main.bicep").read_text()
    assert f"var eventFunctionName = '{name.group(1)}'" in main


REJECTED_ON_FLEX = (
    "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_WORKER_RUNTIME_VERSION", "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_PROCESS_COUNT", "FUNCTIONS_MAX_HTTP_CONCURRENCY", "WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT",
    "WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_CONTENTSHARE", "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "SCM_DO_BUILD_DURING_DEPLOYMENT", "ENABLE_ORYX_BUILD", "alwaysOn", "linuxFxVersion", "functionAppScaleLimit",
    "preWarmedInstanceCount",
)


def test_no_setting_that_flex_consumption_rejects():
    for path in INFRA.rglob("*.bicep"):
        code = strip_bicep_comments(path.read_text())
        for name in REJECTED_ON_FLEX:
            assert not re.search(rf"\b{name}\b", code), f"{path.name} sets {name}"


def test_role_assignments_have_deterministic_names():
    seen = 0
    for path in INFRA.rglob("*.bicep"):
        text = path.read_text()
        blocks = re.findall(r"Microsoft\.Authorization/roleAssignments@[^']+' = [^{]*\{(.*?)\n\}", text, re.S)
        assert len(blocks) == text.count("Microsoft.Authorization/roleAssignments@"), path.name
        for block in blocks:
            assert re.search(r"name: guid\(", block), f"{path.name}: role assignment without a guid() name"
        seen += len(blocks)
    assert seen >= 6


def test_parameters_file_names_only_declared_parameters():
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    declared = set(re.findall(r"^param (\w+) ", (INFRA / "main.bicep").read_text(), re.M))
    assert set(parameters) <= declared, set(parameters) - declared
