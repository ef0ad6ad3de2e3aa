"""One review that cannot be expired does not hold back the others: each row of
``Registry.expire_reviews`` is closed under its own savepoint, so the bad row is
rolled back alone and reported, and the rest of the retention run commits.  On
SQLite and PostgreSQL; no models."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from fake_engine import fake_runtime
from service_support import RESIDENT_ID, record_review, serving
from simreg.adapters.sql.registry import Stamp
from simreg.adapters.sql.retention import RetentionRules, run_retention
from simreg.adapters.sql.schema import audit_entries, numbers, registrations

STAMP = Stamp(("fake-no-face-v0",), "0" * 64)
HOLDER = "cn_resident_id|" + RESIDENT_ID
RULES = RetentionRules(review_timeout_hours=48)


@pytest.fixture()
def svc(database_url):
    with serving(fake_runtime(), database_url, ["+8613800138000", "+8613800138001"]) as s:
        yield s


def _to_review(svc, now: datetime):
    return record_review(svc, now, HOLDER)


def _state_of_number_of(svc, registration_id: str) -> str:
    with svc.rt.database.connect() as c:
        return c.execute(select(numbers.c.state).where(numbers.c.registration_id == registration_id)).scalar_one()


def _actions(svc) -> list[str]:
    with svc.rt.database.connect() as c:
        return list(c.execute(select(audit_entries.c.action).order_by(audit_entries.c.position)).scalars())


def test_a_review_that_cannot_be_expired_is_reported_and_the_others_are_expired(svc, caplog):
    t0 = datetime.now(UTC)
    bad = _to_review(svc, t0)
    good = _to_review(svc, t0 + timedelta(minutes=1))
    # the bad row: its reserved number was taken out of the reserved state behind
    # the registry's back, so closing the review must refuse (NUMBER.TRANSITION)
    with svc.rt.database.begin() as c:
        c.execute(update(numbers).where(numbers.c.registration_id == bad.registration_id)
                  .values(state="suspended"))
    before = _actions(svc)

    caplog.set_level(logging.WARNING, logger="simreg.adapters.sql.registry")
    counts = run_retention(svc.rt.registry, RULES, t0 + timedelta(hours=49), "retention-job", STAMP)

    assert counts["reviews_expired"] == 1
    reg = svc.rt.registry
    assert reg.registration(good.registration_id)["outcome"] == "rejected"
    assert reg.registration(bad.registration_id)["outcome"] == "review"  # untouched, rolled back alone
    assert _state_of_number_of(svc, bad.registration_id) == "suspended"
    with svc.rt.database.connect() as c:
        good_number = c.execute(select(registrations.c.number_id)
                                .where(registrations.c.registration_id == good.registration_id)).scalar_one()
        assert good_number is None  # released to the pool
    # exactly one expiry entry (the good row's) and the run's own entry: the run committed
    assert _actions(svc)[len(before):] == ["registration.review_expired", "retention.run"]
    reported = [r.getMessage() for r in caplog.records if "not expired" in r.getMessage()]
    assert reported == [f"review {bad.registration_id} not expired: NUMBER.TRANSITION"]


def test_the_bad_rows_are_listed_for_a_caller_that_asks(svc):
    t0 = datetime.now(UTC)
    bad = _to_review(svc, t0)
    with svc.rt.database.begin() as c:
        c.execute(update(numbers).where(numbers.c.registration_id == bad.registration_id)
                  .values(state="suspended"))
    failed: list[str] = []
    with svc.rt.database.begin() as c:
        closed = svc.rt.registry.expire_reviews(c, t0 + timedelta(hours=49), timedelta(hours=48), "job", STAMP,
                                                failed=failed)
    assert closed == 0 and failed == [bad.registration_id]
