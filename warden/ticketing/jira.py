"""Jira Cloud issues (REST v3, descriptions and comments in Atlassian Document Format built as JSON nodes):
labels `driftwarden` and the key, found again with /rest/api/3/search/jql (eventually consistent: our own
table is the authority, this query only recovers a lost row), closed through the transition whose target
status is in the `done` category.

Auth (DRIFTWARDEN_JIRA_*): Basic `email:api_token`, or a bearer token (OAuth / service account through
api.atlassian.com). API tokens expire: a 401 is recorded as a misconfiguration.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Mapping
from urllib.parse import quote

from warden.ticketing import render
from warden.ticketing.base import Created, Tracker, checked_key
from warden.ticketing.http import TrackerHttp, build_client, require_safe_base_url
from warden.tickets import Ticket, TicketDeliveryError

SUMMARY_MAX = 254
PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,19}$")
PRIORITY = {"critical": "Highest", "high": "High", "medium": "Medium", "low": "Low"}


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        messages = [str(m) for m in body.get("errorMessages") or []]
        messages += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
        return "; ".join(messages)
    return ""


class JiraTracker(Tracker):
    name = "jira"

    def __init__(self, site_url: str, project: str, auth_header: Callable[[], Mapping[str, str]],
                 issue_type: str = "Task", set_priority: bool = False, retry_policy: Any = None, transport: Any = None):
        if not PROJECT_KEY.match(project):
            raise ValueError(f"jira project must be a project key like SEC, got {project!r}")
        self._base = require_safe_base_url(site_url, "jira site_url")
        self.project = project
        self.issue_type = issue_type
        self.set_priority = set_priority
        self.http = TrackerHttp(self.name, build_client(self._base, auth_header, retry_policy, transport=transport),
                                _error_text)

    def _created(self, key: str) -> Created:
        return Created(key, key, f"{self._base}/browse/{quote(key)}")

    def find_open(self, key: str) -> Created | None:
        jql = f'project = {self.project} AND labels = "{checked_key(key)}" AND statusCategory != Done'
        answer = self.http.send("GET", f"{self._base}/rest/api/3/search/jql", params={
            "jql": jql, "fields": "key,status,labels", "maxResults": "2"})
        for issue in (answer or {}).get("issues") or []:
            labels = (issue.get("fields") or {}).get("labels") or []
            if key in labels and issue.get("key"):
                return self._created(issue["key"])
        return None

    def create(self, ticket: Ticket) -> Created:
        fields: dict[str, Any] = {
            "project": {"key": self.project}, "issuetype": {"name": self.issue_type},
            "summary": render.plain_title(ticket.title, SUMMARY_MAX),
            "description": render.to_adf(render.ticket_document(ticket)),
            "labels": ["driftwarden", checked_key(ticket.key)]}
        if self.set_priority:
            fields["priority"] = {"name": PRIORITY.get(ticket.severity, "Medium")}
        answer = self.http.send("POST", f"{self._base}/rest/api/3/issue", ok=(201,), idempotent=False,
                                json_body={"fields": fields})
        return self._created(answer["key"])

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        self.comment_text(reference, render.to_adf(render.recurrence_document(ticket, occurrences)))

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        url = f"{self._base}/rest/api/3/issue/{quote(reference)}/transitions"
        body = render.to_adf(render.resolution_document(note))
        answer = self.http.send("GET", url, gone_on_404=True)
        done = [t for t in (answer or {}).get("transitions") or []
                if ((t.get("to") or {}).get("statusCategory") or {}).get("key") == "done" and t.get("isAvailable", True)]
        if not done:  # the workflow has no way to done from here: say it is fixed and leave it to a human
            self.comment_text(reference, body)
            return
        request = {"transition": {"id": str(done[0]["id"])}, "fields": {"resolution": {"name": "Done"}},
                   "update": {"comment": [{"add": {"body": body}}]}}
        try:
            self.http.send("POST", url, ok=(204,), json_body=request, expect_json=False, gone_on_404=True)
        except TicketDeliveryError as error:
            if error.status != 400:
                raise
            request.pop("fields")  # resolution not on the transition screen: the workflow sets it
            self.http.send("POST", url, ok=(204,), json_body=request, expect_json=False, gone_on_404=True)

    def comment_text(self, reference: str, body: dict[str, Any]) -> None:
        self.http.send("POST", f"{self._base}/rest/api/3/issue/{quote(reference)}/comment", ok=(201,),
                       idempotent=False, json_body={"body": body}, gone_on_404=True)
