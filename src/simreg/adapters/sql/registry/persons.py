"""Persons by the blind index of their ID, the quota count, and their sealed templates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from ....domain.quota import COUNTED_STATES
from ....domain.records import PersonData
from ...crypto import KeyringError, open_sealed, seal
from ..database import for_update
from ..schema import numbers, person_index_aliases, persons
from ..schema import templates as templates_t
from ._common import _INSERTS, Repository, _id


class PersonRepository(Repository):
    def id_index(self, holder_key: str) -> str:
        return self.keyring.blind_index(holder_key, purpose="id_number")

    def id_indexes(self, holder_key: str) -> list[str]:
        return self.keyring.blind_indexes(holder_key, purpose="id_number")

    def person_for(self, c: Connection, indexes: Sequence[str]) -> str | None:
        row = c.execute(select(persons.c.person_id).where(persons.c.id_index.in_(indexes))).first()
        if row is None:
            row = c.execute(select(person_index_aliases.c.person_id)
                            .where(person_index_aliases.c.id_index.in_(indexes))).first()
        return row[0] if row is not None else None

    def held(self, c: Connection, person_id: str) -> int:
        return int(c.execute(select(func.count()).select_from(numbers).where(
            numbers.c.person_id == person_id, numbers.c.state.in_(COUNTED_STATES))).scalar_one())

    def held_numbers(self, holder_key: str) -> int:
        """Numbers registered under this ID now (active, reserved or suspended)."""
        with self.engine.connect() as c:
            pid = self.person_for(c, self.id_indexes(holder_key))
            return self.held(c, pid) if pid is not None else 0

    def lock_person(self, c: Connection, person: PersonData, now: datetime) -> str:
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
            assert pid is not None  # inserted just now, or by the concurrent registration
        c.execute(for_update(select(persons.c.person_id).where(persons.c.person_id == pid), c))
        return pid

    def _data_key(self, c: Connection, person_id: str) -> bytes:
        """The person's data key, made on first use; only its wrapped form is stored."""
        wrapped = c.execute(select(persons.c.data_key_wrapped).where(persons.c.person_id == person_id)).scalar_one()
        if wrapped is None:
            dek, wrapped = self.keyring.new_data_key()
            c.execute(update(persons).where(persons.c.person_id == person_id).values(data_key_wrapped=wrapped))
            return dek
        return self.keyring.unwrap_data_key(wrapped)

    def seal_templates(self, c: Connection, person_id: str, registration_id: str, templates: Mapping[str, bytes],
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
