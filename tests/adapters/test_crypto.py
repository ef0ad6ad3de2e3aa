"""Tests of simreg.adapters.crypto: the keyring, AES-GCM envelopes, blind
indexes, rotation, files and variables, and crypto-shredding of per-subject data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import pickle
import stat

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from simreg.adapters.crypto import (
    DEK_KEY_ID,
    Keyring,
    KeyringError,
    KeyringPort,
    envelope_key_id,
    open_sealed,
    seal,
)

ID_NUMBER = "11010519491231002X"
PHONE = "13812345678"
AAD = b"registration:42:id_number"

# A keyring with known keys, to pin the formats byte for byte.
ENC_KEY = bytes(range(32))
IDX_KEY = bytes(range(32, 64))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fixed_keyring_json() -> str:
    return json.dumps({
        "format": "simreg-keyring/v1",
        "encryption": {"active": "k1", "keys": [{"id": "k1", "key": _b64url(ENC_KEY)}]},
        "index": {"active": "i1", "keys": [{"id": "i1", "key": _b64url(IDX_KEY)}]},
    })


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


def _code(excinfo) -> str:
    return excinfo.value.code


# ----------------------------------------------------------------------------- the API


def test_the_public_api_has_the_agreed_names():
    ring = Keyring.generate()
    for name in ("generate", "load", "save", "from_env", "load_or_create", "blind_index",
                 "blind_indexes", "encrypt", "decrypt", "new_data_key", "unwrap_data_key",
                 "rotate", "key_ids", "fingerprint"):
        assert callable(getattr(ring, name)), name
    assert isinstance(ring.active_encryption_key_id, str)
    assert isinstance(ring.active_index_key_id, str)
    assert isinstance(ring, KeyringPort)


def test_a_generated_keyring_has_one_key_of_each_kind():
    ring = Keyring.generate()
    ids = ring.key_ids()
    assert ids == {"encryption": [ring.active_encryption_key_id], "index": [ring.active_index_key_id]}
    assert ring.active_encryption_key_id.startswith("k")
    assert ring.active_index_key_id.startswith("i")


def test_two_generated_keyrings_share_no_key_ids():
    a, b = Keyring.generate(), Keyring.generate()
    assert not {k for ids in a.key_ids().values() for k in ids} & {k for ids in b.key_ids().values() for k in ids}


# ----------------------------------------------------------------------------- envelopes


def test_encrypt_then_decrypt_returns_the_plaintext(ring):
    envelope = ring.encrypt(ID_NUMBER.encode(), aad=AAD)
    assert ring.decrypt(envelope, aad=AAD) == ID_NUMBER.encode()


def test_empty_and_binary_plaintexts_round_trip(ring):
    for plaintext in (b"", bytes(range(256)), "张三".encode()):
        assert ring.decrypt(ring.encrypt(plaintext, aad=b""), aad=b"") == plaintext


def test_the_envelope_is_compact_text_naming_the_active_key(ring):
    envelope = ring.encrypt(b"x", aad=AAD)
    version, key_id, nonce, body = envelope.split(".")
    assert version == "v1" and key_id == ring.active_encryption_key_id
    assert len(base64.urlsafe_b64decode(nonce + "==")) == 12
    assert len(base64.urlsafe_b64decode(body + "==")) == 1 + 16
    assert "=" not in envelope and envelope.isascii()
    assert envelope_key_id(envelope) == key_id


def test_the_envelope_format_is_pinned_against_plain_aes_gcm():
    ring = Keyring.from_json(fixed_keyring_json())
    envelope = ring.encrypt(b"hello", aad=b"row:1")
    _, _key_id, nonce_text, body_text = envelope.split(".")
    nonce = base64.urlsafe_b64decode(nonce_text + "==")
    body = base64.urlsafe_b64decode(body_text + "=" * (-len(body_text) % 4))
    full_aad = b"simreg-envelope/v1\x00k1\x00row:1"
    assert AESGCM(ENC_KEY).decrypt(nonce, body, full_aad) == b"hello"
    # and an envelope made by another implementation opens here
    other = AESGCM(ENC_KEY).encrypt(b"\x00" * 12, b"from a KMS", full_aad)
    assert ring.decrypt(f"v1.k1.{_b64url(bytes(12))}.{_b64url(other)}", aad=b"row:1") == b"from a KMS"


def test_each_encryption_uses_a_fresh_nonce(ring):
    envelopes = {ring.encrypt(b"same", aad=AAD) for _ in range(50)}
    nonces = {e.split(".")[2] for e in envelopes}
    assert len(envelopes) == len(nonces) == 50


def test_decrypting_with_the_wrong_aad_fails(ring):
    envelope = ring.encrypt(b"secret", aad=b"registration:1:id_number")
    for wrong in (b"registration:2:id_number", b"registration:1:phone", b""):
        with pytest.raises(KeyringError) as excinfo:
            ring.decrypt(envelope, aad=wrong)
        assert _code(excinfo) == "KEYS.DECRYPT_FAILED"


def test_a_tampered_ciphertext_fails_to_decrypt(ring):
    envelope = ring.encrypt(b"secret id number", aad=AAD)
    version, key_id, nonce, body = envelope.split(".")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    for i in (0, len(raw) // 2, len(raw) - 1):          # ciphertext and tag bytes
        flipped = bytearray(raw)
        flipped[i] ^= 0x01
        with pytest.raises(KeyringError) as excinfo:
            ring.decrypt(f"{version}.{key_id}.{nonce}.{_b64url(bytes(flipped))}", aad=AAD)
        assert _code(excinfo) == "KEYS.DECRYPT_FAILED"
    other_nonce = _b64url(bytes(12))
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(f"{version}.{key_id}.{other_nonce}.{body}", aad=AAD)
    assert _code(excinfo) == "KEYS.DECRYPT_FAILED"


def test_a_truncated_ciphertext_fails(ring):
    envelope = ring.encrypt(b"secret", aad=AAD)
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(envelope[:-4], aad=AAD)
    assert _code(excinfo) in ("KEYS.DECRYPT_FAILED", "KEYS.BAD_ENVELOPE")


def test_an_envelope_from_another_keyring_is_an_unknown_key(ring):
    envelope = Keyring.generate().encrypt(b"secret", aad=AAD)
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(envelope, aad=AAD)
    assert _code(excinfo) == "KEYS.UNKNOWN_KEY"


def test_an_envelope_whose_key_id_was_swapped_fails(ring):
    rotated = ring.rotate()
    envelope = rotated.encrypt(b"secret", aad=AAD)
    old_id, new_id = ring.active_encryption_key_id, rotated.active_encryption_key_id
    with pytest.raises(KeyringError) as excinfo:
        rotated.decrypt(envelope.replace(f".{new_id}.", f".{old_id}."), aad=AAD)
    assert _code(excinfo) == "KEYS.DECRYPT_FAILED"


@pytest.mark.parametrize("bad", [
    "", "v1", "v2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA", "v1.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAA",
    "v1.k1.AAAAAAAAAAAAAAAA.AAAA", "v1.k.1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
    "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAA=", "v1.k1.AAAAAAAAAAAAAAA+.AAAAAAAAAAAAAAAAAAAAAA",
    "v1..AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA",
])
def test_malformed_envelopes_are_refused_with_one_code(ring, bad):
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(bad, aad=AAD)
    assert _code(excinfo) == "KEYS.BAD_ENVELOPE"


def test_non_bytes_arguments_are_refused(ring):
    with pytest.raises(KeyringError) as excinfo:
        ring.encrypt("text, not bytes", aad=AAD)  # type: ignore[arg-type]
    assert _code(excinfo) == "KEYS.INVALID_ARGUMENT"
    with pytest.raises(KeyringError) as excinfo:
        ring.encrypt(b"x", aad="row:1")  # type: ignore[arg-type]
    assert _code(excinfo) == "KEYS.INVALID_ARGUMENT"


def test_reencrypt_moves_an_old_envelope_to_the_active_key(ring):
    old = ring.encrypt(b"secret", aad=AAD)
    rotated = ring.rotate()
    new = rotated.reencrypt(old, aad=AAD)
    assert envelope_key_id(new) == rotated.active_encryption_key_id
    assert rotated.decrypt(new, aad=AAD) == b"secret"
    assert rotated.reencrypt(new, aad=AAD) == new          # already current: unchanged
    with pytest.raises(KeyringError):
        rotated.reencrypt(old, aad=b"wrong")


# ----------------------------------------------------------------------------- blind indexes


def test_the_blind_index_is_keyid_colon_hmac_hex(ring):
    index = ring.blind_index(ID_NUMBER, purpose="id_number")
    key_id, digest = index.split(":")
    assert key_id == ring.active_index_key_id
    assert len(digest) == 64 and int(digest, 16) >= 0


def test_the_blind_index_message_is_pinned():
    ring = Keyring.from_json(fixed_keyring_json())
    expected = hmac.new(IDX_KEY, b"simreg-blind-index/v1\x00id_number\x00" + ID_NUMBER.encode(),
                        hashlib.sha256).hexdigest()
    assert ring.blind_index(ID_NUMBER, purpose="id_number") == "i1:" + expected


def test_the_blind_index_is_deterministic_and_differs_by_value(ring):
    a = ring.blind_index(ID_NUMBER, purpose="id_number")
    assert a == ring.blind_index(ID_NUMBER, purpose="id_number")
    assert a != ring.blind_index("110105194912310029", purpose="id_number")


def test_different_purposes_give_different_indexes(ring):
    assert ring.blind_index(PHONE, purpose="phone") != ring.blind_index(PHONE, purpose="id_number")


def test_purpose_and_value_cannot_be_shifted_into_each_other(ring):
    # the NUL separator keeps ("ab", "c") and ("a", "bc") apart
    assert ring.blind_index("c", purpose="ab") != ring.blind_index("bc", purpose="a")


def test_different_keyrings_give_different_indexes(ring):
    assert (ring.blind_index(ID_NUMBER, purpose="id_number").split(":")[1]
            != Keyring.generate().blind_index(ID_NUMBER, purpose="id_number").split(":")[1])


@pytest.mark.parametrize("purpose", ["", "ID", "id number", "id:number", "1d", "x" * 33, "id\x00"])
def test_malformed_purposes_are_refused(ring, purpose):
    with pytest.raises(KeyringError) as excinfo:
        ring.blind_index(ID_NUMBER, purpose=purpose)
    assert _code(excinfo) == "KEYS.INVALID_ARGUMENT"


def test_an_empty_value_has_no_blind_index(ring):
    with pytest.raises(KeyringError) as excinfo:
        ring.blind_index("", purpose="phone")
    assert _code(excinfo) == "KEYS.INVALID_ARGUMENT"


def test_the_blind_index_is_stable_across_save_and_load(ring, tmp_path):
    before = ring.blind_index(ID_NUMBER, purpose="id_number")
    ring.save(tmp_path / "keys.json")
    again = Keyring.load(tmp_path / "keys.json")
    assert again.blind_index(ID_NUMBER, purpose="id_number") == before
    assert again == ring and again.fingerprint() == ring.fingerprint()


# ----------------------------------------------------------------------------- rotation


def test_rotation_makes_new_active_keys_and_keeps_the_old_ones(ring):
    rotated = ring.rotate()
    assert rotated.active_encryption_key_id != ring.active_encryption_key_id
    assert rotated.active_index_key_id != ring.active_index_key_id
    assert rotated.key_ids() == {
        "encryption": [ring.active_encryption_key_id, rotated.active_encryption_key_id],
        "index": [ring.active_index_key_id, rotated.active_index_key_id]}
    assert ring.key_ids()["encryption"] == [ring.active_encryption_key_id]   # unchanged


def test_rotation_keeps_old_ciphertexts_readable(ring):
    old = ring.encrypt(b"before rotation", aad=AAD)
    rotated = ring.rotate().rotate()
    assert rotated.decrypt(old, aad=AAD) == b"before rotation"
    new = rotated.encrypt(b"after", aad=AAD)
    assert envelope_key_id(new) == rotated.active_encryption_key_id
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(new, aad=AAD)                 # the old ring does not know the new key
    assert _code(excinfo) == "KEYS.UNKNOWN_KEY"


def test_rotation_keeps_old_blind_indexes_findable(ring):
    stored = ring.blind_index(ID_NUMBER, purpose="id_number")    # written before rotation
    rotated = ring.rotate()
    fresh = rotated.blind_index(ID_NUMBER, purpose="id_number")
    assert fresh != stored and fresh.startswith(rotated.active_index_key_id + ":")
    lookups = rotated.blind_indexes(ID_NUMBER, purpose="id_number")
    assert lookups == [fresh, stored]                              # active first
    twice = rotated.rotate()
    assert twice.blind_indexes(ID_NUMBER, purpose="id_number")[1:] == [fresh, stored]


def test_rotation_changes_the_fingerprint_but_keeps_old_check_values(ring):
    rotated = ring.rotate()
    assert rotated.fingerprint() != ring.fingerprint()
    rotated.verify_check_values(ring.check_values())          # compatible: same old keys


def test_a_retired_key_no_longer_decrypts(ring):
    old = ring.encrypt(b"x", aad=AAD)
    rotated = ring.rotate()
    retired = rotated.without_key(ring.active_encryption_key_id)
    with pytest.raises(KeyringError) as excinfo:
        retired.decrypt(old, aad=AAD)
    assert _code(excinfo) == "KEYS.UNKNOWN_KEY"
    with pytest.raises(KeyringError) as excinfo:
        retired.without_key(retired.active_index_key_id)
    assert _code(excinfo) == "KEYS.INVALID_OPERATION"


# ----------------------------------------------------------------------------- fingerprint


def test_the_fingerprint_is_stable_and_not_secret(ring, tmp_path):
    fp = ring.fingerprint()
    assert fp.startswith("kc1:") and len(fp) == 4 + 16
    ring.save(tmp_path / "k.json")
    assert Keyring.load(tmp_path / "k.json").fingerprint() == fp
    assert Keyring.generate().fingerprint() != fp
    secrets = json.loads(ring.to_json())
    for section in ("encryption", "index"):
        for key in secrets[section]["keys"]:
            assert key["key"] not in fp


def test_check_values_detect_a_different_key_under_the_same_id():
    stored = Keyring.from_json(fixed_keyring_json()).check_values()
    doc = json.loads(fixed_keyring_json())
    doc["index"]["keys"][0]["key"] = _b64url(bytes(32))
    impostor = Keyring.from_json(json.dumps(doc))
    with pytest.raises(KeyringError) as excinfo:
        impostor.verify_check_values(stored)
    assert _code(excinfo) == "KEYS.MISMATCH"
    with pytest.raises(KeyringError) as excinfo:
        Keyring.generate().verify_check_values(stored)
    assert _code(excinfo) == "KEYS.UNKNOWN_KEY"


# ----------------------------------------------------------------------------- files


def test_save_writes_mode_0600_and_leaves_no_temp_file(ring, tmp_path):
    path = tmp_path / "secrets" / "keyring.json"
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]


def test_save_replaces_an_existing_file_atomically(ring, tmp_path):
    path = tmp_path / "keyring.json"
    ring.save(path)
    rotated = ring.rotate()
    rotated.save(path)
    assert Keyring.load(path) == rotated
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_save_keeps_mode_0600_under_a_permissive_umask(ring, tmp_path):
    old = os.umask(0)
    try:
        ring.save(tmp_path / "k.json")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.json").stat().st_mode) == 0o600


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_group_or_world_readable_file_is_refused(ring, tmp_path, mode):
    path = tmp_path / "k.json"
    ring.save(path)
    path.chmod(mode)
    with pytest.raises(KeyringError) as excinfo:
        Keyring.load(path)
    assert _code(excinfo) == "KEYS.PERMISSIONS"
    assert "chmod 600" in excinfo.value.message


def test_a_readable_file_can_be_allowed_with_a_warning(ring, tmp_path, caplog):
    path = tmp_path / "k.json"
    ring.save(path)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="simreg.adapters.crypto"):
        assert Keyring.load(path, allow_insecure_permissions=True) == ring
    assert "readable by group or others" in caplog.text


def test_a_group_writable_file_is_always_refused(ring, tmp_path):
    path = tmp_path / "k.json"
    ring.save(path)
    path.chmod(0o620)
    with pytest.raises(KeyringError) as excinfo:
        Keyring.load(path, allow_insecure_permissions=True)
    assert _code(excinfo) == "KEYS.PERMISSIONS"


def test_a_missing_file_is_keys_missing(tmp_path):
    with pytest.raises(KeyringError) as excinfo:
        Keyring.load(tmp_path / "absent.json")
    assert _code(excinfo) == "KEYS.MISSING"


@pytest.mark.parametrize("content", [
    b"", b"not json", b"[]", b"{}", b'{"format": "other", "encryption": {}, "index": {}}',
    b"\xff\xfe",
])
def test_an_unreadable_file_is_keys_unreadable(tmp_path, content):
    path = tmp_path / "k.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyringError) as excinfo:
        Keyring.load(path)
    assert _code(excinfo) == "KEYS.UNREADABLE"
    assert str(path) in excinfo.value.message


def _doc_with(mutate) -> str:
    doc = json.loads(fixed_keyring_json())
    mutate(doc)
    return json.dumps(doc)


@pytest.mark.parametrize("mutate", [
    lambda d: d["encryption"].update(active="k9"),                      # active not held
    lambda d: d["index"]["keys"].clear(),                               # no index key
    lambda d: d["index"]["keys"][0].update(id="k1"),                     # id used by both kinds
    lambda d: d["encryption"]["keys"][0].update(id="dek"),               # reserved id
    lambda d: d["encryption"]["keys"][0].update(id="k.1"),               # id breaks the envelope
    lambda d: d["encryption"]["keys"][0].update(key=_b64url(bytes(16))),  # AES-128 is not ours
    lambda d: d["encryption"]["keys"][0].update(key="not base64!"),
    lambda d: d.update(extra=1),
    lambda d: d["index"]["keys"].append(dict(d["index"]["keys"][0])),   # duplicate id
])
def test_an_invalid_keyring_document_is_refused(mutate):
    with pytest.raises(KeyringError) as excinfo:
        Keyring.from_json(_doc_with(mutate))
    assert _code(excinfo) == "KEYS.UNREADABLE"


def test_load_or_create_creates_once_then_loads(tmp_path):
    path = tmp_path / "dev" / "keyring.json"
    first = Keyring.load_or_create(path)
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600
    second = Keyring.load_or_create(path)
    assert second == first
    envelope = first.encrypt(b"x", aad=AAD)
    assert second.decrypt(envelope, aad=AAD) == b"x"


def test_load_or_create_does_not_overwrite_a_keyring_created_meanwhile(tmp_path, monkeypatch):
    path = tmp_path / "keyring.json"
    winner = Keyring.generate()
    real_load = Keyring.load.__func__
    calls = []

    def racing_load(cls, p, **kw):
        calls.append(p)
        if len(calls) == 1:        # absent on the first look; another process writes it now
            winner.save(path)
            raise KeyringError(KeyringError.MISSING, "absent")
        return real_load(cls, p, **kw)

    monkeypatch.setattr(Keyring, "load", classmethod(racing_load))
    assert Keyring.load_or_create(path) == winner
    monkeypatch.undo()
    assert Keyring.load(path) == winner
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"]


def test_load_or_create_refuses_to_replace_a_broken_file(tmp_path):
    path = tmp_path / "keyring.json"
    path.write_text("garbage")
    path.chmod(0o600)
    with pytest.raises(KeyringError) as excinfo:
        Keyring.load_or_create(path)
    assert _code(excinfo) == "KEYS.UNREADABLE"
    assert path.read_text() == "garbage"


# ----------------------------------------------------------------------------- environment


def test_from_env_accepts_json(ring):
    assert Keyring.from_env(ring.to_json()) == ring


def test_from_env_accepts_base64_of_the_json(ring):
    text = ring.to_json().encode()
    assert Keyring.from_env(ring.to_env()) == ring
    assert Keyring.from_env(base64.b64encode(text).decode()) == ring
    assert Keyring.from_env(base64.urlsafe_b64encode(text).decode().rstrip("=")) == ring
    assert Keyring.from_env("  " + base64.b64encode(text).decode() + "\n") == ring


def test_from_env_reads_a_real_environment_variable(ring, monkeypatch):
    monkeypatch.setenv("SIMREG_TEST_KEYRING", ring.to_env())
    loaded = Keyring.from_env(os.environ["SIMREG_TEST_KEYRING"])
    assert loaded.blind_index(PHONE, purpose="phone") == ring.blind_index(PHONE, purpose="phone")


@pytest.mark.parametrize("value,code", [
    (None, "KEYS.MISSING"), ("", "KEYS.MISSING"), ("   ", "KEYS.MISSING"),
    ("not base64 at all!", "KEYS.UNREADABLE"), ("e30", "KEYS.UNREADABLE"),   # base64 of "{}"
    ("{broken", "KEYS.UNREADABLE"), (base64.b64encode(b"\xff\xfe").decode(), "KEYS.UNREADABLE"),
])
def test_from_env_refuses_bad_values(value, code):
    with pytest.raises(KeyringError) as excinfo:
        Keyring.from_env(value)
    assert _code(excinfo) == code


# ----------------------------------------------------------------------------- no secrets shown


def _all_secret_forms(ring: Keyring) -> list[str]:
    doc = json.loads(ring.to_json())
    forms = []
    for section in ("encryption", "index"):
        for key in doc[section]["keys"]:
            raw = base64.urlsafe_b64decode(key["key"] + "=")
            forms += [key["key"], raw.hex(), base64.b64encode(raw).decode(), repr(raw)]
    return forms


def test_the_repr_shows_key_ids_but_no_key_bytes(ring):
    rotated = ring.rotate()
    for text in (repr(rotated), str(rotated), f"{rotated}"):
        assert rotated.active_encryption_key_id in text
        for secret in _all_secret_forms(rotated):
            assert secret not in text


def test_error_messages_never_hold_keys_or_plaintext(ring, tmp_path):
    envelope = ring.encrypt(ID_NUMBER.encode(), aad=AAD)
    messages = []
    for action in (lambda: ring.decrypt(envelope, aad=b"wrong"),
                   lambda: ring.decrypt(envelope[:-3] + "AAA", aad=AAD),
                   lambda: Keyring.generate().decrypt(envelope, aad=AAD),
                   lambda: Keyring.from_env(ring.to_json()[:-5]),
                   lambda: Keyring.from_env(ring.to_env()[:-7]),
                   lambda: open_sealed(bytes(32), envelope, AAD)):
        with pytest.raises(KeyringError) as excinfo:
            action()
        messages += [str(excinfo.value), repr(excinfo.value), excinfo.value.message]
    for text in messages:
        assert ID_NUMBER not in text
        assert envelope.split(".")[3] not in text
        for secret in _all_secret_forms(ring):
            assert secret not in text


def test_errors_hide_their_cause_and_survive_pickling(ring):
    with pytest.raises(KeyringError) as excinfo:
        ring.decrypt(ring.encrypt(b"x", aad=b"a"), aad=b"b")
    assert excinfo.value.__cause__ is None and excinfo.value.__suppress_context__
    copy = pickle.loads(pickle.dumps(excinfo.value))
    assert (copy.code, copy.message) == (excinfo.value.code, excinfo.value.message)


def test_a_keyring_refuses_to_be_pickled(ring):
    with pytest.raises(TypeError):
        pickle.dumps(ring)


# ----------------------------------------------------------------------------- data keys and shredding


def test_a_new_data_key_is_32_random_bytes_wrapped_under_the_active_key(ring):
    dek, wrapped = ring.new_data_key()
    assert len(dek) == 32
    assert envelope_key_id(wrapped) == ring.active_encryption_key_id
    assert ring.unwrap_data_key(wrapped) == dek
    assert ring.decrypt(wrapped, aad=b"dek") == dek      # wrapped with aad b"dek"
    assert ring.new_data_key()[0] != dek


def test_seal_and_open_round_trip_under_a_data_key(ring):
    dek, _ = ring.new_data_key()
    template = bytes(range(256)) * 2
    sealed = seal(dek, template, b"subject:7:template")
    assert sealed.split(".")[:2] == ["v1", DEK_KEY_ID]
    assert open_sealed(dek, sealed, b"subject:7:template") == template


def test_sealed_data_needs_the_right_data_key_and_aad(ring):
    dek, _ = ring.new_data_key()
    other, _ = ring.new_data_key()
    sealed = seal(dek, b"template", b"subject:7:template")
    for key, aad in ((other, b"subject:7:template"), (dek, b"subject:8:template")):
        with pytest.raises(KeyringError) as excinfo:
            open_sealed(key, sealed, aad)
        assert _code(excinfo) == "KEYS.DECRYPT_FAILED"


def test_a_wrapped_data_key_survives_rotation(ring):
    dek, wrapped = ring.new_data_key()
    sealed = seal(dek, b"template", b"t")
    rotated = ring.rotate()
    assert open_sealed(rotated.unwrap_data_key(wrapped), sealed, b"t") == b"template"
    rewrapped = rotated.reencrypt(wrapped, aad=b"dek")
    assert rotated.unwrap_data_key(rewrapped) == dek


def test_a_wrapped_data_key_cannot_be_unwrapped_as_ordinary_ciphertext_or_vice_versa(ring):
    ordinary = ring.encrypt(bytes(32), aad=b"row:1")
    with pytest.raises(KeyringError) as excinfo:
        ring.unwrap_data_key(ordinary)
    assert _code(excinfo) == "KEYS.DECRYPT_FAILED"
    short = ring.encrypt(b"short", aad=b"dek")
    with pytest.raises(KeyringError) as excinfo:
        ring.unwrap_data_key(short)
    assert _code(excinfo) == "KEYS.DECRYPT_FAILED"


def test_seal_refuses_a_key_of_the_wrong_size():
    with pytest.raises(KeyringError) as excinfo:
        seal(bytes(16), b"x", b"")
    assert _code(excinfo) == "KEYS.INVALID_ARGUMENT"


def test_open_sealed_refuses_a_keyring_envelope(ring):
    with pytest.raises(KeyringError) as excinfo:
        open_sealed(bytes(32), ring.encrypt(b"x", aad=b""), b"")
    assert _code(excinfo) == "KEYS.BAD_ENVELOPE"


def test_deleting_the_wrapped_data_key_crypto_shreds_the_sealed_data(ring):
    # A subject's template sealed under their own data key; only the wrapped key is stored.
    template = os.urandom(512)
    aad = b"subject:42:template"
    dek, wrapped = ring.new_data_key()
    row = {"wrapped_dek": wrapped, "template": seal(dek, template, aad)}
    del dek
    assert open_sealed(ring.unwrap_data_key(row["wrapped_dek"]), row["template"], aad) == template

    row["wrapped_dek"] = None          # "delete the key": the shred
    rotated = ring.rotate()            # even a later keyring with every old key...
    with pytest.raises(KeyringError) as excinfo:
        rotated.decrypt(row["template"], aad=aad)
    assert _code(excinfo) == "KEYS.UNKNOWN_KEY"
    # ...and every key it holds, tried directly as the data key, fails.
    doc = json.loads(rotated.to_json())
    keys = [base64.urlsafe_b64decode(k["key"] + "=")
            for section in ("encryption", "index") for k in doc[section]["keys"]]
    assert len(keys) == 4
    for key in keys:
        with pytest.raises(KeyringError) as excinfo:
            open_sealed(key, row["template"], aad)
        assert _code(excinfo) == "KEYS.DECRYPT_FAILED"
    # The sealed bytes themselves are not the template in any plain form.
    assert template not in base64.urlsafe_b64decode(row["template"].split(".")[3] + "==")
