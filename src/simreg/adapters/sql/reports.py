"""Aggregate reports for supervision: per-outlet counts and anomaly flags.
Counts and codes only: no identifiers of people, no numbers."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Engine

from .schema import disputes, outlets, registrations

# An outlet is flagged when ...
ALTERNATIVE_SHARE_FLAG = 0.2   # ... over 20 % of its registrations skip the face path,
REJECTED_SHARE_FLAG = 0.5      # ... over half its face attempts are rejected (min. 10 attempts),
MIN_ATTEMPTS = 10


@dataclass(frozen=True)
class OutletReport:
    """One outlet's activity: counts by path, outcome, reason code and dispute
    status, and the anomaly flags raised."""
    outlet_id: str
    outlet: str
    registrations: int
    face_attempts: int
    alternative_path: int
    outcomes: dict[str, int]
    top_reasons: dict[str, int]   # the 8 commonest reason codes of face attempts
    disputes: dict[str, int]
    flags: list[str]


def outlet_report(engine: Engine, since: datetime | None = None) -> list[OutletReport]:
    with engine.connect() as c:
        names = {r.outlet_id: r.name for r in c.execute(select(outlets.c.outlet_id, outlets.c.name))}
        q = select(registrations.c.outlet_id, registrations.c.path, registrations.c.outcome,
                   registrations.c.decided_outcome, registrations.c.reasons)
        if since is not None:
            q = q.where(registrations.c.created_at >= since)
        rows = c.execute(q).all()
        drows = c.execute(select(disputes.c.outlet_id, disputes.c.status)).all()
    out: list[OutletReport] = []
    for oid, name in sorted(names.items()):
        mine = [r for r in rows if r.outlet_id == oid]
        face = [r for r in mine if r.path == "face"]
        outcomes = Counter(r.outcome for r in mine)
        reasons = Counter(code for r in face for code in json.loads(r.reasons))
        alt = sum(1 for r in mine if r.path == "alternative")
        rejected = sum(1 for r in face if r.decided_outcome == "rejected")
        dsp = Counter(d.status for d in drows if d.outlet_id == oid)
        flags = []
        if mine and alt / len(mine) > ALTERNATIVE_SHARE_FLAG:
            flags.append("ALTERNATIVE_PATH_HIGH")
        if len(face) >= MIN_ATTEMPTS and rejected / len(face) > REJECTED_SHARE_FLAG:
            flags.append("REJECTIONS_HIGH")
        if dsp.get("upheld"):
            flags.append("DISPUTES_UPHELD")
        out.append(OutletReport(oid, name, len(mine), len(face), alt, dict(outcomes), dict(reasons.most_common(8)),
                                dict(dsp), flags))
    return out
