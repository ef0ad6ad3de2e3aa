"""The sharded audit log: pure rules for the outbox, the sequencer and the root log.

At scale (many server processes on PostgreSQL) a decision's transaction does
not extend the hash chain itself: it writes an *outbox* row (the entry's
content, no position, no hashes) and commits.  One *sequencer* per shard then
takes the pending rows in batches (at most :attr:`BatchPolicy.max_entries`,
or whatever has waited :attr:`BatchPolicy.max_wait_s`), chains them with
:func:`simreg.domain.audit.new_entry` (the one place a hash is made), and
signs one checkpoint per batch.  A *root log*, itself an ordinary audit log
(:data:`ROOT`), records every shard checkpoint as an entry, so one signed
root checkpoint commits to every shard's history.

Each shard and the root log are ordinary logs: :func:`verify_chain` and the
Merkle proofs of ``domain/merkle.py`` apply to them unchanged.  What is new is
the cross-check (:func:`verify_shards`): every shard must reproduce each
(size, root) that the root log recorded for it.

Shard names.  A shard is keyed by a name the deployment configures
(``SIMREG_AUDIT_SHARD``), by convention the province's two-digit GB/T 2260
code (``"44"`` for Guangdong): each province's servers write their own shard.
Pure: no I/O.  Design: ``docs/design/audit-log.md``, "The log at scale".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .audit import (
    AuditEntry,
    ChainReport,
    Tampering,
    entry_from_row,
    new_entry,
    verify_against_checkpoints,
    verify_chain,
)

#: The root log's name: its entries are the shards' checkpoints.
ROOT = "root"
#: What a root entry records.
ROOT_ACTION = "checkpoint.shard"
ROOT_ACTOR = "sequencer"
#: Root entries come from no policy or model; the entry format wants a hash and ids.
NO_POLICY = "0" * 64
_SHARD = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def check_shard_name(name: str) -> str:
    """``name`` if it is a valid shard name (1-32 of ``a-z 0-9 -``, not starting
    with ``-``, not the root log's name); ``ValueError`` otherwise."""
    if not isinstance(name, str) or not _SHARD.fullmatch(name):
        raise ValueError(f"shard name {name!r} must be 1-32 characters of a-z, 0-9 and '-'")
    if name == ROOT:
        raise ValueError(f"{ROOT!r} is the root log's name, not a shard")
    return name


def origin(shard: str) -> str:
    """The log's origin line in its checkpoints (C2SP tlog-checkpoint): one per
    shard, and one for the root log, so that a checkpoint names its log."""
    return f"simreg/audit/{shard}"


@dataclass(frozen=True)
class BatchPolicy:
    """When a sequencer cuts a batch: as soon as ``max_entries`` are pending, or
    when the oldest pending entry has waited ``max_wait_s`` seconds."""

    max_entries: int = 256
    max_wait_s: float = 0.25

    def __post_init__(self) -> None:
        if not (isinstance(self.max_entries, int) and self.max_entries >= 1):
            raise ValueError("max_entries must be a positive integer")
        if not self.max_wait_s >= 0:
            raise ValueError("max_wait_s must be >= 0")

    def due(self, pending: int, oldest_wait_s: float) -> bool:
        """Cut a batch now?  Never for nothing pending."""
        return pending > 0 and (pending >= self.max_entries or oldest_wait_s >= self.max_wait_s)


@dataclass(frozen=True)
class Pending:
    """An outbox row: an entry's content, waiting for a position in its shard."""

    outbox_id: int
    timestamp: str
    actor: str
    action: str
    subject: str
    details: Mapping[str, Any]
    model_ids: tuple[str, ...]
    policy_sha256: str


def sequence(prev: AuditEntry | None, pending: Sequence[Pending]) -> list[tuple[int, AuditEntry]]:
    """Chain ``pending`` (in ``outbox_id`` order) after ``prev`` (the shard's last
    entry, ``None`` for an empty shard): ``(outbox_id, entry)`` pairs.  The
    content is checked again by :func:`new_entry` (``ValueError``)."""
    out: list[tuple[int, AuditEntry]] = []
    ids = [p.outbox_id for p in pending]
    if len(set(ids)) != len(ids):
        raise ValueError("an outbox row cannot be sequenced twice")
    for p in sorted(pending, key=lambda p: p.outbox_id):
        prev = new_entry(prev, timestamp=p.timestamp, actor=p.actor, action=p.action, subject=p.subject,
                         details=p.details, model_ids=p.model_ids, policy_sha256=p.policy_sha256)
        out.append((p.outbox_id, prev))
    return out


def root_entry(prev: AuditEntry | None, *, shard: str, size: int, root_hash: str, timestamp: str,
               checkpoint: str | None) -> AuditEntry:
    """The root log's entry for one shard checkpoint: "shard ``shard`` had
    ``size`` entries with Merkle root ``root_hash``", with the shard's signed
    note (``checkpoint``, C2SP text, or ``None`` when nothing signs)."""
    check_shard_name(shard)
    if not _HEX64.fullmatch(root_hash) or size < 1:
        raise ValueError("a shard checkpoint needs a size >= 1 and a 64-hex root")
    details = {"shard": shard, "size": size, "root_hash": root_hash, "checkpoint": checkpoint}
    return new_entry(prev, timestamp=timestamp, actor=ROOT_ACTOR, action=ROOT_ACTION, subject=shard,
                     details=details, model_ids=(), policy_sha256=NO_POLICY)


@dataclass(frozen=True)
class ShardHead:
    """What the root log says of one shard: the (size, root) it recorded."""

    size: int
    root_hash: str


@dataclass(frozen=True)
class ShardedReport:
    """The root log's report, each shard's (checked against the root log's
    record of it), and ``ok`` when all hold."""

    ok: bool
    root: ChainReport
    shards: Mapping[str, ChainReport]
    message: str


def shard_heads(root_rows: Iterable[Mapping[str, Any] | AuditEntry]) -> dict[str, list[ShardHead]]:
    """Per shard, the (size, root) pairs the root log recorded, in log order.
    Call it on rows that verified.  ``ValueError`` for a root entry that is not
    a shard checkpoint."""
    out: dict[str, list[ShardHead]] = {}
    for row in root_rows:
        e = entry_from_row(row)
        d = e.details
        if e.action != ROOT_ACTION or d.get("shard") != e.subject:
            raise ValueError(f"root entry {e.position} is not a shard checkpoint")
        out.setdefault(e.subject, []).append(ShardHead(int(d["size"]), str(d["root_hash"])))
    return out


def verify_shards(root_rows: Sequence[Mapping[str, Any] | AuditEntry],
                  shard_rows: Mapping[str, Sequence[Mapping[str, Any] | AuditEntry]]) -> ShardedReport:
    """Verify the root log's chain, then every shard's chain against each
    (size, root) the root log recorded for it: a shard cut short is
    ``truncated``, one rewritten with recomputed hashes ``rewritten``; a shard
    the root log mentions that has no rows is ``truncated``.  The sequencer
    writes a batch, its checkpoint and the root entry in one transaction, so
    every stored entry is covered by a size the root log recorded: entries past
    the last one (appended by hand, however well chained), and a shard the root
    log never mentions, are ``inserted``.  Signatures (the root's checkpoints,
    the notes in root entries) are the caller's to check."""
    root = verify_chain(root_rows)
    shards: dict[str, ChainReport] = {}
    if not root.ok:
        assert root.kind is not None  # a failed report names its kind
        return ShardedReport(False, root, shards, f"root log: {root.kind.value} at position "
                                                  f"{root.first_bad_position}: {root.message}")
    try:
        heads = shard_heads(root_rows)
    except (ValueError, KeyError, TypeError) as exc:
        bad = ChainReport(False, root.size, root.head_hash, None, Tampering.MALFORMED, str(exc),
                          root.verified_size, root.root_hash)
        return ShardedReport(False, bad, shards, f"root log: {exc}")
    problems = []
    for name in sorted(set(shard_rows) | set(heads)):
        rows = shard_rows.get(name, ())
        report = verify_against_checkpoints(rows, heads.get(name, []))
        recorded = max((h.size for h in heads.get(name, [])), default=0)
        if report.ok and report.size > recorded:
            report = ChainReport(False, report.size, report.head_hash, recorded, Tampering.INSERTED,
                                 f"{report.size - recorded} entries past the last size the root log recorded "
                                 f"for this shard ({recorded}): no sequencer batch wrote them",
                                 report.verified_size, report.root_hash)
        shards[name] = report
        if not report.ok:
            assert report.kind is not None  # a failed report names its kind
            problems.append(f"shard {name}: {report.kind.value} at position {report.first_bad_position}: "
                            f"{report.message}")
    if problems:
        return ShardedReport(False, root, shards, "; ".join(problems))
    return ShardedReport(True, root, shards, f"root log of {root.size} checkpoints and {len(shards)} shard(s) "
                                             f"of {sum(r.size for r in shards.values())} entries verify")
