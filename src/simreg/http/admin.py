"""Routes for administrators (outlets, staff) and auditors (the audit log, proofs,
aggregate reports)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from ..adapters.sql import audit_store
from ..adapters.sql.audit_sequencer import receipt as audit_receipt_of
from ..adapters.sql.reports import outlet_report
from ..domain.access import Clerk, Role
from .auth import current_clerk, require
from .contract import DIGITS, Rfc3339
from .schemas import (
    AuditEntryPublic,
    ClerkCreatedPublic,
    ClerkDeactivatedPublic,
    ClerkRequest,
    InclusionProofPublic,
    OutletCreatedPublic,
    OutletReportPublic,
    OutletRequest,
    ShardReceiptPublic,
    error_responses,
)

router = APIRouter()


@router.post("/v1/admin/outlets", status_code=201, response_model=OutletCreatedPublic,
             summary="Create an outlet (admin)",
             responses=error_responses(401, 403, 422, ok=(201, {"outlet_id": "out_4b1f9d1c5a3e7b2a"})))
async def create_outlet(request: Request, body: OutletRequest, clerk: Clerk = Depends(current_clerk)):
    require(clerk, Role.ADMIN)
    outlet = await run_in_threadpool(request.app.state.runtime.access.create_outlet, body.name, clerk.clerk_id)
    return {"outlet_id": outlet.outlet_id}


_CREATE_CLERK_EXAMPLE = {"clerk_id": "clk_1f9d1c5a3e7b2a9d", "token": "shown once: store it in the terminal"}

@router.post("/v1/admin/clerks", status_code=201, response_model=ClerkCreatedPublic,
             summary="Create a member of staff (admin)",
             responses=error_responses(401, 403, 404, 422, ok=(201, _CREATE_CLERK_EXAMPLE)))
async def create_clerk(request: Request, body: ClerkRequest, clerk: Clerk = Depends(current_clerk)):
    """The bearer token is in this response only; the service keeps its SHA-256."""
    require(clerk, Role.ADMIN)
    new, token = await run_in_threadpool(request.app.state.runtime.access.create_clerk, body.outlet_id, body.name,
                                         Role(body.role), clerk.clerk_id)
    return {"clerk_id": new.clerk_id, "token": token}


_DEACTIVATE_CLERK_EXAMPLE = {"clerk_id": "clk_1f9d1c5a3e7b2a9d", "active": False}

@router.post("/v1/admin/clerks/{clerk_id}/deactivate", response_model=ClerkDeactivatedPublic,
             summary="Revoke a member of staff (admin)",
             responses=error_responses(401, 403, 404, 422, ok=(200, _DEACTIVATE_CLERK_EXAMPLE)))
async def deactivate_clerk(request: Request, clerk_id: str, clerk: Clerk = Depends(current_clerk)):
    require(clerk, Role.ADMIN)
    await run_in_threadpool(request.app.state.runtime.access.deactivate_clerk, clerk_id, clerk.clerk_id)
    return {"clerk_id": clerk_id, "active": False}


_AUDIT_ENTRIES_PAGE_EXAMPLE = [{"position": 0, "timestamp": "2026-11-29T08:00:00.000000Z", "actor": "admin-cli",
                                "action": "admin.outlet_created", "subject": "out_4b1f9d1c5a3e7b2a",
                                "details": "{\"name_length\":9}", "model_ids": "[\"none\"]",
                                "policy_sha256": "0000...", "prev_hash": "0000...", "entry_hash": "9f2c..."}]

@router.get("/v1/audit/entries", response_model=list[AuditEntryPublic],
            summary="Read the audit log (auditor)",
            responses=error_responses(401, 403, 422, ok=(200, _AUDIT_ENTRIES_PAGE_EXAMPLE)))
async def audit_entries_page(request: Request,
                             after: Annotated[int, Query(ge=-1, le=2**62, description="last position already read"),
                                              DIGITS] = -1,
                             limit: Annotated[int, Query(ge=1, le=1000), DIGITS] = 100,
                             clerk: Clerk = Depends(current_clerk)):
    """Entries in order, as stored (every field the entry hash covers).  Entries
    hold opaque ids, codes and scores: never clear personal data or biometrics."""
    require(clerk, Role.AUDITOR)
    entries = await run_in_threadpool(audit_store.page, request.app.state.runtime.database, after, limit)
    return [AuditEntryPublic.model_validate(e, from_attributes=True) for e in entries]


_AUDIT_PROOF_EXAMPLE = {"index": 1041, "size": 1042, "leaf_hash": "ab12...", "entry_hash": "9f2c...",
                        "root_hash": "77e1...", "proof": ["5d0c...", "e3a9..."]}

@router.get("/v1/audit/proof/{index}", response_model=InclusionProofPublic, summary="Inclusion proof of an audit entry",
            responses=error_responses(401, 403, 404, 422, ok=(200, _AUDIT_PROOF_EXAMPLE)))
async def audit_proof(request: Request, index: Annotated[int, Path(ge=0, le=2**62), DIGITS],
                      size: Annotated[int | None, Query(ge=1, le=2**62, description="tree size"), DIGITS] = None,
                      clerk: Clerk = Depends(current_clerk)):
    """The RFC 6962 inclusion proof for a receipt (its audit_position and tree_size):
    check it offline with `simreg audit verify-receipt`."""
    require(clerk, Role.AUDITOR)
    return await run_in_threadpool(audit_store.inclusion, request.app.state.runtime.database, index, size)


_RECEIPT_EXAMPLE = {"status": "pending", "shard": "44", "outbox_id": 5120, "audit_position": None,
                    "entry_hash": None, "leaf_hash": None, "tree_size": None, "root_hash": None,
                    "checkpoint": None}


@router.get("/v1/audit/receipts/{shard}/{outbox_id}", response_model=ShardReceiptPublic,
            summary="The receipt of a decision in the sharded audit log",
            responses=error_responses(401, 403, 404, 422, ok=(200, _RECEIPT_EXAMPLE)))
async def audit_receipt(request: Request,
                        shard: Annotated[str, Path(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", examples=["44"])],
                        outbox_id: Annotated[int, Path(ge=1, le=2**62), DIGITS],
                        clerk: Clerk = Depends(current_clerk)):
    """With a sharded audit log a registration's receipt is pending until the
    shard's sequencer places the entry (a fraction of a second).  The clerk's
    terminal, or an auditor, asks again here with the shard and outbox id the
    pending receipt names; the complete receipt carries the batch checkpoint
    and its link into the root log.  Hashes and positions only: no personal data."""
    require(clerk, Role.CLERK, Role.AUDITOR)
    return await run_in_threadpool(audit_receipt_of, request.app.state.runtime.database, shard, outbox_id)


_OUTLETS_REPORT_EXAMPLE = [{"outlet_id": "out_4b1f9d1c5a3e7b2a", "outlet": "Counter 7", "registrations": 120,
                            "face_attempts": 131, "alternative_path": 3,
                            "outcomes": {"approved": 112, "rejected": 16, "review": 3},
                            "top_reasons": {"LIVENESS.TURN_MISSING": 7, "MATCH.BELOW_THRESHOLD": 5},
                            "disputes": {"open": 1}, "flags": []}]

@router.get("/v1/reports/outlets", response_model=list[OutletReportPublic],
            summary="Per-outlet statistics and anomaly flags",
            responses=error_responses(401, 403, 422, ok=(200, _OUTLETS_REPORT_EXAMPLE)))
async def outlets_report(request: Request, since: Annotated[Rfc3339 | None, Query(
        description="only activity from this instant on (RFC 3339 with its offset)")] = None,
        clerk: Clerk = Depends(current_clerk)):
    """Aggregate counts and codes per outlet, for auditors (issue 5's role table)."""
    require(clerk, Role.AUDITOR)
    reports = await run_in_threadpool(outlet_report, request.app.state.runtime.database, since)
    return [OutletReportPublic.model_validate(r, from_attributes=True) for r in reports]
