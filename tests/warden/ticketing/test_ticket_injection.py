"""Untrusted text (resource names, tag values, caller claims, error strings) renders inert in every tracker's
format: no markup, link, HTML, journal [code] block or @mention gets through. Checked on what each fake
received, and as a property: hostile values never change the structure of a rendered document."""
from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from hypothesis import given, settings, strategies as st

from tests.warden.ticketing.conftest import make_ticket
from warden.model import Caller
from warden.ticketing import render
from warden.tickets import portal_url

SUB = "00000000-1111-2222-3333-444444444444"
NAME = "oai`x`<img src=x onerror=alert(1)>@octocat[click](https://evil.example)<!--"
HOSTILE_ID = f"/subscriptions/{SUB}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/{NAME}"
CALLER = Caller("0000aaaa-0000-4000-8000-000000000001", None,
                "@org/security-team <at>Boss</at> {{DATE(2020-01-01T00:00:00Z)}} [code]<a href=https://evil.example>x</a>[/code]")
DETAIL = ("disableLocalAuth is 'x'\n# heading\n```\n<script>alert(1)</script> *bold* h1. wiki [~accountid:123] "
          "[CODE]<b>x</b>[/Code] https://evil.example/path")
REASON = "exemption not honoured: warden-exempt-until '2099-01-01 <a href=\"https://evil.example\">renew</a> @admin'"
EVIL = "evil.example"


def hostile_ticket():
    return make_ticket(HOSTILE_ID, detail=DETAIL, caller=CALLER, reason=REASON)


# -- a CommonMark reading of code spans and fences, to see what GitHub would parse outside code -----------

def outside_code(markdown: str) -> str:
    """The Markdown with every fenced block and code span replaced by a placeholder (CommonMark rules: a fence
    closes at a line of at least as many of its characters; a span closes at a backtick run of equal length)."""
    lines, out, fence = markdown.split("\n"), [], None
    for line in lines:
        stripped = line.lstrip(" ")
        if fence is not None:
            if stripped.startswith(fence) and not stripped.strip(fence[0]).strip():
                fence = None
            continue
        m = re.match(r"(`{3,}|~{3,})(.*)", stripped)
        if m and not (m.group(1)[0] == "`" and "`" in m.group(2)):  # a backtick fence's info has no backtick
            fence = m.group(1)
            out.append("<CODEBLOCK>")
            continue
        result, i = [], 0
        while i < len(line):
            if line[i] == "`":
                run = re.match(r"`+", line[i:]).group(0)
                close = re.search(rf"(?<!`){run}(?!`)", line[i + len(run):])
                if close:
                    result.append("<CODE>")
                    i += len(run) + close.end()
                    continue
                result.append(run)
                i += len(run)
                continue
            result.append(line[i])
            i += 1
        out.append("".join(result))
    return "\n".join(out)


def test_github_issue_body_keeps_every_untrusted_value_in_code(make_case, durable):
    case = make_case("github")
    durable(case.tracker()).open(hostile_ticket())
    (issue,) = case.fake.issues()
    link = f"[Open in the Azure portal]({portal_url(HOSTILE_ID)})"
    assert link in issue.body  # the only link: our own, with the name percent-encoded inside it
    prose = outside_code(issue.body).replace(link, "<LINK>")
    assert EVIL not in prose and "<img" not in prose and "<script" not in prose and "<a " not in prose
    assert "@" not in prose
    assert prose.count("<!--") == 1 and issue.body.startswith("<!-- driftwarden:dw-")  # only our marker
    assert "@\u200borg" in issue.title or "@" not in issue.title.replace("@\u200b", "")
    assert NAME in issue.body  # shown, literally


