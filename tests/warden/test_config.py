"""Configuration is validated at load, and every error says what to change."""
from __future__ import annotations

import json

import pytest

from remediators.base import Mode
from warden.config import ConfigError, from_mapping, load


def test_defaults_are_the_safe_ones():
    config = from_mapping({})
    assert config.mode("cogsvc-public-network") is Mode.REVERT
    assert config.mode("cogsvc-local-auth") is Mode.TICKET
    assert config.mode("cogsvc-private-endpoint-missing") is Mode.REPORT
    assert config.dry_run is False and config.exemption_max_days == 90


def test_revert_is_rejected_for_a_check_that_cannot_be_reverted():
    with pytest.raises(ConfigError, match="modes.cogsvc-private-endpoint-missing: revert is not possible"):
        from_mapping({"modes": {"cogsvc-private-endpoint-missing": "revert"}})


def test_unknown_check_id_names_the_known_ones():
    with pytest.raises(ConfigError, match='unknown check id "cogsvc-public"'):
        from_mapping({"modes": {"cogsvc-public": "off"}})


def test_unknown_mode_lists_the_modes():
    with pytest.raises(ConfigError, match="off, report, ticket, revert"):
        from_mapping({"modes": {"cogsvc-local-auth": "fix"}})


def test_string_boolean_is_rejected_because_false_is_truthy():
    with pytest.raises(ConfigError, match="dry_run"):
        from_mapping({"dry_run": "false"})


def test_unknown_top_level_key_is_rejected():
    with pytest.raises(ConfigError, match="dryrun"):
        from_mapping({"dryrun": True})


def test_arm_endpoint_must_be_https():
    with pytest.raises(ConfigError, match="https"):
        from_mapping({"arm": {"endpoint": "http://127.0.0.1:8080"}})


def test_environment_overrides_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"dry_run": False, "modes": {"cogsvc-local-auth": "revert"}}))
    config = load({"DRIFTWARDEN_CONFIG": str(path), "DRIFTWARDEN_DRY_RUN": "true",
                   "DRIFTWARDEN_SELF_PRINCIPAL_IDS": "AAA, bbb"})
    assert config.dry_run is True
    assert config.mode("cogsvc-local-auth") is Mode.REVERT
    assert config.is_self("aaa") and config.is_self("BBB") and not config.is_self("ccc")


def test_unreadable_config_file_names_the_setting(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="DRIFTWARDEN_CONFIG="):
        load({"DRIFTWARDEN_CONFIG": str(path)})


def test_bad_dry_run_environment_value_is_rejected():
    with pytest.raises(ConfigError, match="DRIFTWARDEN_DRY_RUN"):
        load({"DRIFTWARDEN_DRY_RUN": "maybe"})


def test_scope_accepts_resource_group_ids_and_names():
    config = from_mapping({"scope": {"resource_groups": ["/subscriptions/S1/resourceGroups/RG1", "shared"]}})
    assert config.scope.contains("/subscriptions/s1/resourcegroups/rg1/providers/X/y/z")[0]
    assert config.scope.contains("/subscriptions/s2/resourceGroups/Shared/providers/X/y/z")[0]
    assert not config.scope.contains("/subscriptions/s2/resourceGroups/rg1/providers/X/y/z")[0]
