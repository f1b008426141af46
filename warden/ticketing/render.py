"""What a ticket says, once, as a small document; and one renderer per tracker format.

The document keeps apart what we wrote (`Ours`: check metadata, labels, our links) from what came from Azure
or the caller (`Value`, `Code`: resource names, tags, claims, error strings). Each renderer puts untrusted
text where its format shows it literally (shared/reference/ticket-apis.md, "Untrusted text"):

- GitHub Markdown: code spans and fences longer than any backtick run in the value: no mention, reference,
  link, HTML or comment inside code is live.
- Azure DevOps HTML: html.escape(quote=True) inside <code>/<pre>; all other markup from a fixed template.
- ServiceNow: plain text; in journal fields every `[code]`/`[/code]` is broken with a zero-width space.
- Jira ADF: JSON nodes built as data; untrusted text only ever in `text` nodes (literal), never as a link
  mark or a mention node; no empty text nodes.
- Teams Adaptive Cards: untrusted text only in RichTextBlock TextRuns (not parsed as Markdown), with `<at>`
  removed and `{{` broken; links only in Action.OpenUrl built from our URLs.
"""
from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Union

from warden.tickets import Ticket

VALUE_MAX = 600  # one untrusted inline value (a name, a claim, a detail line)
CODE_MAX = 6000  # one untrusted block (JSON, a command)
ZWSP = "\u200b"
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Ours:
    text: str


@dataclass(frozen=True)
class Value:
    text: str


@dataclass(frozen=True)
class Link:
    label: str
    url: str  # built by us (portal link, ticket URL), never taken from resource data


Inline = Union[Ours, Value, Link]


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Para:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Items:
    rows: tuple[tuple[str, tuple[Inline, ...]], ...]  # (our label, inlines)


@dataclass(frozen=True)
class Code:
    text: str


Block = Union[Heading, Para, Items, Code]


# -- sanitising helpers (shared) ---------------------------------------------------------------------------

def clean_inline(text: Any, limit: int = VALUE_MAX) -> str:
    """One line, no control or bidi-override characters, bounded."""
    value = _CONTROL.sub(" ", str(text).replace("\r\n", " ").replace("\n", " ").replace("\t", " "))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def clean_block(text: Any, limit: int = CODE_MAX) -> str:
    value = str(text).replace("\r\n", "\n").replace("\r", "\n")
    value = _CONTROL.sub(" ", value.replace("\t", "    "))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def plain_title(text: str, limit: int) -> str:
    return clean_inline(text, limit)


# -- the document --------------------------------------------------------------------------------------

def _caller(changed_by: dict[str, Any]) -> str:
    parts = [str(changed_by[k]) for k in ("name",) if changed_by.get(k)]
    parts += [f"{k}={changed_by[k]}" for k in ("oid", "appid", "ipaddr") if changed_by.get(k)]
    return " ".join(parts) or "unknown caller"


def ticket_document(ticket: Ticket) -> list[Block]:
    rows: list[tuple[str, tuple[Inline, ...]]] = [
        ("Resource", (Value(ticket.resource_id),)),
        ("Portal", (Link("Open in the Azure portal", ticket.portal_url),)),
        ("Check", (Ours(f"{ticket.check_id} ({ticket.severity})"),)),
        ("What changed", (Value(ticket.what_changed),)),
        ("Changed by", (Value(_caller(ticket.changed_by)),)),
        ("When", (Value(ticket.changed_at or "unknown (found by a sweep)"),)),
    ]
    if ticket.event_id:
        rows.append(("Event", (Value(ticket.event_id),)))
    if ticket.correlation_id:
        rows.append(("Correlation id", (Value(ticket.correlation_id),)))
    blocks: list[Block] = [Heading("What drifted"), Items(tuple(rows))]
    if ticket.observed:
        blocks += [Para((Ours("Values as read from Azure Resource Manager:"),)),
                   Code(json.dumps(ticket.observed, indent=2, sort_keys=True, default=str))]
    blocks += [Heading("Why it matters"), Para((Ours(ticket.why_it_matters),))]
    if ticket.policies:
        blocks.append(Items(tuple(("Azure Policy", (Ours(p),)) for p in ticket.policies)))
    blocks += [Heading("Why Driftwarden did not revert it"), Para((Ours("Decision:"), Value(ticket.why_not_reverted))),
               Heading("Blast radius of the fix"), Para((Ours(ticket.blast_radius),)),
               Heading("How to fix it"),
               Para((Ours("Azure CLI:"),)), Code(ticket.fix.get("cli", "")),
               Para((Ours("Bicep property:"),)), Code(ticket.fix.get("bicep", "")),
               Items((("Portal", (Ours(ticket.fix.get("portal", "")),)),))]
    blocks += [Heading("How to exempt this resource"),
               Para((Ours(f"Set all three tags on the resource (the reason is required; {ticket.exempt_with.get('note', '')}):"),)),
               Code(ticket.exempt_command or "\n".join(f"{k}={v}" for k, v in ticket.exempt_with.items() if k != "note"))]
    if ticket.proposal:
        blocks += proposal_blocks(ticket.proposal)
    blocks.append(Para((Ours(f"Opened by Driftwarden. One ticket per resource and check (key {ticket.key}): a "
                             f"recurrence is added as a comment, and the ticket is closed when the check passes."),)))
    return blocks


