"""HTTP: approve a proposed revert (`POST /api/proposals/{proposal_id}/approve`, function key required).

The approver is the signed-in caller that App Service Authentication forwards (X-MS-CLIENT-PRINCIPAL); the
decision, the ARM write and the record are warden.approvals.ApprovalService's.
"""
from __future__ import annotations

import json
import os

import azure.functions as func

bp = func.Blueprint()


@bp.function_name("approve_proposal")
@bp.route(route="proposals/{proposal_id}/approve", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def approve_proposal(req: func.HttpRequest) -> func.HttpResponse:
    from warden.approvals import approval_service, platform_auth_enabled, principal_from_headers

    result = approval_service().approve(req.route_params.get("proposal_id", ""), principal_from_headers(req.headers),
                                        platform_auth_enabled(os.environ))
    return func.HttpResponse(json.dumps(result.body, sort_keys=True), status_code=result.status,
                             mimetype="application/json")
