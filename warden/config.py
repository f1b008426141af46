"""Configuration, validated at load with errors that say what to change.

Sources, later ones win: built-in safe defaults, a JSON file (`DRIFTWARDEN_CONFIG` = path) or inline JSON
(`DRIFTWARDEN_CONFIG_JSON`, the Function App setting), then single-value environment overrides.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Mapping

import remediators
from remediators.base import Mode
from warden import resource_id as rid


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the setting and what to change."""


@dataclass(frozen=True)
class Scope:
    subscriptions: frozenset[str] = frozenset()  # lower-case ids; empty = every subscription
    resource_groups: frozenset[str] = frozenset()  # lower-case "<sub>/<rg>" or "*/<rg>"; empty = all

    def contains(self, resource_id: str) -> tuple[bool, str]:
        parsed = rid.parse(resource_id)
        sub = parsed.subscription_id.lower()
        if self.subscriptions and sub not in self.subscriptions:
            return False, f"subscription {parsed.subscription_id} is not in the configured scope"
        if self.resource_groups:
            group = (parsed.resource_group or "").lower()
            if f"{sub}/{group}" not in self.resource_groups and f"*/{group}" not in self.resource_groups:
                return False, f"resource group {parsed.resource_group} is not in the configured scope"
        return True, "in scope"


@dataclass(frozen=True)
class ArmSettings:
    endpoint: str = "https://management.azure.com"
    retry_after_cap_seconds: float = 10.0  # a Function must not sleep for minutes on one Retry-After
    max_retries: int = 3
    backoff_factor: float = 0.8
    lro_wait_seconds: float = 5.0  # how long a handler waits on a 202 before recording the revert pending
    write_attempts: int = 3  # 412 -> re-read -> decide again, at most this many writes
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class Config:
    modes: Mapping[str, Mode]
    dry_run: bool = False
    scope: Scope = field(default_factory=Scope)
    self_principal_ids: frozenset[str] = frozenset()  # object ids and app ids of the bot's identity
    exemption_max_days: int = 90
    flap_max_reverts: int = 3
    flap_window: timedelta = timedelta(hours=24)
    arm: ArmSettings = field(default_factory=ArmSettings)
    ticket_webhook_url: str | None = None
    managed_identity_client_id: str | None = None
    # Check ids whose opt-in containment (e.g. stopping a compute instance) runs next to their ticket.
    containment: frozenset[str] = frozenset()

    def mode(self, check_id: str) -> Mode:
        return self.modes.get(check_id, Mode.OFF)

    def contains(self, check_id: str) -> bool:
        """Whether the check's containment is opted in."""
        return check_id in self.containment

    def is_self(self, *principal_ids: str | None) -> bool:
        return any(p and p.lower() in self.self_principal_ids for p in principal_ids)


_KEYS = {"dry_run", "modes", "scope", "self_principal_ids", "exemption_max_days", "flap", "arm",
         "ticket_webhook_url", "managed_identity_client_id", "containment"}


def default_modes() -> dict[str, Mode]:
    return {check.id: check.default_mode for check in remediators.all_checks()}


def from_mapping(raw: Mapping[str, Any]) -> Config:
    if not isinstance(raw, Mapping):
        raise ConfigError("configuration must be a JSON object")
    unknown = set(raw) - _KEYS
    if unknown:
        raise ConfigError(f"unknown configuration key(s) {sorted(unknown)}; allowed: {sorted(_KEYS)}")
    modes = _modes(raw.get("modes", {}))
    return Config(
        modes=modes,
        dry_run=_bool(raw, "dry_run", False),
        scope=_scope(raw.get("scope", {})),
        self_principal_ids=frozenset(p.lower() for p in _strings(raw, "self_principal_ids")),
        exemption_max_days=_int(raw, "exemption_max_days", 90, minimum=1),
        **_flap(raw.get("flap", {})),
        arm=_arm(raw.get("arm", {})),
        ticket_webhook_url=_url(raw.get("ticket_webhook_url"), "ticket_webhook_url"),
        managed_identity_client_id=raw.get("managed_identity_client_id"),
        containment=_containment(raw, modes),
    )


