"""Repositories over the SQL tables: outlets, clerks (bearer tokens stored as
SHA-256 only), capture sessions.  Foreign types (rows) stop here."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from ...domain.access import Clerk, Outlet, Role
from ...domain.challenge import Action, Challenge
from ...domain.errors import InputError
from ...domain.reasons import ReasonCode
from . import audit_store
from .schema import capture_sessions, clerks, outlets


def _now() -> datetime:
    return datetime.now(UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)  # SQLite drops the zone


def _staff_name(name: str) -> str:
    """Outlet and staff names: 1-200 characters after trimming, whatever the caller (API or CLI)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 200:
        raise InputError(ReasonCode.REGISTRATION_FIELD, "a name must have 1 to 200 characters")
    return name


class AccessStore:
    """Outlets and staff; every change is audited (``actor``: who made it)."""

    def __init__(self, engine: Engine, model_ids: tuple[str, ...] = ("none",), policy_sha256: str = "0" * 64):
        self.engine = engine
        self._stamp: dict[str, Any] = {"model_ids": model_ids, "policy_sha256": policy_sha256}

    def outlet_name(self, outlet_id: str) -> str | None:
        """The outlet's name, for the counter's pages (``None``: no such outlet)."""
        with self.engine.connect() as c:
            return c.execute(select(outlets.c.name).where(outlets.c.outlet_id == outlet_id)).scalar_one_or_none()

    def create_outlet(self, name: str, actor: str = "admin-cli") -> Outlet:
        name = _staff_name(name)
        outlet = Outlet("out_" + secrets.token_hex(8), name)
        with self.engine.begin() as c:
            c.execute(insert(outlets).values(outlet_id=outlet.outlet_id, name=name, created_at=_now()))
            audit_store.append(c, now=_now(), actor=actor, action="admin.outlet_created", subject=outlet.outlet_id,
                               details={"name_length": len(name)}, **self._stamp)
        return outlet

    def create_clerk(self, outlet_id: str, name: str, role: Role, actor: str = "admin-cli") -> tuple[Clerk, str]:
        """The clerk and their bearer token, which is returned once and never stored."""
        name = _staff_name(name)
        token = secrets.token_urlsafe(32)
        clerk = Clerk("clk_" + secrets.token_hex(8), outlet_id, name, role)
        with self.engine.begin() as c:
            if c.execute(select(outlets.c.outlet_id).where(outlets.c.outlet_id == outlet_id)).first() is None:
                raise InputError(ReasonCode.ADMIN_UNKNOWN_OUTLET, "no outlet has that id")
            c.execute(insert(clerks).values(clerk_id=clerk.clerk_id, outlet_id=outlet_id, name=name,
                                            role=role.value, token_sha256=token_hash(token), active=True,
                                            created_at=_now()))
            audit_store.append(c, now=_now(), actor=actor, action="admin.clerk_created", subject=clerk.clerk_id,
                               details={"outlet_id": outlet_id, "role": role.value}, **self._stamp)
        return clerk, token

    def deactivate_clerk(self, clerk_id: str, actor: str) -> None:
        """The clerk's token stops working at once."""
        with self.engine.begin() as c:
            done = c.execute(update(clerks).where(clerks.c.clerk_id == clerk_id, clerks.c.active.is_(True))
                             .values(active=False))
            if done.rowcount != 1:
                raise InputError(ReasonCode.ADMIN_UNKNOWN_CLERK, "no active clerk has that id")
            audit_store.append(c, now=_now(), actor=actor, action="admin.clerk_deactivated", subject=clerk_id,
                               details={}, **self._stamp)

    def clerk_for_token(self, token: str) -> Clerk | None:
        with self.engine.connect() as c:
            row = c.execute(select(clerks).where(clerks.c.token_sha256 == token_hash(token))).mappings().first()
        if row is None or not row["active"]:
            return None
        return Clerk(row["clerk_id"], row["outlet_id"], row["name"], Role(row["role"]), bool(row["active"]))


class SessionStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def create(self, challenge: Challenge, clerk: Clerk, model_ids: tuple[str, ...] = (),
               policy_sha256: str = "0" * 64) -> str:
        """Store the session and its audit entry in one transaction."""
        session_id = "ses_" + secrets.token_hex(12)
        with self.engine.begin() as c:
            c.execute(insert(capture_sessions).values(
                session_id=session_id, clerk_id=clerk.clerk_id, outlet_id=clerk.outlet_id,
                challenge=",".join(a.value for a in challenge.actions), nonce=challenge.nonce,
                issued_at=challenge.issued_at, expires_at=challenge.expires_at, used_at=None))
            audit_store.append(c, now=challenge.issued_at, actor=clerk.clerk_id, action="session.created",
                               subject=session_id,
                               details={"outlet_id": clerk.outlet_id, "actions": len(challenge.actions),
                                        "expires_at": challenge.expires_at.isoformat()},
                               model_ids=model_ids, policy_sha256=policy_sha256)
        return session_id

    def peek(self, session_id: str, clerk: Clerk, now: datetime) -> Challenge:
        """The session's challenge if it could be used now by ``clerk``, without
        using it; raises as :meth:`consume` does."""
        with self.engine.connect() as c:
            return self._check(c, session_id, clerk, now)

    @staticmethod
    def _check(c, session_id: str, clerk: Clerk, now: datetime) -> Challenge:
        row = c.execute(select(capture_sessions).where(capture_sessions.c.session_id == session_id)
                        ).mappings().first()
        if row is None or row["clerk_id"] != clerk.clerk_id:
            raise InputError(ReasonCode.SESSION_UNKNOWN, "no such capture session for this clerk")
        challenge = Challenge(tuple(Action(a) for a in row["challenge"].split(",")), row["nonce"],
                              aware(row["issued_at"]), aware(row["expires_at"]))
        if row["used_at"] is not None:
            raise InputError(ReasonCode.SESSION_REPLAYED, "the capture session was already used")
        if challenge.expired(now):
            raise InputError(ReasonCode.SESSION_EXPIRED, "the capture session has expired")
        return challenge

    def consume(self, session_id: str, clerk: Clerk, now: datetime, connection=None) -> Challenge:
        """Mark the session used, once, for the clerk it was issued to; raises
        ``SESSION.UNKNOWN`` (404), ``SESSION.EXPIRED`` (410) or ``SESSION.REPLAYED`` (409).
        Pass ``connection`` to consume inside the caller's transaction."""

        def run(c) -> Challenge:
            challenge = self._check(c, session_id, clerk, now)
            # the WHERE used_at IS NULL makes the use atomic under concurrent requests
            done = c.execute(update(capture_sessions)
                             .where(capture_sessions.c.session_id == session_id, capture_sessions.c.used_at.is_(None))
                             .values(used_at=now))
            if done.rowcount != 1:
                raise InputError(ReasonCode.SESSION_REPLAYED, "the capture session was already used")
            return challenge

        if connection is not None:
            return run(connection)
        with self.engine.begin() as c:
            return run(c)
