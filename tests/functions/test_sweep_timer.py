"""The sweep's timer trigger through the Functions v2 programming model: how the host indexes it (schedule from
the app setting, default every 6 hours), what importing it costs, and an invocation end to end against the
emulator with the runtime the worker would build."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from azure.functions.timer import TimerRequest

import warden.runtime
import warden.sweep
from emulator import EmulatorCredential
from tests.support.fixtures import BOT_APPID, BOT_OID, SUBSCRIPTION, drifted_account
from warden.model import Outcome
from warden.records import MemoryRecorder
from warden.runtime import build_runtime
from warden.sweep import ResourceGraph, SweepError

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/acct-timer"


def index_in_a_clean_worker(env: dict[str, str]) -> dict:
    """What the worker reports to the host at indexing time, from a fresh interpreter with these app settings."""
    script = ("import json, sys, function_app\n"
              "f = [f for f in function_app.app.get_functions() if f.get_function_name() == 'sweep_timer'][0]\n"
              "heavy = sorted(m for m in sys.modules if m.startswith(('azure.core', 'azure.mgmt', 'azure.identity',"
              " 'azure.monitor', 'azure.data', 'warden.sweep', 'warden.engine')))\n"
              "print(json.dumps({'function': json.loads(f.get_function_json()), 'heavy': heavy}))\n")
    clean = {k: v for k, v in os.environ.items() if k != "DRIFTWARDEN_SWEEP_SCHEDULE"}
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**clean, **env}, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_timer_is_indexed_with_the_default_schedule_every_six_hours_when_the_setting_is_absent():
    indexed = index_in_a_clean_worker({})
    (binding,) = indexed["function"]["bindings"]
    assert binding["type"] == "timerTrigger" and binding["direction"] == "IN"
    assert binding["schedule"] == "0 0 */6 * * *"
    assert binding["runOnStartup"] is False


def test_timer_binds_the_app_setting_as_a_binding_expression_when_it_is_set():
    indexed = index_in_a_clean_worker({"DRIFTWARDEN_SWEEP_SCHEDULE": "0 30 2 * * *"})
    (binding,) = indexed["function"]["bindings"]
    assert binding["schedule"] == "%DRIFTWARDEN_SWEEP_SCHEDULE%"  # the host resolves it: no redeploy to change it


def test_importing_the_function_app_imports_no_azure_sdk_and_not_the_sweep():
    assert index_in_a_clean_worker({})["heavy"] == []


@pytest.fixture
def worker_runtime(emu, monkeypatch):
    """The runtime get_runtime() would build in the worker, pointed at the emulator (the worker's identity is the
    emulator credential), and the Resource Graph client the sweep builds on first run."""
    environ = {
        "DRIFTWARDEN_CONFIG_JSON": json.dumps({"scope": {"subscriptions": [SUBSCRIPTION]},
                                               "self_principal_ids": [BOT_OID, BOT_APPID],
                                               "arm": {"backoff_factor": 0.01, "retry_after_cap_seconds": 0.05}}),
        "DRIFTWARDEN_ARM_ENDPOINT": emu.base_url,
        "DRIFTWARDEN_ARM_CA_BUNDLE": emu.ca_pem_path,
    }
    credential = EmulatorCredential(oid=BOT_OID, appid=BOT_APPID, name="driftwarden")
    recorder = MemoryRecorder()
    runtime = build_runtime(environ, recorders=(recorder,), credential=credential)
    graph = warden.sweep.build_graph(runtime.config, environ, credential=credential)
    monkeypatch.setattr(warden.runtime, "_runtime", runtime)
    monkeypatch.setattr(warden.sweep, "_graph", graph)
    yield runtime, recorder
    graph.close()
    runtime.engine.arm.close()


def test_timer_invocation_sweeps_and_reverts_drift_the_events_missed(emu, worker_runtime, app_functions, caplog):
    runtime, recorder = worker_runtime
    emu.put_resource(ACCOUNT, drifted_account(ACCOUNT, publicNetworkAccess="Enabled"))
    function = app_functions["sweep_timer"]  # function_app.app as the host indexes it
    assert json.loads(function.get_function_json())["bindings"][0]["type"] == "timerTrigger"

    with caplog.at_level(logging.INFO, logger="driftwarden.sweep"):
        result = function.get_user_function()(TimerRequest(past_due=True))

    assert result is None
    (record,) = recorder.events
    assert record.source == "sweep" and record.outcome is Outcome.REVERTED
    assert record.event_id.startswith("sweep:")
    assert [(r.method, r.status) for r in emu.requests if "ResourceGraph" not in r.path] == [("GET", 200), ("PATCH", 200)]
    assert emu.get_resource(ACCOUNT)["properties"]["publicNetworkAccess"] == "Disabled"
    summaries = [json.loads(r.getMessage()) for r in caplog.records
                 if r.name == "driftwarden.sweep" and r.getMessage().startswith("{")]
    assert len(summaries) == 1
    assert summaries[0]["outcomes"] == {"reverted": 1} and summaries[0]["past_due"] is True
    assert any("past due" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_timer_invocation_fails_when_resource_graph_cannot_be_read(emu, worker_runtime, app_functions):
    emu.put_resource(ACCOUNT, drifted_account(ACCOUNT, publicNetworkAccess="Enabled"))
    emu.inject_fault(method="POST", path_contains="ResourceGraph", status=403, times=None)
    function = app_functions["sweep_timer"]  # function_app.app as the host indexes it

    with pytest.raises(SweepError, match="403"):
        function.get_user_function()(TimerRequest(past_due=False))

    assert worker_runtime[1].events == []
    assert not any(r.method == "PATCH" for r in emu.requests)
