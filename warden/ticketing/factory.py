"""Builds the ticket sink from the deployment's settings (docs/tickets.md lists them all).

Non-secret settings come from DRIFTWARDEN_TICKETS_JSON (a `tickets` object) or single app settings; secrets
come only from app settings, which in Azure are Key Vault references (`@Microsoft.KeyVault(SecretUri=...)`)
resolved by the platform into environment variables. A secret found in the JSON is refused, so none ends up in
a config file or a log. The sink is built on first use by the runtime, never at import.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from warden.config import ConfigError

log = logging.getLogger("driftwarden.tickets")

TRACKERS = ("github", "azure-devops", "servicenow", "jira", "teams", "webhook", "none")
TICKETS_TABLE = "tickets"  # after the table prefix: driftwardentickets

# key in the tickets object -> the app setting that overrides it
SETTINGS = {
    "tracker": "DRIFTWARDEN_TICKET_TRACKER",
    "github.repo": "DRIFTWARDEN_GITHUB_REPO",
    "github.api_url": "DRIFTWARDEN_GITHUB_API_URL",
    "azure_devops.org_url": "DRIFTWARDEN_ADO_ORG_URL",
    "azure_devops.project": "DRIFTWARDEN_ADO_PROJECT",
    "azure_devops.work_item_type": "DRIFTWARDEN_ADO_WORK_ITEM_TYPE",
    "azure_devops.area_path": "DRIFTWARDEN_ADO_AREA_PATH",
    "servicenow.instance_url": "DRIFTWARDEN_SERVICENOW_INSTANCE_URL",
    "servicenow.user": "DRIFTWARDEN_SERVICENOW_USER",
    "servicenow.assignment_group": "DRIFTWARDEN_SERVICENOW_ASSIGNMENT_GROUP",
    "servicenow.caller_id": "DRIFTWARDEN_SERVICENOW_CALLER_ID",
    "servicenow.category": "DRIFTWARDEN_SERVICENOW_CATEGORY",
    "servicenow.close_code": "DRIFTWARDEN_SERVICENOW_CLOSE_CODE",
    "jira.site_url": "DRIFTWARDEN_JIRA_SITE_URL",
    "jira.project": "DRIFTWARDEN_JIRA_PROJECT",
    "jira.issue_type": "DRIFTWARDEN_JIRA_ISSUE_TYPE",
    "jira.email": "DRIFTWARDEN_JIRA_EMAIL",
}
# Secrets: app settings only (Key Vault references).
SECRETS = {
    "github": ("DRIFTWARDEN_GITHUB_TOKEN",),
    "azure-devops": ("DRIFTWARDEN_ADO_PAT",),  # absent -> Entra token from the managed identity
    "servicenow": ("DRIFTWARDEN_SERVICENOW_PASSWORD", "DRIFTWARDEN_SERVICENOW_API_KEY", "DRIFTWARDEN_SERVICENOW_TOKEN"),
    "jira": ("DRIFTWARDEN_JIRA_API_TOKEN", "DRIFTWARDEN_JIRA_BEARER_TOKEN"),
    "teams": ("DRIFTWARDEN_TEAMS_WORKFLOW_URL",),
    "webhook": ("DRIFTWARDEN_TICKET_WEBHOOK_URL",),
}
SECRET_WORDS = ("token", "pat", "password", "api_key", "secret", "workflow_url", "webhook_url")
@dataclass(frozen=True)
class TicketSettings:
    tracker: str
    values: Mapping[str, str]

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name) or default

    def require(self, name: str) -> str:
        value = self.values.get(name)
        if not value:
            raise ConfigError(f"tickets.{name} is required for tracker {self.tracker} (or app setting {SETTINGS[name]})")
        return value


def load_settings(environ: Mapping[str, str], section: Mapping[str, Any] | None = None) -> TicketSettings:
    raw: Mapping[str, Any] = section if section is not None else {}
    if section is None and environ.get("DRIFTWARDEN_TICKETS_JSON"):
        try:
            raw = json.loads(environ["DRIFTWARDEN_TICKETS_JSON"])
        except json.JSONDecodeError as error:
            raise ConfigError(f"DRIFTWARDEN_TICKETS_JSON is not valid JSON ({error})") from None
    if not isinstance(raw, Mapping):
        raise ConfigError("tickets: must be a JSON object")
    values: dict[str, str] = {}
    for key, value in raw.items():
        if isinstance(value, Mapping):
            for inner, inner_value in value.items():
                values[f"{key}.{inner}"] = inner_value
        else:
            values[key] = value
    for name, value in values.items():
        leaf = name.rsplit(".", 1)[-1].lower()
        if any(word in leaf for word in SECRET_WORDS) or leaf == "pat":
            raise ConfigError(f"tickets.{name}: secrets are not configuration; put it in an app setting (a Key Vault "
                              f"reference), see docs/tickets.md")
        if name not in SETTINGS:
            raise ConfigError(f"tickets: unknown setting {name!r}; known: {sorted(SETTINGS)}")
        if not isinstance(value, str):
            raise ConfigError(f"tickets.{name}: must be a string, got {value!r}")
    for name, variable in SETTINGS.items():
        if environ.get(variable):
            values[name] = environ[variable]
    tracker = values.get("tracker", "").strip().lower()
    if not tracker:
        tracker = next((t for t in ("teams", "webhook") if environ.get(SECRETS[t][0])), "none")
    if tracker not in TRACKERS:
        raise ConfigError(f"tickets.tracker: {tracker!r} is not a tracker; use one of {', '.join(TRACKERS)}")
    return TicketSettings(tracker, values)


def _secret(environ: Mapping[str, str], name: str) -> Callable[[], str]:
    """Read per request: a rotated Key Vault secret is picked up when the platform refreshes the setting."""
    def read() -> str:
        value = environ.get(name)
        if not value:
            raise ConfigError(f"app setting {name} is not set")
        return value
    return read


def build_tracker(settings: TicketSettings, environ: Mapping[str, str], credential: Any = None,
                  webhook_url: str | None = None, transport: Any = None) -> Any:
    from warden.ticketing.http import EntraToken, basic_auth

    tracker = settings.tracker
    if tracker == "github":
        from warden.ticketing.github import GitHubTracker

        _need(environ, "DRIFTWARDEN_GITHUB_TOKEN")
        return GitHubTracker(settings.require("github.repo"), _secret(environ, "DRIFTWARDEN_GITHUB_TOKEN"),
                             settings.get("github.api_url", "https://api.github.com"), transport=transport)
    if tracker == "azure-devops":
        from warden.ticketing.azure_devops import ADO_SCOPE, AzureDevOpsTracker

        if environ.get("DRIFTWARDEN_ADO_PAT"):
            pat = _secret(environ, "DRIFTWARDEN_ADO_PAT")
            auth = lambda: basic_auth("", pat())  # noqa: E731
        else:
            if credential is None:
                from warden.arm import build_credential

                credential = build_credential(environ.get("AZURE_CLIENT_ID"), environ)
            auth = EntraToken(credential, ADO_SCOPE).header
        return AzureDevOpsTracker(settings.require("azure_devops.org_url"), settings.require("azure_devops.project"),
                                  auth, settings.get("azure_devops.work_item_type", "Task"),
                                  settings.get("azure_devops.area_path"), transport=transport)
    if tracker == "servicenow":
        from warden.ticketing.servicenow import ServiceNowTracker

        if environ.get("DRIFTWARDEN_SERVICENOW_API_KEY"):
            key = _secret(environ, "DRIFTWARDEN_SERVICENOW_API_KEY")
            auth = lambda: {"x-sn-apikey": key()}  # noqa: E731
        elif environ.get("DRIFTWARDEN_SERVICENOW_TOKEN"):
            token = _secret(environ, "DRIFTWARDEN_SERVICENOW_TOKEN")
            auth = lambda: {"Authorization": f"Bearer {token()}"}  # noqa: E731
        else:
            _need(environ, "DRIFTWARDEN_SERVICENOW_PASSWORD")
            user, password = settings.require("servicenow.user"), _secret(environ, "DRIFTWARDEN_SERVICENOW_PASSWORD")
            auth = lambda: basic_auth(user, password())  # noqa: E731
        return ServiceNowTracker(settings.require("servicenow.instance_url"), auth,
                                 settings.get("servicenow.assignment_group"), settings.get("servicenow.caller_id"),
                                 settings.get("servicenow.category"),
                                 settings.get("servicenow.close_code", "Solution provided"), transport=transport)
    if tracker == "jira":
        from warden.ticketing.jira import JiraTracker

        if environ.get("DRIFTWARDEN_JIRA_BEARER_TOKEN"):
            token = _secret(environ, "DRIFTWARDEN_JIRA_BEARER_TOKEN")
            auth = lambda: {"Authorization": f"Bearer {token()}"}  # noqa: E731
        else:
            _need(environ, "DRIFTWARDEN_JIRA_API_TOKEN")
            email, api_token = settings.require("jira.email"), _secret(environ, "DRIFTWARDEN_JIRA_API_TOKEN")
            auth = lambda: basic_auth(email, api_token())  # noqa: E731
        return JiraTracker(settings.require("jira.site_url"), settings.require("jira.project"), auth,
                           settings.get("jira.issue_type", "Task"), transport=transport)
    if tracker == "teams":
        from warden.ticketing.teams import teams_workflow_sink

        _need(environ, "DRIFTWARDEN_TEAMS_WORKFLOW_URL")
        return teams_workflow_sink(environ["DRIFTWARDEN_TEAMS_WORKFLOW_URL"], transport=transport)
    if tracker == "webhook":
        from warden.tickets import WebhookTicketSink

        url = environ.get("DRIFTWARDEN_TICKET_WEBHOOK_URL") or webhook_url
        if not url:
            raise ConfigError("tracker webhook needs app setting DRIFTWARDEN_TICKET_WEBHOOK_URL")
        return WebhookTicketSink(url, transport=transport)
    return None


def _need(environ: Mapping[str, str], name: str) -> None:
    if not environ.get(name):
        raise ConfigError(f"app setting {name} is required for this tracker (a Key Vault reference in Azure)")


def table_store(environ: Mapping[str, str], table: str, service: Any = None, credential: Any = None) -> Any:
    """The EntityStore on table `<prefix><table>` in the engine's storage account (warden.table_state settings:
    DRIFTWARDEN_STORAGE_CONNECTION_STRING or DRIFTWARDEN_STORAGE_ACCOUNT), or None when none is configured."""
    from warden.table_state import ensure_table, storage_from_env
    from warden.ticketing.store import TableEntityStore

    storage = storage_from_env(environ)
    if storage is None:
        return None
    if service is None:
        service = storage.service_client(credential=None if storage.connection_string else credential)
    return TableEntityStore(ensure_table(service, f"{storage.names.prefix}{table}"))


def build_ticket_sink(config: Any, environ: Mapping[str, str], service: Any = None, credential: Any = None,
                      store: Any = None, transport: Any = None) -> Any:
    """The engine's TicketSink: the configured tracker behind the durable sink (Table Storage), the tracker alone
    when no storage is configured (it then asks the tracker which ticket is open), or None when no tracker is
    configured (the runtime then keeps tickets in the remediation log)."""
    settings = load_settings(environ)
    webhook_url = getattr(config, "ticket_webhook_url", None)
    if settings.tracker == "none" and webhook_url:
        settings = TicketSettings("webhook", settings.values)
    tracker = build_tracker(settings, environ, credential, webhook_url, transport)
    if tracker is None:
        return None
    if store is None:
        store = table_store(environ, TICKETS_TABLE, service, credential)
    if store is None:
        log.warning("tickets: no Table Storage configured (DRIFTWARDEN_STORAGE_CONNECTION_STRING or "
                    "DRIFTWARDEN_STORAGE_ACCOUNT): the %s tracker is used without an outbox", tracker.name)
        return tracker
    from warden.ticketing.durable import DurableTicketSink

    return DurableTicketSink(tracker, store)
