"""The one place errors become HTTP: a table from code to status, and the one
helper that builds the ``{code, message, request_id}`` body (httpx's single
exception-mapping point is the model).

The tree of exception classes (``domain/errors.py`` unless named)::

    Exception
    ├── SimregError(code, message, retry_after_s=None)   every refusal simreg raises
    │   ├── InputError          the client sent something unusable: 4xx
    │   │   └── IdDocumentError     domain/id_document.py: an IdReason code (ID.*), 422
    │   ├── PolicyError         the policy refuses (quota, number states, an unusable policy file): 409
    │   │   └── Throttled           a lockout, with retry_after_s: 429 + Retry-After
    │   └── InfraError          a fault of ours (models, keys, engine): 503 + Retry-After
    │       └── Busy                at the bound of analyses in flight, with retry_after_s
    ├── KeyringError            adapters/crypto.py: a KeyCode (KEYS.*); the client sees 503 KEYS.UNAVAILABLE
    ├── REFUSED_VALUE_ERRORS    adapters/sql/database.py (SQLAlchemy's DataError): the database
    │                           refused a value: 422 REQUEST.INVALID
    ├── STORAGE_ERRORS          adapters/sql/database.py (any other SQLAlchemyError): the database
    │                           failed or dropped: 503 STORAGE.UNAVAILABLE
    ├── RequestValidationError  FastAPI's field checks: 400/415/422 (http/contract.py names the field's code)
    └── starlette HTTPException the router's refusals: 404 ROUTE.NOT_FOUND, 405 ROUTE.METHOD_NOT_ALLOWED, ...

The class says what kind of failure it is; the *code* alone chooses the status,
from :data:`STATUS` (built from ``_TABLE`` below).  Domain and adapter errors
never carry a status.  The HTTP layer refines a status at two of its own raise
sites (:data:`REFINED`), and a test keeps every other layer from passing one.

``retry_after_s`` on an error becomes ``Retry-After``; every 503 has one
(:data:`DEFAULT_RETRY_AFTER_S` when the error does not know better).  Anything
else that escapes a route is a 500 ``INTERNAL``, logged with the request id:
never a traceback or ``str(exc)`` to a client.

Codes that are only ever reasons inside a decision (HTTP 200) are in
:data:`DECISION_REASONS`; codes only the CLI prints are the :class:`CliCode`
enum.  ``scripts/gen_error_codes.py`` writes the README's reference from all of
this, and ``--check`` (run by the tests) fails when the README is stale.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..adapters.crypto import KeyringError
from ..adapters.sql.database import REFUSED_VALUE_ERRORS, STORAGE_ERRORS
from ..domain.errors import SimregError
from ..domain.reasons import CliCode, Code, IdReason, KeyCode, ReasonCode, family
from .contract import field_error

log = logging.getLogger(__name__)

R = ReasonCode

#: Seconds a client is told to wait after a 503 whose error does not say.
DEFAULT_RETRY_AFTER_S = 5

#: The table: HTTP status -> the codes that have it.  Every code of the family is
#: here, in DECISION_REASONS, or a CliCode (tests/http/test_error_table.py).
_TABLE: dict[int, tuple[Code, ...]] = {
    400: (R.REQUEST_MALFORMED, R.MEDIA_EMPTY, R.IDEMPOTENCY_KEY_MISSING),
    401: (R.AUTH_MISSING, R.AUTH_INVALID),
    403: (R.AUTH_FORBIDDEN, R.CHALLENGE_NOT_ALLOWED),
    404: (R.ROUTE_NOT_FOUND, R.SESSION_UNKNOWN, R.REGISTRATION_UNKNOWN, R.NUMBER_UNKNOWN, R.LOOKUP_UNKNOWN,
          R.DISPUTE_UNKNOWN, R.ADMIN_UNKNOWN_OUTLET, R.ADMIN_UNKNOWN_CLERK, R.AUDIT_NO_SUCH_ENTRY),
    405: (R.ROUTE_METHOD_NOT_ALLOWED,),
    409: (R.QUOTA_EXCEEDED, R.SESSION_REPLAYED, R.IDEMPOTENCY_IN_PROGRESS, R.NUMBER_UNAVAILABLE,
          R.NUMBER_POOL_EMPTY, R.NUMBER_TRANSITION, R.REVIEW_NOT_PENDING, R.DISPUTE_NOT_OPEN, R.AUDIT_BROKEN,
          R.POLICY_INVALID, R.POLICY_NOT_CALIBRATED),
    410: (R.SESSION_EXPIRED, R.LOOKUP_EXPIRED),
    413: (R.MEDIA_TOO_LARGE,),
    415: (R.MEDIA_UNSUPPORTED_FORMAT, R.MEDIA_UNSUPPORTED_CODEC),
    422: (R.REQUEST_INVALID, R.REGISTRATION_FIELD, R.CONSENT_REQUIRED, R.CONSENT_INVALID,
          R.IDEMPOTENCY_MISMATCH, R.REVIEW_REASON_REQUIRED, R.ALTERNATIVE_REASON_REQUIRED, R.CHALLENGE_INVALID,
          R.NUMBER_INVALID, R.FACE_NOT_FOUND, R.MEDIA_UNDECODABLE, R.MEDIA_DIMENSIONS, R.MEDIA_NO_VIDEO,
          R.MEDIA_TOO_LONG, R.MEDIA_TOO_MANY_FRAMES, R.MEDIA_RESOLUTION, R.MEDIA_TOO_SHORT, *IdReason),
    429: (R.LOCKOUT_ID, R.LOCKOUT_CLERK),
    500: (R.INTERNAL,),
    503: (R.STORAGE_UNAVAILABLE, R.ENGINE_UNAVAILABLE, R.ENGINE_BUSY, R.MODEL_MISSING, R.MODEL_INTEGRITY,
          R.KEYS_UNAVAILABLE, R.KEYS_MISMATCH, *KeyCode),
}

#: code -> HTTP status.
STATUS: Mapping[Code, int] = {code: status for status, codes in _TABLE.items() for code in codes}

#: The namespaces of the stages whose findings are reasons inside a decision
#: (returned with 200), never an error's code: a new code there is one too.
DECISION_NAMESPACES = ("QUALITY.", "LIVENESS.", "PAD.", "MATCH.", "DECISION.")

#: Codes that are reasons inside a decision, never an error's code; and
#: FACE.NOT_FOUND, which is both (a video without a face is a decision, a
#: portrait without one an error).
DECISION_REASONS: tuple[Code, ...] = (
    R.FACE_NOT_FOUND, R.FACE_MULTIPLE, R.REVIEW_EXPIRED,
    *(code for code in ReasonCode if code.value.startswith(DECISION_NAMESPACES)),
)

#: Where the HTTP layer gives a code a second status, and why (documentation;
#: the raise sites pass it).
REFINED: Mapping[Code, tuple[int, str]] = {
    R.REGISTRATION_FIELD: (400, "http/multipart.py: the multipart body cannot be parsed"),
    R.MEDIA_EMPTY: (422, "http/registrations.py: a file field of the form is empty"),
}

#: KeyringError codes are the operator's; a client is told only this.
_KEYS_PUBLIC = (R.KEYS_UNAVAILABLE, "personal data cannot be decrypted or indexed now")

#: Errors raised by the framework rather than by simreg, as codes of the envelope.
_HTTP_ERRORS: Mapping[int, tuple[Code, str]] = {
    400: (R.REQUEST_MALFORMED, "the request body cannot be parsed"),
    413: (R.MEDIA_TOO_LARGE, "the request body is too large"),
    404: (R.ROUTE_NOT_FOUND, "no such route"),
    405: (R.ROUTE_METHOD_NOT_ALLOWED, "this route does not take this method"),
}


def status_of(err: SimregError) -> int:
    """The HTTP status of ``err``: its code's, or the HTTP layer's refinement."""
    refined = getattr(err, "_http_status", None)
    if refined is not None:
        return refined
    status = STATUS.get(err.code)
    if status is None:  # a decision reason raised as an error: a bug, but never a traceback
        log.error("code %s has no HTTP status in the table", err.code)
        return 500
    return status


def request_id_of(request: Request) -> str:
    return getattr(request.state, "request_id", "") or ""


def error_response(request: Request | str, code: Code, message: str, *, status: int | None = None,
                   retry_after_s: int | None = None, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The envelope ``{code, message, request_id}`` with ``code``'s status (from the
    table unless ``status`` is given) and ``Retry-After`` when ``retry_after_s`` is
    known or the status is 503.  ``request`` is the request (its id is read from
    its state) or the id itself."""
    status = STATUS[code] if status is None else status
    out = dict(headers or {})
    if retry_after_s is None and status == 503:
        retry_after_s = DEFAULT_RETRY_AFTER_S
    if retry_after_s is not None:
        out["Retry-After"] = str(retry_after_s)
    rid = request if isinstance(request, str) else request_id_of(request)
    return JSONResponse({"code": code.value, "message": message, "request_id": rid},
                        status_code=status, headers=out or None)


