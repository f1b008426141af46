"""A Teams Workflows ("When a Teams webhook request is received") trigger URL (shared/reference/ticket-apis.md
section 5): 202 with an empty body for anything that reaches the flow; what the flow would post is recorded,
and a structurally wrong card is recorded as a failed flow run, not refused."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from emulator.trackers.base import Answer, Request, TrackerFake, json_body

MAX_BYTES = 28 * 1024
CARD = "application/vnd.microsoft.card.adaptive"


@dataclass(frozen=True)
class FlowRun:
    ok: bool
    cards: list[dict[str, Any]]
    problem: str = ""


class TeamsWorkflowFake(TrackerFake):
    def __init__(self, workflow_id: str = "5f1d0c1a9e2b4c3d", sig: str = "sig-secret-value") -> None:
        super().__init__()
        self.workflow_id, self.sig = workflow_id, sig
        self.runs: list[FlowRun] = []

    @property
    def workflow_url(self) -> str:
        return (f"{self.url}/workflows/{self.workflow_id}/triggers/manual/paths/invoke"
                f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.sig}")

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [card for run in self.runs if run.ok for card in run.cards]

    def throttle(self, count: int = 1, retry_after: int = 30) -> None:
        self.fail_next(429, count, {"Retry-After": str(retry_after)},
                       {"error": {"code": "WorkflowRequestsThrottled", "message": "The request was throttled."}})

    def route(self, request: Request) -> Answer:
        if request.path != f"/workflows/{self.workflow_id}/triggers/manual/paths/invoke" or request.method != "POST":
            return Answer(404, {"error": {"code": "WorkflowNotFound", "message": "The workflow was not found."}})
        if "sig" not in request.query:
            return Answer(401, {"error": {"code": "DirectApiAuthorizationRequired",
                                          "message": "The request must be authenticated only by Shared Access scheme."}})
        if request.query["sig"] != self.sig:
            return Answer(401, {"error": {"code": "DirectApiInvalidAuthorizationSignature",
                                          "message": "The provided request signature is invalid."}})
        if len(request.raw) > MAX_BYTES:
            return Answer(413, {"error": {"code": "MessageTooLarge", "message": "Request Entity too large"}})
        if "json" not in (request.header("Content-Type") or ""):
            return Answer(415, {"error": {"code": "UnsupportedMediaType", "message": "Content-Type must be JSON"}})
        body = json_body(request)
        self.runs.append(self._run(body))
        return Answer(202)  # empty: says only that the run was queued

    def _run(self, body: Any) -> FlowRun:
        attachments = body.get("attachments") if isinstance(body, dict) else None
        if not isinstance(attachments, list) or not attachments:
            return FlowRun(False, [], "no attachments array")
        cards = []
        for attachment in attachments:
            if not isinstance(attachment, dict) or attachment.get("contentType") != CARD:
                return FlowRun(False, [], "attachment is not an Adaptive Card")
            content = attachment.get("content")
            if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
                return FlowRun(False, [], "content.type is not AdaptiveCard")
            if str(content.get("version")) not in ("1.2", "1.3", "1.4", "1.5"):
                return FlowRun(False, [], f"card version {content.get('version')} does not render in Teams")
            cards.append(content)
        return FlowRun(True, cards)
