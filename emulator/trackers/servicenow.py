"""ServiceNow Table API on the incident table (shared/reference/ticket-apis.md section 3)."""
from __future__ import annotations

import base64
import re
import time
import uuid

from emulator.trackers.base import Answer, Request, TrackerFake, json_body

FIELDS = {"sys_id", "number", "short_description", "description", "state", "active", "urgency", "impact", "priority",
          "category", "caller_id", "assignment_group", "correlation_id", "correlation_display", "close_code",
          "close_notes", "work_notes", "comments", "sys_created_on", "sys_updated_on"}
JOURNAL = {"work_notes", "comments"}
CLOSE_CODES = {"Duplicate", "Known error", "No resolution provided", "Resolved by caller", "Resolved by change",
               "Resolved by problem", "Resolved by request", "Solution provided", "Workaround provided", "User error"}


def _error(status: int, message: str, detail: str = "") -> Answer:
    return Answer(status, {"error": {"message": message, "detail": detail}, "status": "failure"})


class ServiceNowFake(TrackerFake):
    def __init__(self, user: str = "driftwarden", password: str = "sn-password", api_key: str | None = None) -> None:
        super().__init__()
        self.user, self.password, self.api_key = user, password, api_key
        self.incidents: dict[str, dict[str, str]] = {}
        self.journal: dict[str, list[tuple[str, str]]] = {}  # sys_id -> [(field, text)]
        self.require_close_fields = True  # the "resolve requires close_code and close_notes" data policy

    def throttle(self, count: int = 1, retry_after: int = 30) -> None:
        self.fail_next(429, count, {"Retry-After": str(retry_after), "X-RateLimit-Limit": "100",
                                    "X-RateLimit-Reset": str(int(time.time()) + retry_after),
                                    "X-RateLimit-Rule": "a1b2c3"},
                       {"error": {"message": "Rate limit exceeded",
                                  "detail": "Rate limit of 100 requests per hour for Table API exceeded"}, "status": "failure"})

    def _authorised(self, request: Request) -> bool:
        if self.api_key and request.header("x-sn-apikey") == self.api_key:
            return True
        scheme, _, value = (request.header("Authorization") or "").partition(" ")
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode() == f"{self.user}:{self.password}"
            except ValueError:
                return False
        return False

    def route(self, request: Request) -> Answer:
        if not self._authorised(request):
            return _error(401, "User Not Authenticated", "Required to provide Auth information")
        match = re.fullmatch(r"/api/now(?:/v2)?/table/incident(?:/([0-9a-f]{32}))?", request.path)
        if not match:
            return _error(400, "Invalid table", "")
        sys_id = match.group(1)
        if sys_id is None and request.method == "POST":
            return self._create(request)
        if sys_id is None and request.method == "GET":
            return self._query(request)
        record = self.incidents.get(sys_id or "")
        if record is None:
            return _error(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        if request.method == "GET":
            return Answer(200, {"result": self._shown(record, request)})
        if request.method in ("PATCH", "PUT"):
            return self._update(record, request)
        return _error(405, "Method not allowed")

    def _shown(self, record: dict[str, str], request: Request) -> dict[str, str]:
        wanted = [f for f in request.query.get("sysparm_fields", "").split(",") if f]
        shown = {k: ("" if k in JOURNAL else v) for k, v in record.items()}
        if wanted:  # unknown names are ignored
            shown = {k: shown.get(k, "") for k in wanted if k in FIELDS}
        return shown

    def _create(self, request: Request) -> Answer:
        body = json_body(request)
        if not isinstance(body, dict):
            return _error(400, "Exception while reading request", "The payload is not valid JSON.")
        sys_id = uuid.uuid4().hex
        now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        record = {f: "" for f in FIELDS}
        record.update({k: str(v) for k, v in body.items() if k in FIELDS and not k.startswith("sys_")})
        record.update(sys_id=sys_id, number=f"INC{10000 + len(self.incidents) + 1:07d}", state=record["state"] or "1",
                      active="true", sys_created_on=now, sys_updated_on=now)
        self._journal(sys_id, record)
        self.incidents[sys_id] = record
        location = f"{self.url}/api/now/table/incident/{sys_id}"
        return Answer(201, {"result": self._shown(record, request)}, {"Location": location})

    def _journal(self, sys_id: str, record: dict[str, str]) -> None:
        for name in JOURNAL:
            if record.get(name):
                self.journal.setdefault(sys_id, []).append((name, record[name]))
                record[name] = ""

    def _update(self, record: dict[str, str], request: Request) -> Answer:
        body = json_body(request)
        if not isinstance(body, dict):
            return _error(400, "Exception while reading request", "The payload is not valid JSON.")
        changes = {k: str(v) for k, v in body.items() if k in FIELDS and not k.startswith("sys_")}
        if changes.get("state") in ("6", "7"):
            if self.require_close_fields and not (changes.get("close_code") or record["close_code"]) \
                    or self.require_close_fields and not (changes.get("close_notes") or record["close_notes"]):
                return _error(403, "Operation Failed", "Data Policy Exception: the following fields are mandatory: "
                                                       "Resolution code, Resolution notes")
            if changes.get("close_code") and changes["close_code"] not in CLOSE_CODES:
                return _error(403, "Operation Failed", "Data Policy Exception: Resolution code is not a valid choice")
        if "state" in changes:
            changes["active"] = "false" if changes["state"] in ("7", "8") else "true"  # Resolved stays active
        record.update(changes)
        record["sys_updated_on"] = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        self._journal(record["sys_id"], record)
        return Answer(200, {"result": self._shown(record, request)})

    def _query(self, request: Request) -> Answer:
        query = request.query.get("sysparm_query", "")
        groups = [g for g in query.split("^NQ")] if query else [""]
        found = []
        for record in self.incidents.values():
            if any(self._matches(record, group) for group in groups):
                found.append(record)
        limit = int(request.query.get("sysparm_limit", "10000"))
        return Answer(200, {"result": [self._shown(r, request) for r in found[:limit]]},
                      {"X-Total-Count": str(len(found))})

    def _matches(self, record: dict[str, str], group: str) -> bool:
        clauses: list[list[str]] = []
        for token in [t for t in group.split("^") if t]:
            if token.startswith("ORDERBY"):
                continue
            if token.startswith("OR") and clauses:
                clauses[-1].append(token[2:])
            else:
                clauses.append([token])
        return all(any(self._term(record, alt) for alt in alternatives) for alternatives in clauses)

    def _term(self, record: dict[str, str], term: str) -> bool:
        m = re.fullmatch(r"([a-z_]+)(!=|=)(.*)", term)
        if not m or m.group(1) not in FIELDS:
            return True  # like the platform: an invalid term is silently dropped
        name, op, value = m.groups()
        actual = record.get(name, "")
        return (actual == value) if op == "=" else (actual != value)
