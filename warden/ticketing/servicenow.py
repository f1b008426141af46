"""ServiceNow incidents through the Table API: `correlation_id` holds the key (re-checked on every answer, because
the platform silently drops query terms it does not understand), work notes carry recurrences, and a fixed
finding resolves the incident (state 6 with close_code and close_notes; closing is left to the instance).

Auth (DRIFTWARDEN_SERVICENOW_*): Basic user/password, an API key (`x-sn-apikey`), or a bearer token.
Text fields are plain text; journal fields have every `[code]` tag broken (warden.ticketing.render).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping
from urllib.parse import quote

from warden.ticketing import render
from warden.ticketing.base import Created, Tracker, checked_key
from warden.ticketing.http import TrackerHttp, build_client, require_safe_base_url
from warden.tickets import Ticket

TABLE = "/api/now/table/incident"
SHORT_MAX = 160  # the base dictionary length of short_description (the REST layer does not enforce it)
DESCRIPTION_MAX = 12000
URGENCY = {"critical": "1", "high": "1", "medium": "2", "low": "3"}
RESOLVED = "6"


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return f"{body['error'].get('message', '')} {body['error'].get('detail') or ''}".strip()
    return ""


class ServiceNowTracker(Tracker):
    name = "servicenow"

    def __init__(self, instance_url: str, auth_header: Callable[[], Mapping[str, str]],
                 assignment_group: str | None = None, caller_id: str | None = None, category: str | None = None,
                 close_code: str = "Solution provided", retry_policy: Any = None, transport: Any = None):
        self._base = require_safe_base_url(instance_url, "servicenow instance_url")
        self._extra = {k: v for k, v in (("assignment_group", assignment_group), ("caller_id", caller_id),
                                         ("category", category)) if v}
        self.close_code = close_code
        self.http = TrackerHttp(self.name, build_client(self._base, auth_header, retry_policy, transport=transport),
                                _error_text)

    def _created(self, record: dict[str, Any]) -> Created:
        sys_id = str(record["sys_id"])
        return Created(sys_id, str(record.get("number") or sys_id), f"{self._base}/incident.do?sys_id={quote(sys_id)}")

    def find_open(self, key: str) -> Created | None:
        key = checked_key(key)
        answer = self.http.send("GET", self._base + TABLE, params={
            "sysparm_query": f"correlation_id={key}^active=true^state!={RESOLVED}",
            "sysparm_fields": "sys_id,number,state,correlation_id", "sysparm_limit": "2"})
        for record in (answer or {}).get("result") or []:
            if record.get("correlation_id") == key:  # a dropped query term would match every incident
                return self._created(record)
        return None

    def create(self, ticket: Ticket) -> Created:
        description = render.to_plain(render.ticket_document(ticket))
        body = {"short_description": render.plain_title(ticket.title, SHORT_MAX),
                "description": description[:DESCRIPTION_MAX],
                "correlation_id": checked_key(ticket.key), "correlation_display": "Driftwarden",
                "urgency": URGENCY.get(ticket.severity, "2"), "impact": "2", **self._extra}
        answer = self.http.send("POST", self._base + TABLE, ok=(201,), idempotent=False, json_body=body,
                                params={"sysparm_fields": "sys_id,number", "sysparm_exclude_reference_link": "true"})
        return self._created(answer["result"])

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        self._patch(reference, {"work_notes": render.to_plain(render.recurrence_document(ticket, occurrences))})

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        text = render.to_plain(render.resolution_document(note))
        self._patch(reference, {"state": RESOLVED, "close_code": self.close_code, "close_notes": text,
                                "work_notes": text})

    def _patch(self, sys_id: str, fields: dict[str, str]) -> None:
        self.http.send("PATCH", f"{self._base}{TABLE}/{quote(sys_id, safe='')}", ok=(200,), json_body=fields,
                       params={"sysparm_fields": "sys_id"}, gone_on_404=True)
