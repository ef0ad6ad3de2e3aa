"""The registry in SQL: persons, numbers, registrations, consents, attempts and
idempotency keys.  Every change is written with its audit entry in one
transaction; foreign types (rows) stop here.

Clear ID numbers and phone numbers are never stored: each is a blind index
(HMAC under the keyring's index key) for lookups plus an AES-GCM envelope whose
associated data names the row it belongs to.

Concurrency.  The per-ID quota must hold exactly under simultaneous
registrations.  On PostgreSQL the final transaction locks the person's row
(``SELECT ... FOR UPDATE`` after an ``INSERT ... ON CONFLICT DO NOTHING``), so
two registrations for one person count held numbers one after the other; numbers
are taken with ``FOR UPDATE SKIP LOCKED``.  On SQLite the transaction takes the
database's single write lock before its first read.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ...domain.access import Clerk
from ...domain.errors import InputError, PolicyError
from ...domain.numbers import NumberState, check_transition, mask_phone
from ...domain.quota import COUNTED_STATES, check_quota
from ...domain.reasons import Outcome, ReasonCode
from ...domain.records import ConsentData, DecisionRecord, PersonData, Recorded, Stamp  # noqa: F401  (re-exported)
from ..crypto import KeyringError, open_sealed, seal
from . import audit_store
from .database import for_update, lock_for_write
from .schema import attempts, consents, idempotency_keys, meta, numbers, person_index_aliases, persons, registrations
from .schema import templates as templates_t
from .stores import SessionStore, aware

# insert ... on conflict do nothing, on the two supported backends
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


_DECISION_FIELDS = ("now", "clerk", "path", "session_id", "session_checked_at", "person", "outcome", "reasons",
                    "scores", "phone", "quota_limit", "consent", "stamp", "idempotency_key", "statement",
                    "templates", "template_days")


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class Registry:
    def __init__(self, engine: Engine, keyring, cooling_off: timedelta = timedelta(days=90)):
        self.engine = engine
        self.keyring = keyring
        self.cooling_off = cooling_off

    # ------------------------------------------------------------------ indexes
    def id_index(self, holder_key: str) -> str:
        return self.keyring.blind_index(holder_key, purpose="id_number")

    def id_indexes(self, holder_key: str) -> list[str]:
        return self.keyring.blind_indexes(holder_key, purpose="id_number")

    def phone_index(self, e164: str) -> str:
        return self.keyring.blind_index(e164, purpose="phone")

    # ------------------------------------------------------------------ numbers
    def add_numbers(self, e164_numbers: Sequence[str], actor: str, stamp: Stamp, now: datetime) -> int:
        """Put numbers into the pool as available; numbers already known are skipped."""
        added = 0
        base = time.time_ns()  # ids sort in the order numbers were added: the pool hands them out so
        with self.engine.begin() as c:
            lock_for_write(c)
            for i, n in enumerate(e164_numbers):
                idx = self.phone_index(n)
                if c.execute(select(numbers.c.number_id).where(numbers.c.number_index.in_(
                        self.keyring.blind_indexes(n, purpose="phone")))).first() is not None:
                    continue
                nid = f"num_{base + i:016x}{secrets.token_hex(4)}"
                c.execute(insert(numbers).values(
                    number_id=nid, number_index=idx,
                    number_ciphertext=self.keyring.encrypt(n.encode(), aad=nid.encode()),
                    number_masked=mask_phone(n), state=NumberState.AVAILABLE.value, state_changed_at=now,
                    created_at=now))
                added += 1
            audit_store.append(c, now=now, actor=actor, action="numbers.added", subject="pool",
                               details={"requested": len(e164_numbers), "added": added},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return added

    def _number_row(self, c: Connection, e164: str, lock: bool = False):
        q = select(numbers).where(numbers.c.number_index.in_(self.keyring.blind_indexes(e164, purpose="phone")))
        if lock:
            q = for_update(q, c)
        return c.execute(q).mappings().first()

    def _reusable(self, now: datetime):
        """Rows that may be handed out: available, or released past the cooling-off period."""
        return or_(numbers.c.state == NumberState.AVAILABLE.value,
                   and_(numbers.c.state == NumberState.RELEASED.value,
                        numbers.c.released_at <= now - self.cooling_off))

    def check_number_available(self, e164: str | None, now: datetime) -> None:
        """Before any biometrics: the asked-for number can be registered, or (no
        number asked for) the pool has one.  The final transaction checks again."""
        with self.engine.connect() as c:
            if e164 is None:
                if c.execute(select(numbers.c.number_id).where(self._reusable(now)).limit(1)).first() is None:
                    raise PolicyError(ReasonCode.NUMBER_POOL_EMPTY, "no number is available; add numbers to the pool")
                return
            row = self._number_row(c, e164)
        if row is None or not self._is_reusable(row, now):
            raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number is not available for registration")

    def _is_reusable(self, row, now: datetime) -> bool:
        if row["state"] == NumberState.AVAILABLE.value:
            return True
        return (row["state"] == NumberState.RELEASED.value and row["released_at"] is not None
                and aware(row["released_at"]) <= now - self.cooling_off)

    def _take_number(self, c: Connection, e164: str | None, target: NumberState, person_id: str,
                     registration_id: str, outlet_id: str, now: datetime) -> tuple[str, str]:
        if e164 is not None:
            row = self._number_row(c, e164, lock=True)
            if row is None or not self._is_reusable(row, now):
                raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number is not available for registration")
        else:
            q = select(numbers).where(self._reusable(now)).order_by(numbers.c.number_id).limit(1)
            q = for_update(q, c, skip_locked=True)
            row = c.execute(q).mappings().first()
            if row is None:
                raise PolicyError(ReasonCode.NUMBER_POOL_EMPTY, "no number is available; add numbers to the pool")
        done = c.execute(update(numbers).where(numbers.c.number_id == row["number_id"], numbers.c.state == row["state"])
                         .values(state=target.value, person_id=person_id, registration_id=registration_id,
                                 outlet_id=outlet_id, state_changed_at=now, released_at=None))
        if done.rowcount != 1:
            raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number was just taken; retry")
        clear = self.keyring.decrypt(row["number_ciphertext"], aad=row["number_id"].encode()).decode()
        return row["number_id"], clear

    def set_number_state(self, e164: str, target: NumberState, actor: str, reason: str, stamp: Stamp,
                         now: datetime) -> dict:
        """Suspend, resume or release a number (admin/supervisor); audited."""
        with self.engine.begin() as c:
            lock_for_write(c)
            row = self._number_row(c, e164, lock=True)
            if row is None:
                raise InputError(ReasonCode.NUMBER_UNKNOWN, "no such number in the pool")
            current = NumberState(row["state"])
            if current is NumberState.RESERVED:  # only the review decides a reserved number
                raise PolicyError(ReasonCode.NUMBER_TRANSITION, "a reserved number awaits its review decision")
            check_transition(current, target)
            values: dict[str, Any] = {"state": target.value, "state_changed_at": now}
            if target is NumberState.RELEASED:
                values.update(released_at=now, person_id=None, registration_id=None)
            c.execute(update(numbers).where(numbers.c.number_id == row["number_id"]).values(**values))
            audit_store.append(c, now=now, actor=actor, action=f"number.{target.value}", subject=row["number_id"],
                               details={"from": current.value, "to": target.value, "reason": reason[:200]},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"number_id": row["number_id"], "state": target.value, "previous_state": current.value}

    # ------------------------------------------------------------------ persons and quota
    def person_for(self, c: Connection, indexes: Sequence[str]) -> str | None:
        row = c.execute(select(persons.c.person_id).where(persons.c.id_index.in_(indexes))).first()
        if row is None:
            row = c.execute(select(person_index_aliases.c.person_id)
                            .where(person_index_aliases.c.id_index.in_(indexes))).first()
        return row[0] if row is not None else None

    def _held(self, c: Connection, person_id: str) -> int:
        return int(c.execute(select(func.count()).select_from(numbers).where(
            numbers.c.person_id == person_id, numbers.c.state.in_(COUNTED_STATES))).scalar_one())

    def held_numbers(self, holder_key: str) -> int:
        """Numbers registered under this ID now (active, reserved or suspended)."""
        with self.engine.connect() as c:
            pid = self.person_for(c, self.id_indexes(holder_key))
            return self._held(c, pid) if pid is not None else 0

    def _lock_person(self, c: Connection, person: PersonData, now: datetime) -> str:
        """The person's id, inserting the row if new, and locked until commit."""
        indexes = self.id_indexes(person.holder_key)
        pid = self.person_for(c, indexes)
        if pid is None:
            new_pid = _id("per")
            values = dict(person_id=new_pid, id_index=indexes[0], id_type=person.id_type,
                          jurisdiction=person.jurisdiction,
                          id_ciphertext=self.keyring.encrypt(person.holder_key.encode(), aad=new_pid.encode()),
                          name_ciphertext=self.keyring.encrypt(person.name.encode(), aad=(new_pid + "|name").encode()),
                          created_at=now)
            # a concurrent first registration of this person may insert it first
            c.execute(_INSERTS[c.dialect.name](persons).values(**values)
                      .on_conflict_do_nothing(index_elements=["id_index"]))
            pid = self.person_for(c, indexes)
        c.execute(for_update(select(persons.c.person_id).where(persons.c.person_id == pid), c))
        return pid

    # ------------------------------------------------------------------ templates (off by default)
    def _data_key(self, c: Connection, person_id: str) -> bytes:
        """The person's data key, made on first use; only its wrapped form is stored."""
        wrapped = c.execute(select(persons.c.data_key_wrapped).where(persons.c.person_id == person_id)).scalar_one()
        if wrapped is None:
            dek, wrapped = self.keyring.new_data_key()
            c.execute(update(persons).where(persons.c.person_id == person_id).values(data_key_wrapped=wrapped))
            return dek
        return self.keyring.unwrap_data_key(wrapped)

    def _seal_templates(self, c: Connection, person_id: str, registration_id: str, templates: Mapping[str, bytes],
                        now: datetime, expires: datetime) -> None:
        dek = self._data_key(c, person_id)
        for model_id, blob in templates.items():
            tid = _id("tpl")
            c.execute(insert(templates_t).values(
                template_id=tid, person_id=person_id, registration_id=registration_id, model_id=model_id,
                sealed=seal(dek, blob, f"{person_id}|{tid}|{model_id}".encode()), created_at=now,
                expires_at=expires))

    def open_templates(self, person_id: str) -> dict[str, bytes]:
        """The person's templates in clear (re-verification); ``KeyringError`` when shredded."""
        with self.engine.connect() as c:
            wrapped = c.execute(select(persons.c.data_key_wrapped).where(persons.c.person_id == person_id)
                                ).scalar_one_or_none()
            rows = c.execute(select(templates_t).where(templates_t.c.person_id == person_id)).mappings().all()
        if rows and wrapped is None:
            raise KeyringError(KeyringError.UNKNOWN_KEY, "the person's data key was deleted (crypto-shredded)")
        if not rows:
            return {}
        dek = self.keyring.unwrap_data_key(wrapped)
        return {r["model_id"]: open_sealed(dek, r["sealed"], f"{person_id}|{r['template_id']}|{r['model_id']}".encode())
                for r in rows}

    def shred_person_biometrics(self, c: Connection, person_id: str) -> int:
        """Delete the person's data key (every template sealed under it becomes
        unreadable at once, backups included) and the sealed rows; returns how many."""
        n = c.execute(delete(templates_t).where(templates_t.c.person_id == person_id)).rowcount
        c.execute(update(persons).where(persons.c.person_id == person_id).values(data_key_wrapped=None))
        return int(n or 0)

    # ------------------------------------------------------------------ lockouts
    def failures(self, id_index_values: Sequence[str], clerk_id: str,
                 since: datetime) -> tuple[list[datetime], list[datetime]]:
        """Failed attempts since ``since``: (for this ID, by this clerk)."""
        failed = and_(attempts.c.failed.is_(True), attempts.c.at >= since)
        with self.engine.connect() as c:
            by_id = c.execute(select(attempts.c.at).where(attempts.c.id_index.in_(id_index_values), failed)).scalars()
            by_id = [aware(t) for t in by_id]
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

    # ------------------------------------------------------------------ idempotency
    def claim_idempotency(self, clerk_id: str, key: str, digest: str, now: datetime,
                          stale_after: timedelta = timedelta(minutes=5)) -> dict | None:
        """Claim ``key`` for a new request; returns the stored response of a finished
        earlier request with the same key.  Raises ``IDEMPOTENCY.MISMATCH`` (the key
        was used for a different request) or ``IDEMPOTENCY.IN_PROGRESS``."""
        with self.engine.begin() as c:
            lock_for_write(c)
            # insert-if-absent: of two requests claiming a new key at once, one inserts
            values = dict(clerk_id=clerk_id, key=key, request_digest=digest, state="pending", created_at=now)
            claimed = c.execute(_INSERTS[c.dialect.name](idempotency_keys).values(**values)
                                .on_conflict_do_nothing(index_elements=["clerk_id", "key"])
                                .returning(idempotency_keys.c.key)).first()
            if claimed is not None:
                return None
            row = c.execute(for_update(select(idempotency_keys).where(
                idempotency_keys.c.clerk_id == clerk_id, idempotency_keys.c.key == key), c)).mappings().one()
            if row["request_digest"] != digest:
                raise InputError(ReasonCode.IDEMPOTENCY_MISMATCH,
                                 "this Idempotency-Key was used for a different request")
            if row["state"] == "done":
                return json.loads(self.keyring.decrypt(row["response"], aad=f"idem|{clerk_id}|{key}".encode()))
            if now - aware(row["created_at"]) < stale_after:
                raise InputError(ReasonCode.IDEMPOTENCY_IN_PROGRESS,
                                 "a request with this Idempotency-Key is still being processed")
            # a stale claim (its request died): taken over, under the row lock
            c.execute(update(idempotency_keys).where(idempotency_keys.c.clerk_id == clerk_id,
                                                     idempotency_keys.c.key == key).values(created_at=now))
            return None

    def release_idempotency(self, clerk_id: str, key: str, claimed_at: datetime) -> None:
        """Forget this request's pending claim (it failed), so a retry runs again; a
        claim taken over since by another request (a later ``created_at``) is kept."""
        with self.engine.begin() as c:
            c.execute(delete(idempotency_keys).where(idempotency_keys.c.clerk_id == clerk_id,
                                                     idempotency_keys.c.key == key,
                                                     idempotency_keys.c.state == "pending",
                                                     idempotency_keys.c.created_at == claimed_at))

    def _finish_idempotency(self, c: Connection, clerk_id: str, key: str, response: Mapping[str, Any]) -> None:
        sealed = self.keyring.encrypt(json.dumps(response, sort_keys=True).encode(),
                                      aad=f"idem|{clerk_id}|{key}".encode())
        c.execute(update(idempotency_keys).where(idempotency_keys.c.clerk_id == clerk_id,
                                                 idempotency_keys.c.key == key)
                  .values(state="done", response=sealed))

    # ------------------------------------------------------------------ the decision, in one transaction
    def record_decision(self, record: DecisionRecord, response_of=None) -> Recorded:
        """Consume the session, check the quota again under the person's lock, take
        a number (active when approved, reserved for review), and write the
        registration, consent, attempt, idempotency result and audit entry, all in
        one transaction: either everything is stored or nothing is.  ``response_of``
        builds the caller's response from the result, stored with the idempotency key."""
        (now, clerk, path, session_id, session_checked_at, person, outcome, reasons, scores, phone, quota_limit,
         consent, stamp, idempotency_key, statement, templates, template_days) = (
            getattr(record, f) for f in _DECISION_FIELDS)
        registration_id = _id("reg")
        indexes = self.id_indexes(person.holder_key)
        with self.engine.begin() as c:
            lock_for_write(c)
            if session_id is not None:
                SessionStore(self.engine).consume(session_id, clerk, session_checked_at or now, connection=c)
            person_id = number_id = clear_phone = None
            if outcome in (Outcome.APPROVED, Outcome.REVIEW):
                person_id = self._lock_person(c, person, now)
                check_quota(self._held(c, person_id), quota_limit)
                target = NumberState.ACTIVE if outcome is Outcome.APPROVED else NumberState.RESERVED
                number_id, clear_phone = self._take_number(c, phone, target, person_id, registration_id,
                                                           clerk.outlet_id, now)
            if templates and outcome is Outcome.APPROVED:
                self._seal_templates(c, person_id, registration_id, templates, now, now + timedelta(days=template_days))
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
                      .values(audit_position=entry.position))
            size, root = audit_store.tree_head(c)
            recorded = Recorded(registration_id, outcome, tuple(reasons), clear_phone, entry.position,
                                entry.entry_hash, size, root, getattr(entry, "shard", None),
                                getattr(entry, "outbox_id", None))
            if response_of is not None:
                recorded = replace(recorded, response=response_of(recorded))
                if idempotency_key is not None:
                    self._finish_idempotency(c, clerk.clerk_id, idempotency_key, recorded.response)
        return recorded

    # ------------------------------------------------------------------ reading
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
                "audit_position": entry.position}

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

        from ...domain.errors import SimregError

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
        outcome = Outcome.APPROVED if approve else Outcome.REJECTED
        if row["number_id"] is not None:
            target = NumberState.ACTIVE if approve else NumberState.AVAILABLE
            values: dict[str, Any] = {"state": target.value, "state_changed_at": now}
            if not approve:
                values.update(person_id=None, registration_id=None, outlet_id=None)
            done = c.execute(update(numbers).where(numbers.c.number_id == row["number_id"],
                                                   numbers.c.state == NumberState.RESERVED.value).values(**values))
            if done.rowcount != 1:  # the reservation must still be there, or nothing is decided
                raise PolicyError(ReasonCode.NUMBER_TRANSITION, "the reserved number is no longer reserved")
        reasons = [*json.loads(row["reasons"]), code.value]
        c.execute(update(registrations).where(registrations.c.registration_id == row["registration_id"]).values(
            outcome=outcome.value, reasons=json.dumps(reasons), reviewed_by=actor, reviewed_at=now,
            review_reason=reason, number_id=row["number_id"] if approve else None))
        entry = audit_store.append(c, now=now, actor=actor, action=action, subject=row["registration_id"],
                                   details={"outcome": outcome.value, "reason": reason[:500], **details,
                                            "number_id": row["number_id"]},
                                   model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return outcome, reasons, entry

    # ------------------------------------------------------------------ key rotation
    def rotate_keys(self, new_keyring, actor: str, stamp: Stamp, now: datetime) -> dict:
        """Re-encrypt every envelope under ``new_keyring``'s active key and re-index
        persons and numbers under its active index key, keeping each person's old
        index as an alias (old blind indexes stay resolvable).  One transaction,
        audited; ``self.keyring`` must be the keyring the data was written with,
        and ``new_keyring`` must hold all of its keys."""
        counts = {"persons": 0, "numbers": 0, "idempotency": 0}
        with self.engine.begin() as c:
            lock_for_write(c)
            for r in c.execute(select(persons)).mappings().all():
                pid = r["person_id"]
                holder = self.keyring.decrypt(r["id_ciphertext"], aad=pid.encode()).decode()
                new_index = new_keyring.blind_index(holder, purpose="id_number")
                values = {"id_ciphertext": new_keyring.reencrypt(r["id_ciphertext"], aad=pid.encode()),
                          "name_ciphertext": new_keyring.reencrypt(r["name_ciphertext"], aad=(pid + "|name").encode()),
                          "id_index": new_index}
                if r["data_key_wrapped"] is not None:
                    values["data_key_wrapped"] = new_keyring.reencrypt(r["data_key_wrapped"], aad=b"dek")
                if new_index != r["id_index"]:
                    c.execute(insert(person_index_aliases).values(id_index=r["id_index"], person_id=pid))
                c.execute(update(persons).where(persons.c.person_id == pid).values(**values))
                counts["persons"] += 1
            for r in c.execute(select(numbers)).mappings().all():
                nid = r["number_id"]
                clear = self.keyring.decrypt(r["number_ciphertext"], aad=nid.encode()).decode()
                c.execute(update(numbers).where(numbers.c.number_id == nid).values(
                    number_ciphertext=new_keyring.reencrypt(r["number_ciphertext"], aad=nid.encode()),
                    number_index=new_keyring.blind_index(clear, purpose="phone")))
                counts["numbers"] += 1
            stored = select(idempotency_keys).where(idempotency_keys.c.response.is_not(None))
            for r in c.execute(stored).mappings().all():
                aad = f"idem|{r['clerk_id']}|{r['key']}".encode()
                c.execute(update(idempotency_keys).where(idempotency_keys.c.clerk_id == r["clerk_id"],
                                                         idempotency_keys.c.key == r["key"])
                          .values(response=new_keyring.reencrypt(r["response"], aad=aad)))
                counts["idempotency"] += 1
            self._store_check_values(c, new_keyring)
            audit_store.append(c, now=now, actor=actor, action="keys.rotated", subject="keyring",
                               details={**counts, "encryption_key": new_keyring.active_encryption_key_id,
                                        "index_key": new_keyring.active_index_key_id},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        self.keyring = new_keyring
        return counts

    # ------------------------------------------------------------------ keyring bookkeeping
    def stored_keyring_fingerprint(self) -> str | None:
        with self.engine.connect() as c:
            return c.execute(select(meta.c.value).where(meta.c.key == "keyring_fingerprint")).scalar_one_or_none()

    def claim_keyring_fingerprint(self, value: str) -> str:
        """Record ``value`` unless a fingerprint is already recorded; returns the one
        recorded.  Insert-if-absent, so servers starting at once on a fresh
        database agree on the first one (a loser waits for the winner's commit
        and reads it) instead of one crashing on the duplicate key."""
        with self.engine.begin() as c:
            c.execute(_INSERTS[c.dialect.name](meta).values(key="keyring_fingerprint", value=value)
                      .on_conflict_do_nothing(index_elements=[meta.c.key]))
            return c.execute(select(meta.c.value).where(meta.c.key == "keyring_fingerprint")).scalar_one()

    def _store_check_values(self, c: Connection, keyring) -> None:
        self._set_meta(c, "keyring_fingerprint", json.dumps(keyring.check_values(), sort_keys=True))

    @staticmethod
    def _set_meta(c: Connection, key: str, value: str) -> None:
        if c.execute(select(meta.c.key).where(meta.c.key == key)).first() is None:
            c.execute(insert(meta).values(key=key, value=value))
        else:
            c.execute(update(meta).where(meta.c.key == key).values(value=value))


def _audit_scores(scores: Mapping[str, Any]) -> dict:
    """The decision's scores as the audit log keeps them: numbers and codes only."""
    out: dict[str, Any] = {}
    m = scores.get("match")
    if isinstance(m, Mapping):
        out["match"] = {k: m.get(k) for k in ("score", "threshold", "target_fmr", "threshold_key")}
    pad = scores.get("pad")
    if isinstance(pad, Mapping):
        out["pad"] = dict(pad)
    live = scores.get("liveness")
    if isinstance(live, Mapping):
        out["liveness"] = {"passed": live.get("passed"), "face_fraction": live.get("face_fraction")}
    return out


def _registration_view(row) -> dict:
    return {"registration_id": row["registration_id"], "path": row["path"], "outcome": row["outcome"],
            "decided_outcome": row["decided_outcome"], "reasons": json.loads(row["reasons"]),
            "scores": json.loads(row["scores"]), "clerk_id": row["clerk_id"], "outlet_id": row["outlet_id"],
            "session_id": row["session_id"], "person_id": row["person_id"],
            "model_ids": json.loads(row["model_ids"]), "policy_sha256": row["policy_sha256"],
            "statement": row["statement"], "reviewed_by": row["reviewed_by"],
            "reviewed_at": aware(row["reviewed_at"]).isoformat() if row["reviewed_at"] else None,
            "review_reason": row["review_reason"], "created_at": aware(row["created_at"]).isoformat(),
            "audit_position": row["audit_position"], "phone_number": None, "phone_number_masked": None}

