"""Triage of Event Grid deliveries: the published samples, both schemas, and malformed input."""
from __future__ import annotations

import copy
import json

import pytest

from warden.config import Scope
from warden.events import DeliveryError, load_delivery, triage, triage_delivery
from warden.model import ChangeKind, Verdict
from tests.support.samples import arm_event, load, sample_path

ACCOUNT = "/subscriptions/00000000-1111-2222-3333-444444444444/resourcegroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/oai-prod"
ACCOUNT_WRITE = "Microsoft.CognitiveServices/accounts/write"


@pytest.mark.parametrize("name, verdict, reason_part", [
    ("egschema-resource-write-success.json", Verdict.IGNORED, "not covered"),
    ("egschema-resource-delete-success.json", Verdict.IGNORED, "not covered"),
    ("egschema-resource-action-success-listkeys.json", Verdict.IGNORED, "not covered"),
    ("cloudevents-resource-delete-success.json", Verdict.IGNORED, "not covered"),
    ("cloudevents-resource-action-success-listkeys.json", Verdict.IGNORED, "not covered"),
    # The published CloudEvents write example has "topic" instead of "source" and specversion "`1.0".
    ("cloudevents-resource-write-success.json", Verdict.INVALID, "missing source"),
    ("egschema-subscription-validation-event.json", Verdict.IGNORED, "validation"),
    ("egschema-subscription-validation-response.json", Verdict.INVALID, "neither"),
    ("arn-cloudevents-resources-created-or-updated.json", Verdict.IGNORED, "not covered"),
])
def test_every_published_sample_is_triaged(name, verdict, reason_part):
    results = triage_delivery(sample_path(f"eventgrid/{name}").read_bytes())
    assert len(results) == 1
    assert results[0].verdict is verdict
    assert reason_part in results[0].reason


def test_published_cloudevents_erratum_names_the_bad_specversion():
    result = triage_delivery(sample_path("eventgrid/cloudevents-resource-write-success.json").read_bytes())[0]
    assert "specversion" in result.reason and "`1.0" in result.reason


def test_account_write_is_relevant_with_caller_and_canonical_id():
    event = arm_event(ACCOUNT, ACCOUNT_WRITE, name="alice@contoso.com")
    result = triage(event)
    assert result.verdict is Verdict.RELEVANT
    change = result.change
    assert change.resource_id.startswith("/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg-ai/")
    assert change.resource_type == "Microsoft.CognitiveServices/accounts"
    assert change.caller.name == "alice@contoso.com"
    assert change.caller.object_id == "11111111-aaaa-bbbb-cccc-000000000001"
    assert change.kind is ChangeKind.WRITE
    assert change.correlation_id == event["data"]["correlationId"]


def test_cloudevents_schema_is_read_from_its_own_fields():
    event = arm_event(ACCOUNT, ACCOUNT_WRITE)
    cloud = {"id": event["id"], "source": event["topic"], "subject": event["subject"], "type": event["eventType"],
             "time": event["eventTime"], "specversion": "1.0", "data": event["data"]}
    result = triage(cloud)
    assert result.verdict is Verdict.RELEVANT and result.change.schema == "cloudevents"


def test_operation_names_compare_case_insensitively():
    assert triage(arm_event(ACCOUNT, "MICROSOFT.COGNITIVESERVICES/ACCOUNTS/WRITE")).verdict is Verdict.RELEVANT


def test_list_keys_action_maps_to_the_account_it_acts_on():
    event = arm_event(ACCOUNT + "/listKeys", "Microsoft.CognitiveServices/accounts/listKeys/action",
                      event_type="Microsoft.Resources.ResourceActionSuccess")
    result = triage(event)
    assert result.verdict is Verdict.RELEVANT
    assert result.change.resource_id.lower() == ACCOUNT.lower().replace("resourcegroups", "resourcegroups")
    assert result.change.kind is ChangeKind.ACTION


def test_private_endpoint_connection_delete_re_evaluates_the_parent_account():
    event = arm_event(ACCOUNT + "/privateEndpointConnections/pe1",
                      "Microsoft.CognitiveServices/accounts/privateEndpointConnections/delete",
                      event_type="Microsoft.Resources.ResourceDeleteSuccess")
    result = triage(event)
    assert result.verdict is Verdict.RELEVANT
    assert result.change.kind is ChangeKind.WRITE
    assert result.change.resource_id.lower().endswith("/accounts/oai-prod")


