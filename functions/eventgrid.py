"""Event Grid trigger: one ARM change event per invocation (maxEventsPerBatch = 1).

If the engine records the event as failed, the function raises: the host answers Event Grid with an
error and Event Grid redelivers (every handler is idempotent, so redelivery is safe).
"""
from __future__ import annotations

import azure.functions as func

bp = func.Blueprint()


def to_event_grid_schema(event: func.EventGridEvent) -> dict:
    """The worker's EventGridEvent back into the Event Grid schema the engine's triage reads."""
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "data": event.get_json(),
        "dataVersion": event.data_version,
        "metadataVersion": "1",
    }


@bp.function_name("eventgrid_handler")
@bp.event_grid_trigger(arg_name="event")
def eventgrid_handler(event: func.EventGridEvent) -> None:
    from warden.runtime import get_runtime  # imported on first invocation, not at cold start

    get_runtime().handle_event(to_event_grid_schema(event))
