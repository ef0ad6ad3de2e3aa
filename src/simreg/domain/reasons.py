"""Reason codes and outcomes: part of the public API contract.

A code's string value never changes once released; new codes may be added.

Every code simreg gives a client, an operator or the CLI is a member of one
enum family, the subclasses of :class:`Code`:

- :class:`ReasonCode`: decision reasons and the errors of the service;
- :class:`IdReason`: why an identity document was refused (``ID.*``);
- :class:`KeyCode`: keyring and envelope failures (``KEYS.*``, of
  ``adapters.crypto.KeyringError``; shown to an HTTP client as ``KEYS.UNAVAILABLE``);
- :class:`CliCode`: refusals only the command line gives.

A value appears once in the family.  Which HTTP status each code has is the
HTTP layer's table (``http/errors.py``); the README's reference of codes is
generated from both (``scripts/gen_error_codes.py``).
"""

from __future__ import annotations

from enum import Enum


class Code(str, Enum):
    """The base of the family (no members): ``isinstance(x, Code)`` is true of
    every code, and ``family()`` lists them all."""


def family() -> tuple[type[Code], ...]:
    """The enums of the family, in the order the README lists them."""
    return (ReasonCode, IdReason, KeyCode, CliCode)


class ReasonCode(Code):
    # Media / input
    MEDIA_EMPTY = "MEDIA.EMPTY"
    MEDIA_TOO_LARGE = "MEDIA.TOO_LARGE"
    MEDIA_UNDECODABLE = "MEDIA.UNDECODABLE"
    MEDIA_UNSUPPORTED_FORMAT = "MEDIA.UNSUPPORTED_FORMAT"
    MEDIA_DIMENSIONS = "MEDIA.DIMENSIONS"
    MEDIA_NO_VIDEO = "MEDIA.NO_VIDEO"
    MEDIA_UNSUPPORTED_CODEC = "MEDIA.UNSUPPORTED_CODEC"
    MEDIA_TOO_LONG = "MEDIA.TOO_LONG"
    MEDIA_TOO_MANY_FRAMES = "MEDIA.TOO_MANY_FRAMES"
    MEDIA_RESOLUTION = "MEDIA.RESOLUTION"
    MEDIA_TOO_SHORT = "MEDIA.TOO_SHORT"
    # Faces
    FACE_NOT_FOUND = "FACE.NOT_FOUND"
    FACE_MULTIPLE = "FACE.MULTIPLE"
    # Quality
    QUALITY_FACE_TOO_SMALL = "QUALITY.FACE_TOO_SMALL"
    QUALITY_BLUR = "QUALITY.BLUR"
    QUALITY_UNDEREXPOSED = "QUALITY.UNDEREXPOSED"
    QUALITY_OVEREXPOSED = "QUALITY.OVEREXPOSED"
    QUALITY_LOW_CONTRAST = "QUALITY.LOW_CONTRAST"
    QUALITY_POSE = "QUALITY.POSE"
    QUALITY_EYES_CLOSED = "QUALITY.EYES_CLOSED"
    # Liveness (active challenge) and presentation-attack detection
    LIVENESS_NO_BLINK = "LIVENESS.NO_BLINK"
    LIVENESS_TURN_MISSING = "LIVENESS.TURN_MISSING"
    LIVENESS_ORDER = "LIVENESS.ORDER"
    LIVENESS_FACE_LOST = "LIVENESS.FACE_LOST"
    LIVENESS_MULTIPLE_FACES = "LIVENESS.MULTIPLE_FACES"
    LIVENESS_IDENTITY_CHANGED = "LIVENESS.IDENTITY_CHANGED"
    LIVENESS_TOO_SHORT = "LIVENESS.TOO_SHORT"
    LIVENESS_TRACK_JUMP = "LIVENESS.TRACK_JUMP"
    PAD_PLANAR_MOTION = "PAD.PLANAR_MOTION"
    PAD_SCREEN_SUSPECTED = "PAD.SCREEN_SUSPECTED"
    PAD_PRINT_SUSPECTED = "PAD.PRINT_SUSPECTED"
    PAD_MODEL_SUSPECTED = "PAD.MODEL_SUSPECTED"     # the pretrained PAD model (MiniFASNet) led the fused score
    PAD_NO_PULSE = "PAD.NO_PULSE"                   # no skin pulse (rPPG) led the fused score
    # Access
    AUTH_MISSING = "AUTH.MISSING"
    AUTH_INVALID = "AUTH.INVALID"
    AUTH_FORBIDDEN = "AUTH.FORBIDDEN"
    ADMIN_UNKNOWN_OUTLET = "ADMIN.UNKNOWN_OUTLET"
    ADMIN_UNKNOWN_CLERK = "ADMIN.UNKNOWN_CLERK"
    AUDIT_NO_SUCH_ENTRY = "AUDIT.NO_SUCH_ENTRY"
    AUDIT_BROKEN = "AUDIT.BROKEN"
    # Capture sessions / challenges
    SESSION_EXPIRED = "SESSION.EXPIRED"
    SESSION_REPLAYED = "SESSION.REPLAYED"
    SESSION_UNKNOWN = "SESSION.UNKNOWN"
    CHALLENGE_INVALID = "CHALLENGE.INVALID"
    CHALLENGE_NOT_ALLOWED = "CHALLENGE.NOT_ALLOWED"
    # Matching
    MATCH_BELOW_THRESHOLD = "MATCH.BELOW_THRESHOLD"
    MATCH_GREY_ZONE = "MATCH.GREY_ZONE"
    # Registration, registry, quota, lockouts
    QUOTA_EXCEEDED = "QUOTA.EXCEEDED"
    LOCKOUT_ID = "LOCKOUT.ID"
    LOCKOUT_CLERK = "LOCKOUT.CLERK"
    NUMBER_INVALID = "NUMBER.INVALID"
    NUMBER_UNAVAILABLE = "NUMBER.UNAVAILABLE"
    NUMBER_POOL_EMPTY = "NUMBER.POOL_EMPTY"
    NUMBER_TRANSITION = "NUMBER.TRANSITION"
    NUMBER_UNKNOWN = "NUMBER.UNKNOWN"
    IDEMPOTENCY_KEY_MISSING = "IDEMPOTENCY.KEY_MISSING"
    IDEMPOTENCY_MISMATCH = "IDEMPOTENCY.MISMATCH"
    IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY.IN_PROGRESS"
    CONSENT_REQUIRED = "CONSENT.REQUIRED"
    CONSENT_INVALID = "CONSENT.INVALID"
    REGISTRATION_UNKNOWN = "REGISTRATION.UNKNOWN"
    REGISTRATION_FIELD = "REGISTRATION.FIELD"
    REVIEW_NOT_PENDING = "REVIEW.NOT_PENDING"
    REVIEW_REASON_REQUIRED = "REVIEW.REASON_REQUIRED"
    REVIEW_EXPIRED = "REVIEW.EXPIRED"
    ALTERNATIVE_REASON_REQUIRED = "ALTERNATIVE.REASON_REQUIRED"
    DECISION_ALTERNATIVE_PATH = "DECISION.ALTERNATIVE_PATH"
    DECISION_SUPERVISOR_APPROVED = "DECISION.SUPERVISOR_APPROVED"
    DECISION_SUPERVISOR_REJECTED = "DECISION.SUPERVISOR_REJECTED"
    LOOKUP_UNKNOWN = "LOOKUP.UNKNOWN"
    LOOKUP_EXPIRED = "LOOKUP.EXPIRED"
    DISPUTE_UNKNOWN = "DISPUTE.UNKNOWN"
    DISPUTE_NOT_OPEN = "DISPUTE.NOT_OPEN"
    STORAGE_UNAVAILABLE = "STORAGE.UNAVAILABLE"
    KEYS_UNAVAILABLE = "KEYS.UNAVAILABLE"
    KEYS_MISMATCH = "KEYS.MISMATCH"
    # Models / policy / infrastructure
    MODEL_INTEGRITY = "MODEL.INTEGRITY"
    MODEL_MISSING = "MODEL.MISSING"
    POLICY_INVALID = "POLICY.INVALID"
    POLICY_NOT_CALIBRATED = "POLICY.NOT_CALIBRATED"
    ENGINE_UNAVAILABLE = "ENGINE.UNAVAILABLE"
    ENGINE_BUSY = "ENGINE.BUSY"
    # The request itself (any route): its body, fields, path or method
    REQUEST_INVALID = "REQUEST.INVALID"
    REQUEST_MALFORMED = "REQUEST.MALFORMED"
    ROUTE_NOT_FOUND = "ROUTE.NOT_FOUND"
    ROUTE_METHOD_NOT_ALLOWED = "ROUTE.METHOD_NOT_ALLOWED"
    # The last line of defence: an unexpected fault (logged with the request id)
    INTERNAL = "INTERNAL"


