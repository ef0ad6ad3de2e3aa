"""The audit log in SQL: appended in the caller's transaction, read in order.

Two modes, chosen per process by the engine (``audit_sequencer.for_shard``,
from ``SIMREG_AUDIT_SHARD``): by default every append extends the one global
chain (``audit_entries``) at once, in the caller's transaction: a sequencer
with a batch of one, run inline.  With a shard configured, an append writes an
outbox row instead and returns an :class:`~.audit_sequencer.Enqueued` (no
position yet); ``simreg audit sequencer`` gives it its position in a batch
(``adapters/sql/audit_sequencer.py``, ``docs/design/audit-log.md``).

Global appends are serialised: on PostgreSQL by a transaction-scoped advisory lock, on
SQLite by its single writer (the append's first statement is a write, so the
write lock is held from the moment the last position is read).  The unique
``position`` column refuses any fork that gets through anyway.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from ...domain.audit import ENTRY_FIELDS, AuditEntry, entry_from_row, entry_to_row, merkle_leaf, new_entry
from ...domain.merkle import TreeHeads
from .audit_sequencer import Enqueued, enqueue, shard_of
from .database import lock_for_write
from .schema import audit_entries, audit_tree

_PG_LOCK_KEY = 0x51_4D_52_45_47  # "SIMREG": one advisory lock for all appends


def append(conn: Connection, *, now: datetime, actor: str, action: str, subject: str,
           details: Mapping[str, Any], model_ids: Sequence[str], policy_sha256: str) -> AuditEntry | Enqueued:
    """Append one entry inside ``conn``'s transaction (commit it with the change it
    records).  On an engine configured for a shard: an outbox row, returned as
    an ``Enqueued`` whose ``position`` and ``entry_hash`` are ``None``."""
    shard = shard_of(conn)
    if shard is not None:
        return enqueue(conn, shard, now=now, actor=actor, action=action, subject=subject, details=details,
                       model_ids=model_ids, policy_sha256=policy_sha256)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    else:
        lock_for_write(conn)  # SQLite: the write lock before the head is read
    last = conn.execute(select(audit_entries).order_by(audit_entries.c.position.desc()).limit(1)).mappings().first()
    prev = entry_from_row(dict(last)) if last is not None else None
    entry = new_entry(prev, timestamp=now, actor=actor, action=action, subject=subject, details=details,
                      model_ids=model_ids, policy_sha256=policy_sha256)
    conn.execute(insert(audit_entries).values(**entry_to_row(entry)))
    _advance_tree(conn, entry)
    return entry


def _advance_tree(conn: Connection, entry: AuditEntry) -> None:
    """Add the entry to the stored Merkle frontier (rebuilt from the entries if it
    does not end just before this one)."""
    row = conn.execute(select(audit_tree).where(audit_tree.c.tree_id == 1)).mappings().first()
    heads = None
    if row is not None and row["size"] == entry.position:
        try:
            heads = TreeHeads.from_state(json.loads(row["state"]))
        except (ValueError, KeyError, TypeError):
            heads = None
    if heads is None:
        heads = TreeHeads()
        for (h,) in conn.execute(select(audit_entries.c.entry_hash).where(audit_entries.c.position < entry.position)
                                 .order_by(audit_entries.c.position)):
            heads.append(bytes.fromhex(h))
    heads.append(merkle_leaf(entry))
    state = json.dumps(heads.to_state())
    if row is None:
        conn.execute(insert(audit_tree).values(tree_id=1, size=heads.size, state=state))
    else:
        conn.execute(update(audit_tree).where(audit_tree.c.tree_id == 1).values(size=heads.size, state=state))


def tree_head(conn: Connection) -> tuple[int, str]:
    """(size, root hash hex) of the log as of ``conn``'s transaction, from the frontier;
    ``(0, "")`` on an engine configured for a shard (the tree grows when the
    sequencer runs: see ``audit_sequencer.receipt``)."""
    if shard_of(conn) is not None:
        return 0, ""
    row = conn.execute(select(audit_tree).where(audit_tree.c.tree_id == 1)).mappings().first()
    heads = TreeHeads.from_state(json.loads(row["state"])) if row is not None else TreeHeads()
    return heads.size, heads.root().hex()


def inclusion(engine: Engine, index: int, size: int | None = None) -> dict:
    """The RFC 6962 inclusion proof of entry ``index`` in the tree of the first
    ``size`` entries (default: all); ``AUDIT.NO_SUCH_ENTRY`` (404) for an index
    outside it, ``AUDIT.BROKEN`` (409) when the log does not verify."""
    from ...domain.audit import prove_inclusion

    return prove_inclusion(list(read_rows(engine)), index, size)


def read_rows(engine: Engine, batch: int = 20_000) -> Iterator[dict]:
    """Every stored row in position order, streamed in batches (plain tuples from
    the driver, zipped with the column names: verification reads every row)."""
    cols = [audit_entries.c[name] for name in ENTRY_FIELDS]
    last = -1
    with engine.connect() as conn:
        while True:
            rows = conn.execute(select(*cols).where(audit_entries.c.position > last)
                                .order_by(audit_entries.c.position).limit(batch)).tuples().all()
            if not rows:
                return
            for r in rows:
                yield dict(zip(ENTRY_FIELDS, r, strict=True))
            last = rows[-1][0]


@dataclass(frozen=True)
class StoredEntry:
    """An entry as stored, every field its hash covers: ``details`` and
    ``model_ids`` as the canonical JSON text that was hashed (a reader who
    recomputes the hash needs those bytes, not a re-serialisation).  Fields in
    :data:`~simreg.domain.audit.ENTRY_FIELDS` order."""
    position: int
    timestamp: str
    actor: str
    action: str
    subject: str
    details: str
    model_ids: str
    policy_sha256: str
    prev_hash: str
    entry_hash: str


def page(engine: Engine, after: int, limit: int) -> list[StoredEntry]:
    """Up to ``limit`` entries after position ``after`` (``-1``: from the first), in order."""
    cols = [audit_entries.c[name] for name in ENTRY_FIELDS]
    with engine.connect() as conn:
        rows = conn.execute(select(*cols).where(audit_entries.c.position > after)
                            .order_by(audit_entries.c.position).limit(limit)).tuples().all()
    return [StoredEntry(*r) for r in rows]


def size(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(audit_entries)).scalar_one())
