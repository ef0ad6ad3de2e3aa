"""Decisions and their reviews: the one transaction that records a decision, failed
attempts for the lockout, reading registrations, and closing reviews."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection, Engine

from ....domain.access import Clerk
from ....domain.decision import close_review, number_state_for
from ....domain.errors import InputError, PolicyError
from ....domain.numbers import NumberState
from ....domain.quota import check_quota
from ....domain.reasons import Outcome, ReasonCode
from ....domain.records import DecisionRecord, Recorded, Stamp
from .. import audit_store
from ..database import for_update, lock_for_write
from ..schema import attempts, consents, numbers, registrations
from ..stores import SessionStore, aware
from ._common import Repository, _audit_scores, _id, _registration_view
from .idempotency import IdempotencyRepository
from .numbers import NumberRepository
from .persons import PersonRepository


class DecisionRepository(Repository):
    def __init__(self, engine: Engine, keyring, numbers: NumberRepository, persons: PersonRepository,
                 idempotency: IdempotencyRepository):
        super().__init__(engine, keyring)
        self.numbers, self.persons, self.idempotency = numbers, persons, idempotency

    def failures(self, id_index_values: Sequence[str], clerk_id: str,
                 since: datetime) -> tuple[list[datetime], list[datetime]]:
        """Failed attempts since ``since``: (for this ID, by this clerk)."""
        failed = and_(attempts.c.failed.is_(True), attempts.c.at >= since)
        with self.engine.connect() as c:
            by_id = [aware(t) for t in c.execute(select(attempts.c.at)
                                                 .where(attempts.c.id_index.in_(id_index_values), failed)).scalars()]
            by_clerk = c.execute(select(attempts.c.at).where(attempts.c.clerk_id == clerk_id, failed)).scalars()
            return by_id, [aware(t) for t in by_clerk]

    def record_failed_attempt(self, id_index: str, clerk: Clerk, reason: str, stamp: Stamp, now: datetime) -> None:
        """An attempt that ended in an input error at the biometric stages: it counts
        toward the lockout and is audited; nothing else is stored."""
        with self.engine.begin() as c:
            lock_for_write(c)
            self.failed_attempt(c, id_index, clerk, "registration.failed", {"reason": reason}, stamp, now)

    @staticmethod
    def failed_attempt(c: Connection, id_index: str, clerk: Clerk, action: str, details: Mapping[str, Any],
                       stamp: Stamp, now: datetime) -> None:
        """A failed attempt (counted by the lockout) and its audit entry, in ``c``'s transaction."""
        c.execute(insert(attempts).values(id_index=id_index, clerk_id=clerk.clerk_id, at=now, failed=True))
        audit_store.append(c, now=now, actor=clerk.clerk_id, action=action, subject=id_index,
                           details={"outlet_id": clerk.outlet_id, **details},
                           model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)

    def record_event(self, actor: str, subject: str, action: str, details: Mapping[str, Any], stamp: Stamp,
                     now: datetime) -> None:
        """An audit entry of its own (a refusal, a read of personal data)."""
        with self.engine.begin() as c:
            audit_store.append(c, now=now, actor=actor, action=action, subject=subject, details=details,
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)

    def record_decision(self, record: DecisionRecord, response_of=None) -> Recorded:
        """Consume the session, check the quota again under the person's lock, take
        a number (active when approved, reserved for review), and write the
        registration, consent, attempt, idempotency result and audit entry, all in
        one transaction: either everything is stored or nothing is.  ``response_of``
        builds the caller's response from the result, stored with the idempotency key."""
        r = record
        now, clerk, path, session_id, session_checked_at = r.now, r.clerk, r.path, r.session_id, r.session_checked_at
        person, outcome, reasons, scores, phone = r.person, r.outcome, r.reasons, r.scores, r.phone
        quota_limit, consent, stamp, idempotency_key = r.quota_limit, r.consent, r.stamp, r.idempotency_key
        statement, templates, template_days = r.statement, r.templates, r.template_days
        registration_id = _id("reg")
        indexes = self.persons.id_indexes(person.holder_key)
        with self.engine.begin() as c:
            lock_for_write(c)
            if session_id is not None:
                SessionStore(self.engine).consume(session_id, clerk, session_checked_at or now, connection=c)
            person_id = number_id = clear_phone = None
            if outcome in (Outcome.APPROVED, Outcome.REVIEW):
                person_id = self.persons.lock_person(c, person, now)
                check_quota(self.persons.held(c, person_id), quota_limit)
                target = number_state_for(outcome)
                number_id, clear_phone = self.numbers.take_number(c, phone, target, person_id, registration_id,
                                                           clerk.outlet_id, now)
            if templates and outcome is Outcome.APPROVED:
                assert person_id is not None  # an approved registration has its person
                expires = now + timedelta(days=template_days)
                self.persons.seal_templates(c, person_id, registration_id, templates, now, expires)
            c.execute(insert(registrations).values(
                registration_id=registration_id, path=path, outcome=outcome.value, decided_outcome=outcome.value,
                reasons=json.dumps(list(reasons)), scores=json.dumps(scores, sort_keys=True),
                clerk_id=clerk.clerk_id, outlet_id=clerk.outlet_id, session_id=session_id, person_id=person_id,
                id_index=indexes[0], number_id=number_id, model_ids=json.dumps(list(stamp.model_ids)),
                policy_sha256=stamp.policy_sha256, statement=statement, created_at=now))
            c.execute(insert(consents).values(
                consent_id=_id("con"), registration_id=registration_id, person_id=person_id,
                purpose=consent.purpose, text_version=consent.text_version, accepted_at=consent.accepted_at,
                retention_days=consent.retention_days, recorded_at=now))
            if path == "face":
                c.execute(insert(attempts).values(id_index=indexes[0], clerk_id=clerk.clerk_id, at=now,
                                                  failed=outcome is Outcome.REJECTED,
                                                  registration_id=registration_id))
            entry = audit_store.append(
                c, now=now, actor=clerk.clerk_id,
                action="registration.alternative" if path == "alternative" else "registration.decided",
                subject=registration_id,
                details={"outlet_id": clerk.outlet_id, "outcome": outcome.value, "reasons": list(reasons),
                         "scores": _audit_scores(scores), "person_id": person_id, "number_id": number_id,
                         "session_id": session_id, "path": path,
                         **({"statement": statement[:500]} if statement else {})},
                model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
            c.execute(update(registrations).where(registrations.c.registration_id == registration_id)
                      .values(audit_position=entry.position, audit_shard=getattr(entry, "shard", None),
                              audit_outbox_id=getattr(entry, "outbox_id", None)))
            size, root = audit_store.tree_head(c)
            recorded = Recorded(registration_id, outcome, tuple(reasons), clear_phone, entry.position,
                                entry.entry_hash, size, root, getattr(entry, "shard", None),
                                getattr(entry, "outbox_id", None))
            if response_of is not None:
                recorded = replace(recorded, response=response_of(recorded))
                if idempotency_key is not None:
                    assert recorded.response is not None  # response_of just made it
                    self.idempotency.finish(c, clerk.clerk_id, idempotency_key, recorded.response)
        return recorded

    def registration(self, registration_id: str) -> dict | None:
        """The stored registration with its phone number decrypted (callers decide who may see it)."""
        with self.engine.connect() as c:
            row = c.execute(select(registrations).where(registrations.c.registration_id == registration_id)
                            ).mappings().first()
            if row is None:
                return None
            out = _registration_view(row)
            if row["number_id"] is not None:
                n = c.execute(select(numbers).where(numbers.c.number_id == row["number_id"])).mappings().first()
                assert n is not None  # registrations.number_id references numbers
                out["phone_number"] = self.keyring.decrypt(n["number_ciphertext"], aad=n["number_id"].encode()).decode()
                out["phone_number_masked"] = n["number_masked"]
                out["number_state"] = n["state"]
            return out

    def pending_reviews(self, outlet_id: str | None) -> list[dict]:
        with self.engine.connect() as c:
            q = select(registrations).where(registrations.c.outcome == Outcome.REVIEW.value)
            if outlet_id is not None:
                q = q.where(registrations.c.outlet_id == outlet_id)
            rows = c.execute(q.order_by(registrations.c.created_at)).mappings().all()
            return [_registration_view(r) for r in rows]

    def review(self, registration_id: str, supervisor: Clerk, approve: bool, reason: str, stamp: Stamp,
               now: datetime) -> dict:
        """Approve (the reserved number becomes active) or reject (it returns to the
        pool) a registration awaiting review; audited with who, when and why."""
        with self.engine.begin() as c:
            lock_for_write(c)
            row = c.execute(for_update(select(registrations).where(
                registrations.c.registration_id == registration_id), c)).mappings().first()
            if row is None or row["outlet_id"] != supervisor.outlet_id:
                raise InputError(ReasonCode.REGISTRATION_UNKNOWN, "no such registration in your outlet")
            if row["outcome"] != Outcome.REVIEW.value:
                raise PolicyError(ReasonCode.REVIEW_NOT_PENDING, "this registration is not awaiting review")
            code = ReasonCode.DECISION_SUPERVISOR_APPROVED if approve else ReasonCode.DECISION_SUPERVISOR_REJECTED
            outcome, reasons, entry = self._close_review(
                c, row, approve=approve, code=code, actor=supervisor.clerk_id, reason=reason,
                action="registration.reviewed", details={"outlet_id": supervisor.outlet_id}, stamp=stamp, now=now)
        return {"registration_id": registration_id, "outcome": outcome.value, "reasons": reasons,
                "audit_position": entry.position, "audit_shard": getattr(entry, "shard", None),
                "audit_outbox_id": getattr(entry, "outbox_id", None)}

    def expire_reviews(self, c: Connection, now: datetime, timeout: timedelta, actor: str, stamp: Stamp,
                       failed: list[str] | None = None) -> int:
        """Close, as rejected with ``REVIEW.EXPIRED``, every registration still in
        review ``timeout`` after it was decided, and return its reserved number to
        the pool (it never reached the customer, so no cooling-off); one audit
        entry each.  Runs in the caller's transaction (retention), under the same
        row lock as a supervisor's decision, so one of the two wins, never both.

        Each row is closed under its own savepoint: a row that cannot be closed
        (its number no longer reserved, a value the database refuses) is rolled
        back alone, logged with its registration id, and appended to ``failed``;
        the others proceed.  Returns how many were closed.  A lost connection is
        not a row's fault: it ends the run (the caller's transaction rolls back)."""
        import logging

        from sqlalchemy.exc import DataError, IntegrityError

        from ....domain.errors import SimregError

        stale = select(registrations).where(registrations.c.outcome == Outcome.REVIEW.value,
                                            registrations.c.created_at < now - timeout)
        rows = c.execute(for_update(stale.order_by(registrations.c.created_at), c)).mappings().all()
        closed = 0
        for row in rows:
            waited_h = round((now - aware(row["created_at"])).total_seconds() / 3600, 1)
            try:
                with c.begin_nested():
                    self._close_review(c, row, approve=False, code=ReasonCode.REVIEW_EXPIRED, actor=actor,
                                       reason=f"not decided within {timeout.total_seconds() / 3600:g} hours",
                                       action="registration.review_expired",
                                       details={"outlet_id": row["outlet_id"], "waited_hours": waited_h},
                                       stamp=stamp, now=now)
            except (SimregError, ValueError, TypeError, IntegrityError, DataError) as exc:
                why = exc.code.value if isinstance(exc, SimregError) else type(exc).__name__
                logging.getLogger(__name__).warning("review %s not expired: %s", row["registration_id"], why)
                if failed is not None:
                    failed.append(row["registration_id"])
                continue
            closed += 1
        return closed

    def _close_review(self, c: Connection, row, *, approve: bool, code: ReasonCode, actor: str, reason: str,
                      action: str, details: Mapping[str, Any], stamp: Stamp, now: datetime):
        """Decide a registration in review: its reserved number becomes active
        (approve) or available again; the registration records who, when, why."""
        closing = close_review(approve)  # the domain decides the transition; SQL carries it out
        outcome = closing.outcome
        if row["number_id"] is not None:
            values: dict[str, Any] = {"state": closing.number_state.value, "state_changed_at": now}
            if not closing.keeps_number:
                values.update(person_id=None, registration_id=None, outlet_id=None)
            done = c.execute(update(numbers).where(numbers.c.number_id == row["number_id"],
                                                   numbers.c.state == NumberState.RESERVED.value).values(**values))
            if done.rowcount != 1:  # the reservation must still be there, or nothing is decided
                raise PolicyError(ReasonCode.NUMBER_TRANSITION, "the reserved number is no longer reserved")
        reasons = [*json.loads(row["reasons"]), code.value]
        c.execute(update(registrations).where(registrations.c.registration_id == row["registration_id"]).values(
            outcome=outcome.value, reasons=json.dumps(reasons), reviewed_by=actor, reviewed_at=now,
            review_reason=reason, number_id=row["number_id"] if closing.keeps_number else None))
        entry = audit_store.append(c, now=now, actor=actor, action=action, subject=row["registration_id"],
                                   details={"outcome": outcome.value, "reason": reason[:500], **details,
                                            "number_id": row["number_id"]},
                                   model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return outcome, reasons, entry
