"""Why the engine reads and writes through the generic ARM pipeline, proven against the named SDKs.

These tests pin the facts the README's dependency table states; if an SDK release changes them, the
choice should be revisited.
"""
from __future__ import annotations



from remediators import cognitive_account, ml_workspace
from tests.support.samples import arm_body
from warden import events


def test_ml_sdk_speaks_an_old_api_version_and_drops_the_properties_the_checks_read():
    from azure.mgmt.machinelearningservices import MachineLearningServicesMgmtClient
    from azure.mgmt.machinelearningservices.models import Workspace

    body = arm_body("ml-workspace-get.spec-example-2025-12-01.json")
    model = Workspace.deserialize(body)
    assert model.serialize().get("properties", {}).get("publicNetworkAccess") is None  # silently dropped
    assert body["properties"]["publicNetworkAccess"] == "Disabled"
    client = MachineLearningServicesMgmtClient(credential=object(), subscription_id="s", base_url="https://127.0.0.1")
    assert client._config.api_version < ml_workspace.API_VERSION  # 2020-08-01 vs the 2025-12-01 the checks need


def test_cognitive_services_sdk_api_version_is_the_one_the_engine_pins():
    from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

    client = CognitiveServicesManagementClient(credential=object(), subscription_id="s", base_url="https://127.0.0.1")
    assert client._config.api_version == cognitive_account.API_VERSION


def test_event_type_names_match_the_event_grid_sdk():
    from azure.eventgrid import SystemEventNames

    assert events.WRITE_SUCCESS == SystemEventNames.ResourceWriteSuccessEventName
    assert events.ACTION_SUCCESS == SystemEventNames.ResourceActionSuccessEventName
    assert events.DELETE_SUCCESS == SystemEventNames.ResourceDeleteSuccessEventName
    assert events.VALIDATION == SystemEventNames.EventGridSubscriptionValidationEventName
    assert events.ARN_UPSERT == SystemEventNames.ResourceNotificationsResourceManagementCreatedOrUpdatedEventName
    assert events.ARN_DELETE == SystemEventNames.ResourceNotificationsResourceManagementDeletedEventName
