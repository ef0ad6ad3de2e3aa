"""What the registry records, as the use cases hand it over and get it back:
plain data, no storage types (the repositories in ``adapters/sql`` map them to
rows)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .access import Clerk
from .reasons import Outcome


@dataclass(frozen=True)
class PersonData:
    """What the registry keeps of a person: keyed by the blind index of
    ``holder_key`` (see :class:`simreg.domain.id_document.IdDocument`)."""
    holder_key: str            # e.g. "cn_resident_id|11010519491231002X" (hashed and encrypted, never stored clear)
    id_type: str
    jurisdiction: str
    name: str


@dataclass(frozen=True)
class ConsentData:
    purpose: str
    text_version: str
    accepted_at: datetime
    retention_days: int


@dataclass(frozen=True)
class Recorded:
    registration_id: str
    outcome: Outcome
    reasons: tuple[str, ...]
    phone_number: str | None
    audit_position: int | None  # None: sharded, not sequenced yet (below)
    audit_entry_hash: str | None
    tree_size: int = 0          # the Merkle tree of the log right after this entry
    root_hash: str = ""
    # Sharded audit log (SIMREG_AUDIT_SHARD): the entry waits in the outbox; the
    # position, hash and tree above are unknown (None / 0 / "") until sequenced.
    audit_shard: str | None = None
    audit_outbox_id: int | None = None
    response: Mapping[str, Any] | None = None  # what the caller's response_of made of it (built once)


@dataclass(frozen=True)
class Stamp:
    """What every audit entry of a decision carries."""
    model_ids: tuple[str, ...]
    policy_sha256: str


@dataclass(frozen=True)
class DecisionRecord:
    """Everything a decision stores, in one value: who decided what, for whom, on
    which session, with which scores, consent, model ids and policy.  The
    registry writes it whole, with its audit entry, or not at all."""
    now: datetime
    clerk: Clerk
    path: str                          # "face" | "alternative"
    session_id: str | None
    session_checked_at: datetime | None
    person: PersonData
    outcome: Outcome
    reasons: Sequence[str]
    scores: Mapping[str, Any]
    phone: str | None                  # the number asked for (E.164), or None for the next free one
    quota_limit: int
    consent: ConsentData
    stamp: Stamp
    idempotency_key: str | None
    statement: str | None = None       # the supervisor's reason on the alternative path
    templates: Mapping[str, bytes] | None = None   # live templates to seal (only when configured on)
    template_days: int = 365
