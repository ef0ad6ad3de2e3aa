"""Building a real service for tests: a fresh database (SQLite file, or the
PostgreSQL server when asked), a fresh keyring, the session's real face engine,
and staff of every role."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from simreg.adapters.crypto import Keyring
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.stores import AccessStore
from simreg.config import Settings
from simreg.domain.access import Role
from simreg.http.app import create_app
from simreg.runtime import Runtime, check_keyring_matches

PG_URL = os.environ.get("SIMREG_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# a valid resident ID (GB 11643 check character X), born 1949-12-31, female
RESIDENT_ID = "11010519491231002X"
# the real capture of the data tests (fixtures in tests/data/conftest.py): his own actions
VIDEO = "pad_tranvanluyt_real.mp4"
CHALLENGE = ["turn_left", "turn_right"]
CONSENT = json.dumps({"text_version": "face-consent-v3", "accepted_at": "2026-11-29T08:15:00+08:00"})


class Clock:
    """A settable clock: now() is real time plus an offset."""

    def __init__(self):
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def postgres_url_or_skip() -> str:
    """The test server's URL; a fresh schema per call.  Skips only when no server
    answers, and never under CI=true."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    engine = open_database(PG_URL)
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
    except OperationalError:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} does not answer; under CI=true this test must run")
        pytest.skip(f"no PostgreSQL server answers at {PG_URL}")
    finally:
        engine.dispose()
    return PG_URL


def fresh_postgres_schema() -> tuple[str, callable]:
    """A URL whose connections use a new, empty schema; and a function that drops it."""
    from sqlalchemy import text

    base = postgres_url_or_skip()
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = open_database(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = base + f"?options=-csearch_path%3D{schema}"

    def drop():
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    return url, drop


@dataclass
class Service:
    rt: Runtime
    client: TestClient
    access: AccessStore
    clock: Clock
    tokens: dict[Role, str] = field(default_factory=dict)
    outlet_id: str = ""

    def auth(self, role: Role = Role.CLERK) -> dict:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def session(self, challenge: list[str], role: Role = Role.CLERK) -> str:
        r = self.client.post("/v1/sessions", json={"challenge": challenge}, headers=self.auth(role))
        assert r.status_code == 201, r.text
        return r.json()["session_id"]

    def close(self) -> None:
        self.rt.database.dispose()

    def add_numbers(self, numbers: list[str]) -> None:
        r = self.client.post("/v1/numbers", json={"numbers": numbers}, headers=self.auth(Role.ADMIN))
        assert r.status_code == 201, r.text


def make_service(runtime, database_url: str, env: str = "development", signing_key=None, **settings) -> Service:
    """A service on ``database_url`` sharing the test session's face engine
    (``signing_key``: an Ed25519 key that signs receipts' tree heads)."""
    s = Settings(database_url=database_url, env=env, **settings)
    db = open_database(database_url)
    upgrade_to_head(db)
    keyring = Keyring.generate()
    check_keyring_matches(db, keyring)
    clock = Clock()
    from simreg.runtime import image_limits, video_limits

    rt = Runtime(s, runtime.policy, runtime.engine, image_limits(s), db, video_limits(s), keyring=keyring,
                 clock=clock, signing_key=signing_key)
    client = TestClient(create_app(runtime=rt))
    access = AccessStore(db)
    outlet = access.create_outlet("Counter 7")
    svc = Service(rt, client, access, clock, outlet_id=outlet.outlet_id)
    for role in Role:
        _, token = access.create_clerk(outlet.outlet_id, f"{role.value} one", role)
        svc.tokens[role] = token
    return svc


@contextmanager
def serving(runtime, database_url: str, numbers: list[str], **settings) -> Iterator[Service]:
    """A service with ``numbers`` in its pool and its client open, closed after."""
    s = make_service(runtime, database_url, **settings)
    s.add_numbers(numbers)
    try:
        with s.client:
            yield s
    finally:
        s.close()


def registration_form(session_id: str, *, id_number: str = RESIDENT_ID, name: str = "王芳",
                      id_type: str = "cn_resident", id_expiry: str = "long_term", consent: str | None = CONSENT,
                      mirrored: str = "false", **extra) -> dict:
    form = {"session_id": session_id, "id_type": id_type, "id_number": id_number, "name": name,
            "id_expiry": id_expiry, "mirrored": mirrored, **extra}
    if consent is not None:
        form["consent"] = consent
    return form


def media(portrait: bytes, video: bytes) -> dict:
    return {"portrait": ("portrait.jpg", portrait, "image/jpeg"), "video": ("capture.mp4", video, "video/mp4")}


def record_review(svc: Service, now: datetime, holder: str = "cn_resident_id|" + RESIDENT_ID,
                  stamp_models: tuple[str, ...] = ("fake-no-face-v0",)):
    """A registration awaiting review, written as the pipeline records one (a
    reserved number, MATCH.GREY_ZONE), without the face engine."""
    from simreg.domain.reasons import Outcome
    from simreg.domain.records import ConsentData, DecisionRecord, PersonData, Stamp

    clerk = svc.access.clerk_for_token(svc.tokens[Role.CLERK])
    return svc.rt.registry.record_decision(DecisionRecord(
        now=now, clerk=clerk, path="face", session_id=None, session_checked_at=None,
        person=PersonData(holder, "cn_resident_id", "CN", "王芳"), outcome=Outcome.REVIEW,
        reasons=("MATCH.GREY_ZONE",), scores={}, phone=None, quota_limit=5,
        consent=ConsentData("p", "v3", now, 30), stamp=Stamp(stamp_models, "0" * 64), idempotency_key=None))
