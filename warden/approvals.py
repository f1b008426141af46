"""Human approval of reverts the bot holds back.

When the policy would revert a finding but a guard (no Approved private endpoint, ...) or the check's mode
(ticket) holds the revert back, the engine stores a *proposal*: the exact minimal PATCH, the resource's etag
when it was read, an expiry and the ticket that announces it. An approver on the allowlist approves it through
the HTTP function (functions/approve.py, `POST /api/proposals/{id}/approve`); this service then

1. takes the approver's object id from the platform's client-principal headers (App Service Authentication
   must be on, or the headers could be forged) and checks it against the allowlist (else 403);
2. refuses an unknown (404), expired (410) or already-decided proposal; a replayed approval of an applied
   proposal answers what happened the first time and writes nothing;
3. claims the proposal (a conditional update: two concurrent approvals cannot both write);
4. re-reads the resource: if its etag moved, nothing is written; the check is evaluated again and the answer
   says whether the finding is gone or a fresh proposal replaces this one (409);
5. otherwise sends the PATCH with If-Match (a 412 is handled like a moved etag), verifies the result, records
   an action `reverted` (or `pending`) whose reason names the approver, and resolves the ticket.

Proposals live in Table Storage (`<prefix>proposals`), one partition per resource; the id starts with the
resource's partition hash, so an approval is one point read.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Mapping

import remediators
from remediators.base import Check, CheckContext, Guard, Mode
from warden.model import Action, ActionRecord, Caller, EventRecord, Outcome
from warden.ticketing.store import Conflict, Entity, EntityStore, from_iso, iso, resource_partition

log = logging.getLogger("driftwarden.approvals")

PROPOSALS_TABLE = "proposals"  # after the table prefix: driftwardenproposals
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
PRINCIPAL_ID_HEADER = "X-MS-CLIENT-PRINCIPAL-ID"
PRINCIPAL_NAME_HEADER = "X-MS-CLIENT-PRINCIPAL-NAME"
OID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS = ("preferred_username", "name", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
               "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name")
PROPOSAL_ID = re.compile(r"^[0-9a-f]{48}$")
GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

PENDING, APPLYING, APPLIED, STALE, EXPIRED, SUPERSEDED, OBSOLETE = (
    "pending", "applying", "applied", "stale", "expired", "superseded", "obsolete")


# -- who approves -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    object_id: str
    name: str | None = None


def principal_from_headers(headers: Mapping[str, str]) -> Principal | None:
    """The signed-in caller as App Service Authentication forwards it: X-MS-CLIENT-PRINCIPAL (base64 JSON with
    `claims: [{typ, val}]`) and X-MS-CLIENT-PRINCIPAL-ID. None when absent, unreadable, or when the two disagree."""
    def header(name: str) -> str | None:
        for key, value in headers.items():
            if key.lower() == name.lower():
                return value
        return None

    oid, name = None, header(PRINCIPAL_NAME_HEADER)
    encoded = header(PRINCIPAL_HEADER)
    if encoded:
        try:
            document = json.loads(base64.b64decode(encoded + "=" * (-len(encoded) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            return None
        claims = document.get("claims") if isinstance(document, dict) else None
        if not isinstance(claims, list):
            return None
        values: dict[str, str] = {}
        for claim in claims:
            if isinstance(claim, dict) and isinstance(claim.get("typ"), str) and isinstance(claim.get("val"), str):
                values.setdefault(claim["typ"], claim["val"])
        oid = next((values[c] for c in OID_CLAIMS if c in values), None)
        name = next((values[c] for c in NAME_CLAIMS if c in values), name)
    header_id = header(PRINCIPAL_ID_HEADER)
    if oid and header_id and oid.lower() != header_id.lower():
        return None
    oid = oid or header_id
    if not oid or not GUID.match(oid):
        return None
    return Principal(oid.lower(), name)


# -- proposals ------------------------------------------------------------------------------------------

def proposable(check: Check, mode: Mode, guard: Guard | None) -> bool:
    """A revert the policy would make but holds back: a PATCH fix, and mode ticket or a failed guard (a flapping
    resource is not proposed: something keeps re-applying the setting, an approval would not stick)."""
    if check.fix is None or check.fix.method != "PATCH":
        return False
    return mode is Mode.TICKET or (mode is Mode.REVERT and guard is not None and not guard.ok)


@dataclass
class Proposal:
    id: str
    resource_id: str
    resource_type: str
    check_id: str
    api_version: str
    body: dict[str, Any]
    etag: str | None
    created_at: datetime
    expires_at: datetime
    status: str = PENDING
    caller: dict[str, Any] = field(default_factory=dict)  # who made the insecure change
    observed: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None
    correlation_id: str | None = None
    ticket_key: str = ""
    ticket: str = ""
    approved_by: str = ""
    approved_at: datetime | None = None
    result: str = ""
    superseded_by: str = ""
    lease_until: datetime | None = None

    @property
    def partition(self) -> str:
        return "r-" + self.id[:32]

    def entity(self, etag: str | None = None) -> Entity:
        data = {k: v for k, v in self.__dict__.items() if k not in ("id",)}
        for key in ("created_at", "expires_at", "approved_at", "lease_until"):
            data[key] = iso(data[key]) if data[key] else None
        for key in ("body", "caller", "observed"):
            data[key] = json.dumps(data[key], sort_keys=True, default=str)
        return Entity(self.partition, f"p-{self.id}", data, etag)

    @classmethod
    def from_entity(cls, entity: Entity) -> "Proposal":
        data = dict(entity.data)
        for key in ("created_at", "expires_at", "approved_at", "lease_until"):
            data[key] = from_iso(data.get(key))
        for key in ("body", "caller", "observed"):
            data[key] = json.loads(data.get(key) or "{}")
        known = set(cls.__dataclass_fields__) - {"id"}
        return cls(id=entity.row[2:], **{k: v for k, v in data.items() if k in known})

    def url(self, base: str) -> str:
        return f"{base.rstrip('/')}/proposals/{self.id}/approve"


class ProposalStore:
    def __init__(self, store: EntityStore):
        self.store = store

    def get(self, proposal_id: str) -> tuple[Proposal, str | None] | None:
        if not PROPOSAL_ID.match(proposal_id or ""):
            return None
        entity = self.store.get("r-" + proposal_id[:32], f"p-{proposal_id}")
        return (Proposal.from_entity(entity), entity.etag) if entity is not None else None

    def of_resource(self, resource_id: str) -> list[tuple[Proposal, str | None]]:
        return [(Proposal.from_entity(e), e.etag) for e in self.store.partition(resource_partition(resource_id))
                if e.row.startswith("p-")]

    def save(self, proposal: Proposal, etag: str | None = None) -> str | None:
        """Write; with etag, only if unchanged (Conflict otherwise). Returns the new etag."""
        return self.store.replace(proposal.entity(etag)).etag


@dataclass(frozen=True)
class ApprovalSettings:
    approvers: frozenset[str] = frozenset()  # Entra object ids (lower-case)
    ttl: timedelta = timedelta(hours=72)
    base_url: str = "https://<function-app>.azurewebsites.net/api"
    app_client_id: str = "<app-client-id>"  # the App Service Authentication app registration
    require_platform_auth: bool = True


def settings_from_env(environ: Mapping[str, str]) -> ApprovalSettings:
    from warden.config import ConfigError

    approvers = frozenset(p.strip().lower() for p in (environ.get("DRIFTWARDEN_APPROVER_OBJECT_IDS") or "").split(",")
                          if p.strip())
    bad = [p for p in approvers if not GUID.match(p)]
    if bad:
        raise ConfigError(f"DRIFTWARDEN_APPROVER_OBJECT_IDS: {bad} are not Entra object ids (GUIDs)")
    try:
        hours = float(environ.get("DRIFTWARDEN_PROPOSAL_TTL_HOURS") or 72)
    except ValueError:
        raise ConfigError("DRIFTWARDEN_PROPOSAL_TTL_HOURS must be a number of hours") from None
    if not 0 < hours <= 24 * 30:
        raise ConfigError("DRIFTWARDEN_PROPOSAL_TTL_HOURS must be between 0 and 720")
    host = environ.get("WEBSITE_HOSTNAME")
    base = environ.get("DRIFTWARDEN_APPROVAL_BASE_URL") or (f"https://{host}/api" if host else ApprovalSettings.base_url)
    return ApprovalSettings(approvers, timedelta(hours=hours), base,
                            environ.get("WEBSITE_AUTH_CLIENT_ID") or ApprovalSettings.app_client_id,
                            require_platform_auth=True)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Proposals:
    """What the engine calls where a revert is held back: create or refresh the proposal of a finding."""

    def __init__(self, store: ProposalStore, settings: ApprovalSettings = ApprovalSettings(),
                 clock: Callable[[], datetime] = _utcnow):
        self.store = store
        self.settings = settings
        self.clock = clock

    def propose(self, change: Any, check: Check, mode: Mode, guard: Guard | None, resource: Mapping[str, Any],
                etag: str | None, observed: Mapping[str, Any] | None = None) -> Proposal | None:
        if not proposable(check, mode, guard):
            return None
        kind = remediators.kind_for(change.resource_type)
        if kind is None:
            return None
        body = check.fix.body(resource)
        now = self.clock()
        from warden.tickets import ticket_key

        for existing, existing_etag in self.store.of_resource(change.resource_id):
            if existing.check_id != check.id or existing.status != PENDING or existing.expires_at <= now:
                continue
            if existing.body == body:  # the same write: keep its id (and the links already sent), refresh the rest
                existing.etag, existing.expires_at = etag, now + self.settings.ttl
                existing.caller, existing.event_id = change.caller.as_dict(), change.event_id
                existing.observed = dict(observed or {})
                try:
                    self.store.save(existing, existing_etag)
                    return existing
                except Conflict:
                    continue
            existing.status = SUPERSEDED
            try:
                self.store.save(existing, existing_etag)
            except Conflict:
                pass
        proposal = Proposal(
            id=resource_partition(change.resource_id)[2:] + secrets.token_hex(8), resource_id=change.resource_id,
            resource_type=kind.type, check_id=check.id, api_version=kind.api_version, body=body, etag=etag,
            created_at=now, expires_at=now + self.settings.ttl, caller=change.caller.as_dict(),
            observed=dict(observed or {}), event_id=change.event_id, correlation_id=change.correlation_id,
            ticket_key=ticket_key(change.resource_id, check.id))
        self.store.store.insert(proposal.entity())
        return proposal

    def for_ticket(self, proposal: Proposal) -> dict[str, Any]:
        url = proposal.url(self.settings.base_url)
        return {"id": proposal.id, "method": "PATCH", "url": f"{proposal.resource_id}?api-version={proposal.api_version}",
                "etag": proposal.etag, "body": proposal.body, "expires_at": iso(proposal.expires_at),
                "approve_url": url,
                "approve_command": (f'curl -X POST "{url}" -H "x-functions-key: <function key>" '
                                    f'-H "Authorization: Bearer $(az account get-access-token --resource '
                                    f'{self.settings.app_client_id} --query accessToken -o tsv)"')}

    def attach_ticket(self, proposal: Proposal, reference: str) -> None:
        found = self.store.get(proposal.id)
        if found is None:
            return
        current, etag = found
        current.ticket = str(reference)
        try:
            self.store.save(current, etag)
        except Conflict:  # approved meanwhile: the ticket reference is a convenience, not a fact to fight over
            log.info("proposal %s changed before its ticket reference was stored", proposal.id)


# -- approving ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ApprovalResult:
    status: int
    body: dict[str, Any]


class ApprovalService:
    def __init__(self, arm: Any, proposals: Proposals, recorder: Any, tickets: Any = None,
                 settings: ApprovalSettings | None = None, clock: Callable[[], datetime] | None = None,
                 lease: timedelta = timedelta(minutes=2)):
        self.arm = arm
        self.proposals = proposals
        self.store = proposals.store
        self.recorder = recorder
        self.tickets = tickets
        self.settings = settings or proposals.settings
        self.clock = clock or proposals.clock
        self.lease = lease

    def approve(self, proposal_id: str, principal: Principal | None, platform_auth: bool) -> ApprovalResult:
        if self.settings.require_platform_auth and not platform_auth:
            return ApprovalResult(403, {"status": "refused", "reason": "App Service Authentication is off: the "
                                        "client-principal headers cannot be trusted, so no approval is accepted"})
        if principal is None:
            return ApprovalResult(401, {"status": "refused", "reason": "sign in with Microsoft Entra ID: no client "
                                        "principal on the request"})
        found = self.store.get(proposal_id)
        if principal.object_id not in self.settings.approvers:
            self._record_refusal(proposal_id, found[0] if found else None, principal)
            return ApprovalResult(403, {"status": "refused", "reason": f"object id {principal.object_id} is not on "
                                        f"the approver allowlist (DRIFTWARDEN_APPROVER_OBJECT_IDS)"})
        if found is None:
            return ApprovalResult(404, {"status": "unknown", "reason": "no such proposal"})
        proposal, etag = found
        now = self.clock()
        if proposal.status in (APPLIED, APPLYING) and proposal.approved_by and \
                (proposal.status == APPLIED or (proposal.lease_until and proposal.lease_until > now)):
            # A replay (or a concurrent second click): say what happened, write nothing.
            return ApprovalResult(200 if proposal.status == APPLIED else 409, {
                "status": "already-applied" if proposal.status == APPLIED else "in-progress",
                "approved_by": proposal.approved_by, "approved_at": iso(proposal.approved_at) if proposal.approved_at else None,
                "result": proposal.result, "proposal_id": proposal.id})
        if proposal.status not in (PENDING, APPLYING):
            return ApprovalResult(409 if proposal.status != EXPIRED else 410, {
                "status": proposal.status, "proposal_id": proposal.id, "superseded_by": proposal.superseded_by or None,
                "reason": proposal.result or f"the proposal is {proposal.status}"})
        if proposal.expires_at <= now:
            proposal.status, proposal.result = EXPIRED, f"expired at {iso(proposal.expires_at)}"
            self._save_quietly(proposal, etag)
            return ApprovalResult(410, {"status": EXPIRED, "proposal_id": proposal.id, "reason": proposal.result +
                                        "; the next event or sweep proposes the fix again if it is still needed"})
        who = f"{principal.name + ' ' if principal.name else ''}oid={principal.object_id}"
        proposal.status, proposal.approved_by, proposal.approved_at = APPLYING, who, now
        proposal.lease_until = now + self.lease
        try:
            etag = self.store.save(proposal, etag)
        except Conflict:
            return ApprovalResult(409, {"status": "in-progress", "proposal_id": proposal.id,
                                        "reason": "another approval of this proposal is being applied"})
        return self._apply(proposal, etag, principal, who)

    def _apply(self, proposal: Proposal, etag: str | None, principal: Principal, who: str) -> ApprovalResult:
        from warden.arm import ArmError, PreconditionFailed, ResourceGone

        check = remediators.check_by_id(proposal.check_id)
        try:
            current = self.arm.get(proposal.resource_id, proposal.api_version)
        except ResourceGone:
            return self._finish(proposal, etag, OBSOLETE, 410, "the resource no longer exists; nothing was written", principal)
        except ArmError as error:
            return self._release(proposal, etag, error, principal)
        body_now = check.fix.body(current.body) if check and check.fix else None
        if current.etag != proposal.etag or (proposal.etag is None and body_now != proposal.body):
            return self._stale(proposal, etag, current, check, principal)
        try:
            result = self.arm.patch(proposal.resource_id, proposal.api_version, proposal.body, proposal.etag)
        except PreconditionFailed:
            current = self.arm.get(proposal.resource_id, proposal.api_version)
            return self._stale(proposal, etag, current, check, principal)
        except ResourceGone:
            return self._finish(proposal, etag, OBSOLETE, 410, "the resource no longer exists; nothing was written", principal)
        except ArmError as error:
            return self._release(proposal, etag, error, principal)
        final = result.body if result.done and result.body else None
        if result.done and final is None:
            final = self.arm.get(proposal.resource_id, proposal.api_version).body
        ctx = CheckContext(operation="approval")
        action = Action.REVERTED if result.done else Action.PENDING
        verified = check.evaluate(final, ctx) if final is not None else None
        if verified is not None and not verified.passed:
            action = Action.FAILED
        reason = f"approved by {who} (proposal {proposal.id}): minimal PATCH applied with If-Match {proposal.etag}"
        after = {path: _get(final, path) for path in proposal.observed} if final is not None else {}
        record = self._event(proposal, principal, outcome={Action.REVERTED: Outcome.REVERTED, Action.PENDING: Outcome.PENDING,
                                                           Action.FAILED: Outcome.FAILED}[action], reason=reason)
        record.actions.append(self._action(proposal, action, reason, after=after,
                                           error=None if action is not Action.FAILED else
                                           f"write succeeded but the re-read still fails: {verified.detail}"))
        self.recorder.record(record)
        proposal.status = APPLIED
        proposal.result = f"{action.value}: PATCH answered {result.status_code}"
        proposal.lease_until = None
        self._save_quietly(proposal, etag)
        if self.tickets is not None and action is Action.REVERTED:
            self.tickets.resolve(proposal.resource_id, [proposal.check_id],
                                 f"the proposed fix was approved by {who} and applied")
        return ApprovalResult(200, {"status": "applied", "action": action.value, "proposal_id": proposal.id,
                                    "approved_by": who, "resource_id": proposal.resource_id, "check": proposal.check_id})

    def _stale(self, proposal: Proposal, etag: str | None, current: Any, check: Check, principal: Principal) -> ApprovalResult:
        """The resource changed since the proposal: write nothing; evaluate again and say what that means."""
        evaluation = check.evaluate(current.body, CheckContext(operation="approval"))
        answer: dict[str, Any] = {"status": STALE, "proposal_id": proposal.id, "proposed_etag": proposal.etag,
                                  "current_etag": current.etag, "still_failing": not evaluation.passed,
                                  "detail": evaluation.detail}
        if evaluation.passed:
            reason = "the resource changed since the proposal and the check passes now; nothing was written"
            status = OBSOLETE
        else:
            fresh = Proposal(
                id=resource_partition(proposal.resource_id)[2:] + secrets.token_hex(8), resource_id=proposal.resource_id,
                resource_type=proposal.resource_type, check_id=proposal.check_id, api_version=proposal.api_version,
                body=check.fix.body(current.body), etag=current.etag, created_at=self.clock(),
                expires_at=self.clock() + self.settings.ttl, caller=proposal.caller, observed=dict(evaluation.observed),
                event_id=proposal.event_id, correlation_id=proposal.correlation_id, ticket_key=proposal.ticket_key,
                ticket=proposal.ticket)
            self.store.store.insert(fresh.entity())
            proposal.superseded_by = fresh.id
            reason = (f"the resource changed since the proposal (etag {proposal.etag} -> {current.etag}) and the check "
                      f"still fails; nothing was written: review and approve proposal {fresh.id}")
            answer.update(new_proposal_id=fresh.id, approve_url=fresh.url(self.settings.base_url), body=fresh.body)
            status = STALE
        answer["reason"] = reason
        record = self._event(proposal, principal, Outcome.IGNORED, f"approval not applied: {reason}")
        self.recorder.record(record)
        proposal.status, proposal.result, proposal.lease_until = status, reason, None
        self._save_quietly(proposal, etag)
        return ApprovalResult(409, answer)

    def _finish(self, proposal: Proposal, etag: str | None, status: str, code: int, reason: str,
                principal: Principal) -> ApprovalResult:
        self.recorder.record(self._event(proposal, principal, Outcome.GONE, f"approval not applied: {reason}"))
        proposal.status, proposal.result, proposal.lease_until = status, reason, None
        self._save_quietly(proposal, etag)
        return ApprovalResult(code, {"status": status, "proposal_id": proposal.id, "reason": reason})

    def _release(self, proposal: Proposal, etag: str | None, error: Exception, principal: Principal) -> ApprovalResult:
        """ARM failed: record it, give the proposal back (pending) so the approver can try again."""
        reason = f"approved by {proposal.approved_by} but ARM failed: {error}"
        record = self._event(proposal, principal, Outcome.FAILED, reason)
        record.actions.append(self._action(proposal, Action.FAILED, reason, error=str(error)))
        record.error = str(error)
        self.recorder.record(record)
        proposal.status, proposal.approved_by, proposal.approved_at, proposal.lease_until = PENDING, "", None, None
        proposal.result = reason
        self._save_quietly(proposal, etag)
        return ApprovalResult(502, {"status": "failed", "proposal_id": proposal.id, "reason": reason})

    def _save_quietly(self, proposal: Proposal, etag: str | None) -> None:
        try:
            self.store.save(proposal, etag)
        except Conflict:
            log.warning("proposal %s changed while it was being decided", proposal.id)

    def _record_refusal(self, proposal_id: str, proposal: Proposal | None, principal: Principal) -> None:
        reason = f"approval refused: object id {principal.object_id} is not on the approver allowlist"
        self.recorder.record(EventRecord(
            f"approval:{proposal_id[:64]}:{secrets.token_hex(4)}", None, "Driftwarden.ProposalApproval",
            proposal.resource_id if proposal else None, proposal.resource_type if proposal else None, "approve",
            Outcome.INVALID, reason, Caller(object_id=principal.object_id, name=principal.name), source="approval"))

    def _event(self, proposal: Proposal, principal: Principal, outcome: Outcome, reason: str) -> EventRecord:
        return EventRecord(f"approval:{proposal.id}", proposal.correlation_id, "Driftwarden.ProposalApproval",
                           proposal.resource_id, proposal.resource_type, "approve", outcome, reason,
                           Caller(object_id=principal.object_id, name=principal.name), source="approval")

    def _action(self, proposal: Proposal, action: Action, reason: str, after: Mapping[str, Any] | None = None,
                error: str | None = None) -> ActionRecord:
        check = remediators.check_by_id(proposal.check_id)
        caller = proposal.caller or {}
        return ActionRecord(
            event_id=f"approval:{proposal.id}", correlation_id=proposal.correlation_id, resource_id=proposal.resource_id,
            resource_type=proposal.resource_type, check_id=proposal.check_id,
            severity=check.severity.value if check else "", mode="approval", action=action, reason=reason,
            caller=Caller(caller.get("oid"), caller.get("appid"), caller.get("name"), caller.get("ipaddr")),
            before=dict(proposal.observed), after=dict(after or {}), ticket=proposal.ticket or None, error=error,
            source="approval")


def _get(document: Mapping[str, Any] | None, path: str) -> Any:
    from remediators import props

    return props.get(document, path) if document is not None else None


# -- wiring ---------------------------------------------------------------------------------------------

def build_proposals(environ: Mapping[str, str], service: Any = None, credential: Any = None,
                    store: EntityStore | None = None) -> Proposals | None:
    """The engine's proposal hook, or None when no Table Storage is configured (then held-back reverts are
    tickets only)."""
    if store is None:
        from warden.ticketing.factory import table_store

        store = table_store(environ, PROPOSALS_TABLE, service, credential)
    if store is None:
        return None
    return Proposals(ProposalStore(store), settings_from_env(environ))


_service: ApprovalService | None = None
_service_lock = threading.Lock()


def install_approval_service(service: ApprovalService | None) -> None:
    """Use this service for the HTTP function (a host embedding the app, or a test); None rebuilds from settings."""
    global _service
    with _service_lock:
        _service = service


def approval_service() -> ApprovalService:
    """The process's approval service, built on first use from the app settings and the runtime's clients."""
    global _service
    with _service_lock:
        if _service is None:
            from warden.config import ConfigError
            from warden.runtime import get_runtime

            engine = get_runtime().engine
            proposals = getattr(engine, "proposals", None) or build_proposals(os.environ)
            if proposals is None:
                raise ConfigError("approvals need Table Storage (DRIFTWARDEN_STORAGE_CONNECTION_STRING or "
                                  "DRIFTWARDEN_STORAGE_ACCOUNT)")
            _service = ApprovalService(engine.arm, proposals, engine.recorder, engine.tickets)
        return _service


def platform_auth_enabled(environ: Mapping[str, str]) -> bool:
    """App Service sets WEBSITE_AUTH_ENABLED when Authentication is on; only then are the principal headers set
    by the platform (and stripped from what callers send)."""
    return (environ.get("WEBSITE_AUTH_ENABLED") or "").strip().lower() == "true"
