"""Azure DevOps work items REST 7.1, as much as a ticket sink touches (shared/reference/ticket-apis.md section 2)."""
from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from emulator.trackers.base import Answer, Request, TrackerFake, json_body

# Agile process: state -> category
STATES = {
    "Task": [("New", "Proposed"), ("Active", "InProgress"), ("Closed", "Completed"), ("Removed", "Removed")],
    "Bug": [("New", "Proposed"), ("Active", "InProgress"), ("Resolved", "Resolved"), ("Closed", "Completed"),
            ("Removed", "Removed")],
    "Issue": [("Active", "InProgress"), ("Closed", "Completed")],
}
OPS = {"add", "remove", "replace", "move", "copy", "test"}
FIELD_PATH = re.compile(r"^/fields/[A-Za-z][A-Za-z0-9_.]*$")


@dataclass
class WorkItem:
    id: int
    type: str
    fields: dict[str, Any]
    rev: int = 1
    comments: list[str] = field(default_factory=list)


def _error(status: int, type_key: str, message: str, **extra: Any) -> Answer:
    return Answer(status, {"$id": "1", "innerException": None, "message": message,
                           "typeName": f"Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation", "typeKey": type_key,
                           "errorCode": 0, "eventId": 3000, **extra})


class AzureDevOpsFake(TrackerFake):
    def __init__(self, org: str = "contoso", project: str = "Security", pat: str = "ado-pat-secret",
                 bearer: str | None = None) -> None:
        super().__init__()
        self.org, self.project, self.pat, self.bearer = org, project, pat, bearer
        self.items: dict[int, WorkItem] = {}
        self.signin_page_for_bad_credentials = False  # answer 203 + HTML instead of 401

    @property
    def org_url(self) -> str:
        return f"{self.url}/{self.org}"

    def throttle(self, count: int = 1, retry_after: int = 30) -> None:
        reset = str(int(time.time()) + retry_after)
        self.fail_next(429, count, {"Retry-After": str(retry_after), "X-RateLimit-Resource": "Core",
                                    "X-RateLimit-Limit": "200", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
                       {"$id": "1", "message": "TF400733: The request has been canceled: Request was blocked due to "
                                               "exceeding usage of resource 'Core' in namespace 'User'.",
                        "typeKey": "RequestBlockedException", "errorCode": 0, "eventId": 3000})

    def _authorised(self, request: Request) -> bool:
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                _, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return False
            return secret == self.pat
        return scheme.lower() == "bearer" and self.bearer is not None and value == self.bearer

    def route(self, request: Request) -> Answer:
        if not self._authorised(request):
            if self.signin_page_for_bad_credentials:
                return Answer(203, b"<html><body>Sign in to your account</body></html>", content_type="text/html; charset=utf-8")
            return _error(401, "UnauthorizedRequestException", "TF400813: The user '' is not authorized to access this resource.")
        prefix = f"/{self.org}/{self.project}/_apis/wit/"
        if not unquote(request.path).startswith(prefix):
            return _error(404, "ProjectDoesNotExistWithNameException", "TF200016: The project does not exist.")
        rest = request.path[len(f"/{self.org}/{self.project}/_apis/wit/"):]
        version = request.query.get("api-version")
        preview = rest.lower().startswith("workitems/") and rest.lower().endswith("/comments")
        if not version:
            return _error(400, "VssServiceException", "No api-version was supplied for the request.")
        if preview and not version.startswith("7.1-preview"):
            return _error(400, "VssInvalidPreviewVersionException",
                          "The requested REST API version of 7.1 is out of date for this resource which is under preview; "
                          "use -preview")
        if not preview and version not in ("7.1", "7.0", "7.2-preview"):
            return _error(400, "VssVersionOutOfRangeException", f"The requested REST API version of {version} is not supported.")
        if m := re.fullmatch(r"workitems/\$(.+)", rest):
            return self._create(unquote(m.group(1)), request)
        if m := re.fullmatch(r"workitems/(\d+)", rest):
            return self._update(int(m.group(1)), request)
        if m := re.fullmatch(r"workItems/(\d+)/comments", rest):
            return self._comment(int(m.group(1)), request)
        if rest == "wiql" and request.method == "POST":
            return self._wiql(request)
        if m := re.fullmatch(r"workitemtypes/([^/]+)/states", rest):
            states = STATES.get(unquote(m.group(1)))
            if states is None:
                return _error(404, "WorkItemTypeNotFoundException", "Work item type not found.")
            return Answer(200, {"count": len(states), "value": [{"name": n, "category": c, "color": "b2b2b2"} for n, c in states]})
        return _error(404, "NotFoundException", "Not found")

    def _patch_ops(self, request: Request) -> list[dict[str, Any]] | Answer:
        if (request.header("Content-Type") or "").split(";")[0].strip().lower() != "application/json-patch+json":
            return _error(415, "VssRequestContentTypeNotSupportedException",
                          "The request indicated a Content-Type of \"application/json\" for method type \"POST\" which is not supported.")
        ops = json_body(request)
        if not isinstance(ops, list):
            return _error(400, "VssPropertyValidationException", "You must pass a valid patch document in the body of the request.")
        for op in ops:
            if not isinstance(op, dict) or op.get("op") not in OPS or not isinstance(op.get("path"), str):
                return _error(400, "VssPropertyValidationException", "Invalid patch operation.")
            if op["path"] != "/rev" and not FIELD_PATH.match(op["path"]) and not op["path"].startswith("/relations"):
                return _error(400, "VssPropertyValidationException", f"Invalid path {op['path']}.")
        return ops

    def _apply(self, item: WorkItem, ops: list[dict[str, Any]]) -> Answer | None:
        fields = dict(item.fields)
        for op in ops:
            if op["path"] == "/rev":
                if op["op"] == "test" and op.get("value") != item.rev:
                    return _error(412, "WorkItemRevisionMismatchException", "The revision does not match.")
                continue
            name = op["path"][len("/fields/"):]
            if op["op"] in ("add", "replace"):
                value = op.get("value")
                if name == "System.Tags" and op["op"] == "add" and fields.get("System.Tags"):
                    current = [t.strip() for t in fields["System.Tags"].split(";") if t.strip()]
                    value = "; ".join(dict.fromkeys(current + [t.strip() for t in str(value).split(";") if t.strip()]))
                fields[name] = value
            elif op["op"] == "remove":
                fields.pop(name, None)
        title = fields.get("System.Title")
        errors = []
        if not title:
            errors.append({"fieldReferenceName": "System.Title", "fieldStatusFlags": "required, hasValues",
                           "errorMessage": "TF401320: Rule Error for field Title. Error code: Required, HasValues."})
        elif len(str(title)) > 255:
            errors.append({"fieldReferenceName": "System.Title", "fieldStatusFlags": "invalidTooLong",
                           "errorMessage": "TF401320: Rule Error for field Title. Error code: InvalidTooLong."})
        states = [n for n, _ in STATES[item.type]]
        if fields.get("System.State") not in states:
            errors.append({"fieldReferenceName": "System.State", "fieldStatusFlags": "hasValues, invalidListValue",
                           "errorMessage": "TF401320: Rule Error for field State. Error code: InvalidListValue."})
        if errors:
            return _error(400, "RuleValidationException", "TF401320: Rule Error", customProperties={"RuleValidationErrors": errors})
        item.fields = fields
        item.rev += 1
        return None

    def _json(self, item: WorkItem) -> dict[str, Any]:
        base = f"{self.org_url}/{self.project}"
        return {"id": item.id, "rev": item.rev, "fields": {"System.WorkItemType": item.type, **item.fields},
                "url": f"{base}/_apis/wit/workItems/{item.id}", "_links": {"html": {"href": f"{base}/_workitems/edit/{item.id}"}}}

    def _create(self, type_name: str, request: Request) -> Answer:
        if type_name not in STATES:
            return _error(404, "WorkItemTypeNotFoundException", f"TF201036: Work item type {type_name} does not exist.")
        ops = self._patch_ops(request)
        if isinstance(ops, Answer):
            return ops
        item = WorkItem(max(self.items, default=0) + 1, type_name, {"System.State": STATES[type_name][0][0]}, rev=0)
        refused = self._apply(item, ops)
        if refused is not None:
            return refused
        self.items[item.id] = item
        return Answer(200, self._json(item))

    def _update(self, item_id: int, request: Request) -> Answer:
        item = self.items.get(item_id)
        if request.method == "GET":
            return Answer(200, self._json(item)) if item else _error(404, "WorkItemNotFoundException", "TF401232: not found")
        if request.method != "PATCH":
            return _error(405, "NotSupportedException", "Method not allowed")
        if item is None:
            return _error(404, "WorkItemNotFoundException", f"TF401232: Work item {item_id} does not exist.")
        ops = self._patch_ops(request)
        if isinstance(ops, Answer):
            return ops
        refused = self._apply(item, ops)
        return refused or Answer(200, self._json(item))

    def _comment(self, item_id: int, request: Request) -> Answer:
        item = self.items.get(item_id)
        if item is None:
            return _error(404, "WorkItemNotFoundException", f"TF401232: Work item {item_id} does not exist.")
        body = json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) or not body["text"]:
            return _error(400, "ArgumentException", "The comment text is required.")
        item.comments.append(body["text"])
        return Answer(200, {"id": len(item.comments), "workItemId": item_id, "version": 1, "text": body["text"],
                            "format": "html"})

    def _wiql(self, request: Request) -> Answer:
        body = json_body(request)
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, str) or len(query) > 32000:
            return _error(400, "InvalidQueryException", "TF51005: The query is invalid.")
        contains = re.findall(r"\[System\.Tags\]\s+CONTAINS\s+'((?:[^']|'')*)'", query, re.IGNORECASE)
        not_in = re.search(r"\[System\.State\]\s+NOT\s+IN\s+\(([^)]*)\)", query, re.IGNORECASE)
        excluded = {s.strip().strip("'").replace("''", "'") for s in not_in.group(1).split(",")} if not_in else set()
        found = []
        for item in self.items.values():
            tags = [t.strip() for t in str(item.fields.get("System.Tags", "")).split(";")]
            if all(c.replace("''", "'") in tags for c in contains) and item.fields.get("System.State") not in excluded:
                found.append({"id": item.id, "url": f"{self.org_url}/_apis/wit/workItems/{item.id}"})
        return Answer(200, {"queryType": "flat", "asOf": "2026-05-01T00:00:00Z", "columns": [{"referenceName": "System.Id"}],
                            "workItems": found})
