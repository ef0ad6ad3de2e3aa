"""`simreg audit checkpoint` / `simreg audit verify` on a real SQLite log whose
entries were written by the service's own session store."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from cli_support import run_simreg
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.stores import AccessStore, SessionStore
from simreg.domain.access import Role
from simreg.domain.challenge import draw_challenge


def cli(*args, env):
    return run_simreg(*args, env=env, timeout=120)


@pytest.fixture()
def logged_db(tmp_path):
    path = tmp_path / "simreg.sqlite3"
    db = open_database(f"sqlite:///{path}")
    upgrade_to_head(db)
    access, sessions = AccessStore(db), SessionStore(db)
    outlet = access.create_outlet("Counter 3")
    clerk, _ = access.create_clerk(outlet.outlet_id, "Chen Jing", Role.CLERK)
    t0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    for i in range(12 - 2):  # + the two admin entries: 12 in all
        sessions.create(draw_challenge(t0 + timedelta(minutes=i)), clerk, ("m1", "m2"), "a" * 64)
    db.dispose()
    env = {"SIMREG_DATABASE_URL": f"sqlite:///{path}", "PATH": "/usr/bin:/bin"}
    return path, env


def test_an_intact_log_verifies_and_a_signed_checkpoint_holds(logged_db, tmp_path):
    _path, env = logged_db
    key = tmp_path / "keys" / "audit.pem"
    made = cli("keys", "new-signing-key", "--out", str(key), env=env)
    assert made.returncode == 0, made.stderr
    assert (key.stat().st_mode & 0o777) == 0o600
    cp = cli("audit", "checkpoint", "--key", str(key), "--out", str(tmp_path / "cp.json"), env=env)
    assert cp.returncode == 0, cp.stderr
    assert json.loads(cp.stdout)["size"] == 12
    ok = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--public-key", str(key), "--json", env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert json.loads(ok.stdout)["ok"] is True


def test_verify_names_the_first_edited_entry_by_position(logged_db):
    path, env = logged_db
    with sqlite3.connect(path) as con:
        con.execute("UPDATE audit_entries SET actor = 'clk_someone_else' WHERE position = 7")
    bad = cli("audit", "verify", "--json", env=env)
    assert bad.returncode != 0
    out = json.loads(bad.stdout)
    assert out["ok"] is False and out["first_bad_position"] == 7 and out["kind"] == "edited"


def test_a_checkpoint_signed_before_a_rewrite_exposes_the_rewritten_history(logged_db, tmp_path):
    from simreg.domain.audit import entry_from_row, entry_to_row, new_entry

    path, env = logged_db
    key = tmp_path / "audit.pem"
    assert cli("keys", "new-signing-key", "--out", str(key), env=env).returncode == 0
    assert cli("audit", "checkpoint", "--key", str(key), "--out", str(tmp_path / "cp.json"), env=env).returncode == 0
    # rewrite history with every hash recomputed: the chain itself stays consistent
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        rows = [dict(r) for r in con.execute("SELECT * FROM audit_entries ORDER BY position")]
        prev = None
        rewritten = []
        for r in rows:
            e = entry_from_row(r)
            actor = "clk_forged" if e.position == 3 else e.actor
            prev = new_entry(prev, timestamp=e.timestamp, actor=actor, action=e.action, subject=e.subject,
                             details=dict(e.details), model_ids=e.model_ids, policy_sha256=e.policy_sha256)
            rewritten.append(entry_to_row(prev))
        con.execute("DELETE FROM audit_entries")
        for row in rewritten:
            con.execute("INSERT INTO audit_entries VALUES (:position, :timestamp, :actor, :action, :subject, "
                        ":details, :model_ids, :policy_sha256, :prev_hash, :entry_hash)", row)
    assert cli("audit", "verify", env=env).returncode == 0  # the chain alone cannot tell
    res = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--public-key", str(key), "--json", env=env)
    assert res.returncode != 0 and json.loads(res.stdout)["ok"] is False


def test_a_checkpoint_with_a_forged_signature_is_refused(logged_db, tmp_path):
    _path, env = logged_db
    key = tmp_path / "audit.pem"
    assert cli("keys", "new-signing-key", "--out", str(key), env=env).returncode == 0
    cp = json.loads(cli("audit", "checkpoint", "--key", str(key), env=env).stdout)
    cp["size"] = 11
    (tmp_path / "forged.json").write_text(json.dumps(cp))
    res = cli("audit", "verify", "--checkpoint", str(tmp_path / "forged.json"), "--public-key", str(key), env=env)
    assert res.returncode != 0 and "AUDIT.CHECKPOINT" in res.stderr


def test_unreadable_keys_give_a_reason_code_not_a_traceback(logged_db, tmp_path):
    _path, env = logged_db
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    signed = cli("audit", "checkpoint", "--key", str(junk), env=env)
    assert signed.returncode == 2 and "KEYS.UNREADABLE" in signed.stderr and "Traceback" not in signed.stderr
    good = tmp_path / "audit.pem"
    assert cli("keys", "new-signing-key", "--out", str(good), env=env).returncode == 0
    assert cli("audit", "checkpoint", "--key", str(good), "--out", str(tmp_path / "cp.json"), env=env).returncode == 0
    missing = cli("audit", "verify", "--checkpoint", str(tmp_path / "cp.json"), "--public-key",
                  str(tmp_path / "nope.pem"), env=env)
    assert missing.returncode == 2 and "KEYS.UNREADABLE" in missing.stderr and "Traceback" not in missing.stderr


def test_verify_does_not_migrate_or_change_the_database_it_checks(tmp_path):
    """An offline check must not write: on a file with no log it fails with a code,
    and the file is left exactly as it was."""
    path = tmp_path / "not-a-simreg-db.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE unrelated (x INTEGER)").connection.commit()
    before = path.read_bytes()
    out = cli("audit", "verify", "--database", f"sqlite:///{path}", env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and "STORAGE.UNAVAILABLE" in out.stderr and "Traceback" not in out.stderr
    assert path.read_bytes() == before
