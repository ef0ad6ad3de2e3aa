"""The registry in SQL: persons, numbers, registrations, consents, attempts and
idempotency keys, as five repositories over one database (issue 14 item 2):

* ``numbers.NumberRepository``: the pool, taking a number, the admin's state changes;
* ``persons.PersonRepository``: persons by blind index, the quota count, sealed templates;
* ``idempotency.IdempotencyRepository``: a retried request gets the first one's response;
* ``decisions.DecisionRepository``: the decision's one transaction, lockout attempts,
  reading registrations, closing reviews;
* ``keys.KeyRepository``: key rotation and the keyring's check values.

Every change is written with its audit entry in one transaction; repositories
whose methods take a ``Connection`` write inside the caller's, so a decision is
stored whole or not at all.  Foreign types (rows) stop here.

Clear ID numbers and phone numbers are never stored: each is a blind index
(HMAC under the keyring's index key) for lookups plus an AES-GCM envelope whose
associated data names the row it belongs to.

Concurrency.  The per-ID quota must hold exactly under simultaneous
registrations.  On PostgreSQL the final transaction locks the person's row
(``SELECT ... FOR UPDATE`` after an ``INSERT ... ON CONFLICT DO NOTHING``), so
two registrations for one person count held numbers one after the other; numbers
are taken with ``FOR UPDATE SKIP LOCKED``.  On SQLite the transaction takes the
database's single write lock before its first read.

:class:`Registry` is the one object the composition root builds: it owns the
five repositories over one engine and keyring and answers the use cases'
``RegistryPort`` (and the admin, retention and citizen desk) by delegation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection, Engine

from ....domain.access import Clerk
from ....domain.numbers import NumberState
from ....domain.records import ConsentData, DecisionRecord, PersonData, Recorded, Stamp
from ._common import _id
from .decisions import DecisionRepository
from .idempotency import IdempotencyRepository
from .keys import KeyRepository
from .numbers import NumberRepository
from .persons import PersonRepository

__all__ = ["ConsentData", "DecisionRecord", "PersonData", "Recorded", "Registry", "Stamp", "_id"]


class Registry:
    def __init__(self, engine: Engine, keyring, cooling_off: timedelta = timedelta(days=90)):
        self.engine = engine
        self.numbers = NumberRepository(engine, keyring, cooling_off)
        self.persons = PersonRepository(engine, keyring)
        self.idempotency = IdempotencyRepository(engine, keyring)
        self.decisions = DecisionRepository(engine, keyring, self.numbers, self.persons, self.idempotency)
        self.keys = KeyRepository(engine, keyring)

    @property
    def keyring(self):
        return self.persons.keyring

    def _repositories(self):
        return (self.numbers, self.persons, self.idempotency, self.decisions, self.keys)

    def phone_index(self, e164: str) -> str:
        return self.numbers.phone_index(e164)

    def add_numbers(self, e164_numbers: Sequence[str], actor: str, stamp: Stamp, now: datetime) -> int:
        return self.numbers.add_numbers(e164_numbers, actor, stamp, now)

    def check_number_available(self, e164: str | None, now: datetime) -> None:
        return self.numbers.check_number_available(e164, now)

    def set_number_state(self, e164: str, target: NumberState, actor: str, reason: str, stamp: Stamp,
                         now: datetime) -> dict:
        return self.numbers.set_number_state(e164, target, actor, reason, stamp, now)

    def id_index(self, holder_key: str) -> str:
        return self.persons.id_index(holder_key)

    def id_indexes(self, holder_key: str) -> list[str]:
        return self.persons.id_indexes(holder_key)

    def person_for(self, c: Connection, indexes: Sequence[str]) -> str | None:
        return self.persons.person_for(c, indexes)

    def held_numbers(self, holder_key: str) -> int:
        return self.persons.held_numbers(holder_key)

    def open_templates(self, person_id: str) -> dict[str, bytes]:
        return self.persons.open_templates(person_id)

    def shred_person_biometrics(self, c: Connection, person_id: str) -> int:
        return self.persons.shred_person_biometrics(c, person_id)

    def claim_idempotency(self, clerk_id: str, key: str, digest: str, now: datetime,
                          stale_after: timedelta = timedelta(minutes=5)) -> dict | None:
        return self.idempotency.claim_idempotency(clerk_id, key, digest, now, stale_after)

    def release_idempotency(self, clerk_id: str, key: str, claimed_at: datetime) -> None:
        return self.idempotency.release_idempotency(clerk_id, key, claimed_at)

    def failures(self, id_index_values: Sequence[str], clerk_id: str,
                 since: datetime) -> tuple[list[datetime], list[datetime]]:
        return self.decisions.failures(id_index_values, clerk_id, since)

    def record_failed_attempt(self, id_index: str, clerk: Clerk, reason: str, stamp: Stamp, now: datetime) -> None:
        return self.decisions.record_failed_attempt(id_index, clerk, reason, stamp, now)

    failed_attempt = staticmethod(DecisionRepository.failed_attempt)

    def record_event(self, actor: str, subject: str, action: str, details: Mapping[str, Any], stamp: Stamp,
                     now: datetime) -> None:
        return self.decisions.record_event(actor, subject, action, details, stamp, now)

    def record_decision(self, record: DecisionRecord, response_of=None) -> Recorded:
        return self.decisions.record_decision(record, response_of)

    def registration(self, registration_id: str) -> dict | None:
        return self.decisions.registration(registration_id)

    def pending_reviews(self, outlet_id: str | None) -> list[dict]:
        return self.decisions.pending_reviews(outlet_id)

    def review(self, registration_id: str, supervisor: Clerk, approve: bool, reason: str, stamp: Stamp,
               now: datetime) -> dict:
        return self.decisions.review(registration_id, supervisor, approve, reason, stamp, now)

    def expire_reviews(self, c: Connection, now: datetime, timeout: timedelta, actor: str, stamp: Stamp,
                       failed: list[str] | None = None) -> int:
        return self.decisions.expire_reviews(c, now, timeout, actor, stamp, failed)

    def rotate_keys(self, new_keyring, actor: str, stamp: Stamp, now: datetime) -> dict:
        """Re-encrypt and re-index everything under ``new_keyring`` (one transaction,
        audited); every repository then uses the new keyring."""
        counts = self.keys.rotate_keys(new_keyring, actor, stamp, now)
        for repo in self._repositories():
            repo.keyring = new_keyring
        return counts

    def stored_keyring_fingerprint(self) -> str | None:
        return self.keys.stored_keyring_fingerprint()

    def claim_keyring_fingerprint(self, value: str) -> str:
        return self.keys.claim_keyring_fingerprint(value)