class IdReason(Code):
    """Why a document was refused.  Part of the API contract, like ``ReasonCode``:
    a value never changes once released.  (Re-exported by ``domain.id_document``.)"""

    KIND_UNSUPPORTED = "ID.KIND_UNSUPPORTED"
    FORMAT = "ID.FORMAT"
    LEGACY_15_DIGIT = "ID.LEGACY_15_DIGIT"
    CHECKSUM = "ID.CHECKSUM"
    REGION = "ID.REGION"
    BIRTH_DATE = "ID.BIRTH_DATE"
    BIRTH_DATE_MISSING = "ID.BIRTH_DATE_MISSING"
    BIRTH_DATE_MISMATCH = "ID.BIRTH_DATE_MISMATCH"
    UNDERAGE = "ID.UNDERAGE"
    SEX_INVALID = "ID.SEX_INVALID"
    SEX_MISMATCH = "ID.SEX_MISMATCH"
    EXPIRY_MISSING = "ID.EXPIRY_MISSING"
    EXPIRY_INVALID = "ID.EXPIRY_INVALID"
    EXPIRY_MISMATCH = "ID.EXPIRY_MISMATCH"
    EXPIRED = "ID.EXPIRED"
    NUMBER_MISMATCH = "ID.NUMBER_MISMATCH"
    MRZ_MISSING = "ID.MRZ_MISSING"
    MRZ_FORMAT = "ID.MRZ_FORMAT"
    MRZ_CHECK_DIGIT = "ID.MRZ_CHECK_DIGIT"
    MRZ_DOCUMENT_CODE = "ID.MRZ_DOCUMENT_CODE"
    NAME_EMPTY = "ID.NAME_EMPTY"
    NAME_INVALID = "ID.NAME_INVALID"
    NAME_TOO_LONG = "ID.NAME_TOO_LONG"


