"""The sharded audit log's pure rules (domain/audit_shards.py) and its signed
checkpoints in the C2SP signed-note format (adapters/signing.py)."""

from __future__ import annotations

import base64

import pytest

from simreg.adapters import signing
from simreg.domain import merkle
from simreg.domain.audit import entry_to_row, verify_chain
from simreg.domain.audit_shards import (
    ROOT,
    BatchPolicy,
    Pending,
    check_shard_name,
    origin,
    root_entry,
    sequence,
    verify_shards,
)

POLICY = "ab" * 32


def pending(i: int, subject: str | None = None) -> Pending:
    return Pending(i, f"2026-12-05T00:00:{i % 60:02d}.000000Z", "clk_1", "registration.decided",
                   subject or f"reg_{i}", {"outcome": "approved", "n": i}, ("m1",), POLICY)


def shard_log(n: int, start: int = 0) -> list:
    return [e for _, e in sequence(None, [pending(i) for i in range(start, start + n)])]


def root_of(entries) -> str:
    return merkle.root([bytes.fromhex(e.entry_hash) for e in entries]).hex()


def test_a_batch_is_chained_in_outbox_order_after_the_shards_last_entry():
    first = sequence(None, [pending(3), pending(1), pending(2)])
    assert [oid for oid, _ in first] == [1, 2, 3]
    assert [e.position for _, e in first] == [0, 1, 2]
    second = sequence(first[-1][1], [pending(7), pending(5)])
    assert [(oid, e.position) for oid, e in second] == [(5, 3), (7, 4)]
    rows = [entry_to_row(e) for _, e in first + second]
    assert verify_chain(rows).ok
    assert second[0][1].prev_hash == first[-1][1].entry_hash


def test_an_outbox_row_is_never_sequenced_twice_in_one_batch():
    with pytest.raises(ValueError, match="twice"):
        sequence(None, [pending(1), pending(1)])


def test_the_entry_guard_still_applies_when_sequencing():
    bad = Pending(1, "2026-12-05T00:00:00.000000Z", "clk_1", "registration.decided", "11010519491231002X",
                  {}, ("m1",), POLICY)
    with pytest.raises(ValueError, match="ID number"):
        sequence(None, [bad])


def test_a_batch_is_due_when_full_or_when_its_oldest_entry_has_waited():
    p = BatchPolicy(max_entries=4, max_wait_s=0.25)
    assert not p.due(0, 10.0)
    assert not p.due(3, 0.1)
    assert p.due(4, 0.0)
    assert p.due(1, 0.25)
    with pytest.raises(ValueError):
        BatchPolicy(max_entries=0)


def test_shard_names_are_short_lowercase_and_never_the_root_logs():
    assert check_shard_name("44") == "44" and check_shard_name("gd-2") == "gd-2"
    for bad in ("", "-x", "Guangdong", "a" * 33, "a b", ROOT):
        with pytest.raises(ValueError):
            check_shard_name(bad)
    assert origin("44") != origin("45") != origin(ROOT)


def _root_log(heads: list[tuple[str, int, str]]):
    prev, out = None, []
    for shard, size, root in heads:
        prev = root_entry(prev, shard=shard, size=size, root_hash=root, timestamp="2026-12-05T00:00:01.000000Z",
                          checkpoint=None)
        out.append(prev)
    return [entry_to_row(e) for e in out]


def test_shards_verify_against_every_checkpoint_the_root_log_recorded():
    a, b = shard_log(10), shard_log(5, start=100)
    root = _root_log([("44", 4, root_of(a[:4])), ("11", 5, root_of(b)), ("44", 10, root_of(a))])
    rep = verify_shards(root, {"44": [entry_to_row(e) for e in a], "11": [entry_to_row(e) for e in b]})
    assert rep.ok, rep.message
    assert rep.root.size == 3 and rep.shards["44"].size == 10 and rep.shards["11"].size == 5


