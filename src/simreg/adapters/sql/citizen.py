"""The citizen's side of the registry: "numbers under my ID" (MIIT 2019),
disputes ("not my number"), and the withdrawal of biometric consent.  Every
step is audited in the transaction that makes it."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from ...domain.access import Clerk
from ...domain.errors import InputError, PolicyError
from ...domain.numbers import NumberState
from ...domain.quota import COUNTED_STATES
from ...domain.reasons import ReasonCode
from . import audit_store
from .database import for_update, lock_for_write
from .registry import Registry, Stamp, _id
from .schema import consents, disputes, lookup_grants, numbers, outlets, registrations
from .stores import SessionStore, aware, token_hash

HELD = COUNTED_STATES  # the numbers registered under a person's ID


class CitizenDesk:
    def __init__(self, registry: Registry, grant_ttl: timedelta = timedelta(minutes=10)):
        self.registry = registry
        self.engine = registry.engine
        self.grant_ttl = grant_ttl

    def record_lookup(self, *, holder_key: str, clerk: Clerk, session_id: str, session_checked_at: datetime,
                      passed: bool, reasons: list[str], stamp: Stamp, now: datetime) -> dict:
        """Consume the session and audit the lookup; when the person proved who they
        are, issue a grant and list the numbers under their ID."""
        indexes = self.registry.id_indexes(holder_key)
        with self.engine.begin() as c:
            lock_for_write(c)
            SessionStore(self.engine).consume(session_id, clerk, session_checked_at, connection=c)
            person_id = self.registry.person_for(c, indexes)
            if not passed:
                Registry.failed_attempt(c, indexes[0], clerk, "citizen.lookup_refused", {"reasons": reasons}, stamp,
                                        now)
                return {"outcome": "rejected", "reasons": reasons, "numbers": [], "lookup_token": None,
                        "expires_at": None}
            listed = self._numbers(c, person_id) if person_id else []
            token = secrets.token_urlsafe(24)
            expires = now + self.grant_ttl
            c.execute(insert(lookup_grants).values(token_sha256=token_hash(token), person_id=person_id,
                                                   id_index=indexes[0], clerk_id=clerk.clerk_id, created_at=now,
                                                   expires_at=expires))
            audit_store.append(c, now=now, actor=clerk.clerk_id, action="citizen.lookup",
                               subject=person_id or indexes[0],
                               details={"outlet_id": clerk.outlet_id, "numbers_listed": len(listed)},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"outcome": "approved", "reasons": [], "numbers": listed, "lookup_token": token,
                "expires_at": expires.isoformat()}

    def _numbers(self, c, person_id: str) -> list[dict[str, Any]]:
        rows = c.execute(
            select(numbers.c.number_id, numbers.c.number_masked, numbers.c.state, numbers.c.state_changed_at,
                   registrations.c.created_at, outlets.c.name)
            .select_from(numbers.outerjoin(registrations, registrations.c.registration_id == numbers.c.registration_id)
                         .outerjoin(outlets, outlets.c.outlet_id == numbers.c.outlet_id))
            .where(numbers.c.person_id == person_id, numbers.c.state.in_(HELD))
            .order_by(numbers.c.number_id)).all()
        return [{"number_ref": r.number_id, "phone_number_masked": r.number_masked, "state": r.state,
                 "outlet": r.name, "registered_at": aware(r.created_at).isoformat() if r.created_at else None}
                for r in rows]

    def _grant(self, c, token: str, clerk: Clerk, now: datetime):
        row = c.execute(select(lookup_grants).where(lookup_grants.c.token_sha256 == token_hash(token or ""))
                        ).mappings().first()
        if row is None or row["clerk_id"] != clerk.clerk_id:
            raise InputError(ReasonCode.LOOKUP_UNKNOWN, "no such lookup for this clerk")
        if aware(row["expires_at"]) <= now:
            raise InputError(ReasonCode.LOOKUP_EXPIRED, "the lookup has expired; prove identity again")
        return row

    def raise_dispute(self, token: str, number_ref: str, clerk: Clerk, stamp: Stamp, now: datetime) -> dict:
        """The citizen flags a number under their ID as not theirs: a dispute for the
        supervisors of the outlet that registered it."""
        with self.engine.begin() as c:
            lock_for_write(c)
            grant = self._grant(c, token, clerk, now)
            # the number's row is locked, so two flags at once open one dispute
            n = c.execute(for_update(select(numbers).where(numbers.c.number_id == number_ref), c)).mappings().first()
            if grant["person_id"] is None or n is None or n["person_id"] != grant["person_id"] \
                    or n["state"] not in HELD:
                raise InputError(ReasonCode.NUMBER_UNKNOWN, "no such number under this ID")
            open_ = c.execute(select(disputes.c.dispute_id).where(disputes.c.number_id == number_ref,
                                                                  disputes.c.status == "open")).first()
            if open_ is not None:
                return {"dispute_id": open_[0], "status": "open"}
            did = _id("dsp")
            c.execute(insert(disputes).values(dispute_id=did, number_id=number_ref, person_id=grant["person_id"],
                                              registration_id=n["registration_id"], outlet_id=n["outlet_id"],
                                              status="open", raised_at=now))
            audit_store.append(c, now=now, actor=clerk.clerk_id, action="dispute.raised", subject=did,
                               details={"number_id": number_ref, "registration_id": n["registration_id"],
                                        "outlet_id": n["outlet_id"]},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"dispute_id": did, "status": "open"}

    def withdraw_consent(self, token: str, clerk: Clerk, stamp: Stamp, now: datetime) -> dict:
        """The citizen withdraws biometric consent: their templates are crypto-shredded
        (data key deleted) and their consent records marked withdrawn."""
        with self.engine.begin() as c:
            lock_for_write(c)
            grant = self._grant(c, token, clerk, now)
            pid = grant["person_id"]
            shredded = withdrawn = 0
            if pid is not None:
                shredded = self.registry.shred_person_biometrics(c, pid)
                withdrawn = c.execute(update(consents).where(consents.c.person_id == pid,
                                                             consents.c.withdrawn_at.is_(None))
                                      .values(withdrawn_at=now)).rowcount or 0
            audit_store.append(c, now=now, actor=clerk.clerk_id, action="consent.withdrawn",
                               subject=pid or grant["id_index"],
                               details={"templates_shredded": shredded, "consents": withdrawn},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"templates_shredded": shredded, "consents_withdrawn": withdrawn}

    def open_disputes(self, outlet_id: str) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(disputes, numbers.c.number_masked)
                             .join(numbers, numbers.c.number_id == disputes.c.number_id)
                             .where(disputes.c.outlet_id == outlet_id, disputes.c.status == "open")
                             .order_by(disputes.c.raised_at)).mappings().all()
        return [{"dispute_id": r["dispute_id"], "number_ref": r["number_id"],
                 "phone_number_masked": r["number_masked"], "registration_id": r["registration_id"],
                 "raised_at": aware(r["raised_at"]).isoformat(), "status": r["status"]} for r in rows]

    def resolve_dispute(self, dispute_id: str, supervisor: Clerk, upheld: bool, note: str, stamp: Stamp,
                        now: datetime) -> dict:
        """Upheld: the number is suspended at once (the registration was not the
        citizen's).  Dismissed: nothing changes.  Who, when and why are audited."""
        with self.engine.begin() as c:
            lock_for_write(c)
            d = c.execute(for_update(select(disputes).where(disputes.c.dispute_id == dispute_id), c)).mappings().first()
            if d is None or d["outlet_id"] != supervisor.outlet_id:
                raise InputError(ReasonCode.DISPUTE_UNKNOWN, "no such dispute in your outlet")
            if d["status"] != "open":
                raise PolicyError(ReasonCode.DISPUTE_NOT_OPEN, "this dispute is already resolved")
            status = "upheld" if upheld else "dismissed"
            if upheld:  # an active number is suspended; one already suspended or released stays so
                c.execute(update(numbers).where(numbers.c.number_id == d["number_id"],
                                                numbers.c.state == NumberState.ACTIVE.value)
                          .values(state=NumberState.SUSPENDED.value, state_changed_at=now))
            c.execute(update(disputes).where(disputes.c.dispute_id == dispute_id).values(
                status=status, resolved_by=supervisor.clerk_id, resolved_at=now, resolution=note))
            audit_store.append(c, now=now, actor=supervisor.clerk_id, action="dispute.resolved", subject=dispute_id,
                               details={"status": status, "note": note[:500], "number_id": d["number_id"]},
                               model_ids=stamp.model_ids, policy_sha256=stamp.policy_sha256)
        return {"dispute_id": dispute_id, "status": status}
