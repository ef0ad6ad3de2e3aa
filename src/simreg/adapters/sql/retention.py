"""Retention: delete or crypto-shred what is past its time, per data class.

| data class            | kept until                                               | then                         |
|-----------------------|----------------------------------------------------------|------------------------------|
| templates             | ``expires_at`` (``template_retention_days``)             | row deleted; the person's    |
|                       |                                                          | data key deleted when none   |
|                       |                                                          | is left (crypto-shredding)   |
| registrations+consent | ``recorded_at + retention_days`` of its consent, and     | deleted                      |
|                       | never while its number is still held                     |                              |
| persons               | while any registration or number refers to them          | deleted (ciphertexts, index) |
| failed attempts       | ``attempt_retention_days``                               | deleted                      |
| capture sessions,     | expiry + ``session_retention_days``                      | deleted                      |
| citizen lookup grants |                                                          |                              |
| idempotency keys      | ``idempotency_retention_days``                           | deleted                      |
| a reserved number     | ``review_timeout_hours`` after the decision to review    | registration closed as       |
| whose review is never |                                                          | rejected (REVIEW.EXPIRED),   |
| decided               |                                                          | number back to the pool;     |
|                       |                                                          | one audit entry each         |

The audit log is kept: it holds no personal data.  A run is one transaction and
one audit entry with the counts; a second run finds nothing more to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update

from ...domain.quota import COUNTED_STATES
from . import audit_store
from .database import lock_for_write
from .registry import Registry, Stamp
from .schema import (
    attempts,
    capture_sessions,
    consents,
    disputes,
    idempotency_keys,
    lookup_grants,
    numbers,
    person_index_aliases,
    persons,
    registrations,
    templates,
)
from .stores import aware


@dataclass(frozen=True)
class RetentionRules:
    attempt_days: int = 30
    session_days: int = 7
    idempotency_days: int = 2
    review_timeout_hours: float = 72.0


def run_retention(registry: Registry, rules: RetentionRules, now: datetime, actor: str, stamp: Stamp) -> dict:
    counts = {"reviews_expired": 0, "templates": 0, "data_keys_shredded": 0, "registrations": 0, "consents": 0,
              "persons": 0, "attempts": 0, "sessions": 0, "lookup_grants": 0, "idempotency_keys": 0}
    with registry.engine.begin() as c:
        lock_for_write(c)
        # reviews never decided: the reserved number goes back to the pool (first,
        # so the registrations closed here follow the rules below like any other)
        counts["reviews_expired"] = registry.expire_reviews(c, now, timedelta(hours=rules.review_timeout_hours),
                                                            actor, stamp)
        # templates past their time; a person left without templates loses the data key
        expired = c.execute(select(templates.c.template_id, templates.c.person_id)
                            .where(templates.c.expires_at < now)).all()
        for tid, _ in expired:
            c.execute(delete(templates).where(templates.c.template_id == tid))
        counts["templates"] = len(expired)
        for pid in {p for _, p in expired}:
            left = c.execute(select(func.count()).select_from(templates).where(templates.c.person_id == pid))
            if left.scalar_one() == 0:
                c.execute(update(persons).where(persons.c.person_id == pid).values(data_key_wrapped=None))
                counts["data_keys_shredded"] += 1
        # registrations past their consent's retention whose number is no longer held
        held = select(numbers.c.number_id).where(numbers.c.state.in_(COUNTED_STATES))
        rows = c.execute(select(registrations.c.registration_id, registrations.c.person_id, registrations.c.number_id,
                                consents.c.recorded_at, consents.c.retention_days)
                         .join(consents, consents.c.registration_id == registrations.c.registration_id)).all()
        held_ids = set(c.execute(held).scalars())
        touched_persons = set()
        for rid, pid, nid, recorded_at, days in rows:
            if aware(recorded_at) + timedelta(days=days) > now:
                continue
            if nid is not None and nid in held_ids:
                continue
            counts["consents"] += c.execute(delete(consents).where(consents.c.registration_id == rid)).rowcount or 0
            c.execute(update(attempts).where(attempts.c.registration_id == rid).values(registration_id=None))
            c.execute(delete(registrations).where(registrations.c.registration_id == rid))
            counts["registrations"] += 1
            if pid is not None:
                touched_persons.add(pid)
        # persons nothing refers to any more
        for pid in touched_persons:
            refs = (c.execute(select(func.count()).select_from(registrations).where(registrations.c.person_id == pid))
                    .scalar_one()
                    + c.execute(select(func.count()).select_from(numbers).where(numbers.c.person_id == pid))
                    .scalar_one())
            if refs:
                continue
            registry.shred_person_biometrics(c, pid)
            c.execute(delete(disputes).where(disputes.c.person_id == pid))
            c.execute(delete(person_index_aliases).where(person_index_aliases.c.person_id == pid))
            c.execute(delete(persons).where(persons.c.person_id == pid))
            counts["persons"] += 1
        counts["attempts"] = c.execute(delete(attempts).where(
            attempts.c.at < now - timedelta(days=rules.attempt_days))).rowcount or 0
        counts["sessions"] = c.execute(delete(capture_sessions).where(
            capture_sessions.c.expires_at < now - timedelta(days=rules.session_days),
            capture_sessions.c.session_id.not_in(select(registrations.c.session_id)
                                                 .where(registrations.c.session_id.is_not(None))))).rowcount or 0
        counts["lookup_grants"] = c.execute(delete(lookup_grants).where(
            lookup_grants.c.expires_at < now - timedelta(days=rules.session_days))).rowcount or 0
        counts["idempotency_keys"] = c.execute(delete(idempotency_keys).where(
            idempotency_keys.c.created_at < now - timedelta(days=rules.idempotency_days))).rowcount or 0
        audit_store.append(c, now=now, actor=actor, action="retention.run", subject="registry", details=counts,
                           model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
    return counts
