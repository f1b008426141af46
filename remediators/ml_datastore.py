"""Microsoft.MachineLearningServices/workspaces/datastores: links from a workspace to storage.

Datastores are PUT-only and their secrets are write-only (a GET never returns them), so nothing here is
reverted in place.

Scenarios (each has a test of the same name in tests/remediators/test_ml_datastore.py):
- datastore holding a credential (AccountKey, Sas, ServicePrincipal, Certificate, or any other type
  but None; absent counts as a credential) -> ticket; not revertible
- identity-based datastore (credentialsType None) passes
- datastore secrets fetched (datastores/listsecrets) while the datastore holds a credential -> ticket
  naming the caller
"""
from __future__ import annotations

from typing import Any, Mapping

from remediators import props
from remediators.base import (
    Check,
    CheckContext,
    Evaluation,
    ManualFix,
    Mode,
    NOT_APPLICABLE,
    OperationRole,
    ResourceKind,
    Severity,
    failed,
    passed,
)

TYPE = "Microsoft.MachineLearningServices/workspaces/datastores"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

SECRET_OPERATIONS = (f"{TYPE}/listsecrets/action",)


def _credentials_type(resource: Mapping[str, Any]) -> Any:
    return props.get(resource, "properties.credentials.credentialsType")


# aml-datastore-credential-auth -----------------------------------------------------------------

def _credential_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = _credentials_type(resource)
    identity = props.get(resource, "properties.serviceDataAccessAuthIdentity")
    evidence = {"properties__credentials__credentialsType": value,
                "properties__serviceDataAccessAuthIdentity": identity}
    if props.equals(value, "None"):
        return passed("identity-based datastore (no stored credential)", **evidence)
    shown = "absent (a stored credential cannot be ruled out)" if value is None else repr(value)
    return failed(f"the datastore stores a credential: credentialsType is {shown}", **evidence)


CREDENTIAL_AUTH = Check(
    id="aml-datastore-credential-auth",
    title="Datastore uses a stored credential instead of identity-based access",
    severity=Severity.HIGH,
    risk="Every workspace user can use the stored account key, SAS or service principal secret, bypassing their own storage permissions.",
    blast_radius=(
        "High: after switching to identity-based access, jobs and users without Storage data-plane roles lose "
        "access to the data."
    ),
    manual_fix=ManualFix(
        cli="Grant users and compute identities 'Storage Blob Data Reader/Contributor' on the account, then "
            "az ml datastore create -g <rg> -w <workspace> --file datastore.yml with no credentials section "
            "(identity-based)",
        bicep="resource ds 'Microsoft.MachineLearningServices/workspaces/datastores@2025-12-01' = { ... properties: { "
              "datastoreType: 'AzureBlob', credentials: { credentialsType: 'None' }, "
              "serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity', ... } }",
        portal="Studio > Data > Datastores > <datastore> > Update authentication: no credentials "
               "(Use workspace managed identity for data preview)",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_credential_auth,
    default_mode=Mode.TICKET,
    not_revertible_because=(
        "datastores are PUT-only and their secrets are write-only, and identity-based access needs Storage "
        "role assignments that the bot cannot choose"
    ),
)


# aml-datastore-secret-retrieval ----------------------------------------------------------------

def _secret_retrieval(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    if ctx.operation is None or ctx.operation.lower() not in {op.lower() for op in SECRET_OPERATIONS}:
        return NOT_APPLICABLE
    value = _credentials_type(resource)
    who = ctx.caller or "an unknown caller"
    if props.equals(value, "None"):
        return passed(f"{who} called listsecrets, but the datastore is identity-based and holds no secret",
                      properties__credentials__credentialsType=value)
    shown = "absent" if value is None else repr(value)
    return failed(f"{who} called listsecrets on a datastore whose credentialsType is {shown}: its secret was read",
                  properties__credentials__credentialsType=value)


SECRET_RETRIEVAL = Check(
    id="aml-datastore-secret-retrieval",
    title="Datastore secret retrieved",
    severity=Severity.HIGH,
    risk="Someone read the datastore's stored storage key, SAS token or service principal secret, which may now leave the workspace.",
    blast_radius="n/a: a secret retrieval cannot be undone; rotate the secret and fix aml-datastore-credential-auth.",
    manual_fix=ManualFix(
        cli="Confirm the caller; rotate the secret at its source (az storage account keys renew, or a new SAS / "
            "client secret); then move the datastore to identity-based access (see aml-datastore-credential-auth)",
        bicep="properties: { credentials: { credentialsType: 'None' } }",
        portal="Storage account > Access keys > Rotate key; Studio > Data > Datastores > Update authentication",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_secret_retrieval,
    default_mode=Mode.TICKET,
    not_revertible_because="a secret retrieval already happened; nothing to revert (fix aml-datastore-credential-auth instead)",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning datastore",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/listsecrets/action": OperationRole.KEY_RETRIEVAL,
    },
    checks=(CREDENTIAL_AUTH, SECRET_RETRIEVAL),
)
