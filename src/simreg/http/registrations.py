"""Routes of the registration service: registrations, manual review, the
alternative (non-face) path, and the number pool."""

from __future__ import annotations

import math
from datetime import date
from typing import Literal, overload

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from ..app.registration import Consent, DocumentInput, RegistrationInput, RegistrationService
from ..domain.access import Clerk, Role
from ..domain.errors import InputError
from ..domain.numbers import NumberState, mask_phone, normalise_phone
from ..domain.reasons import ReasonCode
from .auth import current_clerk, require
from .contract import PHONE_PATTERN, check_form_shapes, form_properties
from .multipart import MEDIA_FIELDS, Part, parse_form, read_body, request_cap
from .schemas import (
    AlternativeRequest,
    ConsentBody,
    ErrorResponse,
    NumbersAddedPublic,
    NumbersRequest,
    NumberStatePublic,
    NumberStateRequest,
    RegistrationResponse,
    RegistrationView,
    ReviewRequest,
    ReviewResponse,
    error_responses,
)

router = APIRouter()

# An optional text field sent empty counts as absent (a browser form sends its empty inputs).
_FORM_FIELDS = form_properties({
    "session_id": "The capture session (POST /v1/sessions) whose challenge the video performs.",
    "id_type": "cn_resident | passport | hk_macau_taiwan",
    "id_number": "The document number as printed, ASCII letters and digits, no separators (passports: "
                 "optional, checked against the MRZ).",
    "mrz": "Passports: the machine-readable zone, lines separated by newlines.",
    "name": "The holder's name as on the document (Unicode, CJK as typed).",
    "id_expiry": "YYYY-MM-DD, or long_term (resident IDs only).",
    "birth_date": "YYYY-MM-DD; required for the HK/Macau/Taiwan travel permits.",
    "sex": "M | F | X (or 男 | 女), as printed; cross-checked against the number where it encodes one.",
    "mirrored": "true when the recording is mirrored (a selfie preview); default false.",
    "prompt_times": "Seconds from the video's start at which each prompt appeared, comma-separated.",
    "flash_times": "Seconds from the video's start at which each colour of the session's flash appeared, "
                   "comma-separated (optional: omit when the screen did not flash).",
    "phone_number": "Optional: the number to register (E.164, or 11 digits for a mainland mobile); otherwise "
                    "the next available one.",
    "consent": 'JSON {"text_version": "...", "accepted_at": "RFC 3339"}: the text shown and when the customer '
               "accepted it.",
})
_REQUIRED = ["session_id", "id_type", "name", "portrait", "video", "consent"]

_REGISTRATION_BODY = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {
            "schema": {
                "type": "object", "required": _REQUIRED,
                "properties": {
                    **_FORM_FIELDS,
                    "portrait": {"type": "string", "format": "binary",
                                 "description": "The ID chip portrait (JPEG/PNG/JPEG 2000 decoded upstream) or a "
                                                "photo of the card."},
                    "video": {"type": "string", "format": "binary",
                              "description": "The challenge video: mp4/webm/mov, H.264/VP8/VP9, at most 15 s."},
                },
            },
            "example": {"session_id": "ses_4b1f9d1c5a3e7b2a9d40aa11", "id_type": "cn_resident",
                        "id_number": "11010519491231002X", "name": "王芳", "id_expiry": "2031-05-01",
                        "mirrored": "true",
                        "consent": '{"text_version": "face-consent-v3", "accepted_at": "2026-11-29T08:15:00+08:00"}'},
        }},
    },
}


def _service(request: Request) -> RegistrationService:
    return RegistrationService(request.app.state.runtime)


def checked_form(parts: dict[str, Part]) -> dict[str, Part]:
    """The form's text fields, as sent, against the shapes its schema publishes."""
    check_form_shapes({name: p.text() for name, p in parts.items() if name not in MEDIA_FIELDS})
    return parts


@overload
def text_field(parts: dict[str, Part], name: str, required: Literal[True]) -> str: ...
@overload
def text_field(parts: dict[str, Part], name: str, required: bool = False) -> str | None: ...
def text_field(parts: dict[str, Part], name: str, required: bool = False) -> str | None:
    """A text field, stripped; ``None`` when absent or blank (an error when ``required``)."""
    p = parts.get(name)
    if p is None or (p.filename is None and not p.data.strip()):
        if required:
            raise InputError(ReasonCode.REGISTRATION_FIELD, f"field {name!r} is required")
        return None
    return p.text().strip()


