"""The fast paths of triage and the decision records read exactly as the general code they shortcut."""
from __future__ import annotations

import dataclasses
import json
import marshal
from datetime import datetime, time, timezone

import pytest
from hypothesis import given, settings, strategies as st

from remediators.base import Evaluation
from warden import events, exemptions, resource_id as rid
from warden.events import MAX_EVENT_BYTES, triage
from warden.model import Caller, ChangeKind, ResourceChange, Triage, Verdict
from warden.policy import Decision, FlapState, Plan
from tests.support.samples import arm_event

ACCOUNT = "/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod"
ACCOUNT_WRITE = "Microsoft.CognitiveServices/accounts/write"


# --- the size check: marshal's length bounds the JSON length --------------------------------------

_keys = st.one_of(st.text(), st.integers(-(2 ** 70), 2 ** 70), st.floats(), st.booleans(), st.none())
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2 ** 200), 2 ** 200), st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=())),  # any code point, lone surrogates included
    st.binary(), st.complex_numbers(), st.just(Ellipsis), st.just(StopIteration),
    st.frozensets(st.one_of(st.text(), st.integers(), st.booleans(), st.none()), max_size=4),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=6), st.tuples(inner, inner), st.dictionaries(_keys, inner, max_size=6),
                            st.sets(st.one_of(st.text(), st.integers(), st.booleans()), max_size=4)),
    max_leaves=40,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_json_is_never_longer_than_the_bound_marshal_gives(value):
    assert len(json.dumps(value, default=str)) <= events._JSON_CHARS_PER_MARSHAL_BYTE * len(marshal.dumps(value, 2))


@pytest.mark.parametrize("value", [
    {False: False}, [False] * 1000, {None: None}, [None] * 1000, [Ellipsis] * 100, [StopIteration] * 100,
    "\x00" * 1000, "\U0001F600" * 1000, "\ud800" * 100, b"\x00" * 1000, b"\\'\"" * 100, frozenset(), set(),
    [[]] * 100, [{}] * 100, {str(i): True for i in range(100)}, 1e15, -1.2345678901234567e-308, 2 ** 100,
])
def test_the_bound_holds_in_its_tightest_cases(value):
    assert len(json.dumps(value, default=str)) <= events._JSON_CHARS_PER_MARSHAL_BYTE * len(marshal.dumps(value, 2))


@pytest.mark.parametrize("padding, oversized", [
    ("x" * (MAX_EVENT_BYTES - 4000), False),
    ("x" * (MAX_EVENT_BYTES + 1), True),
    ("\u00e9" * 170_000, False),  # 340 KB as UTF-8, about 1.02 MB as JSON (each one is \u00e9)
    ("\u00e9" * 180_000, True),
])
def test_an_event_is_too_large_exactly_when_its_json_is(padding, oversized):
    event = arm_event(ACCOUNT, ACCOUNT_WRITE)
    event["data"]["padding"] = padding
    assert (len(json.dumps(event, default=str)) > MAX_EVENT_BYTES) is oversized
    assert ("larger than" in triage(event).reason) is oversized


def test_values_marshal_cannot_write_are_measured_as_json():
    class Opaque:
        def __str__(self):
            return "y" * (MAX_EVENT_BYTES + 1)

    event = arm_event(ACCOUNT, ACCOUNT_WRITE)
    event["data"]["opaque"] = Opaque()
    assert "larger than" in triage(event).reason
    event["data"]["opaque"] = datetime(2026, 1, 1)
    assert triage(event).verdict is Verdict.RELEVANT


# --- claims: exact look-ups when every claim name is lower-case already -----------------------------

def _caller_the_general_way(claims):
    lowered = {str(k).lower(): v for k, v in claims.items()}
    return events._caller_from(lowered.get)


@pytest.mark.parametrize("claims", [
    {"oid": "a", "appid": "b", "name": "c", "ipaddr": "d"},
    {"oid": "first", "OID": "second", "Name": "N", "name": " ", "upn": "u"},  # the last spelling wins, as before
    {"http://schemas.microsoft.com/identity/claims/objectidentifier": " ", "oid": "o", "AZP": "z"},
    {1: "x", "oid": "o"},
    {"\u212aey": "kelvin", "oid": "o"},  # KELVIN SIGN lower-cases to "k"
    {},
])
def test_caller_reads_the_claims_case_insensitively(claims):
    events._LOWER_CASE_CLAIMS.clear()
    assert events._caller(claims) == _caller_the_general_way(claims)
    assert events._caller(claims) == _caller_the_general_way(claims)  # again, with the names remembered


def test_remembered_claim_names_stay_bounded():
    events._LOWER_CASE_CLAIMS.clear()
    for batch in range(40):
        events._caller({f"claim-{batch}-{i}": "v" for i in range(100)})
    assert len(events._LOWER_CASE_CLAIMS) <= events._LOWER_CASE_CLAIMS_MAX


