"""`python -m warden serve`: the HTTP endpoint Event Grid delivers to outside Functions."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from tests.support.fixtures import ACCOUNT_ID, drifted_account
from tests.support.samples import arm_event, sample_path
from warden.model import Outcome
from warden.records import MemoryRecorder
from warden.runtime import Runtime
from warden.serve import DeliveryServer

KEY = "s3cret-key"


@pytest.fixture
def server(emu, make_harness):
    harness = make_harness()
    runtime = Runtime(harness.config, harness.engine)
    recorder = harness.recorder
    srv = DeliveryServer(("127.0.0.1", 0), KEY, runtime.handle_event, recorder)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, recorder
    srv.shutdown()
    srv.server_close()


def call(url, body=None, method="POST", headers=None):
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_subscription_validation_is_answered_with_the_code(server):
    srv, _ = server
    event = json.loads(sample_path("eventgrid/egschema-subscription-validation-event.json").read_text())
    status, _, body = call(srv.url, event, headers={"aeg-sas-key": KEY, "aeg-event-type": "SubscriptionValidation"})
    assert status == 200
    assert json.loads(body) == {"validationResponse": event[0]["data"]["validationCode"]}


def test_cloudevents_abuse_protection_handshake(server):
    srv, _ = server
    status, headers, _ = call(srv.url + f"?code={KEY}", method="OPTIONS",
                              headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert status == 200 and headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


@pytest.mark.parametrize("headers, suffix", [({}, ""), ({"aeg-sas-key": "wrong"}, ""), ({}, "?code=wrong")])
def test_missing_or_wrong_secret_is_401_and_recorded(server, headers, suffix):
    srv, recorder = server
    status, _, _ = call(srv.url + suffix, [arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")], headers=headers)
    assert status == 401
    assert recorder.events[-1].outcome is Outcome.INVALID and "shared secret" in recorder.events[-1].reason


def test_delivery_is_handled_and_acknowledged(server, emu):
    srv, recorder = server
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    status, _, _ = call(srv.url, [arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")], headers={"aeg-sas-key": KEY})
    assert status == 200
    assert recorder.events[-1].outcome is Outcome.REVERTED


def test_non_json_body_is_400_and_recorded(server):
    srv, recorder = server
    status, _, body = call(srv.url, b"this is not json", headers={"aeg-sas-key": KEY})
    assert status == 400 and b"not JSON" in body
    assert recorder.events[-1].outcome is Outcome.INVALID


def test_ten_megabyte_delivery_is_refused_and_the_server_keeps_working(server, emu):
    srv, recorder = server
    status, _, _ = call(srv.url, b"[" + b" " * (10 * 1024 * 1024) + b"]", headers={"aeg-sas-key": KEY})
    assert status == 413
    assert "at most 1 MB" in recorder.events[-1].reason
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled"))
    status, _, _ = call(srv.url, [arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")], headers={"aeg-sas-key": KEY})
    assert status == 200


def test_batch_with_one_bad_event_handles_the_others(server, emu):
    srv, recorder = server
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Disabled"))
    good = arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")
    status, _, _ = call(srv.url, [{"id": "broken"}, good], headers={"aeg-sas-key": KEY})
    assert status == 200
    assert [r.outcome for r in recorder.events[-2:]] == [Outcome.INVALID, Outcome.COMPLIANT]


def test_failed_event_answers_500_so_event_grid_redelivers(server, emu):
    srv, recorder = server
    emu.put_resource(ACCOUNT_ID, drifted_account(publicNetworkAccess="Enabled"))
    emu.inject_fault(method="PATCH", path_contains="/accounts/oai-prod", status=500, times=100)
    status, _, _ = call(srv.url, [arm_event(ACCOUNT_ID, "Microsoft.CognitiveServices/accounts/write")], headers={"aeg-sas-key": KEY})
    assert status == 500
    assert recorder.events[-1].outcome is Outcome.FAILED
