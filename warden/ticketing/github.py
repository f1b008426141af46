"""GitHub Issues (REST, api version 2022-11-28): one issue per resource+check, labelled `driftwarden` and with
its key, the key also as a marker on the body's first line. Untrusted text sits in code spans and fences.

Auth: `Authorization: Bearer <token>` (fine-grained PAT with Issues read/write, or an App installation token),
from the app setting DRIFTWARDEN_GITHUB_TOKEN (a Key Vault reference in Azure).
"""
from __future__ import annotations

from typing import Any, Callable

from warden.ticketing import render
from warden.ticketing.base import Created, Tracker, checked_key
from warden.ticketing.http import TrackerHttp, build_client, require_safe_base_url
from warden.tickets import Ticket

API_VERSION = "2022-11-28"
LABEL = "driftwarden"
BODY_MAX = 65536


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        errors = body.get("errors") or []
        fields = ", ".join(f"{e.get('field')}: {e.get('code')}" for e in errors if isinstance(e, dict))
        return f"{body.get('message', '')}{' (' + fields + ')' if fields else ''}"
    return ""


def marker(key: str) -> str:
    return f"<!-- driftwarden:{checked_key(key)} -->"


def _bounded(body: str) -> str:
    return body if len(body) <= BODY_MAX else body[: BODY_MAX - 200] + "\n\n_(truncated)_"


class GitHubTracker(Tracker):
    name = "github"

    def __init__(self, repo: str, token: Callable[[], str], api_url: str = "https://api.github.com",
                 retry_policy: Any = None, transport: Any = None, extra_labels: tuple[str, ...] = ()):
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"github repo must be owner/name, got {repo!r}")
        self.repo = repo
        self._base = require_safe_base_url(api_url, "github api_url")
        self._labels = (LABEL, *extra_labels)
        headers = lambda: {"Authorization": f"Bearer {token()}", "X-GitHub-Api-Version": API_VERSION,  # noqa: E731
                           "Accept": "application/vnd.github+json"}
        self.http = TrackerHttp(self.name, build_client(self._base, headers, retry_policy, transport=transport),
                                _error_text)

    def _url(self, path: str) -> str:
        return f"{self._base}/repos/{self.repo}{path}"

    def _created(self, issue: dict[str, Any]) -> Created:
        return Created(str(issue["number"]), f"{self.repo}#{issue['number']}", issue.get("html_url"))

    def find_open(self, key: str) -> Created | None:
        # The list endpoint reads the database (a just-created issue is visible); search lags.
        issues = self.http.send("GET", self._url("/issues"), params={
            "state": "open", "labels": f"{LABEL},{checked_key(key)}", "per_page": "100"})
        for issue in issues or []:
            if "pull_request" in issue:
                continue
            if (issue.get("body") or "").startswith(marker(key)):
                return self._created(issue)
        return None

    def create(self, ticket: Ticket) -> Created:
        body = f"{marker(ticket.key)}\n\n{render.to_markdown(render.ticket_document(ticket))}"
        issue = self.http.send("POST", self._url("/issues"), ok=(201,), idempotent=False, json_body={
            "title": render.md_title(ticket.title), "body": _bounded(body),
            "labels": [*self._labels, checked_key(ticket.key)]})
        return self._created(issue)

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        body = render.to_markdown(render.recurrence_document(ticket, occurrences))
        self.http.send("POST", self._url(f"/issues/{int(reference)}/comments"), ok=(201,), idempotent=False,
                       json_body={"body": _bounded(body)}, gone_on_404=True)

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        number = int(reference)
        self.http.send("POST", self._url(f"/issues/{number}/comments"), ok=(201,), idempotent=False,
                       json_body={"body": _bounded(render.to_markdown(render.resolution_document(note)))},
                       gone_on_404=True)
        self.http.send("PATCH", self._url(f"/issues/{number}"), ok=(200,), gone_on_404=True, json_body={
            "state": "closed", "state_reason": "not_planned" if deleted else "completed"})
