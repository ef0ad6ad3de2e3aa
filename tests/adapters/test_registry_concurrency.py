"""The per-ID quota holds exactly under concurrency, on SQLite and on the real
PostgreSQL server; a failure inside the decision's transaction leaves nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from simreg.adapters.crypto import Keyring
from simreg.adapters.sql import audit_store
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.registry import ConsentData, PersonData, Registry, Stamp
from simreg.adapters.sql.schema import consents, numbers, persons, registrations
from simreg.adapters.sql.stores import AccessStore
from simreg.domain.access import Role
from simreg.domain.audit import verify_chain
from simreg.domain.errors import PolicyError
from simreg.domain.reasons import Outcome, ReasonCode
from simreg.domain.records import DecisionRecord

STAMP = Stamp(("dlib-resnet-v1", "facenet-casia-irv1"), "0" * 64)
PERSON = PersonData("cn_resident_id|11010519491231002X", "cn_resident_id", "CN", "王芳")
CONSENT = ConsentData("sim_registration_identity_verification", "face-consent-v3",
                      datetime(2026, 11, 29, tzinfo=UTC), 1095)


@pytest.fixture()
def registry(database_url):
    engine = open_database(database_url)
    upgrade_to_head(engine)
    reg = Registry(engine, Keyring.generate())
    access = AccessStore(engine)
    outlet = access.create_outlet("Counter 7")
    clerk, _ = access.create_clerk(outlet.outlet_id, "Wang Fang", Role.CLERK)
    reg.add_numbers([f"+86138001380{i:02d}" for i in range(30)], "admin", STAMP, datetime.now(UTC))
    reg.test_clerk = clerk
    yield reg
    engine.dispose()


def _approve(reg: Registry, barrier: threading.Barrier | None = None):
    if barrier is not None:
        barrier.wait()
    try:
        r = reg.record_decision(DecisionRecord(now=datetime.now(UTC), clerk=reg.test_clerk, path="face",
                                               session_id=None,
                                session_checked_at=None, person=PERSON, outcome=Outcome.APPROVED, reasons=(),
                                scores={}, phone=None, quota_limit=5, consent=CONSENT, stamp=STAMP,
                                idempotency_key=None))
        return r.phone_number
    except PolicyError as exc:
        return exc.code


def _count(reg, table, *where) -> int:
    with reg.engine.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_twenty_simultaneous_approvals_for_one_person_activate_exactly_the_quota(registry):
    barrier = threading.Barrier(20)
    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(lambda _: _approve(registry, barrier), range(20)))
    granted = [r for r in results if not isinstance(r, ReasonCode)]
    refused = [r for r in results if r is ReasonCode.QUOTA_EXCEEDED]
    assert len(granted) == 5 and len(set(granted)) == 5, results
    assert len(refused) == 15, results
    assert _count(registry, numbers, numbers.c.state == "active") == 5
    assert _count(registry, persons) == 1
    assert _count(registry, registrations) == 5
    assert verify_chain(audit_store.read_rows(registry.engine)).ok


def test_a_failure_inside_the_decision_transaction_leaves_nothing_behind(registry, monkeypatch):
    def broken_append(*a, **k):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(audit_store, "append", broken_append)
    with pytest.raises(RuntimeError):
        _approve(registry)
    assert _count(registry, registrations) == 0
    assert _count(registry, consents) == 0
    assert _count(registry, persons) == 0
    assert _count(registry, numbers, numbers.c.state != "available") == 0


def test_a_number_asked_for_twice_at_once_goes_to_one_registration(registry):
    barrier = threading.Barrier(2)
    others = [PersonData(f"cn_resident_id|person-{i}", "cn_resident_id", "CN", f"P{i}") for i in range(2)]

    def take(person):
        barrier.wait()
        try:
            return registry.record_decision(DecisionRecord(
                now=datetime.now(UTC), clerk=registry.test_clerk, path="face", session_id=None,
                session_checked_at=None, person=person, outcome=Outcome.APPROVED, reasons=(), scores={},
                phone="+8613800138007", quota_limit=5, consent=CONSENT, stamp=STAMP, idempotency_key=None)).phone_number
        except PolicyError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(take, others))
    assert sorted(map(str, results)) == sorted(["+8613800138007", str(ReasonCode.NUMBER_UNAVAILABLE)])


def test_one_of_many_simultaneous_claims_of_a_new_idempotency_key_wins(registry):
    from simreg.domain.errors import InputError

    barrier = threading.Barrier(8)
    now = datetime.now(UTC)

    def claim(_):
        barrier.wait()
        try:
            return registry.claim_idempotency("clk_1", "same-key", "digest", now)
        except InputError as exc:
            return exc.code

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(claim, range(8)))
    assert results.count(None) == 1, results
    assert results.count(ReasonCode.IDEMPOTENCY_IN_PROGRESS) == 7, results
