"""Jira Cloud REST v3 issues, comments, search/jql and transitions (shared/reference/ticket-apis.md section 4)."""
from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from emulator.trackers.base import Answer, Request, TrackerFake, json_body

TEXT_MAX = 32767
BLOCK_NODES = {"paragraph", "heading", "bulletList", "orderedList", "listItem", "codeBlock", "blockquote", "rule",
               "panel", "table", "tableRow", "tableHeader", "tableCell", "mediaSingle", "media", "expand"}
INLINE_NODES = {"text", "hardBreak", "mention", "emoji", "inlineCard", "date", "status"}
MARKS = {"strong", "em", "code", "link", "strike", "underline", "subsup", "textColor"}
TRANSITIONS = [{"id": "11", "name": "To Do", "to": {"name": "To Do", "statusCategory": {"key": "new"}}},
               {"id": "21", "name": "In Progress", "to": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}},
               {"id": "31", "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}}}]


@dataclass
class JiraIssue:
    id: str
    key: str
    fields: dict[str, Any]
    status: str = "To Do"
    category: str = "new"
    comments: list[dict[str, Any]] = field(default_factory=list)
    created: float = field(default_factory=time.monotonic)


def _errors(status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> Answer:
    return Answer(status, {"errorMessages": messages or [], "errors": errors or {}})


def adf_problem(doc: Any) -> str | None:
    """Why this is not an ADF document (None when it is)."""
    if not isinstance(doc, dict) or doc.get("type") != "doc" or doc.get("version") != 1 or not isinstance(doc.get("content"), list):
        return "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    stack = list(doc["content"])
    while stack:
        node = stack.pop()
        if not isinstance(node, dict) or node.get("type") not in BLOCK_NODES | INLINE_NODES:
            return "INVALID_INPUT"
        if node["type"] == "text":
            if not isinstance(node.get("text"), str) or not node["text"]:
                return "INVALID_INPUT"
            for mark in node.get("marks") or []:
                if not isinstance(mark, dict) or mark.get("type") not in MARKS:
                    return "INVALID_INPUT"
        stack.extend(node.get("content") or [])
    return None


class JiraFake(TrackerFake):
    def __init__(self, email: str = "bot@contoso.com", api_token: str = "jira-token", project: str = "SEC",
                 index_delay: float = 0.0) -> None:
        super().__init__()
        self.email, self.api_token, self.project = email, api_token, project
        self.issues: dict[str, JiraIssue] = {}
        self.index_delay = index_delay  # seconds before search sees a new issue (reconcileIssues overrides)
        self.anonymous_mode = False  # requests without credentials are served as anonymous instead of 401
        self.resolution_on_screen = True

    def throttle(self, count: int = 1, retry_after: int = 30, reason: str = "jira-burst-based") -> None:
        reset = (datetime.now(timezone.utc) + timedelta(seconds=retry_after)).strftime("%Y-%m-%dT%H:%MZ")
        self.fail_next(429, count, {"Retry-After": str(retry_after), "X-RateLimit-Limit": "100",
                                    "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset, "RateLimit-Reason": reason},
                       {"errorMessages": ["Rate limit exceeded."], "errors": {}})

    def _auth(self, request: Request) -> str:
        """'user', 'anonymous', or 'refused'."""
        header = request.header("Authorization")
        if header is None:
            return "anonymous" if self.anonymous_mode else "refused"
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(value).decode()
            except ValueError:
                return "refused"
            return "user" if decoded == f"{self.email}:{self.api_token}" else "refused"
        return "refused"

    def route(self, request: Request) -> Answer:
        if re.fullmatch(r"/rest/api/[23]/search(/id)?", request.path):
            return _errors(410, ["The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                                 "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"])
        auth = self._auth(request)
        if auth == "refused":
            return Answer(401, b"Client must be authenticated to access this resource.", content_type="text/plain")
        if request.path == "/rest/api/3/search/jql" and request.method in ("GET", "POST"):
            return self._search(request, auth)
        if auth == "anonymous":
            return _errors(404, ["Issue does not exist or you do not have permission to see it."])
        if request.path == "/rest/api/3/myself":
            return Answer(200, {"accountId": "5b10ac8d82e05b22cc7d4ef5", "emailAddress": self.email})
        if request.path == "/rest/api/3/issue" and request.method == "POST":
            return self._create(request)
        if m := re.fullmatch(r"/rest/api/3/issue/([A-Z][A-Z0-9_]*-\d+)(/comment|/transitions)?", request.path):
            issue = self.issues.get(m.group(1))
            if issue is None:
                return _errors(404, ["Issue does not exist or you do not have permission to see it."])
            if m.group(2) == "/comment" and request.method == "POST":
                return self._comment(issue, request)
            if m.group(2) == "/transitions":
                return self._transition(issue, request)
            if m.group(2) is None and request.method == "GET":
                return Answer(200, self._json(issue, ["summary", "labels", "status"]))
        return _errors(404, ["Not found"])

    def _json(self, issue: JiraIssue, fields: list[str]) -> dict[str, Any]:
        everything = {**issue.fields, "status": {"name": issue.status, "statusCategory": {"key": issue.category}}}
        data: dict[str, Any] = {"id": issue.id, "key": issue.key, "self": f"{self.url}/rest/api/3/issue/{issue.id}"}
        if fields and fields != ["id"]:
            data["fields"] = {f: everything.get(f) for f in fields if f not in ("id", "key")}
        return data

    def _create(self, request: Request) -> Answer:
        body = json_body(request)
        fields = body.get("fields") if isinstance(body, dict) else None
        if not isinstance(fields, dict):
            return _errors(400, ["Fields are required."])
        errors: dict[str, str] = {}
        if (fields.get("project") or {}).get("key") != self.project:
            errors["project"] = "valid project is required"
        if not (fields.get("issuetype") or {}).get("name") and not (fields.get("issuetype") or {}).get("id"):
            errors["issuetype"] = "valid issue type is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            errors["summary"] = "You must specify a summary of the issue."
        elif len(summary) >= 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters."
        if "description" in fields:
            problem = adf_problem(fields["description"])
            if problem:
                errors["description"] = problem
            elif len(str(fields["description"])) > TEXT_MAX * 3:
                errors["description"] = f"The entered text is too long. It exceeds the allowed limit of {TEXT_MAX} characters."
        for label in fields.get("labels") or []:
            if not isinstance(label, str) or " " in label or len(label) > 255:
                errors["labels"] = f"The label '{label}' contains spaces which is invalid."
        if errors:
            return _errors(400, [], errors)
        number = len(self.issues) + 1
        issue = JiraIssue(str(10000 + number), f"{self.project}-{number}", dict(fields))
        self.issues[issue.key] = issue
        return Answer(201, {"id": issue.id, "key": issue.key, "self": f"{self.url}/rest/api/3/issue/{issue.id}"})

    def _comment(self, issue: JiraIssue, request: Request) -> Answer:
        body = json_body(request)
        problem = adf_problem(body.get("body") if isinstance(body, dict) else None)
        if problem:
            return _errors(400, [problem])
        issue.comments.append(body["body"])
        return Answer(201, {"id": str(len(issue.comments)), "body": body["body"]})

    def _transition(self, issue: JiraIssue, request: Request) -> Answer:
        if request.method == "GET":
            return Answer(200, {"transitions": [{**t, "hasScreen": self.resolution_on_screen, "isAvailable": True}
                                                for t in TRANSITIONS]})
        body = json_body(request)
        wanted = str(((body or {}).get("transition") or {}).get("id", ""))
        transition = next((t for t in TRANSITIONS if t["id"] == wanted), None)
        if transition is None:
            return _errors(400, ["Transition id '%s' is not valid for this issue." % wanted])
        if (body.get("fields") or {}) and not self.resolution_on_screen:
            return _errors(400, [], {"resolution": "Field 'resolution' cannot be set. It is not on the appropriate "
                                                   "screen, or unknown."})
        for update in ((body.get("update") or {}).get("comment") or []):
            problem = adf_problem((update.get("add") or {}).get("body"))
            if problem:
                return _errors(400, [problem])
            issue.comments.append(update["add"]["body"])
        issue.status, issue.category = transition["to"]["name"], transition["to"]["statusCategory"]["key"]
        return Answer(204)

    def _search(self, request: Request, auth: str) -> Answer:
        params = dict(request.query)
        if request.method == "POST":
            params.update({k: (",".join(v) if isinstance(v, list) else str(v)) for k, v in (json_body(request) or {}).items()})
        jql = params.get("jql", "")
        if not re.search(r"project\s*=", jql, re.IGNORECASE):
            return _errors(400, ["Unbounded JQL queries are not allowed here. Please add a search restriction to your query."])
        if auth == "anonymous":
            return Answer(200, {"issues": [], "isLast": True})
        reconcile = {s.strip() for s in params.get("reconcileIssues", "").split(",") if s.strip()}
        fields = [f for f in params.get("fields", "id").split(",") if f]
        found = []
        for issue in self.issues.values():
            visible = time.monotonic() - issue.created >= self.index_delay or issue.id in reconcile
            if visible and self._jql(issue, jql):
                found.append(self._json(issue, fields))
        limit = int(params.get("maxResults", "50"))
        page = found[:limit]
        answer: dict[str, Any] = {"issues": page, "isLast": len(found) <= limit}
        if len(found) > limit:
            answer["nextPageToken"] = "page-2"
        return Answer(200, answer)

    def _jql(self, issue: JiraIssue, jql: str) -> bool:
        for clause in re.split(r"\s+AND\s+", jql, flags=re.IGNORECASE):
            m = re.fullmatch(r'\s*(\w+)\s*(!=|=)\s*"?((?:[^"\\]|\\.)*)"?\s*', clause)
            if not m:
                continue
            name, op, value = m.group(1).lower(), m.group(2), m.group(3).replace('\\"', '"').replace("\\\\", "\\")
            if name == "project":
                actual_ok = issue.key.split("-")[0] == value
            elif name == "labels":
                actual_ok = value in (issue.fields.get("labels") or [])
            elif name == "statuscategory":
                actual_ok = {"done": "Done", "new": "To Do", "indeterminate": "In Progress"}[issue.category].lower() == value.lower()
            else:
                continue
            if actual_ok != (op == "="):
                return False
        return True
