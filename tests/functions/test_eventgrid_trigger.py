"""The Event Grid trigger as the Functions host would index and invoke it (v2 programming model)."""
from __future__ import annotations

import json
import subprocess
import sys

import azure.functions as func
import pytest
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.meta import Datum

from tests.support.fixtures import ACCOUNT_ID, drifted_account
from tests.support.samples import arm_event
from functions.eventgrid import to_wire_event
from warden.events import triage
from warden.model import Outcome, Verdict


def decode(event: dict) -> func.EventGridEvent:
    """Exactly what the Python worker hands the function for one delivered event."""
    return EventGridEventInConverter.decode(Datum(type="json", value=json.dumps(event)), trigger_metadata=None)


def test_function_app_indexes_the_event_grid_trigger(app_functions):
    bindings = json.loads(app_functions["eventgrid_handler"].get_function_json())["bindings"]
    assert [(b["type"], b["direction"]) for b in bindings] == [("eventGridTrigger", "IN")]


def test_worker_decoded_event_round_trips_to_the_same_triage():
    event = arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write", name="alice@contoso.com")
    again = to_wire_event(decode(event))
    direct, decoded = triage(event), triage(again)
    assert decoded.verdict is Verdict.RELEVANT
    assert decoded.change.resource_id == direct.change.resource_id
    assert decoded.change.caller == direct.change.caller
    assert decoded.change.correlation_id == direct.change.correlation_id


def test_resource_notifications_cloudevent_is_decoded_and_evaluated_from_its_payload():
    from tests.support.fixtures import drifted_account
    from tests.support.samples import load

    arn = load("eventgrid/arn-cloudevents-resources-created-or-updated.json")
    body = drifted_account(publicNetworkAccess="Disabled")
    body.update(id=ACCOUNT_ID, type="Microsoft.CognitiveServices/accounts", name="oai-prod")
    arn["data"]["resourceInfo"] = body
    delivered = decode(arn)
    assert hasattr(delivered, "specversion")  # the worker hands over a CloudEvent
    result = triage(to_wire_event(delivered))
    assert result.verdict is Verdict.RELEVANT and result.change.schema == "cloudevents"
    assert result.change.payload["properties"]["publicNetworkAccess"] == "Disabled"


def test_importing_function_app_loads_no_heavy_sdk_and_opens_no_connection():
    probe = (
        "import sys, socket\n"
        "opened = []\n"
        "real = socket.socket.connect\n"
        "socket.socket.connect = lambda self, addr: opened.append(addr) or real(self, addr)\n"
        "import function_app\n"
        "heavy = [m for m in sys.modules if m.startswith(('azure.mgmt', 'azure.identity', 'azure.monitor', 'azure.data', 'opentelemetry'))]\n"
        "print(heavy, opened)\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert output == "[] []"


def test_trigger_handles_a_delivered_event_through_the_runtime(emu, make_harness, monkeypatch, app_functions):
    """The function body fetches the runtime lazily; here the runtime is built against the emulator."""
    import warden.runtime as runtime_module

    harness = make_harness()
    monkeypatch.setattr(runtime_module, "_runtime", runtime_module.Runtime(harness.config, harness.engine))
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))

    app_functions["eventgrid_handler"].get_user_function()(decode(arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")))

    assert harness.recorder.events[-1].outcome is Outcome.REVERTED


def test_trigger_raises_when_the_event_failed_so_event_grid_redelivers(emu, make_harness, monkeypatch, app_functions):
    import warden.runtime as runtime_module
    from warden.engine import RetryRequested

    harness = make_harness()
    monkeypatch.setattr(runtime_module, "_runtime", runtime_module.Runtime(harness.config, harness.engine))
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="GET", path_contains="/accounts/oai-prod", status=503, times=100)

    with pytest.raises(RetryRequested):
        app_functions["eventgrid_handler"].get_user_function()(decode(arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")))
    assert harness.recorder.events[-1].outcome is Outcome.FAILED