# --- event times -----------------------------------------------------------------------------------

def _time_the_general_way(text):
    try:
        if "." in text:
            head, _, tail = text.partition(".")
            digits = "".join(ch for ch in tail if ch.isdigit())
            text = f"{head}.{digits[:6]}{tail[len(digits):]}"
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), st.integers(0, 9_999_999),
       st.sampled_from(["Z", "", "+01:00", "z", "ZZ"]), st.sampled_from(["T", "Z", " ", "."]))
def test_event_grid_times_parse_as_the_general_rewrite_does(moment, fraction, zone, separator):
    text = moment.strftime(f"%Y-%m-%d{separator}%H:%M:%S") + f".{fraction:07d}{zone}"
    assert repr(events._time_of(text)) == repr(_time_the_general_way(text))


# --- resource ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("resource_id", [
    ACCOUNT, ACCOUNT + "/listKeys", ACCOUNT + "/privateEndpointConnections/pe1",
    "/SUBSCRIPTIONS/s/RESOURCEGROUPS/rg/PROVIDERS/ns/t/n//child/c/",
    "/subscriptions/s/providers/ns/t/n", "/subscriptions/s/resourceGroups/providers/providers/ns/t/n",
    "/subscriptions/s/resourceGroups/rg/providers/ns/t/n /child/c",  # a name that ends in a space
])
def test_canonical_ids_parse_like_any_other_text(resource_id):
    subscription, group, namespace, tail = rid.split(resource_id)
    parsed = rid.parse(resource_id)
    for depth in range(1, len(tail) // 2 + 1):
        text = rid.canonical(subscription, group, namespace, tail[:2 * depth])
        ancestor = rid.ResourceId(subscription, group, namespace, parsed.segments[:depth])
        assert text == str(ancestor)
        fresh = "".join(list(text))  # an equal string but another object: parse() splits it afresh
        assert fresh is not text and rid.parse(text) == rid.parse(fresh)


@pytest.mark.parametrize("bad", ["", "subscriptions/s", "/", "/subscriptions", "/tenants/t", "/subscriptions/s/foo",
                                 "/subscriptions/s/resourceGroups/rg/providers", None, 5])
def test_split_refuses_what_parse_refuses_with_the_same_message(bad):
    def refusal(read):
        with pytest.raises(rid.InvalidResourceId) as refused:
            read(bad)
        return str(refused.value)

    assert refusal(rid.split) == refusal(rid.parse)


# --- exemption dates ------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2026-12-20", "2024-02-29", "2026-02-29", "2026-04-31", "2026-13-01", "2026-00-10",
                                  "2026-01-00", "0000-01-01", "0001-01-01", "9999-12-31",
                                  "\uff12\uff10\uff12\uff16-\uff11\uff12-\uff12\uff10"])  # full-width digits
def test_exemption_dates_parse_as_strptime_reads_them(text):
    try:
        expected = datetime.combine(datetime.strptime(text, "%Y-%m-%d").date(), time.max, tzinfo=timezone.utc)
    except ValueError:
        expected = None
    assert exemptions.parse_until(text) == expected


def test_resources_without_an_exemption_tag_take_the_short_path_to_the_same_answer():
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    for tags in ({"env": "prod"}, {}, {"Warden-Exempt-Reason": "x"}, {"WARDEN-EXEMPT": "*"}, {1: "x"}, None, "tags"):
        resource = {"id": ACCOUNT, "tags": tags}
        listed = exemptions.props.tags(resource).get(exemptions.EXEMPT_TAG)
        assert (exemptions.read(resource, now) is exemptions.NO_EXEMPTION) is (listed is None)


# --- records --------------------------------------------------------------------------------------

@pytest.mark.parametrize("record", [
    Caller("oid", "appid", "name", "1.2.3.4"),
    Triage("e", Verdict.IGNORED, "why", ACCOUNT, ACCOUNT_WRITE),
    ResourceChange("e", "t", "eventgrid", ChangeKind.WRITE, ACCOUNT, "Microsoft.CognitiveServices/accounts",
                   ACCOUNT_WRITE, Caller(), None, None, None),
    Evaluation(False, "public", {"properties.publicNetworkAccess": "Enabled"}),
    Plan(Decision.REVERT, "mode revert"), FlapState(0, 3), rid.parse(ACCOUNT),
])
def test_records_compare_and_hash_by_value_as_before(record):
    twin = dataclasses.replace(record)
    assert twin == record and twin is not record
    if not isinstance(record, Evaluation):  # an Evaluation holds a dict: unhashable, as it always was
        assert hash(twin) == hash(record)
