"""The sharded audit log in SQL, on SQLite and on PostgreSQL: appends wait in the
outbox, the sequencer gives them positions in batches exactly once (a restart in
the middle of a batch included), each batch's checkpoint lands in the root log,
and receipts, proofs and verification work per shard and across the root."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from simreg.adapters import signing
from simreg.adapters.sql import audit_sequencer as seq
from simreg.adapters.sql import audit_store
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.schema import audit_entries, audit_shard_entries
from simreg.domain.audit_shards import ROOT, BatchPolicy, verify_shards
from simreg.domain.receipts import check_receipt

SRC = Path(__file__).resolve().parents[2] / "src"
POLICY = "cd" * 32


@pytest.fixture()
def db(database_url):
    engine = open_database(database_url)
    upgrade_to_head(engine)
    yield engine, database_url
    engine.dispose()


def _append(engine, n: int, start: int = 0) -> list[int]:
    ids = []
    for i in range(start, start + n):
        with engine.begin() as c:
            e = audit_store.append(c, now=datetime.now(UTC), actor="clk_1", action="registration.decided",
                                   subject=f"reg_{i}", details={"outcome": "approved", "i": i}, model_ids=("m1",),
                                   policy_sha256=POLICY)
        ids.append(e.outbox_id)
    return ids


def _sharded_report(engine):
    return verify_shards(list(seq.read_rows(engine, ROOT)),
                         {name: list(seq.read_rows(engine, name)) for name in seq.logs(engine)})


def test_appends_wait_in_the_outbox_and_are_sequenced_in_batches_exactly_once(db):
    engine, _ = db
    key = signing.generate_private_key()
    gd, bj = seq.for_shard(engine, "44"), seq.for_shard(engine, "11")
    ids_gd = _append(gd, 7)
    _append(bj, 3, start=100)
    with engine.connect() as c:  # nothing reached a chain yet, the global one included
        assert c.execute(select(func.count()).select_from(audit_entries)).scalar_one() == 0
        assert c.execute(select(func.count()).select_from(audit_shard_entries)).scalar_one() == 0
    assert seq.outbox_size(engine) == 10
    assert seq.receipt(engine, "44", ids_gd[0])["status"] == "pending"

    done = seq.sequence_all(engine, policy=BatchPolicy(max_entries=3), signing_key=key)
    assert done == {"11": 3, "44": 7}
    assert seq.outbox_size(engine) == 0
    gd_rows = list(seq.read_rows(engine, "44"))
    assert [r["position"] for r in gd_rows] == list(range(7))
    assert [json.loads(r["details"])["i"] for r in gd_rows] == list(range(7))  # outbox order
    # batches of 3, 3, 1 for shard 44 and one of 3 for shard 11: four checkpoints in the root log
    assert [cp["size"] for cp in seq.checkpoints(engine, "44")] == [3, 6, 7]
    root_rows = list(seq.read_rows(engine, ROOT))
    assert [(json.loads(r["details"])["shard"], json.loads(r["details"])["size"]) for r in root_rows] == \
        [("11", 3), ("44", 3), ("44", 6), ("44", 7)]
    rep = _sharded_report(engine)
    assert rep.ok, rep.message
    # a second run finds nothing left: exactly once
    assert seq.sequence_all(engine, ["44", "11"], signing_key=key) == {"44": 0, "11": 0}
    assert len(list(seq.read_rows(engine, "44"))) == 7

    # the completed receipt: the first batch checkpoint covering the entry, signed, with its proof
    r = seq.receipt(engine, "44", ids_gd[4])
    assert (r["status"], r["audit_position"], r["tree_size"]) == ("sequenced", 4, 6)
    proof = seq.inclusion(engine, "44", r["audit_position"], r["tree_size"])

    def signed(cp):
        return signing.open_log_checkpoint(key.public_key(), cp["note"], cp["origin"]) == (cp["size"], cp["root_hash"])

    assert check_receipt(r, proof, signed) is None
    assert check_receipt({**r, "entry_hash": gd_rows[5]["entry_hash"]}, proof, signed) is not None
    # ... and the root log holds that checkpoint, provably
    root_entry = root_rows[r["root_position"]]
    assert json.loads(root_entry["details"])["checkpoint"] == r["checkpoint"]["note"]
    root_proof = seq.inclusion(engine, ROOT, r["root_position"])
    root_cp = seq.latest_checkpoint(engine, ROOT)
    assert signing.open_log_checkpoint(key.public_key(), root_cp["note"], root_cp["origin"]) == \
        (root_proof["size"], root_proof["root_hash"])


def test_the_global_chain_is_untouched_by_default(db):
    engine, _ = db
    with engine.begin() as c:
        e = audit_store.append(c, now=datetime.now(UTC), actor="clk_1", action="session.created",
                               subject="ses_1", details={}, model_ids=("m1",), policy_sha256=POLICY)
        assert audit_store.tree_head(c)[0] == 1
    assert e.position == 0 and seq.outbox_size(engine) == 0 and not seq.has_shards(engine)


def test_a_bad_entry_fails_the_decision_at_once_not_the_sequencer_later(db):
    engine, _ = db
    with pytest.raises(ValueError, match="ID number"), seq.for_shard(engine, "44").begin() as c:
        audit_store.append(c, now=datetime.now(UTC), actor="clk_1", action="registration.decided",
                           subject="11010519491231002X", details={}, model_ids=("m1",), policy_sha256=POLICY)
    assert seq.outbox_size(engine) == 0


_CRASHING_SEQUENCER = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, {src!r})
    from simreg.adapters.sql import audit_sequencer as seq
    from simreg.adapters.sql.database import open_database
    from simreg.domain.audit_shards import BatchPolicy

    batches = []
    real_insert = seq._insert_entries

    def insert_then_die(c, log, pairs):
        real_insert(c, log, pairs)
        if log != "root":
            batches.append(len(pairs))
            if len(batches) == 2:  # the second batch's entries are written, not committed
                os._exit(9)

    seq._insert_entries = insert_then_die
    seq.sequence_all(open_database({url!r}), ["44"], policy=BatchPolicy(max_entries=50))
    sys.exit(0)  # not reached
""")


