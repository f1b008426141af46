"""Azure DevOps Boards work items (REST 7.1): one work item per resource+check, tagged `driftwarden; <key>`,
found again with WIQL, commented through the comments API (7.1-preview.4) and closed into the state the
work item type's own state list puts in the Completed category.

Auth: a PAT (`Authorization: Basic base64(":" + PAT)`, DRIFTWARDEN_ADO_PAT), or without one an Entra ID token
for the Azure DevOps application (499b84ac-1321-427f-aa17-267ca6975798) from the app's managed identity, which
must be added to the organization first. Bad credentials may come back as 203 with a sign-in page: that is an
auth failure (warden.ticketing.http).
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping
from urllib.parse import quote

from warden.ticketing import render
from warden.ticketing.base import Created, Tracker, checked_key
from warden.ticketing.http import TrackerHttp, build_client, require_safe_base_url
from warden.tickets import Ticket, TicketDeliveryError

log = logging.getLogger("driftwarden.tickets")

ADO_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"
API = "7.1"
COMMENTS_API = "7.1-preview.4"
PATCH_JSON = "application/json-patch+json"
TITLE_MAX = 255
PRIORITY = {"critical": 1, "high": 2, "medium": 3, "low": 4}
OPEN_EXCLUDED_CATEGORIES = ("Resolved", "Completed", "Removed")


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        rules = (body.get("customProperties") or {}).get("RuleValidationErrors") or []
        extra = "; ".join(str(r.get("errorMessage")) for r in rules if isinstance(r, dict))
        return f"{body.get('typeKey', '')}: {body.get('message', '')}{' ' + extra if extra else ''}"
    return ""


class AzureDevOpsTracker(Tracker):
    name = "azure-devops"

    def __init__(self, org_url: str, project: str, auth_header: Callable[[], Mapping[str, str]],
                 work_item_type: str = "Task", area_path: str | None = None, retry_policy: Any = None,
                 transport: Any = None):
        self._org = require_safe_base_url(org_url, "azure_devops org_url")
        self.project = project
        self.work_item_type = work_item_type
        self.area_path = area_path
        self._states: dict[str, str] | None = None  # state name -> category, read once per process
        headers = lambda: {**auth_header(), "X-TFS-FedAuthRedirect": "Suppress"}  # noqa: E731  401, not a sign-in page
        self.http = TrackerHttp(self.name, build_client(self._org, headers, retry_policy, transport=transport),
                                _error_text)

    def _url(self, path: str) -> str:
        return f"{self._org}/{quote(self.project, safe='')}/_apis/wit{path}"

    def _created(self, item: dict[str, Any]) -> Created:
        url = ((item.get("_links") or {}).get("html") or {}).get("href")
        return Created(str(item["id"]), str(item["id"]), url)

    def _description_field(self) -> str:
        # The Bug type of Agile/Scrum/CMMI shows Repro Steps, not Description, on its form.
        return "Microsoft.VSTS.TCM.ReproSteps" if self.work_item_type.lower() == "bug" else "System.Description"

    def states(self) -> dict[str, str]:
        if self._states is None:
            answer = self.http.send("GET", self._url(f"/workitemtypes/{quote(self.work_item_type, safe='')}/states"),
                                    params={"api-version": API})
            self._states = {s["name"]: s.get("category", "") for s in (answer or {}).get("value", [])}
        return self._states

    def find_open(self, key: str) -> Created | None:
        done = [name for name, category in self.states().items() if category in OPEN_EXCLUDED_CATEGORIES]
        not_in = ", ".join("'" + name.replace("'", "''") + "'" for name in done) or "''"
        query = ("SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = @project "
                 f"AND [System.Tags] CONTAINS '{checked_key(key)}' AND [System.State] NOT IN ({not_in})")
        answer = self.http.send("POST", self._url("/wiql"), params={"api-version": API}, json_body={"query": query})
        items = (answer or {}).get("workItems") or []
        if not items:
            return None
        item_id = int(items[0]["id"])
        return Created(str(item_id), str(item_id), f"{self._org}/{quote(self.project, safe='')}/_workitems/edit/{item_id}")

    def create(self, ticket: Ticket) -> Created:
        body = render.to_html(render.ticket_document(ticket))
        ops = [{"op": "add", "path": "/fields/System.Title", "value": render.plain_title(ticket.title, TITLE_MAX)},
               {"op": "add", "path": f"/fields/{self._description_field()}", "value": body},
               {"op": "add", "path": "/fields/System.Tags", "value": f"driftwarden; {checked_key(ticket.key)}"},
               {"op": "add", "path": "/fields/Microsoft.VSTS.Common.Priority", "value": PRIORITY.get(ticket.severity, 2)}]
        if self.area_path:
            ops.append({"op": "add", "path": "/fields/System.AreaPath", "value": self.area_path})
        item = self.http.send("POST", self._url(f"/workitems/${quote(self.work_item_type, safe='')}"),
                              params={"api-version": API}, headers={"Content-Type": PATCH_JSON},
                              content=_json(ops), ok=(200,), idempotent=False)
        return self._created(item)

    def comment(self, reference: str, ticket: Ticket, occurrences: int) -> None:
        self._comment(reference, render.to_html(render.recurrence_document(ticket, occurrences)))

    def _comment(self, reference: str, text: str) -> None:
        self.http.send("POST", self._url(f"/workItems/{int(reference)}/comments"), params={"api-version": COMMENTS_API},
                       json_body={"text": text}, ok=(200,), idempotent=False, gone_on_404=True)

    def close(self, reference: str, note: str, deleted: bool = False) -> None:
        self._comment(reference, render.to_html(render.resolution_document(note)))
        completed = [name for name, category in self.states().items() if category == "Completed"]
        if not completed:
            log.warning("azure-devops: work item type %s has no Completed state; left open", self.work_item_type)
            return
        try:
            self.http.send("PATCH", self._url(f"/workitems/{int(reference)}"), params={"api-version": API},
                           headers={"Content-Type": PATCH_JSON}, ok=(200,), gone_on_404=True,
                           content=_json([{"op": "add", "path": "/fields/System.State", "value": completed[0]}]))
        except TicketDeliveryError as error:
            if error.status != 400:
                raise
            # A process rule (required field, allowed transition) refuses the state: the comment says it is fixed.
            log.warning("azure-devops: work item %s commented but not closed: %s", reference, error)


def _json(value: Any) -> bytes:
    import json

    return json.dumps(value).encode()
