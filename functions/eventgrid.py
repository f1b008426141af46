"""Event Grid trigger: one ARM change event per invocation (maxEventsPerBatch = 1).

The subscription system topic delivers the Event Grid schema; the Resource Notifications topic delivers
CloudEvents 1.0. The worker hands over an EventGridEvent or a CloudEvent accordingly; both go back to
their wire shape for the engine's triage. If the engine records the event as failed, the function raises:
the host answers Event Grid with an error and Event Grid redelivers (every handler is idempotent).
"""
from __future__ import annotations

from typing import Union

import azure.functions as func

bp = func.Blueprint()

DeliveredEvent = Union[func.EventGridEvent, "func.CloudEvent"]


def to_wire_event(event: DeliveredEvent) -> dict:
    """The worker's event object back into the schema it was delivered in."""
    if hasattr(event, "specversion"):  # CloudEvents 1.0
        return {
            "id": event.id,
            "source": event.source,
            "type": event.type,
            "specversion": event.specversion,
            "time": event.time.isoformat() if event.time else None,
            "subject": event.subject,
            "data": event.get_json(),
        }
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

    get_runtime().handle_event(to_wire_event(event))
