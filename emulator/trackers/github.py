"""GitHub Issues REST, as much as a ticket sink touches (shared/reference/ticket-apis.md section 1)."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from emulator.trackers.base import Answer, Request, TrackerFake, json_body

VERSIONS = {"2022-11-28", "2026-03-10"}
BODY_MAX = 65536
LABEL_MAX = 50


@dataclass
class Issue:
    number: int
    title: str
    body: str
    labels: list[str]
    state: str = "open"
    state_reason: str | None = None
    comments: list[str] = field(default_factory=list)
    pull_request: bool = False


class GitHubFake(TrackerFake):
    def __init__(self, token: str = "ghp_test-token", repos: tuple[str, ...] = ("octo/security",),
                 disabled_repos: tuple[str, ...] = (), per_page_max: int = 100) -> None:
        super().__init__()
        self.token = token
        self.repos = {r: [] for r in repos}  # repo -> issues
        self.disabled = set(disabled_repos)
        self.per_page_max = per_page_max
        self.remaining = 5000
        for repo in repos:  # lists return pull requests too
            self.repos[repo].append(Issue(1, "A pull request", "", [], pull_request=True))

    # -- control --------------------------------------------------------------------------------------
    def issues(self, repo: str = "octo/security") -> list[Issue]:
        return [i for i in self.repos[repo] if not i.pull_request]

    def rate_limited(self, kind: str, status: int = 403, count: int = 1, retry_after: int | None = None,
                     reset_in: int = 60) -> None:
        """primary (remaining 0 + reset), secondary (403 + retry-after) or permission (403, no signals)."""
        reset = str(int(time.time()) + reset_in)
        if kind == "primary":
            headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}
            body = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "https://docs.github.com"}
        elif kind == "secondary":
            headers = {"retry-after": str(retry_after if retry_after is not None else 60)}
            body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
        else:
            headers, body = {}, {"message": "Resource not accessible by personal access token", "status": "403"}
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        self.fail_next(status, count, headers, body)

    def common_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": "5000", "x-ratelimit-remaining": str(self.remaining),
                "x-ratelimit-reset": str(int(time.time()) + 3600), "x-ratelimit-resource": "core",
                "x-github-request-id": "0000:FAKE"}

    # -- contract -------------------------------------------------------------------------------------
    def route(self, request: Request) -> Answer:
        auth = request.header("Authorization") or ""
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != self.token:
            return Answer(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
        if not request.header("User-Agent"):
            return Answer(403, {"message": "Request forbidden by administrative rules. Please make sure your request has a User-Agent header"})
        version = request.header("X-GitHub-Api-Version")
        if version is not None and version not in VERSIONS:
            return Answer(400, {"message": f"The '{version}' API version is not supported."})
        self.remaining -= 1
        match = re.fullmatch(r"/repos/([^/]+/[^/]+)/issues(?:/(\d+)(/comments)?)?", request.path)
        if not match:
            return Answer(404, {"message": "Not Found"})
        repo, number, comments = match.group(1), match.group(2), match.group(3)
        if repo not in self.repos:
            return Answer(404, {"message": "Not Found"})
        if repo in self.disabled:
            return Answer(410, {"message": "Issues are disabled for this repo"})
        if number is None:
            if request.method == "POST":
                return self._create(repo, request)
            if request.method == "GET":
                return self._list(repo, request)
            return Answer(404, {"message": "Not Found"})
        issue = next((i for i in self.repos[repo] if i.number == int(number)), None)
        if issue is None:
            return Answer(404, {"message": "Not Found"})
        if comments and request.method == "POST":
            body = json_body(request)
            if not isinstance(body, dict) or not isinstance(body.get("body"), str):
                return _invalid("IssueComment", "body", "missing_field")
            if len(body["body"]) > BODY_MAX:
                return _invalid("IssueComment", "body", "unprocessable")
            issue.comments.append(body["body"])
            return Answer(201, {"id": len(issue.comments), "body": body["body"]},
                          {"Location": f"{self.url}/repos/{repo}/issues/comments/{len(issue.comments)}"})
        if not comments and request.method == "PATCH":
            return self._update(repo, issue, request)
        if not comments and request.method == "GET":
            return Answer(200, self._json(repo, issue))
        return Answer(404, {"message": "Not Found"})

    def _json(self, repo: str, issue: Issue) -> dict[str, Any]:
        data: dict[str, Any] = {"id": 1000 + issue.number, "number": issue.number, "title": issue.title, "body": issue.body,
                                "state": issue.state, "state_reason": issue.state_reason,
                                "labels": [{"name": n} for n in issue.labels],
                                "html_url": f"https://github.com/{repo}/issues/{issue.number}"}
        if issue.pull_request:
            data["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{issue.number}"}
        return data

    def _create(self, repo: str, request: Request) -> Answer:
        body = json_body(request)
        if not isinstance(body, dict):
            return Answer(400, {"message": "Body should be a JSON object"})
        if not isinstance(body.get("title"), (str, int)) or body.get("title") == "":
            return _invalid("Issue", "title", "missing_field")
        text = body.get("body") or ""
        if len(text) > BODY_MAX:
            return _invalid("Issue", "body", "custom", "body is too long (maximum is 65536 characters)")
        labels = [l if isinstance(l, str) else l.get("name") for l in body.get("labels") or []]
        if any(len(l) > LABEL_MAX for l in labels):
            return _invalid("Label", "name", "custom", "name is too long (maximum is 50 characters)")
        issue = Issue(max((i.number for i in self.repos[repo]), default=0) + 1, str(body["title"]), text, labels)
        self.repos[repo].append(issue)
        return Answer(201, self._json(repo, issue), {"Location": f"{self.url}/repos/{repo}/issues/{issue.number}"})

    def _list(self, repo: str, request: Request) -> Answer:
        state = request.query.get("state", "open")
        wanted = [l for l in request.query.get("labels", "").split(",") if l]
        per_page = min(int(request.query.get("per_page", "30")), self.per_page_max)
        page = int(request.query.get("page", "1"))
        found = [i for i in self.repos[repo] if (state == "all" or i.state == state)
                 and all(w in i.labels for w in wanted)]
        if not wanted:
            found = [i for i in self.repos[repo] if state == "all" or i.state == state]
        chunk = found[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(found):
            headers["Link"] = f'<{self.url}/repos/{repo}/issues?page={page + 1}&per_page={per_page}>; rel="next"'
        return Answer(200, [self._json(repo, i) for i in chunk], headers)

    def _update(self, repo: str, issue: Issue, request: Request) -> Answer:
        body = json_body(request)
        if not isinstance(body, dict):
            return Answer(400, {"message": "Body should be a JSON object"})
        if "state" in body and body["state"] not in ("open", "closed"):
            return _invalid("Issue", "state", "invalid")
        if body.get("state_reason") not in (None, "completed", "not_planned", "duplicate", "reopened"):
            return _invalid("Issue", "state_reason", "invalid")
        if "state" in body and body["state"] != issue.state:
            issue.state = body["state"]
            issue.state_reason = body.get("state_reason")
        if "labels" in body:
            issue.labels = [l if isinstance(l, str) else l.get("name") for l in body["labels"]]
        for key in ("title", "body"):
            if key in body:
                setattr(issue, key, body[key])
        return Answer(200, self._json(repo, issue))


def _invalid(resource: str, field_name: str, code: str, message: str | None = None) -> Answer:
    error = {"resource": resource, "field": field_name, "code": code}
    if message:
        error["message"] = message
    return Answer(422, {"message": "Validation Failed", "errors": [error], "status": "422",
                        "documentation_url": "https://docs.github.com/rest/issues"})
