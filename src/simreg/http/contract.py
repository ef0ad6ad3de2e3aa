"""The API's contract, where JSON Schema can state it: the shapes of the fields
the server checks, and the error statuses every route shares.

One rule: a request the OpenAPI document calls invalid is refused, with a
specific code.  So each pattern below is both published (in the request
schemas) and enforced (by pydantic for JSON bodies and parameters, by the
checks below for multipart forms), and the domain's own, deeper checks
(checksums, regions, dates, quota) only ever refuse more.

The API takes document and phone numbers as printed, in ASCII: no spaces,
separators or full-width digits (the terminal or the page normalises what a
person types).  The domain still normalises for its other callers (the CLI).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, WithJsonSchema

from ..domain.errors import InputError
from ..domain.reasons import Code, IdReason, ReasonCode

# --------------------------------------------------------------------------- field shapes

#: E.164 (``+8613800138000``), or an 11-digit mainland mobile number without prefix.
PHONE_PATTERN = r"^(\+[1-9][0-9]{7,14}|1[3-9][0-9]{9})$"
#: A resident ID or HK/Macau/Taiwan residence permit (17 digits and a check
#: character), an HK/Macau travel permit (H or M, 8 or 10 digits), a Taiwan
#: travel permit (8 digits), or a passport number as in its MRZ (up to 9
#: letters or digits; passports are checked against the MRZ).
ID_NUMBER_PATTERN = r"^([0-9]{17}[0-9Xx]|[HMhm][0-9]{8}([0-9]{2})?|[0-9A-Za-z]{5,9})$"
#: Lines of A-Z, 0-9 and ``<`` (ICAO 9303: 3 x 30, 2 x 36 or 2 x 44), separated by newlines.
MRZ_PATTERN = r"^[A-Z0-9<]{30,44}(\r?\n[A-Z0-9<]{30,44}){1,2}\r?\n?$"
#: ``YYYY-MM-DD`` or ``long_term`` (长期, resident IDs only).
EXPIRY_PATTERN = r"^([0-9]{4}-[0-9]{2}-[0-9]{2}|long_term)$"
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
#: RFC 3339 with its offset (``Z`` or ``±hh:mm``), upper-case T and Z.
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"
SEXES = ("M", "F", "X", "男", "女")
ID_TYPES = ("cn_resident", "passport", "hk_macau_taiwan")
#: Seconds from the video's start, comma-separated (at most 8).
PROMPT_TIMES_PATTERN = r"^[0-9]{1,5}(\.[0-9]{1,6})?(,[0-9]{1,5}(\.[0-9]{1,6})?){0,7}$"
#: The same for the flash colours (at most 32).
FLASH_TIMES_PATTERN = r"^[0-9]{1,5}(\.[0-9]{1,6})?(,[0-9]{1,5}(\.[0-9]{1,6})?){0,31}$"
NAME_MAX = 200


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value, re.ASCII) is not None


# --------------------------------------------------------------------------- strict scalar types

def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 text with its offset (pydantic alone would take a number
    as Unix time, or a date without a time, or a time without a zone)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _matches(DATETIME_PATTERN, value):
        raise ValueError("must be an RFC 3339 date-time with its offset, e.g. 2026-11-29T08:15:00+08:00")
    return value


def _iso_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _matches(DATE_PATTERN, value):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


def _integer(value: Any) -> Any:
    """Only digits (an optional minus): not ``1.0``, ``+1``, `` 1`` or ``1_000``."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and _matches(r"^-?[0-9]{1,19}$", value):
        return value
    raise ValueError("must be an integer")


Rfc3339 = Annotated[datetime, BeforeValidator(_rfc3339),
                    WithJsonSchema({"type": "string", "format": "date-time", "pattern": DATETIME_PATTERN})]
IsoDate = Annotated[date, BeforeValidator(_iso_date),
                    WithJsonSchema({"type": "string", "format": "date", "pattern": DATE_PATTERN})]
#: Put after ``Query(...)``/``Path(...)`` in an ``Annotated`` parameter: digits only.
DIGITS = BeforeValidator(_integer)
PhoneNumber = Annotated[str, Field(pattern=PHONE_PATTERN, examples=["+8613800138000"])]
IdNumber = Annotated[str, Field(pattern=ID_NUMBER_PATTERN, examples=["11010519491231002X"])]
Mrz = Annotated[str, Field(pattern=MRZ_PATTERN, max_length=140)]
Expiry = Annotated[str, Field(pattern=EXPIRY_PATTERN, examples=["long_term"])]

#: A refused field's code, when the field names it (others are REQUEST.INVALID);
#: its status is the code's (http/errors.py).
FIELD_ERRORS: dict[str, Code] = {
    "id_number": IdReason.FORMAT,
    "mrz": IdReason.MRZ_FORMAT,
    "id_expiry": IdReason.EXPIRY_INVALID,
    "birth_date": IdReason.BIRTH_DATE,
    "sex": IdReason.SEX_INVALID,
    "phone_number": ReasonCode.NUMBER_INVALID,
    "numbers": ReasonCode.NUMBER_INVALID,
    "idempotency-key": ReasonCode.IDEMPOTENCY_KEY_MISSING,
}


def field_error(locations: list[tuple]) -> Code | None:
    """The one specific code for validation errors at ``locations`` (pydantic's
    ``loc`` tuples), when they all name one field of the table."""
    names = set()
    for loc in locations:
        named = [x for x in loc[1:] if isinstance(x, str)]
        names.add(named[0] if named else None)
    if len(names) == 1:
        (name,) = names
        return FIELD_ERRORS.get(name) if name is not None else None
    return None


# --------------------------------------------------------------------------- multipart forms

