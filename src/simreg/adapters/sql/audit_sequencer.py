"""The sharded audit log in SQL: the outbox a decision writes, the sequencer
that gives outbox rows their positions in batches, and the reads (rows,
proofs, receipts) of every shard and of the root log.

* :func:`enqueue` runs in the decision's transaction: one INSERT into
  ``audit_outbox``, no lock, no read of the chain's head.  Writers on many
  processes never wait for one another.
* :func:`sequence_once` is one batch of one shard, in one transaction: lock the
  shard's head row (``FOR UPDATE SKIP LOCKED``: a second sequencer of the same
  shard skips it instead of forking it), take up to ``max_entries`` outbox rows
  in ``outbox_id`` order, chain them (``domain.audit_shards.sequence``), insert
  them, delete their outbox rows, advance the stored Merkle frontier, store the
  batch's checkpoint (a C2SP signed note when a key is configured), and append
  that checkpoint to the root log (under the root log's head row lock).
  Commit or nothing: a sequencer killed at any point leaves every outbox row
  either sequenced (committed with its entry) or still in the outbox, so a
  restart sequences each exactly once.  ``audit_shard_entries.outbox_id`` is
  unique besides.
* A process opts into the sharded log by its engine's execution option
  (:func:`for_shard`); :func:`simreg.adapters.sql.audit_store.append` reads it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, insert, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ...domain import merkle
from ...domain.audit import (
    ENTRY_FIELDS,
    GENESIS_HASH,
    AuditEntry,
    as_utc_timestamp,
    canonical_json,
    entry_from_row,
    entry_to_row,
    merkle_leaf,
    new_entry,
    prove_inclusion,
)
from ...domain.audit_shards import ROOT, BatchPolicy, Pending, check_shard_name, origin, root_entry, sequence
from ...domain.errors import InputError, PolicyError
from ...domain.merkle import TreeHeads
from ...domain.reasons import ReasonCode
from .database import lock_for_write
from .schema import audit_outbox, audit_shard_checkpoints, audit_shard_entries, audit_shard_heads

log = logging.getLogger(__name__)

#: The engine execution option naming the shard this process writes to.
SHARD_OPTION = "simreg_audit_shard"
_INSERTS: dict[str, Any] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
_CONTENT = ("timestamp", "actor", "action", "subject", "details", "model_ids", "policy_sha256")


def for_shard(engine: Engine, shard: str | None) -> Engine:
    """``engine`` whose transactions append to shard ``shard``'s outbox (``None``:
    ``engine`` as it is, appending to the global chain)."""
    if shard is None:
        return engine
    return engine.execution_options(**{SHARD_OPTION: check_shard_name(shard)})


def shard_of(conn: Connection) -> str | None:
    return conn.get_execution_options().get(SHARD_OPTION)


@dataclass(frozen=True)
class Enqueued:
    """An append waiting for its position: ``position`` and ``entry_hash`` are
    ``None`` until the shard's sequencer has run (see :func:`receipt`)."""

    shard: str
    outbox_id: int
    position: None = None
    entry_hash: None = None


def enqueue(conn: Connection, shard: str, *, now: datetime | str, actor: str, action: str, subject: str,
            details: Mapping[str, Any], model_ids: Sequence[str], policy_sha256: str) -> Enqueued:
    """Write one outbox row in ``conn``'s transaction.  The content is checked
    now, by the rules of ``new_entry`` (a bad entry fails the decision, as a
    direct append would), and stored as the canonical text it will be hashed as."""
    probe = new_entry(None, timestamp=now, actor=actor, action=action, subject=subject, details=details,
                      model_ids=model_ids, policy_sha256=policy_sha256)
    row = entry_to_row(probe)
    values = {k: row[k] for k in _CONTENT}
    outbox_id = conn.execute(insert(audit_outbox).values(shard=shard, **values)
                             .returning(audit_outbox.c.outbox_id)).scalar_one()
    return Enqueued(shard, int(outbox_id))


