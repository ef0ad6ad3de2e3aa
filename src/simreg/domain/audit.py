"""The append-only audit log: hash-chained entries, and their verification.

Every decision becomes one :class:`AuditEntry`.  An entry's ``entry_hash`` is
SHA-256 over the canonical JSON (keys sorted, no whitespace, UTF-8, non-ASCII
kept as is, no NaN/Infinity) of all its other fields, ``position`` and
``prev_hash`` included; ``prev_hash`` is the previous entry's ``entry_hash``
(:data:`GENESIS_HASH`, 64 zeros, for position 0).  Only :func:`new_entry`
computes it.  The Merkle leaf of an entry (see :mod:`simreg.domain.merkle`) is
the 32 raw bytes of its ``entry_hash``.

Verification reads *stored rows*: :class:`AuditEntry` objects or mappings
with the field names (``details`` and ``model_ids`` may be JSON text, as a
TEXT column gives them back), in the order storage returns them, which should
be ``ORDER BY position``.  It recomputes every hash and link and names the
first problem by log position and by :class:`Tampering` kind.  Timestamps are
ISO-8601 strings in UTC; the hash covers the string exactly as stored.

Pure: no I/O.  Design notes and limits: ``docs/design/audit-log.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import operator
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any, Protocol

from . import merkle
from .pii import contains_personal_number

GENESIS_HASH = "0" * 64

#: Guard limits for ``details`` (see :func:`new_entry`).
MAX_NUMERIC_ARRAY = 32      # more numbers than this in one (nested) list: an embedding or pixels
MAX_DETAIL_STRING = 1024    # longer strings: an encoded image or template, not an audit fact

ENTRY_FIELDS = ("position", "timestamp", "actor", "action", "subject", "details",
                "model_ids", "policy_sha256", "prev_hash", "entry_hash")

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)  # one instance: json.dumps would build one per call
_HEX64 = re.compile(r"[0-9a-f]{64}")
_ACTION = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
# Clear personal data that must never reach the log: an 18-character resident
# ID number, or an 11-digit mainland mobile number, standing alone.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


class Tampering(str, Enum):
    """How the first problem in a log shows up."""

    EDITED = "edited"          # an entry's content no longer matches the chain
    DELETED = "deleted"        # positions missing: a gap, or a link to an entry that is gone
    INSERTED = "inserted"      # an extra entry whose position or link does not fit
    REORDERED = "reordered"    # entries out of order, or their positions/links exchanged
    TRUNCATED = "truncated"    # fewer entries than a signed checkpoint covers
    REWRITTEN = "rewritten"    # a consistent chain that does not reproduce a checkpoint's root
    MALFORMED = "malformed"    # a row that cannot be read as an entry at all


@dataclass(frozen=True)
class AuditEntry:
    """One audit log entry.  Build new ones with :func:`new_entry` (the only
    place an ``entry_hash`` is computed); constructing one directly is for
    loading stored rows, whose hashes :func:`verify_chain` checks.

    ``subject`` is an opaque identifier (a registration id, a blind index),
    never clear personal data; ``details`` is a JSON-able mapping of facts
    (outcome, reason codes, scores), never images, embeddings or ID numbers.
    """

    position: int                 # 0-based, consecutive
    timestamp: str                # ISO-8601, UTC
    actor: str                    # who acted: clerk, outlet or service id
    action: str                   # dotted, e.g. "registration.decided"
    subject: str
    details: Mapping[str, Any] = field(hash=False)  # hashable entries: entry_hash covers it
    model_ids: tuple[str, ...]
    policy_sha256: str            # hex sha256 of the policy file in force
    prev_hash: str                # hex; GENESIS_HASH for position 0
    entry_hash: str               # hex sha256 of the canonical JSON of all the fields above

    def __post_init__(self) -> None:
        # Frozen all the way down, so an entry cannot drift from its hash in memory.
        object.__setattr__(self, "details", MappingProxyType(_plain(self.details)))
        object.__setattr__(self, "model_ids", tuple(self.model_ids))


@dataclass(frozen=True)
class ChainReport:
    """The result of verifying a log.

    ``size``: rows read.  ``verified_size``: length of the prefix whose hashes
    and links all recompute (``== size`` when ``ok``, unless a checkpoint
    check failed).  ``head_hash`` / ``root_hash``: the ``entry_hash`` of that
    prefix's last entry (:data:`GENESIS_HASH` if empty) and its RFC 6962
    Merkle root, hex: what a checkpoint for it would sign.
    ``first_bad_position``: the log position of the first problem (``None``
    when ok, or when the evidence cannot name it, as for a rewritten history).
    """

    ok: bool
    size: int
    head_hash: str
    first_bad_position: int | None
    kind: Tampering | None
    message: str
    verified_size: int = 0
    root_hash: str = ""


class CheckpointLike(Protocol):
    """What verification needs of a checkpoint; its signature is checked by the
    signing adapter *before* it is trusted here (read-only: a frozen dataclass fits)."""

    @property
    def size(self) -> int: ...
    @property
    def root_hash(self) -> str: ...


# --- building entries --------------------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is hashed: sorted keys, no whitespace,
    non-ASCII as UTF-8, NaN/Infinity refused."""
    return _CANONICAL.encode(value).encode("utf-8")


