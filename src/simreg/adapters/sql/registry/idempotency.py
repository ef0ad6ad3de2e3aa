"""Idempotency keys: a retried request gets the first one's stored response."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from ....domain.errors import InputError
from ....domain.reasons import ReasonCode
from ..database import for_update, lock_for_write
from ..schema import idempotency_keys
from ..stores import aware
from ._common import _INSERTS, Repository


class IdempotencyRepository(Repository):
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

    def finish(self, c: Connection, clerk_id: str, key: str, response: Mapping[str, Any]) -> None:
        sealed = self.keyring.encrypt(json.dumps(response, sort_keys=True).encode(),
                                      aad=f"idem|{clerk_id}|{key}".encode())
        c.execute(update(idempotency_keys).where(idempotency_keys.c.clerk_id == clerk_id,
                                                 idempotency_keys.c.key == key)
                  .values(state="done", response=sealed))
