"""In-memory implementations of the storage ports (simreg.ports), for testing the
use cases (simreg.app) without a database or models.  They keep the contract the
SQL adapters keep: a decision is stored whole or not at all, the quota is
checked again when the decision is written, a used session cannot be used
again, and only rejected face-path decisions and biometric input errors count
toward a lockout."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from simreg.domain.access import Clerk
from simreg.domain.challenge import Challenge
from simreg.domain.errors import InputError, PolicyError
from simreg.domain.quota import check_quota
from simreg.domain.reasons import Outcome, ReasonCode
from simreg.domain.records import ConsentData, DecisionRecord, PersonData, Recorded, Stamp


class MemoryKeyring:
    """A blind index that is a keyed SHA-256 (enough to tell values apart, in tests)."""

    def blind_index(self, value: str, purpose: str) -> str:
        return hashlib.sha256(f"{purpose}|{value}".encode()).hexdigest()[:32]

    def blind_indexes(self, value: str, purpose: str) -> list[str]:
        return [self.blind_index(value, purpose)]


@dataclass
class MemorySessions:
    sessions: dict[str, tuple[Challenge, str]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)
    ids: Any = field(default_factory=lambda: (f"ses_{i:04d}" for i in itertools.count()))

    def create(self, challenge: Challenge, clerk: Clerk, model_ids: tuple[str, ...] = (),
               policy_sha256: str = "0" * 64) -> str:
        sid = next(self.ids)
        self.sessions[sid] = (challenge, clerk.clerk_id)
        return sid

    def peek(self, session_id: str, clerk: Clerk, now: datetime) -> Challenge:
        if session_id not in self.sessions or self.sessions[session_id][1] != clerk.clerk_id:
            raise InputError(ReasonCode.SESSION_UNKNOWN, "no such capture session for this clerk")
        if session_id in self.used:
            raise InputError(ReasonCode.SESSION_REPLAYED, "the capture session was already used")
        challenge = self.sessions[session_id][0]
        if challenge.expired(now):
            raise InputError(ReasonCode.SESSION_EXPIRED, "the capture session has expired")
        return challenge


@dataclass
class Decided:
    registration_id: str
    person: PersonData
    outcome: Outcome
    reasons: tuple[str, ...]
    phone: str | None
    consent: ConsentData
    outlet_id: str = ""


class MemoryRegistry:
    def __init__(self, sessions: MemorySessions, numbers: Sequence[str], keyring: MemoryKeyring | None = None):
        self.sessions = sessions
        self.keyring = keyring or MemoryKeyring()
        self.free = list(numbers)                   # the pool, in order
        self.held: dict[str, list[str]] = {}        # holder_key -> numbers registered under it
        self.decisions: list[Decided] = []
        self.attempts: list[tuple[str, str, datetime]] = []   # (id_index, clerk_id, at) of failed attempts
        self.events: list[tuple[str, str, str]] = []           # (actor, action, subject): the audit trail
        self.claims: dict[tuple[str, str], tuple[str, dict | None]] = {}
        self.states: dict[str, Any] = {}            # number -> its NumberState once taken
        self._ids = (f"reg_{i:04d}" for i in itertools.count())

    def id_index(self, holder_key: str) -> str:
        return self.keyring.blind_index(holder_key, "id_number")

    def id_indexes(self, holder_key: str) -> list[str]:
        return self.keyring.blind_indexes(holder_key, "id_number")

    def failures(self, id_index_values: Sequence[str], clerk_id: str,
                 since: datetime) -> tuple[list[datetime], list[datetime]]:
        by_id = [t for i, _, t in self.attempts if i in id_index_values and t >= since]
        by_clerk = [t for _, c, t in self.attempts if c == clerk_id and t >= since]
        return by_id, by_clerk

    def held_numbers(self, holder_key: str) -> int:
        return len(self.held.get(holder_key, []))

    def check_number_available(self, e164: str | None, now: datetime) -> None:
        if e164 is None and not self.free:
            raise PolicyError(ReasonCode.NUMBER_POOL_EMPTY, "no number is available; add numbers to the pool")
        if e164 is not None and e164 not in self.free:
            raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "that number is not available for registration")

    def claim_idempotency(self, clerk_id: str, key: str, digest: str, now: datetime,
                          stale_after: timedelta = timedelta(minutes=5)) -> dict | None:
        claimed = self.claims.get((clerk_id, key))
        if claimed is None:
            self.claims[(clerk_id, key)] = (digest, None)
            return None
        if claimed[0] != digest:
            raise InputError(ReasonCode.IDEMPOTENCY_MISMATCH, "the key was used for another request")
        if claimed[1] is None:
            raise InputError(ReasonCode.IDEMPOTENCY_IN_PROGRESS, "the first request with this key is running")
        return claimed[1]

    def release_idempotency(self, clerk_id: str, key: str, claimed_at: datetime) -> None:
        if self.claims.get((clerk_id, key), ("", {}))[1] is None:
            del self.claims[(clerk_id, key)]

    def record_failed_attempt(self, id_index: str, clerk: Clerk, reason: str, stamp: Stamp, now: datetime) -> None:
        self.attempts.append((id_index, clerk.clerk_id, now))
        self.events.append((clerk.clerk_id, "registration.failed", id_index))

    def record_event(self, actor: str, subject: str, action: str, details: Mapping[str, Any], stamp: Stamp,
                     now: datetime) -> None:
        self.events.append((actor, action, subject))

    def record_decision(self, record: DecisionRecord, response_of: Callable[[Recorded], Any] | None = None
                        ) -> Recorded:
        r = record
        now, clerk, session_id, person, outcome = r.now, r.clerk, r.session_id, r.person, r.outcome
        phone, idempotency_key = r.phone, r.idempotency_key
        # every check first, then every change: all or nothing
        if session_id is not None:
            self.sessions.peek(session_id, clerk, now)
        number = None
        if outcome in (Outcome.APPROVED, Outcome.REVIEW):
            check_quota(self.held_numbers(person.holder_key), r.quota_limit)
            number = phone or (self.free[0] if self.free else None)
            if number is None or number not in self.free:
                raise PolicyError(ReasonCode.NUMBER_UNAVAILABLE, "no such number is free")
        registration_id = next(self._ids)
        if session_id is not None:
            self.sessions.used.add(session_id)
        if number is not None:
            from simreg.domain.decision import number_state_for

            self.free.remove(number)
            self.held.setdefault(person.holder_key, []).append(number)
            self.states[number] = number_state_for(outcome)
        self.decisions.append(Decided(registration_id, person, outcome, tuple(r.reasons), number, r.consent,
                                      clerk.outlet_id))
        if r.path == "face" and outcome is Outcome.REJECTED:
            self.attempts.append((self.id_index(person.holder_key), clerk.clerk_id, now))
        self.events.append((clerk.clerk_id, "registration.decided", registration_id))
        position = len(self.events) - 1
        recorded = Recorded(registration_id, outcome, tuple(r.reasons), number, position, f"{position:064x}",
                            position + 1, "0" * 64)
        if response_of is not None:
            from dataclasses import replace

            recorded = replace(recorded, response=response_of(recorded))
            if idempotency_key is not None:
                self.claims[(clerk.clerk_id, idempotency_key)] = (self.claims[(clerk.clerk_id, idempotency_key)][0],
                                                                   recorded.response)
        return recorded


    # ------------------------------------------------------------------ reviews and the pool
    def review(self, registration_id: str, supervisor: Clerk, approve: bool, reason: str, stamp: Stamp,
               now: datetime) -> dict:
        """As the SQL registry: only a registration in review of the supervisor's outlet;
        the domain says what happens to the reserved number."""
        from simreg.domain.decision import close_review

        d = next((x for x in self.decisions if x.registration_id == registration_id), None)
        if d is None or d.outlet_id != supervisor.outlet_id:
            raise InputError(ReasonCode.REGISTRATION_UNKNOWN, "no such registration in your outlet")
        if d.outcome is not Outcome.REVIEW:
            raise PolicyError(ReasonCode.REVIEW_NOT_PENDING, "this registration is not awaiting review")
        closing = close_review(approve)
        code = ReasonCode.DECISION_SUPERVISOR_APPROVED if approve else ReasonCode.DECISION_SUPERVISOR_REJECTED
        d.outcome, d.reasons = closing.outcome, (*d.reasons, code.value)
        if d.phone is not None:
            self.states[d.phone] = closing.number_state
            if not closing.keeps_number:
                self.held[d.person.holder_key].remove(d.phone)
                self.free.append(d.phone)
                d.phone = None
        self.events.append((supervisor.clerk_id, "registration.reviewed", registration_id))
        return {"registration_id": registration_id, "outcome": d.outcome.value, "reasons": list(d.reasons),
                "audit_position": len(self.events) - 1}

    def add_numbers(self, e164_numbers: Sequence[str], actor: str, stamp: Stamp, now: datetime) -> int:
        new = [n for n in e164_numbers if n not in self.free and n not in self.states]
        self.free.extend(new)
        self.events.append((actor, "numbers.added", "pool"))
        return len(new)

    def set_number_state(self, e164: str, target, actor: str, reason: str, stamp: Stamp, now: datetime) -> dict:
        raise NotImplementedError("the in-memory registry keeps no admin state changes")


class MemoryReceipts:
    def receipt(self, recorded: Recorded) -> dict:
        return {"audit_position": recorded.audit_position, "tree_size": recorded.tree_size}
