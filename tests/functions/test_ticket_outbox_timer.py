"""The ticket outbox timer (functions/tickets.py) as the host indexes and invokes it."""
from __future__ import annotations

import json
from datetime import datetime

from azure.functions.timer import TimerRequest

import warden.runtime as runtime_module
from emulator.trackers import GitHubFake
from warden.config import from_mapping
from warden.table_state import StorageSettings, ensure_table
from warden.ticketing.durable import DurableTicketSink
from warden.ticketing.github import GitHubTracker
from warden.ticketing.store import TableEntityStore
from tests.warden.ticketing.conftest import make_ticket


def test_timer_function_delivers_due_entries(azurite, table_prefix, app_functions, monkeypatch):
    with GitHubFake() as github:
        github.fail_next(502, count=1, when=lambda r: r.method == "POST")
        store = TableEntityStore(ensure_table(StorageSettings(connection_string=azurite).service_client(),
                                              f"{table_prefix}tickets"))
        sink = DurableTicketSink(GitHubTracker("octo/security", lambda: github.token, api_url=github.url), store)
        assert sink.open(make_ticket()).delivery == "queued"
        (entry,) = sink.pending()
        sink.clock = lambda: datetime.fromisoformat(entry.next_attempt_at.replace("Z", "+00:00"))  # it is due now

        class Engine:
            tickets = sink

        monkeypatch.setattr(runtime_module, "_runtime", runtime_module.Runtime(from_mapping({}), Engine()))
        app_functions["ticket_outbox"].get_user_function()(TimerRequest(past_due=False))

        assert sink.pending() == [] and len(github.issues()) == 1


def test_timer_function_runs_every_five_minutes(app_functions):
    (binding,) = json.loads(app_functions["ticket_outbox"].get_function_json())["bindings"]
    assert binding["type"] == "timerTrigger" and binding["schedule"] == "0 */5 * * * *"
