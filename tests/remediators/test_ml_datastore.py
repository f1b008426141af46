"""Scenarios of remediators/ml_datastore.py on the published datastore sample and hand-made variants."""
from __future__ import annotations

from typing import Any

import pytest

import remediators
from remediators import ml_datastore as ds
from remediators import ml_workspace
from remediators.base import CheckContext, Mode, OperationRole

GET = "ml-datastore-get.spec-example-2025-12-01"
NO_OP = CheckContext()
LIST_SECRETS = "Microsoft.MachineLearningServices/workspaces/datastores/listsecrets/action"


def datastore(credentials: dict[str, Any] | None = None, **properties: Any) -> dict[str, Any]:
    if credentials is not None:
        properties["credentials"] = credentials
    return {
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/datastores/d",
        "type": ds.TYPE,
        "name": "d",
        "properties": {"datastoreType": "AzureBlob", **properties},
    }


# Registration and declared shape ----------------------------------------------------------------

def test_kind_is_registered_under_the_datastore_type():
    assert remediators.kind_for("microsoft.machinelearningservices/workspaces/datastores") is ds.KIND
    assert ds.KIND.api_version == "2025-12-01"


def test_check_ids_and_default_modes_follow_the_catalog():
    declared = {c.id: (c.default_mode, c.revertible) for c in ds.KIND.checks}
    assert declared == {
        "aml-datastore-credential-auth": (Mode.TICKET, False),
        "aml-datastore-secret-retrieval": (Mode.TICKET, False),
    }


@pytest.mark.parametrize("check", ds.KIND.checks, ids=lambda c: c.id)
def test_every_check_has_complete_metadata(check, check_metadata_problems):
    assert check.resource_type == ds.TYPE
    assert check.policies == ()  # the catalog found no built-in policy for datastores
    assert check_metadata_problems(check, "aml-") == []


def test_credential_auth_is_not_revertible_because_datastores_are_put_only():
    assert ds.CREDENTIAL_AUTH.fix is None
    assert "PUT-only" in ds.CREDENTIAL_AUTH.not_revertible_because


@pytest.mark.parametrize("operation, role", [
    ("Microsoft.MachineLearningServices/workspaces/datastores/write", OperationRole.EVALUATE),
    ("Microsoft.MachineLearningServices/workspaces/datastores/delete", OperationRole.DELETE),
    (LIST_SECRETS, OperationRole.KEY_RETRIEVAL),
    ("Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action", OperationRole.KEY_RETRIEVAL),
])
def test_operations_map_to_their_roles_case_insensitively(operation, role):
    assert ds.KIND.role_of(operation) is role


def test_connection_secret_retrieval_belongs_to_the_workspace_kind():
    operation = "Microsoft.MachineLearningServices/workspaces/connections/listsecrets/action"
    assert ds.KIND.role_of(operation) is None
    assert ml_workspace.KIND.role_of(operation) is OperationRole.KEY_RETRIEVAL


# aml-datastore-credential-auth ---------------------------------------------------------------------

def test_published_account_key_datastore_fails(arm_sample):
    result = ds.CREDENTIAL_AUTH.evaluate(arm_sample(GET), NO_OP)
    assert not result.passed
    assert result.observed["properties.credentials.credentialsType"] == "AccountKey"


@pytest.mark.parametrize("kind", ["AccountKey", "Sas", "ServicePrincipal", "Certificate",
                                  "accountkey", "SAS", "KerberosKeytab"])
def test_credential_auth_fails_for_every_stored_credential(kind):
    result = ds.CREDENTIAL_AUTH.evaluate(datastore({"credentialsType": kind}), NO_OP)
    assert not result.passed
    assert kind in result.detail


@pytest.mark.parametrize("kind", ["None", "none", "NONE"])
def test_credential_auth_passes_for_identity_based_access(kind):
    resource = datastore({"credentialsType": kind}, serviceDataAccessAuthIdentity="WorkspaceSystemAssignedIdentity")
    result = ds.CREDENTIAL_AUTH.evaluate(resource, NO_OP)
    assert result.passed
    assert result.observed["properties.serviceDataAccessAuthIdentity"] == "WorkspaceSystemAssignedIdentity"


@pytest.mark.parametrize("credentials", [None, {}, {"secrets": {"secretsType": "AccountKey"}}])
def test_credential_auth_fails_when_credentials_type_absent(credentials):
    result = ds.CREDENTIAL_AUTH.evaluate(datastore(credentials), NO_OP)
    assert not result.passed
    assert "absent" in result.detail


def test_credential_auth_reads_keys_case_insensitively():
    resource = {"Properties": {"Credentials": {"CredentialsType": "none"}}}
    assert ds.CREDENTIAL_AUTH.evaluate(resource, NO_OP).passed


# aml-datastore-secret-retrieval --------------------------------------------------------------------

def test_secret_retrieval_is_not_applicable_without_an_operation(arm_sample):
    assert not ds.SECRET_RETRIEVAL.evaluate(arm_sample(GET), NO_OP).applicable


def test_secret_retrieval_is_not_applicable_to_a_write(arm_sample):
    ctx = CheckContext(operation="Microsoft.MachineLearningServices/workspaces/datastores/write", caller="e")
    assert not ds.SECRET_RETRIEVAL.evaluate(arm_sample(GET), ctx).applicable


@pytest.mark.parametrize("operation", [LIST_SECRETS, LIST_SECRETS.upper(),
                                       "Microsoft.MachineLearningServices/workspaces/datastores/listSecrets/action"])
def test_secret_retrieval_fails_and_names_the_caller_for_a_stored_credential(operation, arm_sample):
    result = ds.SECRET_RETRIEVAL.evaluate(arm_sample(GET), CheckContext(operation=operation, caller="erin@contoso.com"))
    assert result.applicable and not result.passed
    assert "erin@contoso.com" in result.detail


def test_secret_retrieval_passes_for_an_identity_based_datastore():
    ctx = CheckContext(operation=LIST_SECRETS, caller="erin")
    assert ds.SECRET_RETRIEVAL.evaluate(datastore({"credentialsType": "None"}), ctx).passed