def as_utc_timestamp(value: str | datetime) -> str:
    """An ISO-8601 UTC timestamp string.  A ``datetime`` must be timezone-aware
    and is written ``YYYY-MM-DDTHH:MM:SS.ffffffZ``; a string must parse as
    ISO-8601 with a zero UTC offset and is kept as given (the hash covers it)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("timestamp must be timezone-aware (UTC)")
        text = value.astimezone(UTC).isoformat(timespec="microseconds")
        return text.replace("+00:00", "Z")
    if not isinstance(value, str) or not value or value != value.strip() or "\n" in value:
        raise ValueError("timestamp must be an ISO-8601 UTC string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"timestamp {value!r} is not ISO-8601") from None
    if parsed.tzinfo is None or parsed.utcoffset() != timedelta(0):
        raise ValueError(f"timestamp {value!r} is not in UTC")
    return value


def new_entry(prev: AuditEntry | None, *, timestamp: str | datetime, actor: str, action: str,
              subject: str, details: Mapping[str, Any], model_ids: Sequence[str],
              policy_sha256: str) -> AuditEntry:
    """The entry that follows ``prev`` (``None``: the first entry of the log),
    with its ``position``, ``prev_hash`` and ``entry_hash`` filled in.

    Raises ``ValueError`` for malformed fields and, as a guard against obvious
    mistakes (not a proof of absence), for personal data that must never be
    logged: ``bytes`` anywhere in ``details``; lists holding more than
    ``MAX_NUMERIC_ARRAY`` numbers (embedding- or pixel-sized arrays); strings
    longer than ``MAX_DETAIL_STRING``; a resident ID number or mobile number
    in ``subject`` or in a ``details`` string.
    """
    if prev is not None and not isinstance(prev, AuditEntry):
        raise ValueError("prev must be the previous AuditEntry or None")
    position = 0 if prev is None else prev.position + 1
    prev_hash = GENESIS_HASH if prev is None else prev.entry_hash
    timestamp = as_utc_timestamp(timestamp)
    for name, value in (("actor", actor), ("subject", subject)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{name} must be a non-empty string")
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise ValueError(f"action {action!r} must be dotted lowercase, like 'registration.decided'")
    _refuse_personal_data(subject, "subject")
    if not isinstance(details, Mapping):
        raise ValueError("details must be a mapping")
    _check_detail(details, "details")
    if isinstance(model_ids, (str, bytes)) or not all(isinstance(m, str) and m for m in model_ids):
        raise ValueError("model_ids must be a sequence of non-empty strings")
    if not isinstance(policy_sha256, str) or not _HEX64.fullmatch(policy_sha256):
        raise ValueError("policy_sha256 must be 64 lowercase hex digits")
    plain_details = _plain(details)
    model_ids = tuple(model_ids)
    payload = _payload(position, timestamp, actor, action, subject, plain_details,
                       list(model_ids), policy_sha256, prev_hash)
    return AuditEntry(position, timestamp, actor, action, subject, plain_details, model_ids,
                      policy_sha256, prev_hash, _digest(payload))


def entry_to_row(entry: AuditEntry) -> dict[str, Any]:
    """A stored row for ``entry``: ``details`` and ``model_ids`` as canonical JSON
    text (store them as TEXT, byte for byte), the other fields as they are."""
    row = {name: getattr(entry, name) for name in ENTRY_FIELDS}
    row["details"] = canonical_json(dict(entry.details)).decode("utf-8")
    row["model_ids"] = canonical_json(list(entry.model_ids)).decode("utf-8")
    return row


def entry_from_row(row: Mapping[str, Any] | AuditEntry) -> AuditEntry:
    """The entry a stored row holds, its stored hashes kept as they are (not
    recomputed: :func:`verify_chain` decides whether they are right).  Raises
    ``ValueError`` for a row that cannot be an entry."""
    if isinstance(row, AuditEntry):
        return row
    position, fields, prev_hash, entry_hash = _read_row(row)
    return AuditEntry(position, fields["timestamp"], fields["actor"], fields["action"],
                      fields["subject"], fields["details"], tuple(fields["model_ids"]),
                      fields["policy_sha256"], prev_hash, entry_hash)


def recompute_entry_hash(entry: AuditEntry) -> str:
    """The ``entry_hash`` the fields of ``entry`` give (to check a single stored
    entry, as a receipt's root-log link holds one, without its predecessors)."""
    return _digest(_payload(entry.position, entry.timestamp, entry.actor, entry.action, entry.subject,
                            dict(entry.details), list(entry.model_ids), entry.policy_sha256, entry.prev_hash))


def merkle_leaf(entry: AuditEntry) -> bytes:
    """The Merkle leaf data of an entry: its ``entry_hash`` as 32 raw bytes."""
    return bytes.fromhex(entry.entry_hash)


# --- verification ------------------------------------------------------------------------


def verify_chain(rows: Iterable[Mapping[str, Any] | AuditEntry]) -> ChainReport:
    """Recompute every entry hash and link of ``rows`` (in the order given) and
    report the first problem.  Cannot see the deletion of entries at the end
    (the rest is still a valid log): use :func:`verify_against_checkpoint`."""
    return _Scan(rows).report()


def prove_inclusion(rows: Sequence[Mapping[str, Any]], index: int, size: int | None = None,
                    what: str = "the log") -> dict:
    """The RFC 6962 inclusion proof of entry ``index`` in the tree of the first
    ``size`` of ``rows`` (default: all), never from a log that does not verify:
    ``AUDIT.BROKEN`` then, ``AUDIT.NO_SUCH_ENTRY`` for an index or size outside
    it.  ``what`` names the log in those messages."""
    from .errors import InputError, PolicyError
    from .reasons import ReasonCode

    report = verify_chain(rows)
    if not report.ok:
        kind = report.kind.value if report.kind is not None else "?"
        raise PolicyError(ReasonCode.AUDIT_BROKEN, f"{what} is broken at position {report.first_bad_position} "
                                                   f"({kind}); run `simreg audit verify`")
    size = len(rows) if size is None else size
    if not 0 < size <= len(rows):
        raise InputError(ReasonCode.AUDIT_NO_SUCH_ENTRY, f"{what} has {len(rows)} entries; no tree of size {size}")
    if not 0 <= index < size:
        raise InputError(ReasonCode.AUDIT_NO_SUCH_ENTRY, f"entry {index} is not in a tree of {size} entries")
    entry_hashes = [bytes.fromhex(r["entry_hash"]) for r in rows[:size]]  # verified above
    proof, root = merkle.inclusion_proof_and_root([merkle.leaf_hash(h) for h in entry_hashes], index)
    return {"index": index, "size": size, "leaf_hash": merkle.leaf_hash(entry_hashes[index]).hex(),
            "entry_hash": entry_hashes[index].hex(), "root_hash": root.hex(), "proof": [p.hex() for p in proof]}


def verify_against_checkpoint(rows: Iterable[Mapping[str, Any] | AuditEntry],
                              checkpoint: CheckpointLike) -> ChainReport:
    """:func:`verify_chain`, and the first ``checkpoint.size`` entries must
    reproduce ``checkpoint.root_hash``: a log shorter than the checkpoint is
    ``truncated``; a chain that is internally consistent but has another root
    (history rewritten with every hash recomputed) is ``rewritten``.  The
    checkpoint's signature must have been verified by the caller."""
    return verify_against_checkpoints(rows, [checkpoint])


def verify_against_checkpoints(rows: Iterable[Mapping[str, Any] | AuditEntry],
                               checkpoints: Iterable[CheckpointLike]) -> ChainReport:
    """As :func:`verify_against_checkpoint` for several checkpoints in one pass
    over the rows.  A rewrite is located between the largest checkpoint that
    still verifies and the smallest that does not."""
    cps = sorted(checkpoints, key=lambda c: c.size)
    for cp in cps:
        if not (isinstance(cp.size, int) and not isinstance(cp.size, bool) and cp.size >= 0):
            raise ValueError(f"checkpoint size {cp.size!r} is not a non-negative integer")
        if not isinstance(cp.root_hash, str) or not _HEX64.fullmatch(cp.root_hash):
            raise ValueError("checkpoint root_hash must be 64 lowercase hex digits")
    scan = _Scan(rows, want_roots_at={cp.size for cp in cps})
    chain = scan.report()
    verified_below = 0  # every position below this is covered by a checkpoint that verified
    for cp in cps:
        if cp.size > scan.verified:
            if not chain.ok:
                return chain  # its problem lies inside what this checkpoint covers
            n = scan.verified
            return scan.failed(n, Tampering.TRUNCATED,
                               f"a checkpoint covers {cp.size} entries, the log holds {n}: "
                               f"positions {n}..{cp.size - 1} are missing")
        if scan.roots[cp.size] != cp.root_hash:
            lo, hi = verified_below, cp.size - 1
            where = f"position {lo}" if lo == hi else f"positions {lo}..{hi}"
            return scan.failed(lo if lo == hi else None, Tampering.REWRITTEN,
                               f"the first {cp.size} entries form a consistent chain but do not "
                               f"reproduce the checkpoint's root: history was rewritten "
                               f"(hashes recomputed) somewhere in {where}")
        verified_below = cp.size
    return chain


# --- internals ---------------------------------------------------------------------------


def _digest(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def _payload(position, timestamp, actor, action, subject, details, model_ids,
             policy_sha256, prev_hash) -> dict[str, Any]:
    return {"position": position, "timestamp": timestamp, "actor": actor, "action": action,
            "subject": subject, "details": details, "model_ids": model_ids,
            "policy_sha256": policy_sha256, "prev_hash": prev_hash}


def _plain(details: Mapping[str, Any]) -> dict[str, Any]:
    """A deep, plain (dict/list) copy of ``details``: what the hash covers and
    what storage gives back.  Raises ``ValueError`` for anything not JSON-able."""
    try:
        return json.loads(canonical_json(dict(details)))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"details are not JSON-able: {exc}") from None


def _refuse_personal_data(text: str, where: str) -> None:
    """The log redactor's own detector (domain/pii.py): what it would mask, the
    permanent log refuses."""
    if _ID_NUMBER.search(text) or contains_personal_number(text):
        raise ValueError(f"{where} holds an ID number, a phone number or an MRZ line; log an opaque id instead")


def _numeric_count(values: list | tuple) -> int | None:
    """How many numbers a purely numeric (nested) list holds; None if it holds anything else."""
    count = 0
    for v in values:
        if isinstance(v, bool):
            return None
        if isinstance(v, (int, float)):
            count += 1
        elif isinstance(v, (list, tuple)):
            inner = _numeric_count(v)
            if inner is None:
                return None
            count += inner
        else:
            return None
    return count


def _check_detail(value: Any, where: str) -> None:
    """The biometric / raw-image guard over one ``details`` value (see new_entry)."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise ValueError(f"{where} is binary data: raw images and biometric templates "
                         f"never enter the audit log")
    if value is None or isinstance(value, (bool, int)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where} is not a finite number")
        return
    if isinstance(value, str):
        if len(value) > MAX_DETAIL_STRING:
            raise ValueError(f"{where} is a {len(value)}-character string (limit "
                             f"{MAX_DETAIL_STRING}): an encoded image or template?")
        _refuse_personal_data(value, where)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where} has a non-string key {key!r}")
            _check_detail(item, f"{where}.{key}")
        return
    if isinstance(value, (list, tuple)):
        numbers = _numeric_count(value)
        if numbers is not None and numbers > MAX_NUMERIC_ARRAY:
            raise ValueError(f"{where} holds {numbers} numbers (limit {MAX_NUMERIC_ARRAY}): "
                             f"embeddings and pixels never enter the audit log")
        for i, item in enumerate(value):
            _check_detail(item, f"{where}[{i}]")
        return
    raise ValueError(f"{where} has type {type(value).__name__}, which is not JSON-able "
                     f"(arrays, images and embeddings never enter the audit log)")


_FROM_MAPPING = operator.itemgetter(*ENTRY_FIELDS)
_json_string = json.encoder.encode_basestring  # ensure_ascii=False's string encoder
_FROM_ENTRY = operator.attrgetter(*ENTRY_FIELDS)


def _read_row(row: Any) -> tuple[int, dict[str, Any], str, str]:
    """(position, the hashed fields but position, prev_hash, entry_hash) of a stored
    row; ``ValueError`` if it cannot be an entry."""
    try:
        values = _FROM_ENTRY(row) if isinstance(row, AuditEntry) else _FROM_MAPPING(row)
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError(f"missing field {exc}") from None
    (position, timestamp, actor, action, subject, details, model_ids, policy_sha256,
     prev_hash, entry_hash) = values
    if type(position) is not int or position < 0:  # bool is not a position either
        raise ValueError(f"position {position!r} is not a non-negative integer")
    for name, value in (("timestamp", timestamp), ("actor", actor), ("action", action),
                        ("subject", subject), ("policy_sha256", policy_sha256)):
        if not isinstance(value, str):
            raise ValueError(f"{name} is not a string")
    if isinstance(details, (str, bytes)):
        details = json.loads(details)
    if not isinstance(details, Mapping):
        raise ValueError("details is not a mapping")
    if isinstance(model_ids, (str, bytes)):
        model_ids = json.loads(model_ids)
    if not isinstance(model_ids, (list, tuple)) or not all(isinstance(m, str) for m in model_ids):
        raise ValueError("model_ids is not a list of strings")
    for name, value in (("prev_hash", prev_hash), ("entry_hash", entry_hash)):
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise ValueError(f"{name} is not 64 lowercase hex digits")
    fields = {"timestamp": timestamp, "actor": actor, "action": action, "subject": subject,
              "details": details if type(details) is dict else dict(details),
              "model_ids": list(model_ids), "policy_sha256": policy_sha256}
    return position, fields, prev_hash, entry_hash


class _Row:
    """What verification keeps of one stored row: its position, links, whether
    its content matches its hash, and the canonical bytes that were hashed
    (not the parsed fields, to keep memory small)."""

    __slots__ = ("canonical", "content_ok", "entry_hash", "error", "position", "prev_hash", "slot")
    position: int | None  # None: the row is not an audit entry (``error`` says why)

    def __init__(self, slot: int, row: Any):
        self.slot = slot
        if self._from_stored_text(row):
            return
        try:
            position, fields, self.prev_hash, self.entry_hash = _read_row(row)
            f = fields
            self.canonical = canonical_json(_payload(
                position, f["timestamp"], f["actor"], f["action"], f["subject"], f["details"],
                f["model_ids"], f["policy_sha256"], self.prev_hash))
            self.position = position
            self.content_ok = hashlib.sha256(self.canonical).hexdigest() == self.entry_hash
            self.error = ""
        except (ValueError, TypeError) as exc:  # json errors are ValueErrors
            self.position, self.canonical, self.prev_hash, self.entry_hash = None, b"", "", ""
            self.content_ok = False
            self.error = str(exc)

    def _from_stored_text(self, row: Any) -> bool:
        """The fast path for rows as storage gives them back (``details`` and
        ``model_ids`` as the canonical JSON text they were stored as): the hashed
        bytes are composed around that text instead of parsing and re-encoding
        it.  A stored text that is not canonical changes the bytes, so the row
        fails its hash, as any edit does.  ``False``: take the general path."""
        if type(row) is not dict and (isinstance(row, AuditEntry) or not isinstance(row, Mapping)):
            return False
        try:
            (position, timestamp, actor, action, subject, details, model_ids, policy_sha256,
             prev_hash, entry_hash) = _FROM_MAPPING(row)
        except (KeyError, IndexError, TypeError):
            return False
        if not (type(position) is int and position >= 0 and isinstance(details, str) and details[:1] == "{"
                and isinstance(model_ids, str) and model_ids[:1] == "["
                and all(isinstance(v, str) for v in (timestamp, actor, action, subject, policy_sha256))
                and isinstance(prev_hash, str) and _HEX64.fullmatch(prev_hash)
                and isinstance(entry_hash, str) and _HEX64.fullmatch(entry_hash)):
            return False
        enc = _json_string  # what _CANONICAL gives a str: the same escapes, non-ASCII kept
        self.canonical = (
            '{"action":' + enc(action) + ',"actor":' + enc(actor) + ',"details":' + details
            + ',"model_ids":' + model_ids + ',"policy_sha256":' + enc(policy_sha256)
            + ',"position":' + str(position) + ',"prev_hash":' + enc(prev_hash) + ',"subject":' + enc(subject)
            + ',"timestamp":' + enc(timestamp) + "}").encode("utf-8")
        self.position, self.prev_hash, self.entry_hash = position, prev_hash, entry_hash
        self.content_ok = hashlib.sha256(self.canonical).hexdigest() == entry_hash
        if not self.content_ok:  # let the general path say why (and accept equivalent non-text forms)
            return False
        self.error = ""
        return True

    def hash_at(self, position: int) -> str:
        """The entry hash this row's content would have at ``position``."""
        payload = json.loads(self.canonical)
        payload["position"] = position
        return _digest(payload)


class _Scan:
    """One pass over the rows: per-row facts, the first failing row, the Merkle
    roots of the verified prefix; then a diagnosis of that first failure."""

    def __init__(self, rows: Iterable[Any], want_roots_at: Iterable[int] = ()):
        self.rows = [_Row(slot, row) for slot, row in enumerate(rows)]
        self.first_bad: int | None = None
        heads = merkle.TreeHeads()
        self.roots: dict[int, str] = {}
        want = set(want_roots_at) | {0}
        expected_prev = GENESIS_HASH
        for r in self.rows:
            if heads.size in want:
                self.roots[heads.size] = heads.root().hex()
            if not (r.content_ok and r.position == r.slot and r.prev_hash == expected_prev):
                self.first_bad = r.slot
                break
            heads.append_leaf_hash(merkle.leaf_hash(bytes.fromhex(r.entry_hash)))
            expected_prev = r.entry_hash
        self.verified = heads.size
        self.roots[self.verified] = heads.root().hex()
        self.head_hash = expected_prev
        self._index: _Index | None = None

    @property
    def index(self) -> _Index:
        """The rows indexed for a diagnosis (report() builds it before diagnosing)."""
        assert self._index is not None, "report() builds the index before a diagnosis"
        return self._index

    def failed(self, position: int | None, kind: Tampering, message: str) -> ChainReport:
        return ChainReport(False, len(self.rows), self.head_hash, position, kind, message,
                           self.verified, self.roots[self.verified])

    def report(self) -> ChainReport:
        if self.first_bad is None:
            n = len(self.rows)
            return ChainReport(True, n, self.head_hash, None, None,
                               f"{n} entries: every hash and link verifies",
                               self.verified, self.roots[self.verified])
        self._index = _Index(self.rows)
        position, kind, message = self._diagnose(self.first_bad)
        return self.failed(position, kind, message)

    # The first failing row is slot i; every row before it is sound, so the row
    # expected here has position e == i and links to the entry at slot i - 1.
    # Each single tampering of stored rows leaves its own signature:
    #   edit a field            content fails, position fits (a position edit: content
    #                           recomputes at another position, which is vacant)
    #   delete row(s)           a sound row whose position jumps ahead and whose
    #                           link points at an entry that is nowhere
    #   insert a crafted row    two rows claim one position or one predecessor, or
    #                           the rows around it link past it
    #   swap two rows           the expected position, or the entry linked to,
    #                           turns up later; or two rows' positions were exchanged
    #                           (each recomputes at the other's position)
    #   delete the tail         nothing: only a checkpoint shows it (truncated)
    def _diagnose(self, i: int) -> tuple[int | None, Tampering, str]:
        rows, ix = self.rows, self.index
        r, e = rows[i], i
        expected_prev = rows[i - 1].entry_hash if i else GENESIS_HASH
        if r.position is None:
            return e, Tampering.MALFORMED, f"row {i} is not an audit entry: {r.error}"
        if not r.content_ok:
            p = ix.relabelled_position(i)
            if p is not None:
                return self._relabelled(i, p)
            twin = ix.sound_twin(i, expected_prev)
            if twin is not None:
                return r.position, Tampering.INSERTED, (
                    f"row {i} claims position {r.position} but does not match its hash, and "
                    f"row {twin} is the entry that fits there: an extra entry was inserted")
            if r.position == e:
                return e, Tampering.EDITED, f"entry {e} does not match its hash: its content was edited"
        if r.position > e:
            j = ix.later_with_hash(r.prev_hash, i)
            if j is None and ix.skipped(i, expected_prev):
                # The next row fits here, and this one links to nothing after it
                # (as the earlier half of a swapped pair would).
                return r.position, Tampering.INSERTED, (
                    f"row {i} claims position {r.position} and the entries around it link "
                    f"past it: an extra entry was inserted")
            later = ix.later_at_position(e, i)
            if later is not None:
                return e, Tampering.REORDERED, (
                    f"row {i} holds position {r.position} where position {e} belongs; "
                    f"position {e} is at row {later}: entries are out of order")
            if j is not None:
                return self._linked_entry_later(i, j)
            missing = f"position {e}" if r.position == e + 1 else f"positions {e}..{r.position - 1}"
            after = f"follows entry {e - 1}" if e else "comes first"
            return e, Tampering.DELETED, (
                f"{missing} missing: entry {r.position} {after} and links to an "
                f"entry that is not in the log")
        if r.position < e:
            if i and r.prev_hash == rows[i - 1].prev_hash:
                return self._siblings(i - 1, i)  # which of the two is the extra one
            return r.position, Tampering.INSERTED, (
                f"row {i} claims position {r.position}, already taken: an extra entry was inserted")
        # The position fits and the content matches its hash: the link is what breaks.
        j = ix.later_with_hash(r.prev_hash, i)
        if j is not None:
            return self._linked_entry_later(i, j)
        if i and r.prev_hash == rows[i - 1].prev_hash:
            return self._siblings(i - 1, i)
        if ix.skipped(i, expected_prev) or ix.sound_twin(i, expected_prev) is not None:
            link = f"link to entry {e - 1}" if e else "start from the genesis hash"
            return e, Tampering.INSERTED, (
                f"entry {e} does not {link}, and another entry {e} does: "
                f"an extra entry was inserted")
        j = ix.earlier_with_hash(r.prev_hash, i)
        if j is not None:
            return e, Tampering.INSERTED, (
                f"entry {e} links back to entry {rows[j].position} instead of entry {e - 1}: "
                f"an extra entry forking the log was inserted")
        if i == 0:
            return 0, Tampering.EDITED, "entry 0 does not start from the genesis hash: it was edited"
        return e - 1, Tampering.EDITED, (
            f"entry {e} links to a hash that entry {e - 1} no longer has: entry {e - 1} was "
            f"edited and its own hash recomputed (or entry {e}'s link was rewritten)")

    def _relabelled(self, i: int, p: int) -> tuple[int, Tampering, str]:
        """Row ``i``'s content is entry ``p``'s, but its position field says otherwise."""
        rows, ix = self.rows, self.index
        q = rows[i].position
        assert q is not None  # a relabelled row is well-formed
        occupants = [j for j in ix.by_position.get(p, ()) if j != i]
        if any(not rows[j].content_ok and rows[j].hash_at(q) == rows[j].entry_hash for j in occupants):
            a, b = sorted((p, q))
            return a, Tampering.REORDERED, (
                f"entries {a} and {b} exchanged positions (each matches its hash only at the other's)")
        if any(not rows[j].content_ok and ix.relabelled_position(j) is not None for j in occupants):
            return min(p, q), Tampering.REORDERED, (
                f"entry {p} carries position {q}, and the entry at position {p} carries another's: "
                f"entries were moved among positions")
        twins = [j for j in occupants if rows[j].content_ok and rows[j].prev_hash == rows[i].prev_hash]
        if twins:
            if not ix.has_successor(i) and any(ix.has_successor(j) for j in twins):
                return q, Tampering.INSERTED, (
                    f"row {i} is an extra entry made for position {p} and labelled {q}; "
                    f"the genuine entry {p} is in place")
            return p, Tampering.INSERTED, (
                f"an extra entry took position {p}, and the genuine entry {p} was renumbered {q}")
        return p, Tampering.EDITED, f"entry {p}'s position field was changed to {q}"

    def _linked_entry_later(self, i: int, j: int) -> tuple[int, Tampering, str]:
        """Row ``i`` links to the entry at a later row ``j``."""
        rows, ix = self.rows, self.index
        if not rows[j].content_ok:
            p = ix.relabelled_position(j)
            if p is not None:
                return self._relabelled(j, p)
        return i, Tampering.REORDERED, (
            f"entry at row {i} links to the entry at row {j}, which comes after it: "
            f"entries are out of order")

    def _siblings(self, a: int, b: int) -> tuple[int | None, Tampering, str]:
        """Rows ``a`` and ``b`` link to the same predecessor: one was inserted.  The
        genuine one is the one a later entry links to."""
        rows, ix = self.rows, self.index
        succ_a, succ_b = ix.has_successor(a), ix.has_successor(b)
        if succ_a != succ_b:
            extra = b if succ_a else a
            p = rows[extra].position
            return p, Tampering.INSERTED, (
                f"rows {a} and {b} both follow the same entry; row {extra} (position {p}) is "
                f"not linked by any later entry: an extra entry was inserted")
        p = rows[b].position
        return p, Tampering.INSERTED, (
            f"rows {a} and {b} both follow the same entry and nothing later tells which is "
            f"genuine: an extra entry was inserted at position {p}")


class _Index:
    """Lookups over all rows, built only when a log fails."""

    def __init__(self, rows: list[_Row]):
        self.rows = rows
        self.by_hash: dict[str, list[int]] = defaultdict(list)
        self.by_prev: dict[str, list[int]] = defaultdict(list)
        self.by_position: dict[int, list[int]] = defaultdict(list)
        for r in rows:
            if r.position is not None:
                self.by_hash[r.entry_hash].append(r.slot)
                self.by_prev[r.prev_hash].append(r.slot)
                self.by_position[r.position].append(r.slot)

    def later_with_hash(self, h: str, i: int) -> int | None:
        return next((j for j in self.by_hash.get(h, ()) if j > i), None)

    def earlier_with_hash(self, h: str, i: int) -> int | None:
        return next((j for j in self.by_hash.get(h, ()) if j < i), None)

    def later_at_position(self, p: int, i: int) -> int | None:
        return next((j for j in self.by_position.get(p, ()) if j > i), None)

    def has_successor(self, i: int) -> bool:
        return any(j != i for j in self.by_prev.get(self.rows[i].entry_hash, ()))

    def skipped(self, i: int, expected_prev: str) -> bool:
        """Does the next row link past row ``i`` to row ``i``'s expected predecessor?"""
        nxt = self.rows[i + 1] if i + 1 < len(self.rows) else None
        return nxt is not None and nxt.position is not None and nxt.prev_hash == expected_prev

    def sound_twin(self, i: int, expected_prev: str) -> int | None:
        """Another row with row ``i``'s position that matches its hash and fits the chain."""
        r = self.rows[i]
        if r.position is None:
            return None
        return next((j for j in self.by_position.get(r.position, ())
                     if j != i and self.rows[j].content_ok and self.rows[j].prev_hash == expected_prev),
                    None)

    def relabelled_position(self, i: int) -> int | None:
        """If row ``i`` matches its hash at another position (only its position
        field changed), that position.  Candidates come from the row it links
        to: one after that row's position, or that very position when the two
        rows exchanged positions."""
        r = self.rows[i]
        if r.content_ok or r.position is None:
            return None
        candidates = [0] if r.prev_hash == GENESIS_HASH else []
        for j in self.by_hash.get(r.prev_hash, ()):
            pj = self.rows[j].position
            if j != i and pj is not None:
                candidates += [pj + 1, pj]
        for p in dict.fromkeys(candidates):
            if p >= 0 and p != r.position and r.hash_at(p) == r.entry_hash:
                return p
        return None