def proposal_blocks(proposal: dict[str, Any]) -> list[Block]:
    patch = {"method": proposal.get("method", "PATCH"), "url": proposal.get("url", ""),
             "If-Match": proposal.get("etag"), "body": proposal.get("body")}
    return [Heading("Approve the proposed fix"),
            Para((Ours("Driftwarden holds back this revert. An approver on the allowlist can apply exactly this "
                       "write; it is applied only while the resource's etag is unchanged, and the proposal "
                       f"expires at {proposal.get('expires_at')}."),)),
            Items((("Proposal", (Ours(str(proposal.get("id", ""))),)),)),
            Code(json.dumps(patch, indent=2, default=str)),
            Para((Ours("To approve (signed in with Microsoft Entra ID, with the function key):"),)),
            Code(str(proposal.get("approve_command", "")))]


def recurrence_document(ticket: Ticket, occurrences: int) -> list[Block]:
    seen = f" (occurrence {occurrences})" if occurrences else ""
    return [Para((Ours(f"The finding was seen again{seen}."),)),
            Items((("What changed", (Value(ticket.what_changed),)),
                   ("Changed by", (Value(_caller(ticket.changed_by)),)),
                   ("When", (Value(ticket.changed_at or "unknown (found by a sweep)"),)),
                   ("Why not reverted", (Value(ticket.why_not_reverted),)))),
            *(proposal_blocks(ticket.proposal) if ticket.proposal else [])]


def resolution_document(note: str) -> list[Block]:
    return [Para((Ours("Driftwarden re-read the resource and the check passes now; closing."),)),
            Items((("Why", (Value(note),)),))]


# -- GitHub Flavored Markdown -----------------------------------------------------------------------------

def _longest_run(text: str, char: str) -> int:
    runs = re.findall(f"{re.escape(char)}+", text)
    return max((len(r) for r in runs), default=0)


def md_code_span(text: str) -> str:
    value = clean_inline(text)
    if not value.strip():
        value = "(empty)"
    fence = "`" * (_longest_run(value, "`") + 1)
    if value.startswith("`") or value.endswith("`") or (value.startswith(" ") and value.endswith(" ")):
        value = f" {value} "
    return f"{fence}{value}{fence}"


def md_code_block(text: str) -> str:
    value = clean_block(text)
    fence = "`" * max(3, _longest_run(value, "`") + 1)
    return f"{fence}text\n{value}\n{fence}"


def md_title(text: str, limit: int = 256) -> str:
    """Titles render references and mentions: break `@` and `#` with a zero-width space."""
    value = plain_title(text, limit - 8)
    return value.replace("@", "@" + ZWSP).replace("#", "#" + ZWSP)


def _md_inline(part: Inline) -> str:
    # (A paragraph never starts with a code span: three backticks at a line start could read as a fence.)
    if isinstance(part, Value):
        return md_code_span(part.text)
    if isinstance(part, Link):
        return f"[{part.label}]({part.url})"
    return part.text


def to_markdown(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"### {block.text}")
        elif isinstance(block, Para):
            out.append(" ".join(_md_inline(p) for p in block.parts))
        elif isinstance(block, Items):
            out.append("\n".join(f"- **{label}:** " + " ".join(_md_inline(p) for p in parts) for label, parts in block.rows))
        elif isinstance(block, Code):
            out.append(md_code_block(block.text))
    return "\n\n".join(out)


# -- Azure DevOps HTML ------------------------------------------------------------------------------------

def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_inline(part: Inline) -> str:
    if isinstance(part, Value):
        return f"<code>{_esc(clean_inline(part.text))}</code>"
    if isinstance(part, Link):
        return f'<a href="{_esc(part.url)}">{_esc(part.label)}</a>'
    return _esc(part.text)


def to_html(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"<h3>{_esc(block.text)}</h3>")
        elif isinstance(block, Para):
            out.append("<p>" + " ".join(_html_inline(p) for p in block.parts) + "</p>")
        elif isinstance(block, Items):
            rows = "".join(f"<li><b>{_esc(label)}:</b> " + " ".join(_html_inline(p) for p in parts) + "</li>"
                           for label, parts in block.rows)
            out.append(f"<ul>{rows}</ul>")
        elif isinstance(block, Code):
            out.append(f"<pre>{_esc(clean_block(block.text))}</pre>")
    return "".join(out)


# -- ServiceNow plain text and journal ------------------------------------------------------------------

_CODE_TAG = re.compile(r"\[(\s*/?\s*code\s*\])", re.IGNORECASE)


def journal_safe(text: str) -> str:
    """Journal fields render HTML between [code] and [/code]: break every such tag (a zero-width space after
    the bracket), never with an entity (outside code tags it would show literally)."""
    return _CODE_TAG.sub("[" + ZWSP + r"\1", text)


