"""The Function App settings and the Table Storage tables in the Bicep match what the code reads and uses:
every DRIFTWARDEN_* (and APPLICATIONINSIGHTS_* / AZURE_*) setting infra/modules/function-app.bicep sets is
one the code reads, the settings the app needs are set, and infra/main.bicep creates exactly the tables the
code opens, under the prefix it passes as DRIFTWARDEN_TABLE_PREFIX. Text and AST parsing only: fast, offline."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from warden.table_state import DEFAULT_PREFIX, TableNames
from warden.ticketing.factory import SECRETS, SETTINGS

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
FUNCTION_APP = INFRA / "modules" / "function-app.bicep"
MAIN = INFRA / "main.bicep"
SOURCES = [ROOT / "function_app.py", *sorted((ROOT / "warden").rglob("*.py")), *sorted((ROOT / "functions").rglob("*.py"))]

SETTING = re.compile(r"[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]")
# Read by the Functions host or the platform, not by our code.
HOST_SETTINGS = {"AzureWebJobsStorage__accountName", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId"}


def bicep_code(text: str) -> str:
    """Bicep text without `//` comments (strings kept intact: 'https://...' is not a comment)."""
    out, in_string, i = [], False, 0
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(char)
            if char == "\\" and i + 1 < len(text):
                out.append(text[i + 1])
                i += 1
            elif char == "'":
                in_string = False
        elif char == "'":
            in_string = True
            out.append(char)
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def string_literals(code: str) -> list[str]:
    return re.findall(r"'((?:[^'\\]|\\.)*)'", code)


def names_the_code_reads() -> set[str]:
    """Every string constant of the app's Python code that is exactly an environment variable name
    (os.environ.get("X"), env["X"], SETTINGS / SECRETS tables, SCHEDULE_SETTING = "X", ...). Docstrings and
    messages are longer than a name, so they do not count as reads."""
    names: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SETTING.fullmatch(node.value):
                names.add(node.value)
    return names


APP = bicep_code(FUNCTION_APP.read_text(encoding="utf-8"))
MAIN_CODE = bicep_code(MAIN.read_text(encoding="utf-8"))
READ = names_the_code_reads()


def app_setting_names() -> set[str]:
    """The `name:` of every entry of the app settings, literal or from the tracker-secret table."""
    names = set(re.findall(r"\bname: '([A-Za-z][A-Za-z0-9_]*)'\s*\n\s*value:", APP))
    return names | set(ticket_secret_table())


def ticket_secret_table() -> dict[str, str]:
    table = APP.split("var ticketSecretSettings = {", 1)[1].split("\n}", 1)[0]
    return dict(re.findall(r"^\s*([A-Z0-9_]+): '([A-Z0-9_]+)'\s*$", table, re.M))


# -- the settings ----------------------------------------------------------------------------------------

def test_the_scan_sees_the_names_the_code_reads():
    assert {"DRIFTWARDEN_STORAGE_ACCOUNT", "DRIFTWARDEN_TABLE_PREFIX", "DRIFTWARDEN_CONFIG_JSON",
            "DRIFTWARDEN_SWEEP_SCHEDULE", "DRIFTWARDEN_TICKET_TRACKER", "APPLICATIONINSIGHTS_CONNECTION_STRING",
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "AZURE_CLIENT_ID"} <= READ
    assert "DRIFTWARDEN_KEY_VAULT_URI" not in READ  # what the scan exists to catch (was set, never read)


def test_every_driftwarden_name_in_the_function_app_bicep_is_one_the_code_reads():
    used = {name for literal in string_literals(APP) for name in re.findall(r"\bDRIFTWARDEN_[A-Z0-9_]+\b", literal)}
    assert used, "function-app.bicep sets no DRIFTWARDEN_* setting?"
    assert used <= READ, f"set but never read by warden/ or functions/: {sorted(used - READ)}"


def test_every_app_setting_is_read_by_the_code_or_the_host():
    names = app_setting_names()
    unknown = {n for n in names if n not in READ and n not in HOST_SETTINGS}
    assert not unknown, f"app settings nobody reads: {sorted(unknown)}"


def test_the_settings_the_app_needs_are_set():
    names = app_setting_names()
    for name in ("DRIFTWARDEN_STORAGE_ACCOUNT", "DRIFTWARDEN_TABLE_PREFIX", "APPLICATIONINSIGHTS_CONNECTION_STRING",
                 "APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "AZURE_CLIENT_ID", "DRIFTWARDEN_SELF_PRINCIPAL_IDS",
                 "DRIFTWARDEN_CONFIG_JSON", "DRIFTWARDEN_SWEEP_SCHEDULE", "DRIFTWARDEN_TICKET_TRACKER",
                 "DRIFTWARDEN_TICKETS_JSON"):
        assert name in names, f"function-app.bicep does not set {name}"


def value_of(name: str) -> str:
    match = re.search(rf"name: '{name}'\s*\n\s*value: ([^\n]+)", APP)
    assert match, name
    return match.group(1).strip()


def test_setting_values_are_identity_based():
    assert value_of("APPLICATIONINSIGHTS_AUTHENTICATION_STRING") == "'Authorization=AAD;ClientId=${identityClientId}'"
    assert value_of("AZURE_CLIENT_ID") == "identityClientId"
    assert value_of("DRIFTWARDEN_STORAGE_ACCOUNT") == "storageAccountName"
    assert value_of("DRIFTWARDEN_TABLE_PREFIX") == "tablePrefix"
    assert value_of("DRIFTWARDEN_SELF_PRINCIPAL_IDS") == "'${identityPrincipalId},${identityClientId}'"
    # Table Storage only through the identity: no key-based connection string reaches Azure.
    assert "DRIFTWARDEN_STORAGE_CONNECTION_STRING" not in APP and "AccountKey" not in APP


def test_optional_settings_are_absent_when_empty():
    """An empty DRIFTWARDEN_SWEEP_SCHEDULE would bind %...% to nothing; an explicit tracker would override the
    tracker of DRIFTWARDEN_TICKETS_JSON and the teams / webhook auto-detection."""
    for name, param in (("DRIFTWARDEN_SWEEP_SCHEDULE", "sweepSchedule"), ("DRIFTWARDEN_TICKET_TRACKER", "ticketTracker"),
                        ("DRIFTWARDEN_TICKETS_JSON", "ticketsJson")):
        assert re.search(rf"empty\({param}\) \? \[\] : \[\s*\{{\s*name: '{name}'", APP), name
        assert re.search(rf"^param {param} string = ''$", APP, re.M), param


def test_tracker_secrets_are_key_vault_references_limited_to_the_secrets_the_code_reads():
    table = ticket_secret_table()
    secrets = {name for names in SECRETS.values() for name in names}
    assert set(table) == secrets, "ticketSecretSettings must list exactly SECRETS of warden/ticketing/factory.py"
    assert all(key == value for key, value in table.items())
    assert not secrets & set(SETTINGS.values())
    assert "for secret in items(ticketSecretNames)" in APP
    assert "name: ticketSecretSettings[secret.key]" in APP  # an unknown name fails the deployment
    assert "value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/${secret.value}/)'" in APP
    assert re.search(r"^param ticketSecretNames object = \{\}$", MAIN_CODE, re.M)


def test_tracker_values_the_bicep_allows_are_the_trackers_of_the_code():
    from warden.ticketing.factory import TRACKERS

    allowed = MAIN_CODE.split("param ticketTracker string", 1)[0].rsplit("@allowed([", 1)[1].split("])", 1)[0]
    assert set(re.findall(r"'([^']*)'", allowed)) == {"", *TRACKERS}


def test_main_passes_the_settings_to_the_function_app():
    module = MAIN_CODE.split("module functionApp 'modules/function-app.bicep'", 1)[1].split("\n}\n", 1)[0]
    for param in ("tablePrefix", "ticketTracker", "ticketsJson", "ticketSecretNames", "sweepSchedule"):
        assert re.search(rf"\n\s*{param}: {param}\n", module), param


def test_main_bicep_descriptions_name_only_settings_the_code_reads():
    descriptions = " ".join(re.findall(r"@description\('((?:[^'\\]|\\.)*)'\)", MAIN_CODE))
    named = set(re.findall(r"\bDRIFTWARDEN_[A-Z0-9_]+\b", descriptions))
    assert named <= READ, sorted(named - READ)


# -- the tables ---------------------------------------------------------------------------------------

def tables_the_code_uses() -> set[str]:
    """Table names after the prefix: TableNames' properties (events, state) and the *_TABLE constants that
    warden.ticketing.factory.table_store() opens (tickets, proposals)."""
    probe = TableNames("PREFIX")
    suffixes = {getattr(probe, name)[len("PREFIX"):] for name, member in vars(TableNames).items()
                if isinstance(member, property)}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {target.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                     and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                     for target in node.targets if isinstance(target, ast.Name) and target.id.endswith("_TABLE")}
        suffixes |= set(constants.values())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "table_store":
                table = node.args[1] if len(node.args) > 1 else next((k.value for k in node.keywords if k.arg == "table"), None)
                assert isinstance(table, ast.Name) and table.id.endswith("_TABLE"), (
                    f"{path.name}:{node.lineno}: table_store() with a table that is not a *_TABLE constant; "
                    f"this test (and main.bicep) cannot see it")
    return suffixes


def test_main_bicep_creates_exactly_the_tables_the_code_uses():
    listed = re.findall(r"'([a-z0-9]+)'", MAIN_CODE.split("var stateTableSuffixes = [", 1)[1].split("]", 1)[0])
    assert len(listed) == len(set(listed))
    assert set(listed) == tables_the_code_uses() == {"events", "state", "tickets", "proposals"}
    assert "var stateTableNames = [for suffix in stateTableSuffixes: '${tablePrefix}${suffix}']" in MAIN_CODE
    storage = MAIN_CODE.split("module storage 'modules/storage.bicep'", 1)[1].split("\n}\n", 1)[0]
    assert re.search(r"\n\s*tableNames: stateTableNames\n", storage)
    assert not re.search(r"'warden(events|reverts|pending)'", MAIN_CODE), "the old table names are back"


def test_table_prefix_default_and_limits_match_the_code():
    assert re.search(rf"^param tablePrefix string = '{DEFAULT_PREFIX}'$", MAIN_CODE, re.M)
    assert re.search(rf"^param tablePrefix string = '{DEFAULT_PREFIX}'$", APP, re.M)
    head = MAIN_CODE.split("param tablePrefix string", 1)[0].rsplit("@description", 1)[1]
    assert "@minLength(3)" in head and "@maxLength(51)" in head  # warden/table_state.py: 3-51 characters
    longest = max(tables_the_code_uses(), key=len)
    assert 51 + len(longest) <= 63, "a table name would exceed Table Storage's 63 characters"
