"""The audit log in SQL: appended in the caller's transaction, read in order.

Appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on
SQLite by its single writer (the append's first statement is a write, so the
write lock is held from the moment the last position is read).  The unique
``position`` column refuses any fork that gets through anyway.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterator, Mapping, Sequence

from sqlalchemy import func, insert, select, text
from sqlalchemy.engine import Connection, Engine

from ...domain.audit import AuditEntry, entry_from_row, entry_to_row, new_entry
from .database import lock_for_write
from .schema import audit_entries

_PG_LOCK_KEY = 0x51_4D_52_45_47  # "SIMREG": one advisory lock for all appends


def append(conn: Connection, *, now: datetime, actor: str, action: str, subject: str,
           details: Mapping[str, Any], model_ids: Sequence[str], policy_sha256: str) -> AuditEntry:
    """Append one entry inside ``conn``'s transaction (commit it with the change it records)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:
        lock_for_write(conn)  # SQLite: the write lock before the head is read
    last = conn.execute(select(audit_entries).order_by(audit_entries.c.position.desc()).limit(1)).mappings().first()
    prev = entry_from_row(dict(last)) if last is not None else None
    entry = new_entry(prev, timestamp=now, actor=actor, action=action, subject=subject, details=details,
                      model_ids=model_ids, policy_sha256=policy_sha256)
    conn.execute(insert(audit_entries).values(**entry_to_row(entry)))
    return entry


def read_rows(engine: Engine, batch: int = 10_000) -> Iterator[dict]:
    """Every stored row in position order, streamed in batches."""
    last = -1
    with engine.connect() as conn:
        while True:
            rows = conn.execute(select(audit_entries).where(audit_entries.c.position > last)
                                .order_by(audit_entries.c.position).limit(batch)).mappings().all()
            if not rows:
                return
            for r in rows:
                yield dict(r)
            last = rows[-1]["position"]


def size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())