def file_field(parts: dict[str, Part], name: str) -> bytes:
    p = parts.get(name)
    if p is None:
        raise InputError(ReasonCode.REGISTRATION_FIELD, f"file field {name!r} is required")
    if not p.data:
        raise InputError(ReasonCode.MEDIA_EMPTY, f"the {name} is empty", 422)  # a refinement (http/errors.REFINED)
    return bytes(p.data)


def bool_field(value: str | None) -> bool:
    if value is None:
        return False
    v = value.lower()
    if v in ("true", "1", "yes"):
        return True
    if v in ("false", "0", "no"):
        return False
    raise InputError(ReasonCode.REGISTRATION_FIELD, "mirrored must be true or false")


def date_field(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(ReasonCode.REGISTRATION_FIELD, f"{name} must be YYYY-MM-DD") from None


def parse_consent(value: str | None) -> Consent:
    """The consent form field: JSON ``{"text_version", "accepted_at"}``."""
    if value is None:
        raise InputError(ReasonCode.CONSENT_REQUIRED, "a registration needs the customer's consent record")
    try:  # pydantic's parser also refuses absurdly nested JSON (json.loads would recurse)
        body = ConsentBody.model_validate_json(value)
    except ValidationError:
        raise InputError(ReasonCode.CONSENT_INVALID,
                         'consent must be JSON {"text_version": ..., "accepted_at": ISO-8601}') from None
    return consent_of(body)


def consent_of(body: ConsentBody) -> Consent:
    text_version = body.text_version.strip()
    if not text_version or body.accepted_at.tzinfo is None:
        raise InputError(ReasonCode.CONSENT_INVALID, "consent needs a text_version (≤64 chars) and a zoned accepted_at")
    return Consent(text_version, body.accepted_at)


#: At most this many prompts (a challenge has 2-4 actions) and flash colours (a plan has 20).
MAX_PROMPTS = 8
MAX_FLASHES = 32


def times_field(value: str | None, name: str = "prompt_times", most: int = MAX_PROMPTS) -> tuple[float, ...] | None:
    """Seconds from the video's start at which each prompt (or flash colour)
    appeared: finite, non-negative, non-decreasing, at most ``most``."""
    if value is None:
        return None
    items = value.split(",")
    if len(items) > most:
        raise InputError(ReasonCode.REGISTRATION_FIELD, f"{name} has more than {most} values")
    try:
        times = tuple(float(x) for x in items)
    except ValueError:
        raise InputError(ReasonCode.REGISTRATION_FIELD, f"{name} must be comma-separated seconds") from None
    if not all(math.isfinite(t) and t >= 0 for t in times) or list(times) != sorted(times):
        raise InputError(ReasonCode.REGISTRATION_FIELD, f"{name} must be finite, non-negative and in order")
    return times


def prompt_times_field(value: str | None) -> tuple[float, ...] | None:
    return times_field(value)


def document_fields(parts: dict[str, Part]) -> DocumentInput:
    return DocumentInput(
        id_type=text_field(parts, "id_type", True), id_number=text_field(parts, "id_number"),
        mrz=text_field(parts, "mrz"),
        name=text_field(parts, "name", True), id_expiry=text_field(parts, "id_expiry"),
        birth_date=date_field(text_field(parts, "birth_date"), "birth_date"), sex=text_field(parts, "sex"))


@router.post("/v1/registrations", response_model=RegistrationResponse, summary="Register a number (face path)",
             openapi_extra=_REGISTRATION_BODY, responses=error_responses(400, 401, 403, 404, 409, 410, 413, 415,
                                                                         422, 429, 503))
async def register(request: Request, idempotency_key: str | None = Header(
        default=None, min_length=1, max_length=128,
        description="Client-chosen key (1-128 chars); a retry with the same key returns the first "
                    "result and never registers twice."), clerk: Clerk = Depends(current_clerk)):
    """Runs document -> quota pre-check -> media -> quality -> liveness/PAD -> match -> decision.
    `approved` activates the number and records the decision in one transaction; `rejected`
    records the decision only; `review` reserves the number for a supervisor's decision.
    Outcomes are 200s with reason codes; bad input is a 4xx error."""
    require(clerk, Role.CLERK)
    rt = request.app.state.runtime
    s = rt.settings
    body = await read_body(request, request_cap(s))
    parts = checked_form(parse_form(body, request.headers.get("content-type")))
    del body
    inp = RegistrationInput(
        session_id=text_field(parts, "session_id", True), document=document_fields(parts),
        portrait=file_field(parts, "portrait"), video=file_field(parts, "video"),
        mirrored=bool_field(text_field(parts, "mirrored")),
        consent=parse_consent(text_field(parts, "consent")), phone_number=text_field(parts, "phone_number"),
        prompt_times=prompt_times_field(text_field(parts, "prompt_times")),
        flash_times=times_field(text_field(parts, "flash_times"), "flash_times", MAX_FLASHES))
    parts.clear()
    return await run_in_threadpool(_service(request).register, inp, clerk, idempotency_key)


@router.post("/v1/registrations/alternative", response_model=RegistrationResponse,
             summary="Register without face matching (supervisor)",
             responses=error_responses(400, 401, 403, 409, 422))
async def register_alternative(request: Request, body: AlternativeRequest, idempotency_key: str | None = Header(
        default=None, min_length=1, max_length=128, description="As for POST /v1/registrations."),
        clerk: Clerk = Depends(current_clerk)):
    """For a person who cannot or will not use face recognition: a document check,
    the supervisor's own credential and a stated reason; quota and audit as ever."""
    require(clerk, Role.SUPERVISOR)
    doc = DocumentInput(body.id_type, body.id_number, body.mrz, body.name, body.id_expiry, body.birth_date, body.sex)
    consent = consent_of(body.consent)
    return await run_in_threadpool(_service(request).register_alternative, doc, consent, body.statement, clerk,
                                   idempotency_key, body.phone_number)


_GET_REGISTRATION_EXAMPLE = {"registration_id": "reg_5a3e7b2a9d40aa114b1f9d1c", "path": "face", "outcome": "review",
                             "decided_outcome": "review", "reasons": ["MATCH.GREY_ZONE"],
                             "scores": {"match": {"score": 0.4012, "threshold": 0.4287, "review_threshold": 0.3707}},
                             "clerk_id": "clk_1f9d1c5a3e7b2a9d", "outlet_id": "out_4b1f9d1c5a3e7b2a",
                             "session_id": "ses_4b1f9d1c5a3e7b2a9d40aa11", "person_id": "per_9d40aa114b1f9d1c5a3e7b2a",
                             "model_ids": ["sface-2021dec-int8bq+flip"], "policy_sha256": "3f1e...", "statement": None,
                             "reviewed_by": None, "reviewed_at": None, "review_reason": None,
                             "created_at": "2026-11-29T08:15:04+00:00", "audit_position": 1041,
                             "phone_number": "+8613800138000", "phone_number_masked": "+86138****8000"}

@router.get("/v1/registrations/{registration_id}", response_model=RegistrationView,
            summary="One registration (its decision, reasons and scores)",
            responses=error_responses(401, 403, 404, 422, ok=(200, _GET_REGISTRATION_EXAMPLE)))
async def get_registration(request: Request, registration_id: str, clerk: Clerk = Depends(current_clerk)):
    """Clerks see their own registrations, supervisors their outlet's; auditors see
    every registration with the phone number masked."""
    require(clerk, Role.CLERK, Role.SUPERVISOR, Role.AUDITOR)
    registry = request.app.state.runtime.registry
    stored = await run_in_threadpool(registry.registration, registration_id)
    view = RegistrationView.model_validate(stored) if stored is not None else None
    if view is None or not (
            clerk.role is Role.AUDITOR
            or (clerk.role is Role.CLERK and view.clerk_id == clerk.clerk_id)
            or (clerk.role is Role.SUPERVISOR and view.outlet_id == clerk.outlet_id)):
        raise InputError(ReasonCode.REGISTRATION_UNKNOWN, "no such registration")
    if clerk.role is Role.AUDITOR:
        view = view.model_copy(update={"phone_number": None, "person_id": None})
    svc = _service(request)  # a read of personal data is itself audited
    await run_in_threadpool(registry.record_event, clerk.clerk_id, registration_id, "registration.viewed",
                            {"role": clerk.role.value, "phone_number_shown": view.phone_number is not None},
                            svc.stamp, svc.clock())
    return view


_LIST_REVIEWS_EXAMPLE = [_GET_REGISTRATION_EXAMPLE]  # the queue lists registration views

@router.get("/v1/reviews", response_model=list[RegistrationView], summary="Registrations awaiting review",
            responses=error_responses(401, 403, ok=(200, _LIST_REVIEWS_EXAMPLE)))
async def list_reviews(request: Request, clerk: Clerk = Depends(current_clerk)):
    """The supervisor's outlet's queue, oldest first."""
    require(clerk, Role.SUPERVISOR)
    pending = await run_in_threadpool(request.app.state.runtime.registry.pending_reviews, clerk.outlet_id)
    return [RegistrationView.model_validate(v) for v in pending]


_DECIDE_REVIEW_EXAMPLE = {"registration_id": "reg_5a3e7b2a9d40aa114b1f9d1c", "outcome": "approved",
                          "reasons": ["MATCH.GREY_ZONE", "DECISION.SUPERVISOR_APPROVED"], "audit_position": 1050}

@router.post("/v1/reviews/{registration_id}", response_model=ReviewResponse, summary="Decide a review",
             responses=error_responses(401, 403, 404, 409, 422, ok=(200, _DECIDE_REVIEW_EXAMPLE)))
async def decide_review(request: Request, registration_id: str, body: ReviewRequest,
                        clerk: Clerk = Depends(current_clerk)):
    """Approve (the reserved number becomes active) or reject (it returns to the pool), with a reason."""
    require(clerk, Role.SUPERVISOR)
    if len(body.reason.strip()) < 3:
        raise InputError(ReasonCode.REVIEW_REASON_REQUIRED, "a review decision needs a reason")
    svc = _service(request)
    return await run_in_threadpool(svc.registry.review, registration_id, clerk, body.decision == "approve",
                                   body.reason.strip(), svc.stamp, svc.clock())


@router.post("/v1/numbers", status_code=201, response_model=NumbersAddedPublic,
             summary="Add numbers to the pool (admin)",
             responses=error_responses(401, 403, 422, ok=(201, {"requested": 2, "added": 2})))
async def add_numbers(request: Request, body: NumbersRequest, clerk: Clerk = Depends(current_clerk)):
    """Numbers are stored as a blind index and a ciphertext, never in clear."""
    require(clerk, Role.ADMIN)
    numbers = [normalise_phone(n) for n in body.numbers]
    svc = _service(request)
    added = await run_in_threadpool(svc.registry.add_numbers, numbers, clerk.clerk_id, svc.stamp, svc.clock())
    return {"requested": len(numbers), "added": added}


_SET_NUMBER_STATE_EXAMPLE = {"number_id": "num_18a7c2e9f0b1d2c3a4b5c6d7", "state": "suspended",
                             "previous_state": "active", "phone_number_masked": "+86138****8000"}

@router.post("/v1/numbers/{phone_number}/state", response_model=NumberStatePublic,
             summary="Suspend, resume or release a number",
             responses=error_responses(401, 403, 404, 409, 422, ok=(200, _SET_NUMBER_STATE_EXAMPLE)))
async def set_number_state(request: Request, body: NumberStateRequest,
                           phone_number: str = Path(pattern=PHONE_PATTERN, examples=["+8613800138000"]),
                           clerk: Clerk = Depends(current_clerk)):
    """`suspended`, `active` (resume) or `released` (back to the pool after the cooling-off period)."""
    require(clerk, Role.SUPERVISOR, Role.ADMIN)
    e164 = normalise_phone(phone_number)
    svc = _service(request)
    out = await run_in_threadpool(svc.registry.set_number_state, e164, NumberState(body.state), clerk.clerk_id,
                                  body.reason, svc.stamp, svc.clock())
    return {**out, "phone_number_masked": mask_phone(e164)}


__all__ = ["ErrorResponse", "router"]
