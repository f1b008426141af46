"""The published payloads in ../shared/reference/samples (see its README), and realistic events built from them."""
from __future__ import annotations

import copy
import json
import os
import uuid
from pathlib import Path
from typing import Any

SAMPLES = Path(os.environ.get("DRIFTWARDEN_SAMPLES") or Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples")


def sample_path(relative: str) -> Path:
    return SAMPLES / relative


def load(relative: str) -> Any:
    return json.loads(sample_path(relative).read_text(encoding="utf-8"))


def arm_body(name: str) -> dict[str, Any]:
    document = load(f"arm/{name}")
    if isinstance(document, dict) and "responses" in document:
        return copy.deepcopy(document["responses"]["200"]["body"])
    return document


def arm_event(resource_id: str, operation: str, event_type: str = "Microsoft.Resources.ResourceWriteSuccess",
              oid: str = "11111111-aaaa-bbbb-cccc-000000000001", appid: str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
              name: str = "dev@contoso.com", event_id: str | None = None) -> dict[str, Any]:
    """A published Event Grid-schema write event re-pointed at another resource and operation."""
    event = copy.deepcopy(load("eventgrid/egschema-resource-write-success.json")[0])
    subscription = resource_id.split("/")[2]
    event.update(id=event_id or str(uuid.uuid4()), subject=resource_id, eventType=event_type,
                 topic=f"/subscriptions/{subscription}")
    data = event["data"]
    data.update(resourceUri=resource_id, operationName=operation, subscriptionId=subscription,
                resourceProvider=operation.split("/")[0], correlationId=str(uuid.uuid4()))
    data["authorization"]["action"] = operation
    data["authorization"]["scope"] = resource_id
    claims = data["claims"]
    claims["http://schemas.microsoft.com/identity/claims/objectidentifier"] = oid
    claims["appid"] = appid
    claims["name"] = name
    claims["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"] = name
    return event
