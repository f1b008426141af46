"""Access to the published payloads in shared/reference/samples, and seeding ids for them."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

SAMPLES_ENV = "DRIFTWARDEN_SAMPLES"

# Where each ARM GET sample lives once seeded, relative to the resource group. The ML samples carry
# placeholder ids ("string"), and both recorded account samples share one name, so ids are chosen here.
_WORKSPACE = "Microsoft.MachineLearningServices/workspaces/testworkspace"
SAMPLE_PLACEMENT: dict[str, str] = {
    "cogsvc-account-get.spec-example": "Microsoft.CognitiveServices/accounts/myAccount",
    "cogsvc-account-get-default-public.recorded": "Microsoft.CognitiveServices/accounts/cs-default-public",
    "cogsvc-account-get-networkacls.recorded": "Microsoft.CognitiveServices/accounts/cs-networkacls",
    "ml-workspace-get.spec-example": _WORKSPACE,
    "ml-compute-instance-get.spec-example": f"{_WORKSPACE}/computes/compute123",
    "ml-online-endpoint-get.spec-example": f"{_WORKSPACE}/onlineEndpoints/testEndpointName",
    "ml-datastore-get.spec-example": f"{_WORKSPACE}/datastores/blobstore",
    "ml-serverless-endpoint-get.spec-example": f"{_WORKSPACE}/serverlessEndpoints/serverless-1",
}
_PLACEHOLDER = "string"


def samples_dir() -> Path:
    """`$DRIFTWARDEN_SAMPLES`, else `<repo>/../shared/reference/samples` (where CI lays shared/)."""
    override = os.environ.get(SAMPLES_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "reference" / "samples"


def load_sample(name: str) -> Any:
    """Load a sample: a bare name is looked up in arm/, a name with a folder under the samples dir.

    For `*.spec-example-*.json` the GET body (`responses["200"].body`) is returned.
    """
    base = samples_dir()
    path = base / name if "/" in name else base / "arm" / name
    if not path.exists() and not name.endswith(".json"):
        path = path.with_name(path.name + ".json")
    data = json.loads(path.read_text(encoding="utf-8"))
    if ".spec-example-" in path.name:
        return data["responses"]["200"]["body"]
    return data


def _placement(file_name: str) -> str | None:
    stem = re.sub(r"-\d{4}-\d{2}-\d{2}\.json$|\.json$", "", file_name)  # drop the api-version suffix
    return SAMPLE_PLACEMENT.get(stem)


def sample_resources(subscription_id: str, resource_group: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """{sample file: (resource id, body)} for every ARM GET sample, placeholders made realistic."""
    scope = f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
    result: dict[str, tuple[str, dict[str, Any]]] = {}
    workspace_location = "eastus2euap"
    for path in sorted((samples_dir() / "arm").glob("*.json")):
        relative = _placement(path.name)
        if relative is None:
            continue  # PATCH bodies and action responses are not resources
        body = load_sample(path.name)
        if relative == _WORKSPACE:
            workspace_location = str(body.get("location") or workspace_location)
        result[path.name] = (scope + relative, body)
    for resource_id, body in result.values():
        if body.get("location") in (None, _PLACEHOLDER) and "/workspaces/" in resource_id:
            body["location"] = workspace_location
        identities = (body.get("identity") or {}).get("userAssignedIdentities")
        if isinstance(identities, dict) and _PLACEHOLDER in identities:
            identities[f"{scope}Microsoft.ManagedIdentity/userAssignedIdentities/uai-1"] = identities.pop(_PLACEHOLDER)
    return result