class KeyCode(Code):
    """Keyring and envelope failures (``adapters.crypto.KeyringError.code``; the
    operator sees them in the CLI and the logs, an HTTP client ``KEYS.UNAVAILABLE``).
    ``KEYS.MISMATCH`` is :attr:`ReasonCode.KEYS_MISMATCH`, one code for both."""

    MISSING = "KEYS.MISSING"
    UNREADABLE = "KEYS.UNREADABLE"
    PERMISSIONS = "KEYS.PERMISSIONS"
    WRITE_FAILED = "KEYS.WRITE_FAILED"
    UNKNOWN_KEY = "KEYS.UNKNOWN_KEY"
    BAD_ENVELOPE = "KEYS.BAD_ENVELOPE"
    DECRYPT_FAILED = "KEYS.DECRYPT_FAILED"
    INVALID_ARGUMENT = "KEYS.INVALID_ARGUMENT"
    INVALID_OPERATION = "KEYS.INVALID_OPERATION"


class CliCode(Code):
    """Refusals only the command line gives (its JSON error lines); the CLI also
    prints codes of the other enums (``AUDIT.BROKEN``, ``KEYS.MISSING``, ...)."""

    CONFIG_INVALID = "CONFIG.INVALID"
    CONFIG_EXTRA_MISSING = "CONFIG.EXTRA_MISSING"
    INPUT_FILE = "INPUT.FILE"
    KEYS_EXISTS = "KEYS.EXISTS"
    KEYS_OUT_REQUIRED = "KEYS.OUT_REQUIRED"
    AUDIT_CHECKPOINT_INVALID = "AUDIT.CHECKPOINT_INVALID"
    AUDIT_CHECKPOINT_SIGNATURE = "AUDIT.CHECKPOINT_SIGNATURE"


class Outcome(str, Enum):
    """A registration attempt's decision."""
    APPROVED = "approved"
    REJECTED = "rejected"
    REVIEW = "review"


class MatchOutcome(str, Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