def _plain_inline(part: Inline) -> str:
    if isinstance(part, Value):
        return clean_inline(part.text)
    if isinstance(part, Link):
        return f"{part.label}: {part.url}"
    return part.text


def to_plain(blocks: Iterable[Block]) -> str:
    out: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            out.append(f"== {block.text} ==")
        elif isinstance(block, Para):
            out.append(" ".join(_plain_inline(p) for p in block.parts))
        elif isinstance(block, Items):
            out.append("\n".join(f"- {label}: " + " ".join(_plain_inline(p) for p in parts) for label, parts in block.rows))
        elif isinstance(block, Code):
            out.append("\n".join("    " + line for line in clean_block(block.text).split("\n")))
    return journal_safe("\n\n".join(out))


# -- Jira Atlassian Document Format -------------------------------------------------------------------

def _adf_text(text: str, marks: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    if not text:
        return []  # ADF rejects empty text nodes
    node: dict[str, Any] = {"type": "text", "text": text}
    if marks:
        node["marks"] = marks
    return [node]


def _adf_inline(part: Inline) -> list[dict[str, Any]]:
    if isinstance(part, Value):
        value = clean_inline(part.text)
        return _adf_text(value if value.strip() else "(empty)", [{"type": "code"}])
    if isinstance(part, Link):
        return _adf_text(part.label, [{"type": "link", "attrs": {"href": part.url}}])
    return _adf_text(part.text)


def _adf_paragraph(parts: Iterable[Inline], label: str | None = None) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if label:
        content += _adf_text(f"{label}:", [{"type": "strong"}]) + _adf_text(" ")
    for index, part in enumerate(parts):
        if index:
            content += _adf_text(" ")
        content += _adf_inline(part)
    return {"type": "paragraph", "content": content}


def to_adf(blocks: Iterable[Block]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for block in blocks:
        if isinstance(block, Heading):
            content.append({"type": "heading", "attrs": {"level": 3}, "content": _adf_text(block.text)})
        elif isinstance(block, Para):
            content.append(_adf_paragraph(block.parts))
        elif isinstance(block, Items):
            content.append({"type": "bulletList", "content": [
                {"type": "listItem", "content": [_adf_paragraph(parts, label)]} for label, parts in block.rows]})
        elif isinstance(block, Code):
            text = clean_block(block.text)
            if text:
                content.append({"type": "codeBlock", "attrs": {"language": "text"}, "content": _adf_text(text)})
    return {"type": "doc", "version": 1, "content": content}


# -- Teams Adaptive Card -----------------------------------------------------------------------------------

_AT_TAG = re.compile(r"</?\s*at\b[^>]*>", re.IGNORECASE)


def card_text(text: str) -> str:
    """TextRun text is not Markdown; still remove <at> mention tags and break {{DATE()}} style functions."""
    return _AT_TAG.sub("", text).replace("{{", "{" + ZWSP + "{")


def _runs(parts: Iterable[Inline], label: str | None = None) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    if label:
        runs.append({"type": "TextRun", "text": card_text(f"{label}: "), "weight": "Bolder"})
    for part in parts:
        if isinstance(part, Value):
            value = clean_inline(part.text, 300)
            runs.append({"type": "TextRun", "text": card_text(value or "(empty)"), "fontType": "Monospace"})
        elif isinstance(part, Link):
            runs.append({"type": "TextRun", "text": card_text(part.label)})  # the URL goes into an action
        else:
            runs.append({"type": "TextRun", "text": card_text(part.text)})
        runs.append({"type": "TextRun", "text": " "})
    return runs[:-1] if runs and runs[-1]["text"] == " " else runs


def to_card_body(title: str, blocks: Iterable[Block]) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = [{"type": "RichTextBlock", "inlines": [
        {"type": "TextRun", "text": card_text(clean_inline(title, 200)), "weight": "Bolder", "size": "Medium"}]}]
    for block in blocks:
        if isinstance(block, Heading):
            body.append({"type": "RichTextBlock", "inlines": [{"type": "TextRun", "text": card_text(block.text),
                                                               "weight": "Bolder"}], "spacing": "Medium"})
        elif isinstance(block, Para):
            body.append({"type": "RichTextBlock", "inlines": _runs(block.parts)})
        elif isinstance(block, Items):
            for label, parts in block.rows:
                body.append({"type": "RichTextBlock", "inlines": _runs(parts, label), "spacing": "None"})
        elif isinstance(block, Code):
            body.append({"type": "RichTextBlock", "inlines": [
                {"type": "TextRun", "text": card_text(clean_block(block.text, 1500)), "fontType": "Monospace"}]})
    return body


def adaptive_card(title: str, blocks: Iterable[Block], links: Iterable[Link] = ()) -> dict[str, Any]:
    """The Workflows webhook message: one Adaptive Card (schema 1.4), actions only from our own URLs."""
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive",
        "contentUrl": None,
        "content": {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": to_card_body(title, blocks),
            "actions": [{"type": "Action.OpenUrl", "title": link.label, "url": link.url} for link in links],
        }}]}
