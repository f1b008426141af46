"""Timer: deliver what waits in the ticket outbox (tracker down, throttled) with backoff.

Every five minutes; entries whose next attempt is due are delivered, a throttled tracker stops the run (its
Retry-After is honoured by the next attempt time), misconfigured/rejected entries wait for an operator
(`python -m warden tickets --retry`). The work stays well inside the host's function timeout.
"""
from __future__ import annotations

import json
import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger("driftwarden.tickets")


@bp.function_name("ticket_outbox")
@bp.timer_trigger(arg_name="timer", schedule="0 */5 * * * *", run_on_startup=False, use_monitor=True)
def ticket_outbox(timer: func.TimerRequest) -> None:
    from warden.runtime import get_runtime  # imported on first invocation, not at cold start

    sink = get_runtime().engine.tickets
    if not hasattr(sink, "deliver_due"):
        return  # no tracker with Table Storage: nothing can wait in an outbox
    report = sink.deliver_due(budget_seconds=180)
    log.info(json.dumps({"record": "ticket-outbox", "past_due": timer.past_due, **report.as_json()}))