def check_form_shapes(fields: dict[str, str | None]) -> None:
    """The multipart form's text fields (as sent, unstripped; an empty field counts
    as absent) against the shapes the form's schema publishes."""
    def present(name: str) -> str | None:
        v = fields.get(name)
        if name == "mirrored":  # a boolean: sent, it is true or false
            return v
        return v if v else None

    checks = [
        ("id_type", lambda v: v in ID_TYPES, ReasonCode.REGISTRATION_FIELD, "id_type must be one of "
         + ", ".join(ID_TYPES)),
        ("id_number", lambda v: _matches(ID_NUMBER_PATTERN, v), IdReason.FORMAT,
         "the document number has the wrong shape (ASCII letters and digits as printed)"),
        ("mrz", lambda v: _matches(MRZ_PATTERN, v), IdReason.MRZ_FORMAT,
         "MRZ must be 2 or 3 lines of A-Z, 0-9 and <"),
        ("id_expiry", lambda v: _matches(EXPIRY_PATTERN, v), IdReason.EXPIRY_INVALID,
         "id_expiry must be YYYY-MM-DD or long_term"),
        ("birth_date", lambda v: _matches(DATE_PATTERN, v), IdReason.BIRTH_DATE, "birth_date must be YYYY-MM-DD"),
        ("sex", lambda v: v in SEXES, IdReason.SEX_INVALID, "sex must be M, F or X"),
        ("phone_number", lambda v: _matches(PHONE_PATTERN, v), ReasonCode.NUMBER_INVALID,
         "the phone number must be E.164 (+8613800138000) or an 11-digit mainland mobile number"),
        ("mirrored", lambda v: v in ("true", "false"), ReasonCode.REGISTRATION_FIELD, "mirrored must be true or false"),
        ("prompt_times", lambda v: _matches(PROMPT_TIMES_PATTERN, v), ReasonCode.REGISTRATION_FIELD,
         "prompt_times must be comma-separated seconds (at most 8)"),
        ("flash_times", lambda v: _matches(FLASH_TIMES_PATTERN, v), ReasonCode.REGISTRATION_FIELD,
         "flash_times must be comma-separated seconds (at most 32)"),
        ("name", lambda v: len(v) <= NAME_MAX, IdReason.NAME_TOO_LONG, f"name is longer than {NAME_MAX} characters"),
    ]
    for name, ok, code, message in checks:
        value = present(name)
        if value is not None and not ok(value):
            raise InputError(code, message)


def form_properties(descriptions: dict[str, str]) -> dict[str, dict]:
    """The JSON Schema of a multipart form's text fields, with the shapes above."""
    optional_pattern = lambda p: "^$|" + p  # noqa: E731  an empty field counts as absent
    shapes: dict[str, dict] = {
        "id_type": {"type": "string", "enum": list(ID_TYPES)},
        "id_number": {"type": "string", "pattern": optional_pattern(ID_NUMBER_PATTERN)},
        "mrz": {"type": "string", "pattern": optional_pattern(MRZ_PATTERN)},
        "id_expiry": {"type": "string", "pattern": optional_pattern(EXPIRY_PATTERN)},
        "birth_date": {"type": "string", "pattern": optional_pattern(DATE_PATTERN)},
        "sex": {"type": "string", "enum": ["", *SEXES]},
        "phone_number": {"type": "string", "pattern": optional_pattern(PHONE_PATTERN)},
        "mirrored": {"type": "boolean"},
        "prompt_times": {"type": "string", "pattern": optional_pattern(PROMPT_TIMES_PATTERN)},
        "flash_times": {"type": "string", "pattern": optional_pattern(FLASH_TIMES_PATTERN)},
        "name": {"type": "string", "maxLength": NAME_MAX},
    }
    return {k: {**shapes.get(k, {"type": "string"}), "description": d} for k, d in descriptions.items()}


# --------------------------------------------------------------------------- shared error statuses

def complete_error_statuses(spec: dict) -> dict:
    """Document on each operation the statuses the shared machinery can give it,
    whatever the route itself lists:

    * 401 and 503 on the ``/v1`` routes: every one authenticates (http/auth.py;
      tests/http/test_role_matrix.py holds every route to it), and every one
      reads the database or the keyring, which may be unavailable;
    * 422 where the operation has parameters or a body (validation);
    * 400 and 415 where it takes a JSON body (unparsable, or not JSON);
    * 413 where it takes a body (past the service's cap, http/multipart.BodyCap).
    """
    from .schemas import ErrorResponse

    spec.setdefault("components", {}).setdefault("schemas", {}).setdefault(
        "ErrorResponse", ErrorResponse.model_json_schema())
    examples = {400: ReasonCode.REQUEST_MALFORMED.value, 401: ReasonCode.AUTH_MISSING.value,
                413: ReasonCode.MEDIA_TOO_LARGE.value, 415: ReasonCode.MEDIA_UNSUPPORTED_FORMAT.value,
                422: ReasonCode.REQUEST_INVALID.value,
                503: ReasonCode.STORAGE_UNAVAILABLE.value}
    for path, operations in spec.get("paths", {}).items():
        for op in operations.values():
            needed = set()
            if path.startswith("/v1/"):
                needed |= {401, 503}
            if op.get("parameters") or op.get("requestBody"):
                needed.add(422)
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                needed |= {400, 415}
            if op.get("requestBody"):  # any body past the service's cap (multipart.BodyCap)
                needed.add(413)
            for status in sorted(needed):
                op["responses"].setdefault(str(status), {
                    "description": "Error",
                    "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/ErrorResponse"},
                        "example": {"code": examples[status], "message": "what went wrong, for the clerk",
                                    "request_id": "6f1c0c8e2b8e4b1f9d1c5a3e7b2a9d40"}}}})
    return spec
