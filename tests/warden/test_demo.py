"""`make demo` is the newcomer's first minute: it must run end to end, exit 0 and show the whole product."""
from __future__ import annotations

import io

from warden.demo import run_demo


def test_demo_runs_end_to_end_and_shows_every_kind_of_outcome():
    out = io.StringIO()
    assert run_demo(out) == 0
    text = out.getvalue()
    for outcome in ("reverted", "self-caused", "ticketed", "exempt", "invalid", "ignored"):
        assert f" {outcome} " in text, outcome
    assert "duplicate delivery: acknowledged, no second action" in text
    assert "(exemption not honoured" in text
    assert "cogsvc-key-retrieval" in text and "aml-ws-public-network" in text
    assert "tickets delivered to the Teams webhook: 0" not in text
    # Issue 5: an ML revert, an ML ticket and a containment in dry-run.
    assert "reverted      aml-ws-public-network" in text and "ticketed      aml-oe-key-auth" in text
    assert "would-contain aml-ci-ssh-public" in text
    # The durable remediation log (Table Storage on Azurite) read back through the real CLI.
    assert "vendor load test from their network (SEC-1234)" in text.split("$ python -m warden exemptions")[1]
    assert "4 entries" in text.split("$ python -m warden log --outcome reverted")[1]
