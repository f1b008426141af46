"""The remediation-log content of infra/monitoring/ (saved queries, the workbook, the Sentinel analytics rules)
is what the Bicep deploys: every file is loaded by infra/modules/monitoring-content.bicep, every path the Bicep
loads exists, and the module hands the content to the right resources. Text parsing only (no Bicep compiler,
no pycep, no checkov; infra/check.sh runs those), so it is fast and offline."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from warden import generate

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
MONITORING = INFRA / "monitoring"
CONTENT_MODULE = INFRA / "modules" / "monitoring-content.bicep"
MAIN = INFRA / "main.bicep"

# The files under infra/monitoring/ that must be deployed, and the load function each kind needs.
MONITORING_CONTENT = {"queries/*.kql": "loadTextContent", "workbook.json": "loadJsonContent",
                      "analytics-rules/*.json": "loadJsonContent"}
LOAD = re.compile(r"\b(load(?:Json|Text|FileAsBase64)Content)\(\s*'([^']*)'")


# -- helpers --------------------------------------------------------------------------------------------

def bicep_code(text: str) -> str:
    """Bicep text without comments (`//` to the end of the line, `/* ... */`), strings kept intact."""
    out: list[str] = []
    i, n, in_string = 0, len(text), False
    while i < n:
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif char == "'":
                in_string = False
        elif char == "'":
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def bicep_files(infra: Path = INFRA) -> list[Path]:
    return sorted(p for p in infra.rglob("*.bicep") if not any(part.startswith(".venv") for part in p.parts))


def loads(path: Path) -> list[tuple[str, str, Path]]:
    """(function, path as written, resolved path) for every load*Content call of a Bicep file."""
    return [(function, written, (path.parent / written).resolve())
            for function, written in LOAD.findall(bicep_code(path.read_text(encoding="utf-8")))]


def monitoring_files(monitoring: Path = MONITORING) -> dict[Path, str]:
    """Every content file of infra/monitoring/ -> the load function it needs."""
    return {path.resolve(): function for pattern, function in MONITORING_CONTENT.items()
            for path in sorted(monitoring.glob(pattern))}


def unloaded(infra: Path) -> list[str]:
    loaded = {resolved for path in bicep_files(infra) for _, _, resolved in loads(path)}
    return sorted(str(path.relative_to(infra.resolve())) for path in monitoring_files(infra / "monitoring")
                  if path not in loaded)


def missing(infra: Path) -> list[str]:
    """Loaded paths that do not exist. infra/generated/ is build output (gitignored, written by the preprovision
    hook), so a generated path only has to be a file `python -m warden.generate all` writes."""
    generated = {generate._OUTPUTS[key].name for key in generate._DEPLOYMENT_FILES}
    problems = []
    for path in bicep_files(infra):
        for _, written, resolved in loads(path):
            if resolved.parent == (infra / "generated").resolve():
                if resolved.name not in generated:
                    problems.append(f"{path.name}: {written} is not a file warden.generate writes")
            elif not resolved.is_file():
                problems.append(f"{path.name}: {written} does not exist")
    return problems


def first_sentence_of_comment(kql: str) -> str:
    first = kql.splitlines()[0]
    assert first.startswith("// "), f"the query does not start with its display name in a comment: {first!r}"
    return first[3:].split(". ", 1)[0].rstrip(".")


def block(code: str, header: str, brackets: str = "{}") -> str:
    """The `{ ... }` (or `[ ... ]`) that follows `header` in Bicep code, brackets matched, strings skipped."""
    opening, closing = brackets
    i = code.index(opening, code.index(header))
    depth, in_string = 0, False
    for j in range(i, len(code)):
        char = code[j]
        if in_string:
            in_string = char != "'" or code[j - 1] == "\\"
        elif char == "'":
            in_string = True
        elif char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return code[i:j + 1]
    raise AssertionError(f"unbalanced {brackets} after {header!r}")


CONTENT = bicep_code(CONTENT_MODULE.read_text(encoding="utf-8"))


# -- every file is deployed, every loaded path exists ------------------------------------------------------

def test_there_is_monitoring_content_to_deploy():
    kinds = {pattern: [p for p, f in monitoring_files().items() if p.match(pattern)] for pattern in MONITORING_CONTENT}
    assert all(kinds.values()), kinds


def test_every_file_in_infra_monitoring_is_loaded_by_the_bicep():
    assert unloaded(INFRA) == [], "not deployed: list these files in infra/modules/monitoring-content.bicep"


def test_every_path_the_bicep_loads_exists():
    assert missing(INFRA) == []


def test_monitoring_files_are_listed_in_one_place_once_with_the_right_load_function():
    wanted = monitoring_files()
    seen: dict[Path, list[str]] = {}
    for path in bicep_files():
        for function, written, resolved in loads(path):
            if resolved in wanted or MONITORING.resolve() in resolved.parents:
                assert path == CONTENT_MODULE, f"{path.name} loads {written}: keep the list in monitoring-content.bicep"
                seen.setdefault(resolved, []).append(function)
    for resolved, functions in seen.items():
        assert len(functions) == 1, f"{resolved.name} is loaded {len(functions)} times"
        assert functions[0] == wanted.get(resolved), f"{resolved.name} needs {wanted.get(resolved)}, not {functions[0]}"


def test_the_checks_catch_an_unlisted_file_and_a_missing_path(tmp_path):
    """The two checks above fail for the reasons they exist: a new file nobody listed, a listed file renamed."""
    (tmp_path / "modules").mkdir()
    for relative in ("queries/a.kql", "queries/b.kql", "workbook.json", "analytics-rules/r.json", "notes.md"):
        target = tmp_path / "monitoring" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("{}" if relative.endswith(".json") else "// X: y. z\nAppTraces", encoding="utf-8")
    (tmp_path / "modules" / "content.bicep").write_text(
        "var a = loadTextContent('../monitoring/queries/a.kql')\n"
        "// var b = loadTextContent('../monitoring/queries/b.kql')  (commented out: not loaded)\n"
        "var w = loadJsonContent('../monitoring/workbook.json')\n"
        "var r = [\n  loadJsonContent( '../monitoring/analytics-rules/renamed.json')\n]\n", encoding="utf-8")
    assert unloaded(tmp_path) == [str(Path("monitoring/analytics-rules/r.json")), str(Path("monitoring/queries/b.kql"))]
    assert missing(tmp_path) == ["content.bicep: ../monitoring/analytics-rules/renamed.json does not exist"]


def test_the_gate_runs_the_same_coverage_check():
    wiring = (INFRA / "scripts" / "check_wiring.py").read_text(encoding="utf-8")
    for pattern in MONITORING_CONTENT:
        assert f'"{pattern}"' in wiring, f"infra/scripts/check_wiring.py does not check {pattern}"


# -- saved searches -----------------------------------------------------------------------------------------

def saved_searches() -> list[dict[str, str]]:
    entries = re.findall(r"\{\s*name: '([^']+)'\s*displayName: '([^']+)'\s*query: loadTextContent\('([^']+)'\)\s*\}",
                         block(CONTENT, "var querySearches", "[]"))
    return [{"name": n, "displayName": d, "path": (CONTENT_MODULE.parent / p).resolve()} for n, d, p in entries]


def test_each_query_file_is_a_saved_search_named_after_it_with_the_display_name_of_its_comment():
    searches = saved_searches()
    assert {s["path"] for s in searches} == {p for p in monitoring_files() if p.suffix == ".kql"}
    for search in searches:
        assert search["name"] == f"driftwarden-{search['path'].stem}"
        kql = search["path"].read_text(encoding="utf-8")
        assert search["displayName"] == first_sentence_of_comment(kql), search["path"].name
    assert len({s["name"] for s in searches}) == len(searches)
    assert len({s["displayName"] for s in searches}) == len(searches)


def test_the_placeholder_saved_search_is_gone_and_the_resource_takes_every_search():
    assert "driftwarden-recent-activity" not in CONTENT and "defaultSavedSearches" not in CONTENT
    assert re.search(r"var allSavedSearches = concat\(querySearches, savedSearches\)", CONTENT)
    body = block(CONTENT, "resource searches 'Microsoft.OperationalInsights/workspaces/savedSearches@")
    assert "for search in allSavedSearches" in CONTENT and "query: search.query" in body
    assert "displayName: search.displayName" in body


# -- workbook -------------------------------------------------------------------------------------------------

def test_workbook_is_deployed_from_the_file_as_a_string_on_the_workspace_with_a_deterministic_name():
    assert re.search(r"var remediationWorkbook = loadJsonContent\('\.\./monitoring/workbook\.json'\)", CONTENT)
    workbooks = block(CONTENT, "var allWorkbooks")
    assert re.search(r"serializedData: string\((?:union\()?remediationWorkbook\b", workbooks)
    body = block(CONTENT, "resource workbookResources 'Microsoft.Insights/workbooks@")
    assert "for workbook in allWorkbooks" in CONTENT
    assert re.search(r"name: guid\(workspace\.id, '[^']+', workbook\.key\)", body)
    assert "sourceId: workspace.id" in body and "serializedData: workbook.serializedData" in body
    assert "kind: 'shared'" in body and "category: 'workbook'" in body
    assert json.loads((MONITORING / "workbook.json").read_text(encoding="utf-8"))["version"] == "Notebook/1.0"


# -- Sentinel rules -------------------------------------------------------------------------------------------

def test_every_rule_file_becomes_a_scheduled_rule_behind_sentinel_enabled():
    assert "var allAnalyticsRules = concat(ruleFiles, analyticsRules)" in CONTENT
    rule_files = block(CONTENT, "var ruleFiles", "[]")
    listed = {(CONTENT_MODULE.parent / p).resolve() for p in re.findall(r"loadJsonContent\('([^']+)'\)", rule_files)}
    assert listed == {p for p in monitoring_files() if p.parent.name == "analytics-rules"}
    keys = [json.loads(p.read_text(encoding="utf-8"))["key"] for p in sorted(listed)]
    assert len(set(keys)) == len(keys), "two rule files share a key: their guid names would collide"
    assert re.search(r"for rule in \(sentinelEnabled \? allAnalyticsRules : \[\]\)", CONTENT)
    body = block(CONTENT, "resource rules 'Microsoft.SecurityInsights/alertRules@")
    assert "kind: 'Scheduled'" in body and "scope: workspace" in body
    assert re.search(r"name: guid\(workspace\.id, '[^']+', rule\.key\)", body)
    assert re.search(r"dependsOn: \[\s*sentinel\s*\]", body)
    onboarding = block(CONTENT, "resource sentinel 'Microsoft.SecurityInsights/onboardingStates@")
    assert "scope: workspace" in onboarding
    assert re.search(r"resource sentinel '[^']+' = if \(sentinelEnabled\)", CONTENT)


@pytest.mark.parametrize("path", sorted(p for p in monitoring_files() if p.parent.name == "analytics-rules"),
                         ids=lambda p: p.stem)
def test_every_property_of_a_rule_file_reaches_the_alert_rule(path):
    """techniques, entityMappings, eventGroupingSettings... are passed through, not dropped by the module."""
    rule = json.loads(path.read_text(encoding="utf-8"))
    body = block(CONTENT, "resource rules 'Microsoft.SecurityInsights/alertRules@")
    properties = block(body, "properties:")
    for name in rule:
        if name == "key":
            continue  # the resource name: guid(workspace.id, ..., rule.key)
        assert re.search(rf"\n\s*{name}: .*\brule\.{name}\b", properties), f"{path.name}: {name} is not deployed"


def test_main_wires_the_module_to_the_workspace_and_sentinel_parameter():
    main = bicep_code(MAIN.read_text(encoding="utf-8"))
    module = block(main, "module monitoringContent 'modules/monitoring-content.bicep'")
    assert "workspaceName: monitoring.outputs.workspaceName" in module
    assert "sentinelEnabled: sentinelEnabled" in module
    assert "param sentinelEnabled bool = false" in main
