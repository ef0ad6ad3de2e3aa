"""Tests of simreg.adapters.signing: Ed25519 checkpoints, keys, JSON, and a
checkpoint guarding a real log end to end."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simreg.adapters.signing import (
    Checkpoint,
    checkpoint_message,
    generate_private_key,
    key_id,
    load_private_key,
    load_public_key,
    private_key_to_pem,
    public_key_to_pem,
    public_key_to_raw,
    sign_checkpoint,
    verify_checkpoint,
)
from simreg.domain.audit import Tampering, entry_to_row, new_entry, verify_against_checkpoint, verify_chain

# RFC 8032 §7.1, TEST 1.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")

ROOT = "0be515d06003784049cfeb4931731e1257824d13e50443b8fd0230a03f25e403"
# Signed once with the RFC 8032 key by the v1 code.  Ed25519 is deterministic,
# so a change of the signed message format (which would orphan every
# checkpoint ever issued) fails here.
GOLDEN = Checkpoint(50, ROOT, "2026-03-01T12:00:00Z", "21fe31dfa154a261",
                    "Qaj37dT34l9wzh5C9lRyvX4oOExLetQSUtYPm6EsIKyZ"
                    "kdrDRyigPMtiZ+m3FSSBHwM+f0YR2gqw4XG5/Zg9DQ==")


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return generate_private_key()


@pytest.fixture(scope="module")
def checkpoint(key) -> Checkpoint:
    return sign_checkpoint(key, 50, ROOT, "2026-03-01T12:00:00Z", key_id(key))


def test_the_rfc_8032_seed_gives_the_rfc_8032_public_key():
    assert public_key_to_raw(load_private_key(RFC8032_SEED)) == RFC8032_PUBLIC


def test_key_id_is_the_first_16_hex_digits_of_sha256_of_the_raw_public_key(key):
    want = hashlib.sha256(RFC8032_PUBLIC).hexdigest()[:16]
    assert key_id(load_private_key(RFC8032_SEED)) == key_id(RFC8032_PUBLIC) == want == GOLDEN.key_id
    assert key_id(key) == key_id(public_key_to_pem(key)) == key_id(key.public_key())


def test_the_signed_message_is_the_documented_one():
    assert checkpoint_message(50, ROOT, "2026-03-01T12:00:00Z", "21fe31dfa154a261") == (
        b"simreg-checkpoint/v1\n50\n" + ROOT.encode() + b"\n2026-03-01T12:00:00Z\n21fe31dfa154a261")


def test_a_checkpoint_signed_by_the_v1_format_still_verifies_and_is_reproduced():
    assert verify_checkpoint(RFC8032_PUBLIC, GOLDEN)
    assert sign_checkpoint(load_private_key(RFC8032_SEED), 50, ROOT, "2026-03-01T12:00:00Z") == GOLDEN


def test_a_signed_checkpoint_verifies_with_its_public_key_in_every_form(key, checkpoint):
    pem = public_key_to_pem(key)
    for public in (key.public_key(), pem, pem.decode("ascii"), public_key_to_raw(key)):
        assert verify_checkpoint(public, checkpoint)


@pytest.mark.parametrize("change", [
    {"size": 49},
    {"size": 51},
    {"root_hash": "1" + ROOT[1:]},
    {"timestamp": "2026-03-01T12:00:01Z"},
    {"key_id": "0" * 16},
])
def test_a_checkpoint_with_a_modified_field_fails(key, checkpoint, change):
    assert not verify_checkpoint(key.public_key(), dataclasses.replace(checkpoint, **change))


def test_a_checkpoint_with_a_flipped_signature_bit_fails(key, checkpoint):
    raw = base64.b64decode(checkpoint.signature)
    for i in (0, 31, 63):
        flipped = raw[:i] + bytes([raw[i] ^ 1]) + raw[i + 1:]
        forged = dataclasses.replace(checkpoint, signature=base64.b64encode(flipped).decode())
        assert not verify_checkpoint(key.public_key(), forged)


def test_another_keys_signature_fails_even_when_relabelled(key, checkpoint):
    other = generate_private_key()
    assert not verify_checkpoint(other.public_key(), checkpoint)
    relabelled = dataclasses.replace(checkpoint, key_id=key_id(other))
    assert not verify_checkpoint(other.public_key(), relabelled)
    by_other = sign_checkpoint(other, 50, ROOT, "2026-03-01T12:00:00Z")
    assert not verify_checkpoint(key.public_key(), by_other)


@pytest.mark.parametrize("signature", ["not base64!", "", base64.b64encode(b"x" * 63).decode(),
                                       base64.b64encode(bytes(64)).decode()])
def test_malformed_signatures_fail_without_raising(key, checkpoint, signature):
    assert not verify_checkpoint(key.public_key(), dataclasses.replace(checkpoint, signature=signature))


@pytest.mark.parametrize("change", [{"root_hash": ROOT.upper()}, {"size": -1}, {"size": True},
                                   {"timestamp": "2026-03-01T20:00:00+08:00"}, {"timestamp": 5}])
def test_malformed_checkpoints_fail_without_raising(key, checkpoint, change):
    assert not verify_checkpoint(key.public_key(), dataclasses.replace(checkpoint, **change))


@pytest.mark.parametrize("public", [
    b"short", "not a key", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"])
def test_an_unusable_public_key_is_a_configuration_error(checkpoint, public):
    with pytest.raises(ValueError):
        verify_checkpoint(public, checkpoint)


def test_checkpoint_round_trips_through_json(key, checkpoint):
    text = checkpoint.to_json()
    assert '"format":"simreg-checkpoint/v1"' in text
    parsed = Checkpoint.from_json(text)
    assert parsed == checkpoint and verify_checkpoint(key.public_key(), parsed)


@pytest.mark.parametrize("text", [
    "not json",
    "[]",
    '{"format":"simreg-checkpoint/v2","key_id":"21fe31dfa154a261","root_hash":"' + ROOT
    + '","signature":"","size":1,"timestamp":"2026-03-01T12:00:00Z"}',
    GOLDEN.to_json().replace('"size":50', '"size":"50"'),
    GOLDEN.to_json().replace('"size":50', '"size":50,"extra":1'),
    GOLDEN.to_json().replace(ROOT, ROOT[:-1]),
])
def test_checkpoint_json_that_is_not_a_v1_checkpoint_is_refused(text):
    with pytest.raises(ValueError):
        Checkpoint.from_json(text)


def test_sign_checkpoint_takes_raw_roots_and_datetimes(key):
    cp = sign_checkpoint(key, 3, bytes.fromhex(ROOT), datetime(2026, 3, 1, 12, tzinfo=UTC))
    assert cp.root_hash == ROOT and cp.timestamp == "2026-03-01T12:00:00.000000Z"
    assert verify_checkpoint(key.public_key(), cp)


@pytest.mark.parametrize("args", [
    (50, ROOT, "2026-03-01T12:00:00Z", "0" * 16),     # not this key's id
    (50, "abc", "2026-03-01T12:00:00Z", None),
    (-1, ROOT, "2026-03-01T12:00:00Z", None),
    (50, ROOT, "2026-03-01T12:00:00", None),            # no zone
])
def test_sign_checkpoint_refuses_bad_input(key, args):
    with pytest.raises(ValueError):
        sign_checkpoint(key, *args)


def test_private_keys_round_trip_through_pem_with_and_without_a_password(key):
    plain = private_key_to_pem(key)
    assert b"BEGIN PRIVATE KEY" in plain
    assert key_id(load_private_key(plain)) == key_id(key)
    locked = private_key_to_pem(key, password=b"correct horse")
    assert b"ENCRYPTED" in locked
    assert key_id(load_private_key(locked, password=b"correct horse")) == key_id(key)
    with pytest.raises((ValueError, TypeError)):
        load_private_key(locked, password=b"wrong")


def test_load_public_key_accepts_pem_and_raw_and_nothing_else(key):
    raw = public_key_to_raw(key)
    assert public_key_to_raw(load_public_key(raw)) == raw
    assert public_key_to_raw(load_public_key(public_key_to_pem(key))) == raw
    with pytest.raises(ValueError):
        load_public_key(raw[:31])


def test_a_signed_checkpoint_guards_a_log_end_to_end(key):
    entries, prev = [], None
    for i in range(20):
        prev = new_entry(prev, timestamp=f"2026-03-01T08:00:{i:02d}Z", actor="clerk-7",
                         action="registration.decided", subject=f"reg-{i}",
                         details={"outcome": "accept"}, model_ids=("m",), policy_sha256="a" * 64)
        entries.append(prev)
    report = verify_chain(entries)
    published = sign_checkpoint(key, report.size, report.root_hash, "2026-03-01T09:00:00Z").to_json()

    # The regulator, offline: the published checkpoint, the public key, the rows.
    cp = Checkpoint.from_json(published)
    assert verify_checkpoint(public_key_to_pem(key), cp)
    rows = [entry_to_row(e) for e in entries]
    assert verify_against_checkpoint(rows, cp).ok

    # History rewritten from entry 3 on, every hash recomputed: the chain holds, the checkpoint does not.
    forged, prev = entries[:3], entries[2]
    for i in range(3, 20):
        prev = new_entry(prev, timestamp=f"2026-03-01T08:00:{i:02d}Z", actor="clerk-7",
                         action="registration.decided", subject=f"reg-{i}",
                         details={"outcome": "reject" if i == 3 else "accept"}, model_ids=("m",),
                         policy_sha256="a" * 64)
        forged.append(prev)
    assert verify_chain(forged).ok
    report = verify_against_checkpoint([entry_to_row(e) for e in forged], cp)
    assert not report.ok and report.kind is Tampering.REWRITTEN

    # And the attacker cannot re-sign without the key.
    resigned = dataclasses.replace(cp, root_hash=verify_chain(forged).root_hash)
    assert not verify_checkpoint(public_key_to_pem(key), resigned)
