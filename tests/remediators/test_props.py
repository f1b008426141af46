"""props.get and the evaluation helpers: the dict fast paths answer as the general Mapping reading does."""
from __future__ import annotations

from collections import OrderedDict
from types import MappingProxyType

import pytest

from remediators import props
from remediators.base import failed, passed

BODY = {"properties": {"publicNetworkAccess": "Disabled", "Nested": {"Value": 1}, "none": None},
        "Tags": {"Env": "prod"}, 7: "seven"}


@pytest.mark.parametrize("path, expected", [
    ("properties.publicNetworkAccess", "Disabled"),
    ("PROPERTIES.publicnetworkaccess", "Disabled"),  # no exact key: the case-insensitive scan finds it
    ("properties.nested.value", 1),
    ("properties.none", None),
    ("properties.none.deeper", None),
    ("properties.missing", None),
    ("tags.env", "prod"),
    ("properties.publicNetworkAccess.x", None),  # a string has no members
])
def test_get_reads_dicts_and_other_mappings_alike(path, expected):
    assert props.get(BODY, path) == expected
    as_mappings = MappingProxyType({k: MappingProxyType(v) if isinstance(v, dict) else v for k, v in BODY.items()})
    assert props.get(as_mappings, path) == expected
    assert props.get(OrderedDict(BODY), path) == expected


@pytest.mark.parametrize("value, expected, result", [
    ("Disabled", "Disabled", True), (" disabled ", "Disabled", True), ("Enabled", "Disabled", False),
    (None, "None", False), (1, "1", True), (True, "true", True),
])
def test_equals_compares_case_insensitively(value, expected, result):
    assert props.equals(value, expected) is result


def test_evidence_keywords_name_json_paths():
    assert passed("ok", properties__publicNetworkAccess="Disabled").observed == {"properties.publicNetworkAccess": "Disabled"}
    evaluation = failed("no", a__b__c=1, plain=None)
    assert evaluation.observed == {"a.b.c": 1, "plain": None} and not evaluation.passed and evaluation.applicable
    assert passed("nothing observed").observed == {}
