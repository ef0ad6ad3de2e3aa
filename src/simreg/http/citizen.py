"""Routes of the citizen's lookup ("numbers under my ID"), disputes and consent
withdrawal, and the supervisors' dispute queue."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool

from ..app.citizen import CitizenService
from ..app.registration import RegistrationInput
from ..domain.access import Clerk, Role
from ..domain.errors import InputError
from ..domain.reasons import ReasonCode
from .auth import current_clerk, require
from .multipart import parse_form, read_body, request_cap
from .registrations import (
    _FORM_FIELDS,
    bool_field,
    checked_form,
    document_fields,
    file_field,
    prompt_times_field,
    text_field,
)
from .schemas import (
    ConsentWithdrawnPublic,
    DisputePublic,
    DisputeRequest,
    DisputeResolution,
    LookupResponse,
    OpenDisputePublic,
    TokenRequest,
    error_responses,
)

router = APIRouter()

_LOOKUP_FIELDS = {k: v for k, v in _FORM_FIELDS.items() if k not in ("phone_number", "consent")}
_LOOKUP_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {
    "schema": {"type": "object", "required": ["session_id", "id_type", "name", "portrait", "video"],
               "properties": {**_LOOKUP_FIELDS,
                              "portrait": {"type": "string", "format": "binary"},
                              "video": {"type": "string", "format": "binary"}}},
    "example": {"session_id": "ses_4b1f9d1c5a3e7b2a9d40aa11", "id_type": "cn_resident",
                "id_number": "11010519491231002X", "name": "王芳", "id_expiry": "long_term", "mirrored": "true"},
}}}}


@router.post("/v1/citizen/lookups", response_model=LookupResponse, summary="Numbers under my ID",
             openapi_extra=_LOOKUP_BODY, responses=error_responses(400, 401, 403, 404, 409, 410, 413, 415, 422, 429))
async def lookup(request: Request, clerk: Clerk = Depends(current_clerk)):
    """The customer proves who they are (document + live challenge video matched to
    the ID portrait, the registration pipeline) and sees their numbers with the
    outlet and date; the answer carries a short-lived token for a dispute or a
    consent withdrawal.  Every lookup is audited."""
    require(clerk, Role.CLERK)
    s = request.app.state.runtime.settings
    parts = checked_form(parse_form(await read_body(request, request_cap(s)),
                                    request.headers.get("content-type")))
    inp = RegistrationInput(
        session_id=text_field(parts, "session_id", True), document=document_fields(parts),
        portrait=file_field(parts, "portrait"), video=file_field(parts, "video"),
        mirrored=bool_field(text_field(parts, "mirrored")), consent=None,
        prompt_times=prompt_times_field(text_field(parts, "prompt_times")))
    parts.clear()
    return await run_in_threadpool(CitizenService(request.app.state.runtime).lookup, inp, clerk)


_RAISE_DISPUTE_EXAMPLE = {"dispute_id": "dsp_0b7a51d3c8e6f1a2b4c5d6e7", "status": "open"}

@router.post("/v1/citizen/disputes", status_code=201, response_model=DisputePublic, summary="Flag a number as not mine",
             responses=error_responses(401, 403, 404, 410, 422, ok=(201, _RAISE_DISPUTE_EXAMPLE)))
async def raise_dispute(request: Request, body: DisputeRequest, clerk: Clerk = Depends(current_clerk)):
    """Within a lookup's validity: the number goes to the registering outlet's supervisors."""
    require(clerk, Role.CLERK)
    return await run_in_threadpool(CitizenService(request.app.state.runtime).dispute, body.lookup_token,
                                   body.number_ref, clerk)


_WITHDRAW_CONSENT_EXAMPLE = {"templates_shredded": 2, "consents_withdrawn": 1}

@router.post("/v1/citizen/consent/withdraw", response_model=ConsentWithdrawnPublic,
             summary="Withdraw biometric consent",
             responses=error_responses(401, 403, 404, 410, 422, ok=(200, _WITHDRAW_CONSENT_EXAMPLE)))
async def withdraw_consent(request: Request, body: TokenRequest, clerk: Clerk = Depends(current_clerk)):
    """Within a lookup's validity: the person's face templates are crypto-shredded and
    their consent records marked withdrawn; audited."""
    require(clerk, Role.CLERK)
    return await run_in_threadpool(CitizenService(request.app.state.runtime).withdraw_consent, body.lookup_token, clerk)


_LIST_DISPUTES_EXAMPLE = [{"dispute_id": "dsp_0b7a51d3c8e6f1a2b4c5d6e7", "number_ref": "num_18a7c2e9f0b1d2c3a4b5c6d7",
                           "phone_number_masked": "+86138****8000", "registration_id": "reg_5a3e7b2a9d40aa114b1f9d1c",
                           "raised_at": "2026-11-29T09:00:00+00:00", "status": "open"}]

@router.get("/v1/disputes", response_model=list[OpenDisputePublic],
            summary="Open disputes of my outlet", responses=error_responses(401, 403, ok=(200, _LIST_DISPUTES_EXAMPLE)))
async def list_disputes(request: Request, clerk: Clerk = Depends(current_clerk)):
    require(clerk, Role.SUPERVISOR)
    return await run_in_threadpool(CitizenService(request.app.state.runtime).open_disputes, clerk)


_RESOLVE_DISPUTE_EXAMPLE = {"dispute_id": "dsp_0b7a51d3c8e6f1a2b4c5d6e7", "status": "upheld"}

@router.post("/v1/disputes/{dispute_id}", response_model=DisputePublic,
             summary="Resolve a dispute",
             responses=error_responses(401, 403, 404, 409, 422, ok=(200, _RESOLVE_DISPUTE_EXAMPLE)))
async def resolve_dispute(request: Request, dispute_id: str, body: DisputeResolution,
                          clerk: Clerk = Depends(current_clerk)):
    """Upheld: the number is suspended.  Dismissed: nothing changes.  With a note."""
    require(clerk, Role.SUPERVISOR)
    if len(body.note.strip()) < 3:
        raise InputError(ReasonCode.REVIEW_REASON_REQUIRED, "a resolution needs a note")
    return await run_in_threadpool(CitizenService(request.app.state.runtime).resolve, dispute_id, clerk,
                                   body.resolution == "upheld", body.note.strip())