def test_azure_devops_description_is_escaped_html_from_a_fixed_template(make_case, durable):
    case = make_case("azure-devops")
    durable(case.tracker()).open(hostile_ticket())
    (item,) = case.fake.items.values()
    html = item.fields["System.Description"]

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.hrefs, self.attributes = [], [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.attributes += [name for name, _ in attrs]
            self.hrefs += [value for name, value in attrs if name == "href"]

    parser = Tags()
    parser.feed(html)
    assert set(parser.tags) <= {"h3", "p", "ul", "li", "b", "code", "pre", "a"}
    assert parser.hrefs == [portal_url(HOSTILE_ID)]
    assert set(parser.attributes) == {"href"}  # no data-vss-mention, no onerror
    assert not set("<>\"' ()") & set(parser.hrefs[0])


def test_servicenow_journal_has_no_live_code_tag_and_description_is_plain(make_case, durable):
    case = make_case("servicenow")
    sink = durable(case.tracker())
    sink.open(hostile_ticket())
    sink.open(hostile_ticket())  # a work note
    (incident,) = case.fake.incidents.values()
    notes = [text for _, text in case.fake.journal[incident["sys_id"]]]
    assert notes and not any(re.search(r"\[\s*/?\s*code\s*\]", n, re.IGNORECASE) for n in notes)
    assert not re.search(r"\[\s*/?\s*code\s*\]", incident["description"], re.IGNORECASE)
    assert "\n# heading" not in incident["description"]  # untrusted newlines cannot start lines of their own
    assert len(incident["short_description"]) <= 160


def test_jira_adf_holds_untrusted_text_only_in_text_nodes_and_links_only_to_the_portal(make_case, durable):
    case = make_case("jira")
    sink = durable(case.tracker())
    sink.open(hostile_ticket())
    sink.open(hostile_ticket())
    (issue,) = case.fake.issues.values()
    documents = [issue.fields["description"], *issue.comments]
    nodes = [node for doc in documents for node in _walk(doc)]
    assert not [n for n in nodes if n.get("type") in ("mention", "inlineCard", "media", "emoji")]
    hrefs = [m["attrs"]["href"] for n in nodes for m in n.get("marks", []) if m["type"] == "link"]
    assert hrefs == [portal_url(HOSTILE_ID)]
    assert all(n["text"] for n in nodes if n.get("type") == "text")
    assert any(CALLER.name in n.get("text", "") for n in nodes)  # literal


def test_teams_card_shows_untrusted_text_only_in_text_runs_without_mentions_or_functions(make_case, durable):
    case = make_case("teams")
    durable(case.tracker()).open(hostile_ticket())
    (card,) = case.fake.cards
    text = json.dumps(card)
    assert "msteams" not in text and "<at>" not in text.lower() and "{{" not in text
    assert {block["type"] for block in card["body"]} == {"RichTextBlock"}
    assert [a["url"] for a in card["actions"]] == [portal_url(HOSTILE_ID)]
    assert all(inline["type"] == "TextRun" for block in card["body"] for inline in block["inlines"])


def _walk(node):
    if isinstance(node, dict):
        yield node
        for child in node.get("content", []):
            yield from _walk(child)


# -- properties: hostile values never change a document's structure ---------------------------------------

untrusted = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80) | st.sampled_from(
    ["`", "``` ", "~~~", "<!--", "-->", "@team", "[x](https://e.example)", "[code]", "[/CODE]", "<at>a</at>",
     "{{DATE(x)}}", "\n\n# h", "| a | b |", "<script>", "\\", " `a` "])


def _documents(value: str):
    ticket = make_ticket(detail=value, caller=Caller(None, None, value), reason=value)
    benign = make_ticket(detail="x", caller=Caller(None, None, "x"), reason="x")
    return render.ticket_document(ticket), render.ticket_document(benign)


@settings(max_examples=150, deadline=None)
@given(untrusted)
def test_markdown_structure_outside_code_does_not_depend_on_untrusted_text(value):
    hostile, benign = _documents(value)
    assert outside_code(render.to_markdown(hostile)) == outside_code(render.to_markdown(benign))


@settings(max_examples=150, deadline=None)
@given(untrusted)
def test_html_tag_structure_does_not_depend_on_untrusted_text(value):
    hostile, benign = _documents(value)
    tags = lambda html: re.findall(r"</?[a-z0-9]+", html)  # noqa: E731
    assert tags(render.to_html(hostile)) == tags(render.to_html(benign))


@settings(max_examples=150, deadline=None)
@given(untrusted)
def test_adf_node_structure_does_not_depend_on_untrusted_text(value):
    hostile, benign = _documents(value)
    shape = lambda doc: [(n["type"], tuple(m["type"] for m in n.get("marks", []))) for n in _walk(doc)]  # noqa: E731
    assert shape(render.to_adf(hostile)) == shape(render.to_adf(benign))


@settings(max_examples=150, deadline=None)
@given(untrusted)
def test_servicenow_text_never_opens_a_code_tag(value):
    hostile, _ = _documents(value)
    assert not re.search(r"\[\s*/?\s*code\s*\]", render.to_plain(hostile), re.IGNORECASE)


@settings(max_examples=150, deadline=None)
@given(untrusted)
def test_card_text_never_mentions_or_evaluates_functions(value):
    hostile, _ = _documents(value)
    text = json.dumps(render.adaptive_card("t", hostile))
    assert "{{" not in text and not re.search(r"<\s*/?\s*at\b", text, re.IGNORECASE)


def test_portal_link_cannot_be_broken_out_of_by_a_resource_name():
    url = portal_url(HOSTILE_ID)
    assert not set("()[]<>\"'` @") & set(url)
    assert url.startswith("https://portal.azure.com/#resource/subscriptions/")


def test_cli_fix_and_exempt_commands_quote_the_resource_id_for_the_shell():
    ticket = make_ticket(HOSTILE_ID.replace(NAME, "a$(rm -rf ~)b"))
    assert "'/subscriptions/" in ticket.fix["cli"] and "$(rm" in ticket.fix["cli"]
    assert ticket.exempt_command.startswith("az tag update --resource-id '/subscriptions/")
    assert "warden-exempt-until=20" in ticket.exempt_command