def test_a_sequencer_killed_in_the_middle_of_a_batch_loses_no_entry_and_repeats_none(db):
    engine, url = db
    ids = _append(seq.for_shard(engine, "44"), 120)
    crashed = subprocess.run([sys.executable, "-c", _CRASHING_SEQUENCER.format(src=str(SRC), url=url)],
                             capture_output=True, text=True, timeout=120)
    assert crashed.returncode == 9, crashed.stderr
    # the first batch committed; the second died with its transaction
    assert len(list(seq.read_rows(engine, "44"))) == 50 and seq.outbox_size(engine, "44") == 70
    assert seq.sequence_all(engine, ["44"], policy=BatchPolicy(max_entries=50)) == {"44": 70}  # the restart
    with engine.connect() as c:
        got = [r[0] for r in c.execute(select(audit_shard_entries.c.outbox_id)
                                       .where(audit_shard_entries.c.shard == "44")
                                       .order_by(audit_shard_entries.c.position))]
    assert sorted(got) == sorted(ids) and len(got) == len(set(got)) == 120
    assert seq.outbox_size(engine) == 0
    rep = _sharded_report(engine)
    assert rep.ok, rep.message
    assert [cp["size"] for cp in seq.checkpoints(engine, "44")] == [50, 100, 120]


def test_two_sequencers_racing_on_one_shard_never_fork_it(db):
    engine, url = db
    _append(seq.for_shard(engine, "44"), 60)
    errors = []

    def drain():
        other = open_database(url)
        try:
            for _ in range(40):
                seq.sequence_once(other, "44", policy=BatchPolicy(max_entries=4))
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    seq.sequence_all(engine, ["44"])
    assert len(list(seq.read_rows(engine, "44"))) == 60 and seq.outbox_size(engine) == 0
    rep = _sharded_report(engine)
    assert rep.ok, rep.message


def test_the_sequencer_loop_cuts_a_batch_only_when_it_is_full_or_has_waited(db):
    engine, _ = db
    shard = seq.for_shard(engine, "44")
    rounds = []

    def one_round():  # stop after one pass over the shard
        rounds.append(1)
        return len(rounds) > 1

    patient = BatchPolicy(max_entries=5, max_wait_s=3600)
    _append(shard, 3)
    seq.run_sequencer(engine, ["44"], policy=patient, stop=one_round)
    assert seq.outbox_size(engine) == 3 and not list(seq.read_rows(engine, "44"))  # neither full nor old
    _append(shard, 2, start=3)
    rounds.clear()
    seq.run_sequencer(engine, ["44"], policy=patient, stop=one_round)
    assert seq.outbox_size(engine) == 0 and len(list(seq.read_rows(engine, "44"))) == 5  # full
    _append(shard, 1, start=5)
    rounds.clear()
    seq.run_sequencer(engine, ["44"], policy=BatchPolicy(max_entries=5, max_wait_s=0), stop=one_round)
    assert seq.outbox_size(engine) == 0 and len(list(seq.read_rows(engine, "44"))) == 6  # waited long enough


def test_simreg_audit_sequencer_runs_until_sigterm_and_sequences_what_arrives(db, tmp_path):
    import os
    import signal
    import time

    engine, url = db
    env = {**os.environ, "SIMREG_DATABASE_URL": url, "PYTHONPATH": str(SRC)}
    env.pop("SIMREG_AUDIT_SIGNING_KEY_FILE", None)
    proc = subprocess.Popen([sys.executable, "-m", "simreg.cli", "audit", "sequencer", "--shard", "44",
                             "--max-wait-ms", "50"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _append(seq.for_shard(engine, "44"), 4)
        deadline = time.time() + 60
        while seq.outbox_size(engine) and time.time() < deadline:
            time.sleep(0.05)
        assert seq.outbox_size(engine) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    batches = [json.loads(line) for line in out.splitlines()]
    assert sum(b["count"] for b in batches) == 4 and batches[-1]["size"] == 4
    assert _sharded_report(engine).ok


def test_the_sequencer_loop_outlives_a_database_error_and_loses_nothing(db, monkeypatch):
    from sqlalchemy.exc import OperationalError

    engine, _ = db
    _append(seq.for_shard(engine, "44"), 4)
    real, calls = seq.sequence_once, []

    def flaky(*a, **k):  # the first pass finds the database gone
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))
        return real(*a, **k)

    monkeypatch.setattr(seq, "sequence_once", flaky)
    monkeypatch.setattr(seq.time, "sleep", lambda s: None)  # no real back-off in a test
    seq.run_sequencer(engine, ["44"], policy=BatchPolicy(max_entries=4, max_wait_s=0),
                      stop=lambda: len(calls) >= 2)
    assert len(calls) == 2 and seq.outbox_size(engine) == 0
    assert len(list(seq.read_rows(engine, "44"))) == 4 and _sharded_report(engine).ok