# --- the sequencer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """What one :func:`sequence_once` did: ``count`` entries at positions
    ``first``..``first + count - 1`` of ``shard``, checkpoint of ``size`` entries."""

    shard: str
    count: int
    first: int = 0
    size: int = 0
    root_hash: str = ""
    root_position: int | None = None


def _now() -> str:
    return as_utc_timestamp(datetime.now(UTC))


def _lock_head(c: Connection, log: str, skip_locked: bool) -> Mapping | None:
    """The log's head row, locked until commit (created empty the first time);
    ``None`` when another transaction holds it and ``skip_locked``."""
    c.execute(_INSERTS[c.dialect.name](audit_shard_heads)
              .values(shard=log, size=0, head_hash=GENESIS_HASH, state=json.dumps(TreeHeads().to_state()))
              .on_conflict_do_nothing(index_elements=["shard"]))
    q = select(audit_shard_heads).where(audit_shard_heads.c.shard == log)
    if c.dialect.name == "postgresql":
        q = q.with_for_update(skip_locked=skip_locked)
    return c.execute(q).mappings().first()


def _last_entry(c: Connection, log: str, size: int) -> AuditEntry | None:
    if size == 0:
        return None
    row = c.execute(select(*[audit_shard_entries.c[n] for n in ENTRY_FIELDS]).where(
        audit_shard_entries.c.shard == log, audit_shard_entries.c.position == size - 1)).mappings().one()
    return entry_from_row(dict(row))


def _insert_entries(c: Connection, log: str, pairs: Sequence[tuple[int | None, AuditEntry]]) -> None:
    c.execute(insert(audit_shard_entries),
              [{"shard": log, "outbox_id": oid, **entry_to_row(e)} for oid, e in pairs])


def _advance(c: Connection, log: str, head: Mapping, entries: Sequence[AuditEntry], key,
             stamp: str) -> tuple[int, str, str | None]:
    """Advance the log's frontier past ``entries``, store its checkpoint; (size, root hex, note).
    With one entry (the root log's step), the checkpoint keeps that entry's inclusion proof."""
    heads = TreeHeads.from_state(json.loads(head["state"]))
    if heads.size != head["size"] or (entries and entries[0].position != heads.size):
        raise PolicyError(ReasonCode.AUDIT_BROKEN, f"the stored head of log {log!r} does not fit its entries; "
                                                   "run `simreg audit verify`")
    proof = json.dumps([h.hex() for h in heads.proof_of_next()]) if len(entries) == 1 else None
    for e in entries:
        heads.append(merkle_leaf(e))
    root = heads.root().hex()
    c.execute(update(audit_shard_heads).where(audit_shard_heads.c.shard == log).values(
        size=heads.size, head_hash=entries[-1].entry_hash, state=json.dumps(heads.to_state())))
    note = None
    if key is not None:
        from ..signing import sign_log_checkpoint

        note = sign_log_checkpoint(key, origin(log), heads.size, root)
    c.execute(insert(audit_shard_checkpoints).values(shard=log, size=heads.size, root_hash=root, timestamp=stamp,
                                                     note=note, proof=proof if log == ROOT else None))
    return heads.size, root, note


def _pending(c: Connection, shard: str, limit: int) -> list[Pending]:
    rows = c.execute(select(audit_outbox).where(audit_outbox.c.shard == shard)
                     .order_by(audit_outbox.c.outbox_id).limit(limit)).mappings().all()
    return [Pending(int(r["outbox_id"]), r["timestamp"], r["actor"], r["action"], r["subject"],
                    json.loads(r["details"]), tuple(json.loads(r["model_ids"])), r["policy_sha256"]) for r in rows]


def sequence_once(engine: Engine, shard: str, *, policy: BatchPolicy = BatchPolicy(), signing_key=None,
                  force: bool = True, skip_locked: bool = True) -> Batch:
    """Sequence one batch of ``shard``'s outbox (see the module docstring).
    ``force=False``: only when the batch is due by ``policy`` (full, or its
    oldest entry has waited ``max_wait_s`` by the writers' timestamps)."""
    check_shard_name(shard)
    if not force and not _due(engine, shard, policy):  # a cheap look first: no lock, no content read
        return Batch(shard, 0)
    with engine.begin() as c:
        lock_for_write(c)
        head = _lock_head(c, shard, skip_locked)
        if head is None:  # another sequencer holds this shard
            return Batch(shard, 0)
        pending = _pending(c, shard, policy.max_entries)
        if not pending:
            return Batch(shard, 0)
        pairs = sequence(_last_entry(c, shard, head["size"]), pending)
        entries = [e for _, e in pairs]
        _insert_entries(c, shard, pairs)
        c.execute(delete(audit_outbox).where(audit_outbox.c.outbox_id.in_([oid for oid, _ in pairs])))
        stamp = _now()
        size, root, note = _advance(c, shard, head, entries, signing_key, stamp)
        root_pos = _append_root(c, shard, size, root, note, signing_key, stamp)
        c.execute(update(audit_shard_checkpoints).where(audit_shard_checkpoints.c.shard == shard,
                                                        audit_shard_checkpoints.c.size == size)
                  .values(root_position=root_pos))
    return Batch(shard, len(entries), entries[0].position, size, root, root_pos)


def _due(engine: Engine, shard: str, policy: BatchPolicy) -> bool:
    """Is a batch of ``shard`` due: ``max_entries`` pending, or the oldest pending
    one waited ``max_wait_s`` by its writer's timestamp?"""
    with engine.connect() as c:
        stamps = c.execute(select(audit_outbox.c.timestamp).where(audit_outbox.c.shard == shard)
                           .order_by(audit_outbox.c.outbox_id).limit(policy.max_entries)).scalars().all()
    if not stamps:
        return False
    waited = (datetime.now(UTC) - min(datetime.fromisoformat(t) for t in stamps)).total_seconds()
    return policy.due(len(stamps), waited)


def _append_root(c: Connection, shard: str, size: int, root: str, note: str | None, key, stamp: str) -> int:
    """The shard's checkpoint as the root log's next entry, and the root log's
    own checkpoint; in the caller's transaction (root head row locked until commit)."""
    head = _lock_head(c, ROOT, skip_locked=False)
    assert head is not None  # waited for, never skipped
    entry = root_entry(_last_entry(c, ROOT, head["size"]), shard=shard, size=size, root_hash=root,
                       timestamp=stamp, checkpoint=note)
    _insert_entries(c, ROOT, [(None, entry)])
    _advance(c, ROOT, head, [entry], key, stamp)
    return entry.position


def sequence_all(engine: Engine, shards: Sequence[str] | None = None, *, policy: BatchPolicy = BatchPolicy(),
                 signing_key=None) -> dict[str, int]:
    """Drain the outbox: batches until nothing of ``shards`` (default: every shard
    with pending rows) is left.  Entries sequenced per shard.  For a CronJob, tests
    and benches; the long-running form is :func:`run_sequencer`."""
    done: dict[str, int] = {}
    names = list(shards) if shards is not None else pending_shards(engine)
    for name in names:
        done.setdefault(name, 0)
        while True:
            b = sequence_once(engine, name, policy=policy, signing_key=signing_key, skip_locked=False)
            if b.count == 0:
                break
            done[name] += b.count
    return done


def run_sequencer(engine: Engine, shards: Sequence[str] | None = None, *, policy: BatchPolicy = BatchPolicy(),
                  signing_key=None, stop=lambda: False, on_batch=None) -> None:
    """Cut batches as they fall due, until ``stop()``: a batch as soon as
    ``max_entries`` are pending or the oldest has waited ``max_wait_s``.  Polls
    every ``max_wait_s / 4`` (at most 0.5 s) when there is nothing to do."""
    idle = min(max(policy.max_wait_s / 4, 0.005), 0.5)
    backoff = 0.0
    while not stop():
        busy = False
        try:
            names = list(shards) if shards is not None else pending_shards(engine)
            for name in names:
                b = sequence_once(engine, name, policy=policy, signing_key=signing_key, force=False)
                if b.count:
                    busy = True
                    if on_batch is not None:
                        on_batch(b)
            backoff = 0.0
        except SQLAlchemyError as exc:
            # the database is down or dropped the connection: the batch rolled back
            # (nothing sequenced, nothing lost); wait and carry on rather than exit
            backoff = min(max(2 * backoff, 0.5), 30.0)
            log.warning("sequencer: database error (%s); retrying in %.1f s", type(exc).__name__, backoff)
            time.sleep(backoff)
            continue
        if not busy:
            time.sleep(idle)


def pending_shards(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return sorted(r[0] for r in c.execute(select(audit_outbox.c.shard).distinct()))


def outbox_size(engine: Engine, shard: str | None = None) -> int:
    q = select(func.count()).select_from(audit_outbox)
    if shard is not None:
        q = q.where(audit_outbox.c.shard == shard)
    with engine.connect() as c:
        return int(c.execute(q).scalar_one())


# --- reading ---------------------------------------------------------------------------------


def has_shards(engine: Engine) -> bool:
    """Does this database hold the sharded log's tables (migration 0006) with any
    log in them, or any entry waiting in the outbox?"""
    with engine.connect() as c:
        if not inspect(c).has_table("audit_shard_heads"):
            return False
        return (c.execute(select(audit_shard_heads.c.shard).limit(1)).first() is not None
                or c.execute(select(audit_outbox.c.outbox_id).limit(1)).first() is not None)


def logs(engine: Engine) -> list[str]:
    """Every shard with a head row or with stored entries (the root log excluded):
    a shard that has rows but no head must be seen by ``audit verify`` too."""
    with engine.connect() as c:
        named = {r[0] for r in c.execute(select(audit_shard_heads.c.shard))}
        named |= {r[0] for r in c.execute(select(audit_shard_entries.c.shard).distinct())}
    return sorted(n for n in named if n != ROOT)


def read_rows(engine: Engine, log: str, batch: int = 20_000) -> Iterator[dict]:
    """Every stored row of one log (a shard, or ``ROOT``) in position order."""
    cols = [audit_shard_entries.c[name] for name in ENTRY_FIELDS]
    last = -1
    with engine.connect() as conn:
        while True:
            rows = conn.execute(select(*cols).where(audit_shard_entries.c.shard == log,
                                                    audit_shard_entries.c.position > last)
                                .order_by(audit_shard_entries.c.position).limit(batch)).tuples().all()
            if not rows:
                return
            for r in rows:
                yield dict(zip(ENTRY_FIELDS, r, strict=True))
            last = rows[-1][0]


def checkpoints(engine: Engine, log: str) -> list[dict]:
    with engine.connect() as c:
        return [dict(r) for r in c.execute(select(audit_shard_checkpoints).where(
            audit_shard_checkpoints.c.shard == log).order_by(audit_shard_checkpoints.c.size)).mappings()]


def inclusion(engine: Engine, log: str, index: int, size: int | None = None) -> dict:
    """As :func:`simreg.adapters.sql.audit_store.inclusion`, in one shard or the root log."""
    return {"log": log, **prove_inclusion(list(read_rows(engine, log)), index, size, f"log {log!r}")}


def _checkpoint_doc(log: str, cp: Mapping) -> dict | None:
    if cp["note"] is None:
        return None
    return {"format": "c2sp-checkpoint", "origin": origin(log), "size": int(cp["size"]),
            "root_hash": cp["root_hash"], "note": cp["note"]}


def receipt(engine: Engine, shard: str, outbox_id: int) -> dict:
    """The receipt of an append made in sharded mode, by its outbox id: pending
    while it waits in the outbox; once sequenced, its position, the first batch
    checkpoint that covers it (signed note), and where that checkpoint sits in
    the root log.  ``AUDIT.NO_SUCH_ENTRY`` (404) for an id in neither place."""
    with engine.connect() as c:
        row = c.execute(select(audit_shard_entries.c.position, audit_shard_entries.c.entry_hash,
                               audit_shard_entries.c.shard)
                        .where(audit_shard_entries.c.outbox_id == outbox_id)).first()
        if row is None or row.shard != shard:
            waiting = c.execute(select(audit_outbox.c.outbox_id).where(audit_outbox.c.outbox_id == outbox_id,
                                                                       audit_outbox.c.shard == shard)).first()
            if waiting is None:
                raise InputError(ReasonCode.AUDIT_NO_SUCH_ENTRY, f"no audit entry {outbox_id} in shard {shard!r}")
            return pending_receipt(Enqueued(shard, outbox_id))
        cp = c.execute(select(audit_shard_checkpoints).where(audit_shard_checkpoints.c.shard == shard,
                                                             audit_shard_checkpoints.c.size > row.position)
                       .order_by(audit_shard_checkpoints.c.size).limit(1)).mappings().one()
    out = {"status": "sequenced", "shard": shard, "outbox_id": outbox_id, "audit_position": int(row.position),
           "entry_hash": row.entry_hash, "leaf_hash": merkle.leaf_hash(bytes.fromhex(row.entry_hash)).hex(),
           "tree_size": int(cp["size"]), "root_hash": cp["root_hash"], "checkpoint": _checkpoint_doc(shard, cp),
           "root_position": None if cp["root_position"] is None else int(cp["root_position"])}
    if out["root_position"] is not None:
        out["root"] = root_link(engine, out["root_position"])
    return out


def root_link(engine: Engine, position: int) -> dict:
    """How a shard checkpoint sits in the root log: the root entry at ``position``
    (as stored: every field its hash covers), the root checkpoint made with it
    (size ``position + 1``, signed note), and the entry's inclusion proof under it."""
    with engine.connect() as c:
        entry = c.execute(select(*[audit_shard_entries.c[n] for n in ENTRY_FIELDS]).where(
            audit_shard_entries.c.shard == ROOT, audit_shard_entries.c.position == position)).mappings().one()
        cp = c.execute(select(audit_shard_checkpoints).where(audit_shard_checkpoints.c.shard == ROOT,
                                                             audit_shard_checkpoints.c.size == position + 1)
                       ).mappings().one()
    if cp["proof"] is not None:  # kept by the sequencer: one row, whatever the root log's length
        path = json.loads(cp["proof"])
    else:  # a checkpoint made before migration 0007
        path = inclusion(engine, ROOT, position, position + 1)["proof"]
    return {"position": position, "entry": dict(entry), "tree_size": int(cp["size"]), "root_hash": cp["root_hash"],
            "checkpoint": _checkpoint_doc(ROOT, cp), "proof": path}


def pending_receipt(e: Enqueued) -> dict:
    """What a client gets before the sequencer has run: where to ask again."""
    return {"status": "pending", "shard": e.shard, "outbox_id": e.outbox_id, "audit_position": None,
            "entry_hash": None, "leaf_hash": None, "tree_size": None, "root_hash": None, "checkpoint": None}


def latest_checkpoint(engine: Engine, log: str) -> dict | None:
    with engine.connect() as c:
        cp = c.execute(select(audit_shard_checkpoints).where(audit_shard_checkpoints.c.shard == log)
                       .order_by(audit_shard_checkpoints.c.size.desc()).limit(1)).mappings().first()
    return None if cp is None else {**dict(cp), "origin": origin(log)}


def canonical(doc: Any) -> str:
    return canonical_json(doc).decode("utf-8")
