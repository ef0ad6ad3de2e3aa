"""The database connection dropped in the middle of a registration's decision
transaction: the client gets a 503 ``STORAGE.UNAVAILABLE`` in the envelope with
``Retry-After`` (never a 500 or a traceback), nothing of the registration is
stored (no registration, no reserved number, no consumed session, no audit
entry, no idempotency claim left behind), and the same request, retried with
the same session and key, then succeeds.

The fault is real on PostgreSQL: the server terminates the backend serving the
transaction (``pg_terminate_backend``, waiting until it is gone) just before a
chosen statement of the decision transaction, or just before its COMMIT.  On
SQLite, which has no server, the process's own connection is closed at the same
points (the uncommitted transaction is lost with it, as a crash would lose it).
The biometric stages are stubbed to "approved", as in
tests/http/test_registration_errors.py: what is under test is the transaction.
"""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.pool import NullPool

import simreg.app.pipeline
from fake_engine import fake_runtime
from service_support import make_service, media, registration_form
from simreg.adapters.sql.registry import Registry
from simreg.adapters.sql.schema import metadata
from simreg.domain.access import Role
from simreg.domain.decision import Decision
from simreg.domain.reasons import Outcome

CHALLENGE = ["turn_left", "turn_right"]
ENVELOPE = {"code", "message", "request_id"}


@pytest.fixture()
def svc(database_url, monkeypatch):
    monkeypatch.setattr(simreg.app.pipeline, "assess_registration",
                        lambda *a, **k: simreg.app.pipeline.Assessment(Decision(Outcome.APPROVED, (), {}), None, None))
    s = make_service(fake_runtime(), database_url)
    s.add_numbers(["+8613800138000", "+8613800138001"])
    with s.client:
        yield s
    s.close()


class ConnectionKiller:
    """Drops the connection of the decision transaction (``Registry.record_decision``)
    once, just before the first statement that starts with ``before`` (or just
    before COMMIT when ``before`` is ``"COMMIT"``)."""

    def __init__(self, engine, database_url: str, before: str):
        self.engine, self.before = engine, before.upper()
        self.armed = threading.Event()
        self.fired = threading.Event()
        self.postgres = engine.dialect.name == "postgresql"
        self.admin = create_engine(database_url, poolclass=NullPool) if self.postgres else None
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "commit", self._commit)
        if self.admin is not None:
            self.admin.dispose()

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.before != "COMMIT" and statement.lstrip().upper().startswith(self.before):
            self._drop(conn)

    def _commit(self, conn):
        if self.before == "COMMIT":
            self._drop(conn)

    def _drop(self, conn) -> None:
        if not self.armed.is_set() or self.fired.is_set():
            return
        self.fired.set()
        dbapi = conn.connection.dbapi_connection
        if self.postgres:
            pid = dbapi.info.backend_pid
            with self.admin.connect() as admin:  # the server ends that backend; wait until it has
                gone = admin.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid}).scalar_one()
            assert gone, "the backend was not terminated"
        else:
            dbapi.close()

    def arm_during(self, monkeypatch) -> None:
        original = Registry.record_decision

        def record_decision(registry, *a, **k):
            self.armed.set()
            try:
                return original(registry, *a, **k)
            finally:
                self.armed.clear()

        monkeypatch.setattr(Registry, "record_decision", record_decision)


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 240), (128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()


def _snapshot(engine) -> dict[str, list[tuple]]:
    """Every row of every table of the schema (sorted), to compare before and after."""
    with engine.connect() as c:
        return {t.name: sorted(tuple(map(repr, row)) for row in c.execute(select(t)))
                for t in metadata.sorted_tables}


@pytest.mark.parametrize("before", ["UPDATE capture_sessions", "INSERT INTO registrations", "COMMIT"])
def test_a_connection_dropped_in_the_decision_transaction_is_a_503_with_nothing_stored(svc, database_url,
                                                                                        monkeypatch, before):
    session = svc.session(CHALLENGE)
    form = registration_form(session)
    headers = {**svc.auth(Role.CLERK), "Idempotency-Key": "drop-1"}
    killer = ConnectionKiller(svc.rt.database, database_url, before)
    killer.arm_during(monkeypatch)
    before_rows = _snapshot(svc.rt.database)
    try:
        r = svc.client.post("/v1/registrations", data=form, files=media(_jpeg(), b"x"), headers=headers)
    finally:
        killer.remove()

    assert killer.fired.is_set(), f"the transaction never reached {before!r}"
    assert r.status_code == 503, r.text
    assert set(r.json()) == ENVELOPE and r.json()["code"] == "STORAGE.UNAVAILABLE"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert int(r.headers["retry-after"]) > 0
    assert "Traceback" not in r.text and "terminat" not in r.text and "closed" not in r.text
    # nothing partial: every table is as it was (no registration, consent, person,
    # reserved number, used session, audit entry, or idempotency claim)
    assert _snapshot(svc.rt.database) == before_rows

    # the same request again (same session, same key): the service has recovered
    # and the session was never consumed
    again = svc.client.post("/v1/registrations", data=form, files=media(_jpeg(), b"x"), headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "approved" and not again.json().get("idempotent_replay")
    with svc.rt.database.connect() as c:
        assert c.execute(text("SELECT count(*) FROM registrations")).scalar_one() == 1
        assert c.execute(text("SELECT count(*) FROM numbers WHERE state = 'active'")).scalar_one() == 1