def test_a_shard_cut_short_or_rewritten_fails_against_the_root_log():
    a = shard_log(10)
    root = _root_log([("44", 4, root_of(a[:4])), ("44", 10, root_of(a))])
    cut = verify_shards(root, {"44": [entry_to_row(e) for e in a[:8]]})
    assert not cut.ok and cut.shards["44"].kind.value == "truncated" and cut.shards["44"].first_bad_position == 8
    # history rewritten with every hash recomputed: the chain alone is sound
    forged = sequence(None, [pending(0, subject="reg_forged")] + [pending(i) for i in range(1, 10)])
    rows = [entry_to_row(e) for _, e in forged]
    assert verify_chain(rows).ok
    rew = verify_shards(root, {"44": rows})
    assert not rew.ok and rew.shards["44"].kind.value == "rewritten"
    missing = verify_shards(root, {})
    assert not missing.ok and missing.shards["44"].kind.value == "truncated"


def test_an_edited_root_entry_is_named():
    a = shard_log(3)
    root = _root_log([("44", 2, root_of(a[:2])), ("44", 3, root_of(a))])
    root[1] = {**root[1], "details": root[1]["details"].replace('"size":3', '"size":2')}
    rep = verify_shards(root, {"44": [entry_to_row(e) for e in a]})
    assert not rep.ok and rep.root.kind.value == "edited" and rep.root.first_bad_position == 1


# --- C2SP signed notes ------------------------------------------------------------------------

# The example of golang.org/x/mod/sumdb/note (its documentation and note_test.go):
# a note signed by a reference implementation, pinned here byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = GO_TEXT + ("\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqd"
                     "ngotpRZb6KE6RyyBwJnAM=\n")


def _go_key():
    raw = base64.b64decode(GO_SKEY.split("+", 4)[4])
    assert raw[0] == 1
    return signing.load_private_key(raw[1:])


def test_a_signed_note_is_byte_for_byte_the_go_reference_implementations():
    key = _go_key()
    assert signing.note_verifier_key("PeterNeumann", key) == GO_VKEY
    assert signing.sign_note(key, "PeterNeumann", GO_TEXT) == GO_NOTE
    assert signing.open_note(key.public_key(), "PeterNeumann", GO_NOTE) == GO_TEXT
    assert signing.open_note(key.public_key(), "PeterNeumann", GO_NOTE.replace("cryptography", "cryptographY")) is None
    assert signing.open_note(key.public_key(), "PaulNeumann", GO_NOTE) is None
    assert signing.open_note(signing.generate_private_key().public_key(), "PeterNeumann", GO_NOTE) is None


def test_a_log_checkpoint_opens_only_with_its_key_and_its_origin():
    key = signing.generate_private_key()
    root = "5d" * 32
    note = signing.sign_log_checkpoint(key, origin("44"), 256, root)
    body = note.split("\n\n")[0] + "\n"
    assert body == f"simreg/audit/44\n256\n{base64.b64encode(bytes.fromhex(root)).decode()}\n"
    assert signing.parse_checkpoint_text(body) == ("simreg/audit/44", 256, root)
    assert signing.open_log_checkpoint(key.public_key(), note, origin("44")) == (256, root)
    assert signing.open_log_checkpoint(key.public_key(), note, origin("45")) is None
    assert signing.open_log_checkpoint(signing.generate_private_key().public_key(), note, origin("44")) is None
    assert signing.open_log_checkpoint(key.public_key(), note.replace("\n256\n", "\n255\n"), origin("44")) is None
    with pytest.raises(ValueError):
        signing.checkpoint_text("simreg audit", 1, root)


def test_the_root_log_s_name_is_not_a_shard_setting():
    import pydantic

    from simreg.config import Settings

    assert Settings(audit_shard="44").audit_shard == "44"
    with pytest.raises(pydantic.ValidationError, match="root log"):
        Settings(audit_shard="root")


def test_entries_past_what_the_root_log_recorded_or_a_shard_it_never_mentions_are_inserted():
    a = shard_log(10)
    root = _root_log([("44", 10, root_of(a))])
    # a well-chained entry appended by hand after the sequencer's last batch
    forged = [e for _, e in sequence(a[-1], [pending(99, subject="reg_forged")])]
    rep = verify_shards(root, {"44": [entry_to_row(e) for e in a + forged]})
    assert not rep.ok and rep.shards["44"].kind.value == "inserted"
    assert rep.shards["44"].first_bad_position == 10 and "past the last size" in rep.message
    # a whole shard the root log never heard of
    stray = verify_shards(root, {"44": [entry_to_row(e) for e in a], "99": [entry_to_row(e) for e in shard_log(3)]})
    assert not stray.ok and stray.shards["99"].kind.value == "inserted" and stray.shards["44"].ok
