"""Request and response bodies of the REST API (pydantic lives only here and in config)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema
from typing_extensions import TypedDict

from ..domain.access import Role
from ..domain.numbers import NumberState
from ..domain.pii import contains_personal_number
from ..domain.reasons import Outcome
from .contract import Expiry, IdNumber, IsoDate, Mrz, PhoneNumber, Rfc3339


def _no_personal_numbers(text: str) -> str:
    if contains_personal_number(text):
        raise ValueError("free text must not hold ID numbers, phone numbers or MRZ lines")
    return text


#: Free text that is kept and audited (reasons, notes, statements): no personal numbers.
FreeText = Annotated[str, AfterValidator(_no_personal_numbers)]


#: A JSON number as produced: an int stays an int, a float a float (pydantic's
#: ``float`` would turn ``1`` into ``1.0``).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


# --------------------------------------------------------------------------- scores
# TypedDicts, not models: a key the decision did not produce stays absent (a
# model would add it as null), and keys a newer stage adds pass through.  Their
# __pydantic_config__ is pydantic's documented way to configure a TypedDict, which
# a TypedDict body does not otherwise allow (hence the `type: ignore[misc]`).

class LivenessEventPublic(TypedDict, total=False):
    """One challenge action seen in the video, in seconds from its start."""
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    action: str
    start: Number
    end: Number


class LivenessScoresPublic(TypedDict, total=False):
    """The challenge: passed, the share of frames with the face, the identity
    check across the video, and the actions seen."""
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    passed: bool
    face_fraction: Number
    identity_min_similarity: Number | None
    events: list[LivenessEventPublic]


class MatchScoresPublic(TypedDict, total=False):
    """The live face against the ID portrait, with the threshold that applied."""
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    score: Number
    threshold: Number
    target_fmr: Number
    model_id: str
    threshold_key: str
    review_threshold: Number | None


class ScoresPublic(TypedDict, total=False):
    """Liveness, passive PAD (signal -> score, null when a signal could not be
    measured) and match; ``match`` is absent when no live face was analysed, and
    the alternative path has none of them."""
    __pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[misc]
    liveness: LivenessScoresPublic
    pad: dict[str, Number | None]
    match: MatchScoresPublic


_SCORES_EXAMPLE = {"match": {"score": 4.21, "threshold": 2.69, "target_fmr": 0.001}}


class ErrorResponse(BaseModel):
    code: str = Field(examples=["SESSION.EXPIRED"])
    message: str = Field(examples=["the capture session has expired"])
    request_id: str = Field(examples=["6f1c0c8e2b8e4b1f9d1c5a3e7b2a9d40"])


class SessionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: list[str] | None = Field(
        default=None, description="Development only (SIMREG_ENV=development): name the challenge, "
                                  "so tests can replay recorded videos. Refused otherwise.",
        examples=[None])


class MeResponse(BaseModel):
    clerk_id: str = Field(examples=["clk_1f9d1c5a3e7b2a9d"])
    name: str = Field(examples=["王芳"])
    role: Role = Field(description="clerk | supervisor | auditor | admin", examples=["clerk"])
    outlet_id: str = Field(examples=["out_4b1f9d1c5a3e7b2a"])
    outlet: str | None = Field(description="The outlet's name.", examples=["Counter 7, Xidan"])
    capture: CaptureLimitsPublic = Field(
        description="Limits a capture must respect: max_video_duration_s, max_video_bytes, max_image_bytes.",
        examples=[{"max_video_duration_s": 15.0, "max_video_bytes": 20971520, "max_image_bytes": 15728640}])


class CaptureLimitsPublic(BaseModel):
    max_video_duration_s: Number
    max_video_bytes: int
    max_image_bytes: int


class SessionResponse(BaseModel):
    session_id: str = Field(examples=["ses_4b1f9d1c5a3e7b2a9d40aa11"])
    challenge: list[str] = Field(description="Actions in order; turn_left = the subject's own left.",
                                 examples=[["turn_left", "blink", "turn_right"]])
    nonce: str = Field(examples=["p1Hq3n1aT0c2Yw8xV4m5Rw"])
    expires_at: datetime
    flash: FlashPublic = Field(description="Colours to light the screen with while recording, one after the "
                                             "other; the registration reports when each appeared (flash_times).")


class FlashPublic(BaseModel):
    colours: list[str] = Field(description="CSS colours in the order to show them.",
                               examples=[["#ff2020", "#20ffff", "#2020ff", "#ffff20"]])
    segment_s: float = Field(description="Seconds each colour stays on screen.", examples=[0.4])


def error_responses(*statuses: int, ok: tuple[int, object] | None = None) -> dict:
    """OpenAPI entries for the error statuses of a route (all carry ErrorResponse),
    and with ``ok=(status, example)`` an example of the success body."""
    examples = {400: "IDEMPOTENCY.KEY_MISSING", 401: "AUTH.MISSING", 403: "AUTH.FORBIDDEN", 404: "SESSION.UNKNOWN",
                409: "QUOTA.EXCEEDED", 410: "SESSION.EXPIRED", 413: "MEDIA.TOO_LARGE",
                415: "MEDIA.UNSUPPORTED_FORMAT", 422: "ID.CHECKSUM", 429: "LOCKOUT.ID", 503: "ENGINE.UNAVAILABLE"}
    return {s: {"model": ErrorResponse, "content": {"application/json": {"example": {
        "code": examples.get(s, "REQUEST.INVALID"), "message": "what went wrong, for the clerk",
        "request_id": "6f1c0c8e2b8e4b1f9d1c5a3e7b2a9d40"}}}} for s in statuses} | (
        {ok[0]: {"content": {"application/json": {"example": ok[1]}}}} if ok else {})


class CheckpointPublic(TypedDict):
    """An Ed25519-signed tree head (``simreg audit verify-receipt`` checks it)."""
    format: str
    key_id: str
    root_hash: str
    signature: str
    size: int
    timestamp: str


class Receipt(BaseModel):
    audit_position: int | None = Field(description="The decision's entry in the audit log (0-based); null while "
                                                    "pending in a sharded log.", examples=[1041])
    entry_hash: str | None = Field(description="SHA-256 of that entry (hex).",
                                   examples=["9f2c4e0b7a51d3c8e6f1a2b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8"])
    leaf_hash: str | None = Field(description="RFC 6962 leaf hash of the entry: SHA-256(0x00 || entry hash).")
    tree_size: int | None = Field(description="Entries in the log right after this one.", examples=[1042])
    root_hash: str | None = Field(description="Merkle root of those entries (hex).")
    checkpoint: CheckpointPublic | None = Field(
        description="Ed25519-signed (size, root) of that tree; null when no signing key is configured. Check with "
                    "`simreg audit prove INDEX --size SIZE` and `simreg audit verify-receipt`.")
    status: str | None = Field(None, description="Sharded audit log only (SIMREG_AUDIT_SHARD): \"pending\" until "
                                                 "the shard's sequencer has placed the entry; then GET "
                                                 "/v1/audit/receipts/{shard}/{outbox_id} (or `simreg audit receipt "
                                                 "SHARD OUTBOX_ID`) gives the complete receipt.")
    shard: str | None = Field(None, description="Sharded audit log only: the entry's shard.", examples=["44"])
    outbox_id: int | None = Field(None, description="Sharded audit log only: the entry's id while it waits.")


class ShardReceiptPublic(BaseModel):
    """A receipt of the sharded audit log, asked again by its shard and outbox id."""
    status: Literal["pending", "sequenced"] = Field(description="pending: still in the outbox; ask again.")
    shard: str = Field(examples=["44"])
    outbox_id: int
    audit_position: int | None = Field(description="The entry's position in its shard's log; null while pending.")
    entry_hash: str | None
    leaf_hash: str | None
    tree_size: int | None = Field(description="Size of the first batch checkpoint that covers the entry.")
    root_hash: str | None
    checkpoint: dict[str, Any] | None = Field(description="That batch checkpoint: a C2SP signed note, its origin, "
                                                          "size and root.")
    root_position: int | None = Field(None, description="Where that checkpoint sits in the root log.")
    root: dict[str, Any] | None = Field(None, description="The root log's entry for it, the signed root checkpoint "
                                                          "and the entry's inclusion proof; check the whole chain "
                                                          "offline with `simreg audit verify-receipt`.")


class RegistrationResponse(BaseModel):
    registration_id: str = Field(examples=["reg_5a3e7b2a9d40aa114b1f9d1c"])
    outcome: Outcome = Field(description="approved | rejected | review", examples=["approved"])
    reasons: list[str] = Field(description="Stable reason codes (empty when approved on the face path).",
                               examples=[[]])
    phone_number: str | None = Field(description="E.164; the number activated (approved) or reserved (review).",
                                     examples=["+8613800138000"])
    scores: ScoresPublic = Field(description="Liveness, PAD and match scores with the thresholds that applied.",
                                 examples=[_SCORES_EXAMPLE])
    receipt: Receipt
    idempotent_replay: bool = Field(default=False, description="True when this is the stored result of an "
                                                               "earlier request with the same Idempotency-Key.")


class RegistrationView(BaseModel):
    registration_id: str
    path: str = Field(description="face | alternative")
    outcome: Outcome = Field(description="approved | rejected | review (current, after any review)")
    decided_outcome: Outcome = Field(description="what the pipeline decided")
    reasons: list[str]
    scores: ScoresPublic
    clerk_id: str
    outlet_id: str
    session_id: str | None
    person_id: str | None
    model_ids: list[str]
    policy_sha256: str
    statement: str | None
    reviewed_by: str | None
    reviewed_at: str | None
    review_reason: str | None
    created_at: str
    audit_position: int | None
    audit_shard: str | None = Field(None, description="Sharded audit log only: the decision entry's shard "
                                                      "(GET /v1/audit/receipts/{shard}/{outbox_id} gives its receipt).")
    audit_outbox_id: int | None = Field(None, description="Sharded audit log only: the decision entry's outbox id.")
    phone_number: str | None
    phone_number_masked: str | None


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["approve", "reject"] = Field(examples=["approve"])
    reason: FreeText = Field(max_length=500, examples=["compared with the physical card: same person, old photo"])


class ReviewResponse(BaseModel):
    registration_id: str
    outcome: Outcome
    reasons: list[str]
    audit_position: int | None = Field(description="null in a sharded audit log (SIMREG_AUDIT_SHARD), where the "
                                                   "sequencer places the entry later.")
    audit_shard: str | None = Field(None, description="Sharded audit log only: the review entry's shard; with "
                                                      "audit_outbox_id, GET /v1/audit/receipts/{shard}/{outbox_id} "
                                                      "gives its receipt.")
    audit_outbox_id: int | None = Field(None, description="Sharded audit log only: the review entry's outbox id.")


class ConsentBody(BaseModel):
    text_version: str = Field(max_length=64, examples=["face-consent-v3"])
    accepted_at: Rfc3339 = Field(examples=["2026-11-29T08:15:00+08:00"])


class AlternativeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id_type: Literal["cn_resident", "passport", "hk_macau_taiwan"] = Field(examples=["cn_resident"])
    id_number: IdNumber | None = Field(default=None, description="As printed: ASCII letters and digits, no "
                                       "separators (passports: optional, checked against the MRZ).")
    mrz: Mrz | None = Field(default=None, description="Passports: the MRZ, lines separated by newlines.")
    name: str = Field(max_length=200, examples=["王芳"])
    id_expiry: Expiry | None = Field(default=None, description="YYYY-MM-DD, or long_term (resident IDs only).")
    birth_date: IsoDate | None = None
    sex: Literal["M", "F", "X", "男", "女"] | None = None
    phone_number: PhoneNumber | None = Field(default=None, description="E.164, or 11 digits for a mainland mobile; "
                                             "otherwise the next available number.")
    consent: ConsentBody
    statement: FreeText = Field(max_length=1000, description="Why the face path is not used (≥10 characters).",
                           examples=["customer has a facial injury; identity checked against the card in person"])


class NumbersRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    numbers: list[PhoneNumber] = Field(min_length=1, max_length=10_000,
                                       examples=[["+8613800138000", "13800138001"]])


class NumberStateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    state: Literal["suspended", "active", "released"] = Field(examples=["suspended"])
    reason: FreeText = Field(min_length=3, max_length=200, examples=["reported lost by the customer"])


class LookupNumber(BaseModel):
    number_ref: str = Field(description="Opaque reference for a dispute.", examples=["num_18a7c2e9f0b1d2c3a4b5c6d7"])
    phone_number_masked: str = Field(examples=["+86138****8000"])
    state: NumberState = Field(examples=["active"])
    outlet: str | None = Field(examples=["Counter 7"])
    registered_at: str | None


class LookupResponse(BaseModel):
    outcome: Outcome = Field(description="approved: identity proven; rejected: see reasons", examples=["approved"])
    reasons: list[str]
    numbers: list[LookupNumber]
    lookup_token: str | None = Field(description="For a dispute or a consent withdrawal, until expires_at.")
    expires_at: str | None
    scores: ScoresPublic


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lookup_token: str = Field(max_length=100, examples=["Jx3c0qK9v1b2Xw7yZ4mN8pQ5rT6sU1vW"])


class DisputeRequest(TokenRequest):
    number_ref: str = Field(max_length=40, examples=["num_18a7c2e9f0b1d2c3a4b5c6d7"])


class DisputeResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    resolution: Literal["upheld", "dismissed"] = Field(examples=["upheld"])
    note: FreeText = Field(max_length=500, examples=["registered with a forged card; number suspended"])


class OutletRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200, examples=["Counter 7, Xidan"])


class ClerkRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outlet_id: str = Field(examples=["out_4b1f9d1c5a3e7b2a"])
    name: str = Field(min_length=1, max_length=200, examples=["王芳"])
    role: Literal["clerk", "supervisor", "auditor", "admin"] = Field(examples=["clerk"])


# --------------------------------------------------------------------------- numbers

class NumbersAddedPublic(BaseModel):
    requested: int = Field(description="Numbers in the request.", examples=[2])
    added: int = Field(description="Numbers new to the pool (those already known are skipped).", examples=[2])


class NumberStatePublic(BaseModel):
    number_id: str = Field(examples=["num_18a7c2e9f0b1d2c3a4b5c6d7"])
    state: NumberState = Field(description="available | reserved | active | suspended | released",
                               examples=["suspended"])
    previous_state: NumberState = Field(examples=["active"])
    phone_number_masked: str = Field(examples=["+86138****8000"])


# --------------------------------------------------------------------------- citizen desk and disputes

class DisputePublic(BaseModel):
    dispute_id: str = Field(examples=["dsp_0b7a51d3c8e6f1a2b4c5d6e7"])
    status: str = Field(description="open | upheld | dismissed", examples=["open"])


class ConsentWithdrawnPublic(BaseModel):
    templates_shredded: int = Field(description="Face templates made unreadable (their data key deleted).",
                                    examples=[2])
    consents_withdrawn: int = Field(description="Consent records marked withdrawn.", examples=[1])


class OpenDisputePublic(BaseModel):
    dispute_id: str = Field(examples=["dsp_0b7a51d3c8e6f1a2b4c5d6e7"])
    number_ref: str = Field(examples=["num_18a7c2e9f0b1d2c3a4b5c6d7"])
    phone_number_masked: str = Field(examples=["+86138****8000"])
    registration_id: str | None = Field(examples=["reg_5a3e7b2a9d40aa114b1f9d1c"])
    raised_at: str = Field(examples=["2026-11-29T09:00:00+00:00"])
    status: str = Field(examples=["open"])


# --------------------------------------------------------------------------- administration

class OutletCreatedPublic(BaseModel):
    outlet_id: str = Field(examples=["out_4b1f9d1c5a3e7b2a"])


class ClerkCreatedPublic(BaseModel):
    clerk_id: str = Field(examples=["clk_1f9d1c5a3e7b2a9d"])
    token: str = Field(description="The bearer token, shown once: the service keeps only its SHA-256.")


class ClerkDeactivatedPublic(BaseModel):
    clerk_id: str = Field(examples=["clk_1f9d1c5a3e7b2a9d"])
    active: bool = Field(examples=[False])


# --------------------------------------------------------------------------- the audit log and reports

class AuditEntryPublic(BaseModel):
    """An entry as stored: every field its hash covers, ``details`` and
    ``model_ids`` as the canonical JSON text that was hashed."""
    position: int = Field(examples=[0])
    timestamp: str = Field(examples=["2026-11-29T08:00:00.000000Z"])
    actor: str = Field(examples=["admin-cli"])
    action: str = Field(examples=["admin.outlet_created"])
    subject: str = Field(examples=["out_4b1f9d1c5a3e7b2a"])
    details: str = Field(description="Canonical JSON text of the entry's facts.", examples=['{"name_length":9}'])
    model_ids: str = Field(description="Canonical JSON text of the model ids in force.", examples=['["none"]'])
    policy_sha256: str
    prev_hash: str
    entry_hash: str


class InclusionProofPublic(BaseModel):
    index: int = Field(examples=[1041])
    size: int = Field(examples=[1042])
    leaf_hash: str
    entry_hash: str
    root_hash: str
    proof: list[str] = Field(description="RFC 6962 audit path, hex, from the leaf up.")


class OutletReportPublic(BaseModel):
    outlet_id: str = Field(examples=["out_4b1f9d1c5a3e7b2a"])
    outlet: str = Field(examples=["Counter 7"])
    registrations: int
    face_attempts: int
    alternative_path: int
    outcomes: dict[str, int] = Field(description="Current outcome -> registrations.")
    top_reasons: dict[str, int] = Field(description="The commonest reason codes of face attempts -> count.")
    disputes: dict[str, int] = Field(description="Dispute status -> count.")
    flags: list[str] = Field(description="ALTERNATIVE_PATH_HIGH, REJECTIONS_HIGH, DISPUTES_UPHELD")


# --------------------------------------------------------------------------- probes and status

class HealthPublic(BaseModel):
    status: str = Field(examples=["ok"])


class ReadyPublic(BaseModel):
    status: str = Field(examples=["ready"])
    database: bool
    models: bool
    analyses_in_flight: int
    max_analyses_in_flight: int


class ThresholdStatusPublic(BaseModel):
    threshold: Number
    target_fmr: Number
    calibrated_on: str
    n_impostor: int
    min_impostors: int
    supported: bool | None


class PolicyStatusPublic(BaseModel):
    version: str
    sha256: str
    matcher: str
    thresholds: dict[str, ThresholdStatusPublic]


class DatabaseStatusPublic(TypedDict):
    backend: str
    url: Annotated[str, Field(description="Without its password.")]
    ok: bool
    error: NotRequired[str]


class PublicKeyPublic(BaseModel):
    key_id: str
    pem: str


class AuditStatusPublic(TypedDict):
    checkpoint_public_key: PublicKeyPublic | None
    entries: NotRequired[int]


class StatusPublic(BaseModel):
    version: str
    policy: PolicyStatusPublic
    models: dict[str, Any] = Field(description="The face engine's models: ids, files and their SHA-256.")
    database: DatabaseStatusPublic | None
    audit: AuditStatusPublic


SessionResponse.model_rebuild()
MeResponse.model_rebuild()
