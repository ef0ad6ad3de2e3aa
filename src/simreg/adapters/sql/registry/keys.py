"""Key rotation and the keyring's check values."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection

from ....domain.records import Stamp
from .. import audit_store
from ..database import lock_for_write
from ..schema import idempotency_keys, meta, numbers, person_index_aliases, persons
from ._common import _INSERTS, Repository


class KeyRepository(Repository):
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
