"""What the registry's repositories share: one engine, one keyring, row ids,
and the conversions of stored rows."""


from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from ..stores import aware

# insert ... on conflict do nothing, on the two supported backends
# the dialect's INSERT, which has on_conflict_do_nothing
_INSERTS: dict[str, Callable[[Any], postgresql.Insert | sqlite.Insert]] = {
    "postgresql": postgresql.insert, "sqlite": sqlite.insert}


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"




def _audit_scores(scores: Mapping[str, Any]) -> dict:
    """The decision's scores as the audit log keeps them: numbers and codes only."""
    out: dict[str, Any] = {}
    m = scores.get("match")
    if isinstance(m, Mapping):
        out["match"] = {k: m.get(k) for k in ("score", "threshold", "target_fmr", "threshold_key")}
    pad = scores.get("pad")
    if isinstance(pad, Mapping):
        out["pad"] = dict(pad)
    live = scores.get("liveness")
    if isinstance(live, Mapping):
        out["liveness"] = {"passed": live.get("passed"), "face_fraction": live.get("face_fraction")}
    return out


def _registration_view(row) -> dict:
    return {"registration_id": row["registration_id"], "path": row["path"], "outcome": row["outcome"],
            "decided_outcome": row["decided_outcome"], "reasons": json.loads(row["reasons"]),
            "scores": json.loads(row["scores"]), "clerk_id": row["clerk_id"], "outlet_id": row["outlet_id"],
            "session_id": row["session_id"], "person_id": row["person_id"],
            "model_ids": json.loads(row["model_ids"]), "policy_sha256": row["policy_sha256"],
            "statement": row["statement"], "reviewed_by": row["reviewed_by"],
            "reviewed_at": aware(row["reviewed_at"]).isoformat() if row["reviewed_at"] else None,
            "review_reason": row["review_reason"], "created_at": aware(row["created_at"]).isoformat(),
            "audit_position": row["audit_position"], "audit_shard": row["audit_shard"],
            "audit_outbox_id": row["audit_outbox_id"], "phone_number": None, "phone_number_masked": None}



class Repository:
    """A repository over the registry's tables.  Methods taking a ``Connection``
    work inside the caller's transaction, so several repositories write one
    decision together; the others open their own."""

    def __init__(self, engine: Engine, keyring):
        self.engine = engine
        self.keyring = keyring
