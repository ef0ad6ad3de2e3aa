"""A number reserved for a review that nobody decides goes back to the pool after
a configurable time (``review_timeout_hours``), through the retention job: the
registration is closed as rejected with REVIEW.EXPIRED, audited, and the
person's quota no longer counts it.  On SQLite and PostgreSQL; no models."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from fake_engine import fake_runtime
from service_support import RESIDENT_ID, record_review, serving
from simreg.adapters.sql.registry import Stamp
from simreg.adapters.sql.retention import RetentionRules, run_retention
from simreg.adapters.sql.schema import audit_entries, numbers, registrations
from simreg.cli import main
from simreg.domain.access import Role

STAMP = Stamp(("fake-no-face-v0",), "0" * 64)
HOLDER = "cn_resident_id|" + RESIDENT_ID
RULES = RetentionRules(review_timeout_hours=48)


@pytest.fixture()
def svc(database_url):
    with serving(fake_runtime(), database_url, ["+8613800138000"]) as s:
        yield s


def _to_review(svc, now: datetime):
    return record_review(svc, now, HOLDER)


def _number_state(svc) -> str:
    with svc.rt.database.connect() as c:
        return c.execute(select(numbers.c.state)).scalar_one()


def _audit(svc, action: str) -> list[dict]:
    with svc.rt.database.connect() as c:
        rows = c.execute(select(audit_entries).where(audit_entries.c.action == action)
                         .order_by(audit_entries.c.position)).mappings().all()
    return [dict(r) for r in rows]


def test_an_undecided_review_releases_its_number_after_the_timeout_audited(svc):
    t0 = datetime.now(UTC)
    rec = _to_review(svc, t0)
    reg = svc.rt.registry
    assert _number_state(svc) == "reserved" and reg.held_numbers(HOLDER) == 1

    assert run_retention(reg, RULES, t0 + timedelta(hours=47), "retention-job", STAMP)["reviews_expired"] == 0
    assert _number_state(svc) == "reserved"

    counts = run_retention(reg, RULES, t0 + timedelta(hours=49), "retention-job", STAMP)
    assert counts["reviews_expired"] == 1
    assert _number_state(svc) == "available" and reg.held_numbers(HOLDER) == 0
    view = reg.registration(rec.registration_id)
    assert view["outcome"] == "rejected" and view["decided_outcome"] == "review"
    assert view["reasons"] == ["MATCH.GREY_ZONE", "REVIEW.EXPIRED"] and view["phone_number"] is None
    assert view["reviewed_by"] == "retention-job"
    (entry,) = _audit(svc, "registration.review_expired")
    details = json.loads(entry["details"])
    assert entry["subject"] == rec.registration_id and entry["actor"] == "retention-job"
    assert details["outcome"] == "rejected" and details["waited_hours"] == 49.0 and details["number_id"]

    # once: a second run finds nothing; the supervisor's late decision is refused
    assert run_retention(reg, RULES, t0 + timedelta(hours=50), "retention-job", STAMP)["reviews_expired"] == 0
    r = svc.client.post(f"/v1/reviews/{rec.registration_id}", json={"decision": "approve", "reason": "late look"},
                        headers=svc.auth(Role.SUPERVISOR))
    assert r.status_code == 409 and r.json()["code"] == "REVIEW.NOT_PENDING"
    assert _number_state(svc) == "available"


def test_a_review_decided_in_time_is_left_alone(svc):
    t0 = datetime.now(UTC)
    rec = _to_review(svc, t0)
    r = svc.client.post(f"/v1/reviews/{rec.registration_id}", json={"decision": "approve", "reason": "same person"},
                        headers=svc.auth(Role.SUPERVISOR))
    assert r.status_code == 200, r.text
    counts = run_retention(svc.rt.registry, RULES, t0 + timedelta(days=10), "retention-job", STAMP)
    assert counts["reviews_expired"] == 0 and _number_state(svc) == "active"
    assert _audit(svc, "registration.review_expired") == []


def test_the_retention_command_uses_the_configured_timeout(svc, tmp_path, monkeypatch, capsys, database_url):
    rec = _to_review(svc, datetime.now(UTC))
    with svc.rt.database.begin() as c:  # decided to review three hours ago
        c.execute(update(registrations).values(created_at=datetime.now(UTC) - timedelta(hours=3)))
    svc.rt.keyring.save(tmp_path / "keyring.json")
    monkeypatch.setenv("SIMREG_DATABASE_URL", database_url)
    monkeypatch.setenv("SIMREG_KEYRING_FILE", str(tmp_path / "keyring.json"))
    monkeypatch.setenv("SIMREG_REVIEW_TIMEOUT_HOURS", "4")
    assert main(["retention", "run"]) == 0
    assert json.loads(capsys.readouterr().out)["reviews_expired"] == 0
    monkeypatch.setenv("SIMREG_REVIEW_TIMEOUT_HOURS", "2")
    assert main(["retention", "run"]) == 0
    assert json.loads(capsys.readouterr().out)["reviews_expired"] == 1
    assert svc.rt.registry.registration(rec.registration_id)["outcome"] == "rejected"
