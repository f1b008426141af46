"""EmulatorCredential tokens, the webhook receiver, and the standalone command."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import requests
from azure.core.credentials import AccessToken

from emulator import EmulatorCredential, WebhookReceiver, decode_jwt_claims

REPO = Path(__file__).resolve().parents[2]


def test_credential_issues_unsigned_jwt_with_the_chosen_claims() -> None:
    credential = EmulatorCredential(oid="o-1", appid="a-1", name="bot", ipaddr="10.0.0.4", tid="t-1")

    token = credential.get_token("https://management.azure.com/.default")
    claims = decode_jwt_claims(token.token)

    assert isinstance(token, AccessToken)
    assert len(token.token.split(".")) == 3
    assert (claims["oid"], claims["appid"], claims["name"], claims["ipaddr"], claims["tid"]) == (
        "o-1", "a-1", "bot", "10.0.0.4", "t-1")
    assert claims["aud"] == "https://management.azure.com/"
    assert "upn" not in claims and claims["idtyp"] == "app"
    assert token.expires_on == claims["exp"] > time.time()


def test_credential_token_info_matches_get_token() -> None:
    credential = EmulatorCredential(upn="dana@contoso.example")

    info = credential.get_token_info("https://management.azure.com/.default")

    assert decode_jwt_claims(info.token)["upn"] == "dana@contoso.example"
    assert info.expires_on > time.time()


def test_decode_rejects_what_is_not_a_jwt() -> None:
    import pytest

    for bad in ("abc", "a.b", "!!.??.x", "e30.bm90IGpzb24.x"):
        with pytest.raises(ValueError):
            decode_jwt_claims(bad)


def test_receiver_captures_json_bodies_and_headers() -> None:
    with WebhookReceiver() as receiver:
        response = requests.post(receiver.url, json={"text": "drift"}, headers={"X-Test": "1"}, timeout=5)

        (received,) = receiver.received
    assert response.status_code == 200 and response.text == "1"
    assert received.body == {"text": "drift"}
    assert received.headers["x-test"] == "1"
    assert received.path == "/webhook"


def test_receiver_fail_next_answers_errors_then_recovers() -> None:
    with WebhookReceiver() as receiver:
        receiver.fail_next(429, times=2, headers={"Retry-After": "3"})

        answers = [requests.post(receiver.url, json={"n": i}, timeout=5) for i in range(3)]

        assert [a.status_code for a in answers] == [429, 429, 200]
        assert answers[0].headers["Retry-After"] == "3"
        assert [r.status for r in receiver.received] == [429, 429, 200]
        assert [r.body for r in receiver.delivered] == [{"n": 2}]
        assert receiver.wait_for(1, timeout=1)


def test_module_runs_standalone_and_serves_seeded_samples() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--seed", "--subscription", "sub-1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert process.stdout is not None
        lines: dict[str, str] = {}
        while "ca_pem_path" not in lines:
            line = process.stdout.readline()
            assert line, "the emulator exited before printing its address"
            if "=" in line:
                key, _, value = line.strip().partition("=")
                lines[key] = value
        token = EmulatorCredential().get_token("https://management.azure.com/.default").token
        response = requests.get(
            f"{lines['base_url']}/subscriptions/sub-1/resourceGroups/rg-samples/providers/"
            "Microsoft.CognitiveServices/accounts/myAccount?api-version=2025-09-01",
            headers={"Authorization": f"Bearer {token}"}, verify=lines["ca_pem_path"], timeout=5,
        )
        assert response.status_code == 200
        assert response.json()["name"] == "myAccount"
    finally:
        process.terminate()
        process.wait(5)