def load(environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if env.get("DRIFTWARDEN_CONFIG"):
        path = Path(env["DRIFTWARDEN_CONFIG"])
        try:
            raw = json.loads(path.read_text())
        except OSError as error:
            raise ConfigError(f"DRIFTWARDEN_CONFIG={path}: cannot read the file ({error.strerror})") from None
        except json.JSONDecodeError as error:
            raise ConfigError(f"DRIFTWARDEN_CONFIG={path}: not valid JSON ({error})") from None
    elif env.get("DRIFTWARDEN_CONFIG_JSON"):
        try:
            raw = json.loads(env["DRIFTWARDEN_CONFIG_JSON"])
        except json.JSONDecodeError as error:
            raise ConfigError(f"DRIFTWARDEN_CONFIG_JSON is not valid JSON ({error})") from None
    raw = dict(raw)
    if "DRIFTWARDEN_DRY_RUN" in env:
        raw["dry_run"] = _env_bool(env, "DRIFTWARDEN_DRY_RUN")
    if env.get("DRIFTWARDEN_SELF_PRINCIPAL_IDS"):
        raw["self_principal_ids"] = [p.strip() for p in env["DRIFTWARDEN_SELF_PRINCIPAL_IDS"].split(",") if p.strip()]
    if env.get("DRIFTWARDEN_ARM_ENDPOINT"):
        raw["arm"] = {**raw.get("arm", {}), "endpoint": env["DRIFTWARDEN_ARM_ENDPOINT"]}
    if env.get("DRIFTWARDEN_TICKET_WEBHOOK_URL"):
        raw["ticket_webhook_url"] = env["DRIFTWARDEN_TICKET_WEBHOOK_URL"]
    if env.get("AZURE_CLIENT_ID") and "managed_identity_client_id" not in raw:
        raw["managed_identity_client_id"] = env["AZURE_CLIENT_ID"]
    return from_mapping(raw)


# --- validation helpers ---------------------------------------------------------------------------

def _modes(raw: Any) -> dict[str, Mode]:
    if not isinstance(raw, Mapping):
        raise ConfigError('"modes" must be an object of check id -> off|report|ticket|revert')
    modes = default_modes()
    allowed = ", ".join(m.value for m in Mode)
    for check_id, value in raw.items():
        check = remediators.check_by_id(check_id)
        if check is None:
            raise ConfigError(f'modes: unknown check id "{check_id}"; known ids: {", ".join(sorted(modes))}')
        try:
            mode = Mode(str(value).lower())
        except ValueError:
            raise ConfigError(f'modes.{check_id}: "{value}" is not a mode; use one of {allowed}') from None
        if mode is Mode.REVERT and not check.revertible:
            raise ConfigError(f"modes.{check_id}: revert is not possible ({check.not_revertible_because}); "
                              f"use ticket or report")
        modes[check_id] = mode
    return modes


def _containment(raw: Mapping[str, Any], modes: Mapping[str, Mode]) -> frozenset[str]:
    """`containment`: check ids whose containment action may run. Only checks that declare one qualify, and
    containment accompanies a ticket, so the check's mode must be ticket or revert (revert falls back to a
    ticket when it is held back)."""
    ids = _strings(raw, "containment")
    able = sorted(c.id for c in remediators.all_checks() if c.containment is not None)
    for check_id in ids:
        check = remediators.check_by_id(check_id)
        if check is None:
            raise ConfigError(f'containment: unknown check id "{check_id}"; checks with a containment action: '
                              f'{", ".join(able) or "none"}')
        if check.containment is None:
            raise ConfigError(f'containment: check "{check_id}" declares no containment action; checks with one: '
                              f'{", ".join(able) or "none"}')
        mode = modes.get(check_id, Mode.OFF)
        if mode not in (Mode.TICKET, Mode.REVERT):
            raise ConfigError(f'containment: check "{check_id}" has mode {mode.value}; containment runs only next to '
                              f"a ticket, so set modes.{check_id} to ticket or remove it from containment")
    return frozenset(ids)


def _scope(raw: Any) -> Scope:
    if not isinstance(raw, Mapping):
        raise ConfigError('"scope" must be an object with "subscriptions" and/or "resource_groups" lists')
    unknown = set(raw) - {"subscriptions", "resource_groups"}
    if unknown:
        raise ConfigError(f"scope: unknown key(s) {sorted(unknown)}; use subscriptions, resource_groups")
    groups = set()
    for entry in _strings(raw, "resource_groups", "scope.resource_groups"):
        if entry.lower().startswith("/subscriptions/"):
            parsed = rid.parse(entry)
            if parsed.resource_group is None:
                raise ConfigError(f'scope.resource_groups: "{entry}" is not a resource group id')
            groups.add(f"{parsed.subscription_id}/{parsed.resource_group}".lower())
        else:
            groups.add(f"*/{entry}".lower())
    return Scope(frozenset(s.lower() for s in _strings(raw, "subscriptions", "scope.subscriptions")),
                 frozenset(groups))


def _flap(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ConfigError('"flap" must be an object: {"max_reverts": 3, "window_minutes": 1440}')
    return {"flap_max_reverts": _int(raw, "max_reverts", 3, minimum=1, prefix="flap."),
            "flap_window": timedelta(minutes=_int(raw, "window_minutes", 1440, minimum=1, prefix="flap."))}


def _arm(raw: Any) -> ArmSettings:
    if not isinstance(raw, Mapping):
        raise ConfigError('"arm" must be an object')
    defaults = ArmSettings()
    allowed = set(ArmSettings.__dataclass_fields__)
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"arm: unknown key(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
    values: dict[str, Any] = {}
    for name in allowed - {"endpoint"}:
        default = getattr(defaults, name)
        value = raw.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"arm.{name}: must be a non-negative number, got {value!r}")
        values[name] = type(default)(value)
    endpoint = _url(raw.get("endpoint", defaults.endpoint), "arm.endpoint", https_only=True)
    return ArmSettings(endpoint=endpoint.rstrip("/"), **values)


def _bool(raw: Mapping[str, Any], name: str, default: bool) -> bool:
    value = raw.get(name, default)
    if not isinstance(value, bool):
        # "false" is truthy: a string here is a mistake, not a value.
        raise ConfigError(f"{name}: must be true or false (a JSON boolean), got {value!r}")
    return value


def _env_bool(env: Mapping[str, str], name: str) -> bool:
    value = env[name].strip().lower()
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name}={env[name]!r}: use true or false")


def _int(raw: Mapping[str, Any], name: str, default: int, minimum: int, prefix: str = "") -> int:
    value = raw.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{prefix}{name}: must be an integer >= {minimum}, got {value!r}")
    return value


def _strings(raw: Mapping[str, Any], name: str, label: str | None = None) -> list[str]:
    value = raw.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{label or name}: must be a list of non-empty strings, got {value!r}")
    return [v.strip() for v in value]


def _url(value: Any, name: str, https_only: bool = False) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise ConfigError(f"{name}: must be an http(s) URL, got {value!r}")
    if https_only and not value.startswith("https://"):
        raise ConfigError(f"{name}: must use https (bearer tokens are never sent over plain http), got {value!r}")
    return value