def internal_error(request_id: str) -> JSONResponse:
    """The last line of defence (the request-id middleware): a 500 in the envelope."""
    return error_response(request_id, R.INTERNAL, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the one mapping of every exception class above on ``app``."""

    @app.exception_handler(SimregError)
    async def simreg_error(request: Request, exc: SimregError):
        return error_response(request, exc.code, exc.message, status=status_of(exc),
                              retry_after_s=exc.retry_after_s)

    @app.exception_handler(KeyringError)
    async def keyring_error(request: Request, exc: KeyringError):
        log.error("keyring error: %s", exc.code)
        return error_response(request, *_KEYS_PUBLIC)

    async def data_error(request: Request, exc: Exception):
        # the database refused a value (a NUL byte, an out-of-range number): the
        # client's input, not an outage; the transaction was rolled back
        return error_response(request, R.REQUEST_INVALID, "a value in the request cannot be stored")

    async def storage_error(request: Request, exc: Exception):
        # the transaction was rolled back (or the connection is gone, which the
        # database rolls back): nothing of the request was stored
        log.error("storage error: %s", type(exc).__name__)
        return error_response(request, R.STORAGE_UNAVAILABLE, "the database is unavailable; retry")

    # the more specific classes first: Starlette picks the handler by the exception's MRO
    for cls in REFUSED_VALUE_ERRORS:
        app.add_exception_handler(cls, data_error)
    for cls in STORAGE_ERRORS:
        app.add_exception_handler(cls, storage_error)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(request, R.REQUEST_MALFORMED, "the body is not valid JSON")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if any(tuple(e.get("loc", ())) == ("body",) for e in errors) and ctype not in ("application/json", ""):
            return error_response(request, R.MEDIA_UNSUPPORTED_FORMAT, "send the body as application/json")
        fields = sorted({".".join(str(x) for x in e.get("loc", ())[1:]) or str(e.get("loc", ("body",))[0])
                         for e in errors})
        code = field_error([tuple(e.get("loc", ())) for e in errors]) or R.REQUEST_INVALID
        return error_response(request, code, "invalid request fields: " + ", ".join(fields))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        # the router's own refusals (no such path, a method the path does not take)
        # and FastAPI's body-parse failure: the one envelope, a stable code
        if isinstance(exc.__cause__, SimregError):  # raised while FastAPI read the body (multipart.BodyCap)
            return await simreg_error(request, exc.__cause__)
        code, message = _HTTP_ERRORS.get(exc.status_code, (R.REQUEST_INVALID, "the request is invalid"))
        return error_response(request, code, message, status=exc.status_code, headers=getattr(exc, "headers", None))


def all_codes() -> list[Code]:
    """Every code of the family, in the order of the enums."""
    return [code for enum in family() for code in enum]


def reference_rows() -> list[tuple[str, str, str]]:
    """(code, HTTP status, where it is used) for the README's reference."""
    rows = []
    for code in all_codes():
        if isinstance(code, CliCode):
            rows.append((code.value, "—", "CLI only"))
            continue
        uses = []
        if code in STATUS:
            status = str(STATUS[code])
            if isinstance(code, KeyCode):
                uses.append("error (CLI, logs); an HTTP client sees KEYS.UNAVAILABLE")
            else:
                uses.append("error")
            if code in REFINED:
                status += f"; {REFINED[code][0]} when {REFINED[code][1].split(': ', 1)[1]}"
        else:
            status = "200"
        if code in DECISION_REASONS:
            uses.append("decision reason")
        rows.append((code.value, status, ", ".join(uses)))
    return rows
