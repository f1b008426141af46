"""Microsoft.MachineLearningServices/workspaces/serverlessEndpoints: pay-as-you-go model endpoints.

The stable API's `ServerlessInferenceEndpointAuthMode` has only `Key` (Entra ID modes exist only in
previews), so there is no secure value to revert to: the check reports, and key retrievals are watched.

Scenarios (each has a test of the same name in tests/remediators/test_ml_serverless_endpoint.py):
- key auth (authMode Key, absent counts as Key) -> report; not revertible
- a non-key mode (preview Entra ID) passes
- keys fetched (listKeys / regenerateKeys) -> re-evaluated; the finding names the caller
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
    OperationRole,
    ResourceKind,
    Severity,
    failed,
    passed,
)

TYPE = "Microsoft.MachineLearningServices/workspaces/serverlessEndpoints"
API_VERSION = "2025-12-01"
WRITE = f"{TYPE}/write"

KEY_OPERATIONS = (f"{TYPE}/listKeys/action", f"{TYPE}/regenerateKeys/action")


# aml-serverless-key-auth -----------------------------------------------------------------------

def _key_auth(resource: Mapping[str, Any], ctx: CheckContext) -> Evaluation:
    value = props.get(resource, "properties.authMode")
    if value is not None and not props.equals(value, "Key"):
        return passed(f"the endpoint does not use keys: authMode is {value!r}", properties__authMode=value)
    shown = "absent (Key, the only stable mode)" if value is None else repr(value)
    detail = f"the endpoint is called with static keys: authMode is {shown}"
    if ctx.operation is not None and ctx.operation.lower() in {op.lower() for op in KEY_OPERATIONS}:
        detail += f"; {ctx.caller or 'an unknown caller'} called {ctx.operation.rsplit('/', 2)[-2]}"
    return failed(detail, properties__authMode=value)


KEY_AUTH = Check(
    id="aml-serverless-key-auth",
    title="Serverless endpoint uses key authentication",
    severity=Severity.MEDIUM,
    risk="Anyone holding the endpoint key can call the model; keys do not expire and are not audited per caller.",
    blast_radius="n/a: the stable API offers no other auth mode; limit who can list keys and rotate them.",
    manual_fix=ManualFix(
        cli="Restrict serverlessEndpoints/listKeys/action to the apps that need it; rotate with "
            "az rest --method post --url \"https://management.azure.com<endpoint-id>/regenerateKeys?api-version=2025-12-01\" "
            "--body '{\"keyType\":\"Primary\"}'",
        bicep="n/a: the stable ServerlessInferenceEndpointAuthMode has only 'Key'",
        portal="AI Foundry > Models + endpoints > <endpoint>: keep the key in Key Vault and regenerate it regularly",
    ),
    policies=(),
    benchmark="MCSB IM-1",
    evaluate=_key_auth,
    default_mode=Mode.REPORT,
    not_revertible_because="the stable API has no auth mode but Key: there is no secure value to revert to",
)


KIND = ResourceKind(
    type=TYPE,
    display_name="Azure Machine Learning / AI Foundry serverless endpoint",
    api_version=API_VERSION,
    read_action=f"{TYPE}/read",
    operations={
        WRITE: OperationRole.EVALUATE,
        f"{TYPE}/delete": OperationRole.DELETE,
        f"{TYPE}/listKeys/action": OperationRole.KEY_RETRIEVAL,
        f"{TYPE}/regenerateKeys/action": OperationRole.KEY_RETRIEVAL,
    },
    checks=(KEY_AUTH,),
)
