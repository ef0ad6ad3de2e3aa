"""The registration use case: the pipeline wrapped in the registry's transaction.

    idempotency claim -> id_document.validate -> lockout check -> session check
    -> quota pre-check -> number pre-check -> pipeline.assess_registration
    (media -> face engine -> quality -> liveness/PAD -> match -> decision)
    -> registry.record_decision (session used, quota re-checked under the person's
    lock, number taken, registration + consent + attempt + audit entry: ONE
    transaction) -> response

Failures before the final transaction store nothing but, where the biometric
stages refused the input, a failed attempt for the lockout.  A failure in or
after it rolls everything back; the idempotency claim is released so a retry
runs again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from ..domain.access import Clerk
from ..domain.challenge import Challenge
from ..domain.errors import InputError, PolicyError, Throttled
from ..domain.flash import flash_plan
from ..domain.id_document import DocumentKind, IdDocument, normalise_number, validate_document
from ..domain.lockout import LockoutRule, locked_until
from ..domain.numbers import normalise_phone
from ..domain.quota import QuotaRule, check_quota
from ..domain.reasons import Outcome, ReasonCode
from ..domain.records import ConsentData, DecisionRecord, PersonData, Recorded, Stamp
from ..ports import RegistryPort

#: Input errors of the biometric stages that count as failed attempts (lockout).
BIOMETRIC_INPUT_ERRORS = ("FACE", "QUALITY", "MEDIA")

#: The ``id_type`` values of the API and the documents they may be.
ID_TYPES = ("cn_resident", "passport", "hk_macau_taiwan")


@dataclass(frozen=True)
class Consent:
    text_version: str
    accepted_at: datetime


@dataclass(frozen=True)
class DocumentInput:
    id_type: str
    id_number: str | None
    mrz: str | None
    name: str
    id_expiry: str | None
    birth_date: date | None = None
    sex: str | None = None


@dataclass(frozen=True)
class RegistrationInput:
    session_id: str
    document: DocumentInput
    portrait: bytes
    video: bytes
    mirrored: bool
    consent: Consent | None            # required to register; a lookup needs none
    phone_number: str | None = None
    prompt_times: tuple[float, ...] | None = None
    flash_times: tuple[float, ...] | None = None   # when each colour of the session's flash appeared


def document_kind(id_type: str, number: str | None) -> DocumentKind:
    """The document kind an API ``id_type`` names (``hk_macau_taiwan`` covers the
    residence permit, 18 characters starting 81/82/83, and the two travel permits)."""
    if id_type == "cn_resident":
        return DocumentKind.CN_RESIDENT_ID
    if id_type == "passport":
        return DocumentKind.PASSPORT
    if id_type == "hk_macau_taiwan":
        n = normalise_number(number or "")
        if len(n) == 18:
            return DocumentKind.CN_HMT_RESIDENCE_PERMIT
        if n[:1] in ("H", "M"):
            return DocumentKind.HK_MACAO_TRAVEL_PERMIT
        return DocumentKind.TAIWAN_TRAVEL_PERMIT
    raise InputError(ReasonCode.REGISTRATION_FIELD, f"id_type must be one of {', '.join(ID_TYPES)}")


def jurisdiction_of(doc: IdDocument) -> str:
    if doc.kind in (DocumentKind.CN_RESIDENT_ID, DocumentKind.CN_HMT_RESIDENCE_PERMIT):
        return "CN"
    if doc.kind in (DocumentKind.HK_MACAO_TRAVEL_PERMIT, DocumentKind.TAIWAN_TRAVEL_PERMIT):
        return "HMT"
    return doc.issuing_state or "XXX"


def holder_key(doc: IdDocument) -> str:
    """What identifies the holder across renewals: the blind index is taken of this."""
    family = "passport" if doc.kind in (DocumentKind.PASSPORT, DocumentKind.TRAVEL_DOCUMENT) else doc.kind.value
    return f"{family}|{doc.holder_key}"


class RegistrationService:
    def __init__(self, runtime, clock: Callable[[], datetime] | None = None):
        self.rt = runtime
        self.settings = runtime.settings
        self.registry: RegistryPort = runtime.registry
        self.clock = clock or runtime.clock
        s = self.settings
        self.quota = QuotaRule(s.quota_default, dict(s.quota_by_jurisdiction))
        self.lockout = LockoutRule(s.lockout_max_failures, s.lockout_window_s, s.lockout_s)

    @property
    def stamp(self) -> Stamp:
        return Stamp(tuple(self.rt.engine.model_ids), self.rt.policy.sha256)

    # ------------------------------------------------------------------ steps
    def validate(self, d: DocumentInput, today: date) -> IdDocument:
        kind = document_kind(d.id_type, d.id_number)
        return validate_document(kind, d.id_number, today=today, birth_date=d.birth_date, sex=d.sex,
                                 expiry=d.id_expiry, name=d.name, mrz=d.mrz, min_age=self.settings.min_age)

    def check_lockout(self, key: str, clerk: Clerk, now: datetime) -> None:
        by_id, by_clerk = self.registry.failures(self.registry.id_indexes(key), clerk.clerk_id,
                                                 now - self.lockout.lookback)
        for times, code, who in ((by_id, ReasonCode.LOCKOUT_ID, "this ID"),
                                 (by_clerk, ReasonCode.LOCKOUT_CLERK, "this clerk")):
            until = locked_until(times, now, self.lockout)
            if until is not None:
                raise Throttled(code, f"too many failed attempts for {who}; locked until {until.isoformat()}",
                                max(1, int((until - now).total_seconds())))

    def precheck_quota(self, key: str, doc: IdDocument) -> int:
        limit = self.quota.limit_for(jurisdiction_of(doc))
        check_quota(self.registry.held_numbers(key), limit)
        return limit

    def _idempotent(self, clerk: Clerk, idempotency_key: str | None, request: Sequence[object],
                    media: Sequence[bytes], now: datetime, run: Callable[[], dict]) -> dict:
        """``run()`` once per (clerk, key): a retry of the same request gets the stored
        response; a request that fails releases its claim so a retry runs again.  The
        digest is an HMAC (keyring) of the request's fields and of its media's SHA-256."""
        if not idempotency_key or len(idempotency_key) > 128:
            raise InputError(ReasonCode.IDEMPOTENCY_KEY_MISSING,
                             "send an Idempotency-Key header of 1-128 characters")
        h = hashlib.sha256(hashlib.sha256(json.dumps(list(request), ensure_ascii=False, default=str).encode()).digest())
        for part in media:
            h.update(hashlib.sha256(part).digest())
        digest = self.rt.keyring.blind_index(h.hexdigest(), purpose="request")
        stored = self.registry.claim_idempotency(clerk.clerk_id, idempotency_key, digest, now,
                                                 timedelta(seconds=self.settings.idempotency_stale_s))
        if stored is not None:
            return {**stored, "idempotent_replay": True}
        try:
            return run()
        except BaseException:
            self.registry.release_idempotency(clerk.clerk_id, idempotency_key, now)
            raise

    # ------------------------------------------------------------------ the face path
    def register(self, inp: RegistrationInput, clerk: Clerk, idempotency_key: str | None) -> dict:
        now = self.clock()
        d, c = inp.document, inp.consent
        request = [inp.session_id, d, inp.mirrored, inp.phone_number, c, inp.prompt_times]
        if inp.flash_times is not None:
            request.append(inp.flash_times)
        return self._idempotent(clerk, idempotency_key, request, [inp.portrait, inp.video], now,
                                lambda: self._register(inp, clerk, idempotency_key, now))

    def open_identity_check(self, inp: RegistrationInput, clerk: Clerk, now: datetime
                            ) -> tuple[IdDocument, str, Challenge]:
        """The checks before any biometrics, shared by registrations and citizen
        lookups: the document, the lockout, the session (checked, not yet used)."""
        doc = self.validate(inp.document, now.date())
        key = holder_key(doc)
        self.check_lockout(key, clerk, now)
        challenge = self.rt.sessions.peek(inp.session_id, clerk, now)
        if inp.prompt_times is not None and len(inp.prompt_times) != len(challenge.actions):
            raise InputError(ReasonCode.REGISTRATION_FIELD,
                             f"prompt_times has {len(inp.prompt_times)} values for {len(challenge.actions)} prompts")
        colours = len(flash_plan(challenge.nonce).colours)
        if inp.flash_times is not None and len(inp.flash_times) != colours:
            raise InputError(ReasonCode.REGISTRATION_FIELD,
                             f"flash_times has {len(inp.flash_times)} values for {colours} colours")
        return doc, key, challenge

    def assess(self, inp: RegistrationInput, challenge: Challenge, key: str, clerk: Clerk, now: datetime):
        """The biometric stages (pipeline.assess_registration); unusable media or
        faces there count as a failed attempt toward the lockout."""
        from .pipeline import assess_registration

        try:
            with self.rt.admission.slot():  # past the bound: 503 ENGINE.BUSY now, not a queue
                return assess_registration(self.rt.engine, self.rt.policy, inp.portrait, inp.video,
                                           challenge.actions, inp.mirrored, inp.prompt_times, self.rt.limits,
                                           self.rt.video, flash=(flash_plan(challenge.nonce), inp.flash_times)
                                           if inp.flash_times is not None else None)
        except InputError as exc:
            if exc.code.value.split(".")[0] in BIOMETRIC_INPUT_ERRORS:
                self.registry.record_failed_attempt(self.registry.id_index(key), clerk, exc.code.value, self.stamp,
                                                    now)
            raise

    def _register(self, inp: RegistrationInput, clerk: Clerk, idempotency_key: str | None, now: datetime) -> dict:
        consent = self._consent(inp.consent)  # before any biometrics
        doc, key, challenge = self.open_identity_check(inp, clerk, now)
        limit = self.precheck_quota(key, doc)
        phone = normalise_phone(inp.phone_number) if inp.phone_number else None
        self.registry.check_number_available(phone, now)
        assessment = self.assess(inp, challenge, key, clerk, now)
        decision = assessment.decision
        person = PersonData(key, doc.kind.value, jurisdiction_of(doc), doc.name or "")
        try:
            recorded = self.registry.record_decision(DecisionRecord(
                now=self.clock(), clerk=clerk, path="face", session_id=inp.session_id, session_checked_at=now,
                person=person, outcome=decision.outcome, reasons=decision.reasons, scores=dict(decision.scores),
                phone=phone, quota_limit=limit, consent=consent, stamp=self.stamp,
                idempotency_key=idempotency_key,
                templates=self._templates(assessment), template_days=self.settings.template_retention_days),
                response_of=lambda r: self.response(r, decision.scores))
        except PolicyError as exc:
            if exc.code is ReasonCode.QUOTA_EXCEEDED:  # lost a race with a concurrent registration
                self.registry.record_event(clerk.clerk_id, self.registry.id_index(key), "registration.refused",
                                           {"reason": exc.code.value, "outlet_id": clerk.outlet_id},
                                           self.stamp, self.clock())
            raise
        assert isinstance(recorded.response, dict)  # what self.response made
        return recorded.response

    def _templates(self, assessment) -> dict[str, bytes] | None:
        """The live face's templates to seal, only when configured on (default off)."""
        if not self.settings.store_templates or not assessment.live_embeddings:
            return None
        return {mid: e.vector.astype("<f4").tobytes() for mid, e in assessment.live_embeddings.items()}

    def _consent(self, consent: Consent | None) -> ConsentData:
        if consent is None:
            raise InputError(ReasonCode.CONSENT_REQUIRED, "a registration needs the customer's consent record")
        return ConsentData(self.settings.consent_purpose, consent.text_version, consent.accepted_at,
                           self.settings.record_retention_days)

    def response(self, r: Recorded, scores: Any) -> dict:
        return {"registration_id": r.registration_id, "outcome": r.outcome.value, "reasons": list(r.reasons),
                "phone_number": r.phone_number, "scores": dict(scores), "receipt": self.receipt(r)}

    def receipt(self, r: Recorded) -> dict:
        """Where the decision sits in the audit log, and the signed tree head that
        includes it (the runtime's :class:`~simreg.ports.ReceiptIssuer`)."""
        return self.rt.receipts.receipt(r)

    # ------------------------------------------------------------------ the alternative path
    def register_alternative(self, d: DocumentInput, consent: Consent, statement: str, supervisor: Clerk,
                             idempotency_key: str | None, phone_number: str | None = None) -> dict:
        """Registration without face matching, by a supervisor on their own
        credential with a stated reason (for people who cannot or will not use
        face recognition).  The document check, quota and audit apply as ever."""
        now = self.clock()
        statement = (statement or "").strip()
        if len(statement) < 10:
            raise InputError(ReasonCode.ALTERNATIVE_REASON_REQUIRED,
                             "state why the face path is not used (at least 10 characters)")
        request = ["alternative", d, phone_number, consent, statement]
        return self._idempotent(supervisor, idempotency_key, request, [], now,
                                lambda: self._register_alternative(d, consent, statement, supervisor,
                                                                   idempotency_key, phone_number, now))

    def _register_alternative(self, d: DocumentInput, consent: Consent, statement: str, supervisor: Clerk,
                              idempotency_key: str | None, phone_number: str | None, now: datetime) -> dict:
        doc = self.validate(d, now.date())
        key = holder_key(doc)
        limit = self.precheck_quota(key, doc)
        phone = normalise_phone(phone_number) if phone_number else None
        self.registry.check_number_available(phone, now)
        person = PersonData(key, doc.kind.value, jurisdiction_of(doc), doc.name or "")
        recorded = self.registry.record_decision(DecisionRecord(
            now=now, clerk=supervisor, path="alternative", session_id=None, session_checked_at=None,
            person=person, outcome=Outcome.APPROVED, reasons=(ReasonCode.DECISION_ALTERNATIVE_PATH.value,),
            scores={}, phone=phone, quota_limit=limit, consent=self._consent(consent), stamp=self.stamp,
            idempotency_key=idempotency_key, statement=statement), response_of=lambda r: self.response(r, {}))
        assert isinstance(recorded.response, dict)  # what self.response made
        return recorded.response

