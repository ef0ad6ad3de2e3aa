"""Tampering with the service's own audit table, directly in the database, on
SQLite and on PostgreSQL: `simreg audit verify` names each at its position, and a
checkpoint signed before exposes truncation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from simreg.adapters import signing
from simreg.adapters.sql.audit_store import read_rows
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.stores import AccessStore, SessionStore
from simreg.cli import main
from simreg.domain.access import Role
from simreg.domain.audit import entry_from_row, entry_to_row, new_entry
from simreg.domain.challenge import draw_challenge

N = 12


@pytest.fixture()
def log_db(database_url):
    db = open_database(database_url)
    upgrade_to_head(db)
    access, sessions = AccessStore(db), SessionStore(db)
    outlet = access.create_outlet("Counter 3")
    clerk, _ = access.create_clerk(outlet.outlet_id, "Chen Jing", Role.CLERK)
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    for i in range(N - 2):
        sessions.create(draw_challenge(t0 + timedelta(minutes=i)), clerk, ("m1", "m2"), "a" * 64)
    yield db, database_url
    db.dispose()


def _verify(url, capsys, *extra) -> dict:
    code = main(["audit", "verify", "--database", url, "--json", *extra])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (code == 0) == out["ok"]
    return out


def _sql(db, *statements, **params):
    with db.begin() as c:
        for s in statements:
            c.execute(text(s), params)


def test_an_untouched_log_verifies(log_db, capsys):
    assert _verify(log_db[1], capsys)["size"] == N


def test_an_edited_entry_is_named(log_db, capsys):
    _sql(log_db[0], "UPDATE audit_entries SET actor = 'clk_someone_else' WHERE position = 7")
    out = _verify(log_db[1], capsys)
    assert (out["kind"], out["first_bad_position"]) == ("edited", 7)


def test_a_deleted_entry_is_named(log_db, capsys):
    _sql(log_db[0], "DELETE FROM audit_entries WHERE position = 4")
    out = _verify(log_db[1], capsys)
    assert (out["kind"], out["first_bad_position"]) == ("deleted", 4)


def test_an_inserted_entry_is_named(log_db, capsys):
    db = log_db[0]
    rows = [entry_from_row(r) for r in read_rows(db)]
    crafted = new_entry(rows[5], timestamp=rows[5].timestamp, actor="clk_forger", action="registration.decided",
                        subject="reg_forged", details={"outcome": "approved"}, model_ids=["m1"],
                        policy_sha256="a" * 64)
    _sql(db, "UPDATE audit_entries SET position = position + 1000 WHERE position >= 6",
         "UPDATE audit_entries SET position = position - 999 WHERE position >= 1000")
    with db.begin() as c:
        from simreg.adapters.sql.schema import audit_entries

        c.execute(audit_entries.insert().values(**entry_to_row(crafted)))
    out = _verify(log_db[1], capsys)
    assert (out["kind"], out["first_bad_position"]) == ("inserted", 6)


def test_two_reordered_entries_are_named(log_db, capsys):
    _sql(log_db[0], "UPDATE audit_entries SET position = -1 WHERE position = 8",
         "UPDATE audit_entries SET position = 8 WHERE position = 9",
         "UPDATE audit_entries SET position = 9 WHERE position = -1")
    out = _verify(log_db[1], capsys)
    assert (out["kind"], out["first_bad_position"]) == ("reordered", 8)


def test_a_truncated_tail_is_exposed_by_a_checkpoint_signed_before(log_db, capsys, tmp_path):
    db, url = log_db
    key = signing.generate_private_key()
    (tmp_path / "k.pem").write_bytes(signing.private_key_to_pem(key))
    assert main(["audit", "checkpoint", "--key", str(tmp_path / "k.pem"), "--database", url,
                 "--out", str(tmp_path / "cp.json")]) == 0
    capsys.readouterr()
    _sql(db, "DELETE FROM audit_entries WHERE position >= 9")
    assert _verify(url, capsys)["ok"]  # the chain alone cannot see a cut tail
    out = _verify(url, capsys, "--checkpoint", str(tmp_path / "cp.json"), "--public-key", str(tmp_path / "k.pem"))
    assert (out["kind"], out["first_bad_position"]) == ("truncated", 9)