def test_account_delete_is_a_delete_change():
    event = arm_event(ACCOUNT, "Microsoft.CognitiveServices/accounts/delete", event_type="Microsoft.Resources.ResourceDeleteSuccess")
    assert triage(event).change.kind is ChangeKind.DELETE


def test_deployment_writes_are_ignored():
    event = arm_event(ACCOUNT, "Microsoft.Resources/deployments/write")
    result = triage(event)
    assert result.verdict is Verdict.IGNORED and "deployment" in result.reason


@pytest.mark.parametrize("event_type", ["Microsoft.Resources.ResourceWriteFailure", "Microsoft.Resources.ResourceWriteCancel"])
def test_failures_and_cancels_are_ignored(event_type):
    assert triage(arm_event(ACCOUNT, ACCOUNT_WRITE, event_type=event_type)).verdict is Verdict.IGNORED


def test_out_of_scope_subscription_is_ignored_with_reason():
    scope = Scope(subscriptions=frozenset({"99999999-0000-0000-0000-000000000000"}))
    result = triage(arm_event(ACCOUNT, ACCOUNT_WRITE), scope)
    assert result.verdict is Verdict.IGNORED and "not in the configured scope" in result.reason


def test_out_of_scope_resource_group_is_ignored():
    scope = Scope(resource_groups=frozenset({"*/rg-other"}))
    assert triage(arm_event(ACCOUNT, ACCOUNT_WRITE), scope).verdict is Verdict.IGNORED
    assert triage(arm_event(ACCOUNT, ACCOUNT_WRITE), Scope(resource_groups=frozenset({"*/rg-ai"}))).verdict is Verdict.RELEVANT


@pytest.mark.parametrize("mutate, reason_part", [
    (lambda e: e.pop("id"), "missing id"),
    (lambda e: e.pop("eventTime"), "missing eventTime"),
    (lambda e: e.pop("data"), "missing data"),
    (lambda e: e["data"].pop("operationName"), "data.operationName"),
    (lambda e: (e["data"].pop("resourceUri"), e.pop("subject")), "data.resourceUri"),
    (lambda e: e["data"].update(resourceUri="not-an-id"), "malformed resource id"),
])
def test_malformed_events_are_invalid_with_a_reason_naming_what_is_missing(mutate, reason_part):
    event = arm_event(ACCOUNT, ACCOUNT_WRITE)
    mutate(event)
    result = triage(event)
    assert result.verdict is Verdict.INVALID
    assert reason_part in result.reason


def test_one_bad_event_in_a_batch_does_not_block_the_others():
    good = arm_event(ACCOUNT, ACCOUNT_WRITE)
    results = triage_delivery(json.dumps([good, "not an object", {"id": "x"}, good]))
    assert [r.verdict for r in results] == [Verdict.RELEVANT, Verdict.INVALID, Verdict.INVALID, Verdict.RELEVANT]


def test_oversized_event_is_invalid():
    event = arm_event(ACCOUNT, ACCOUNT_WRITE)
    event["data"]["padding"] = "x" * (1024 * 1024 + 1)
    assert "larger than" in triage(event).reason


def test_delivery_that_is_not_json_raises_a_clear_error():
    with pytest.raises(DeliveryError, match="not JSON"):
        load_delivery(b"<html>oops</html>")


def test_ten_megabyte_delivery_is_refused_before_parsing():
    with pytest.raises(DeliveryError, match="at most"):
        load_delivery(b"[" + b" " * (10 * 1024 * 1024) + b"]")


def test_resource_notifications_event_carries_the_resource_payload():
    arn = copy.deepcopy(load("eventgrid/arn-cloudevents-resources-created-or-updated.json"))
    info = arn["data"]["resourceInfo"]
    info.update(id=ACCOUNT, type="Microsoft.CognitiveServices/accounts", name="oai-prod",
                properties={"publicNetworkAccess": "Disabled", "disableLocalAuth": 1})
    result = triage(arn)
    assert result.verdict is Verdict.RELEVANT
    assert result.change.payload["properties"]["disableLocalAuth"] == 1
    assert result.change.caller.object_id is None
