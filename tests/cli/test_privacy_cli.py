"""Receipts with inclusion proofs, key rotation, retention and crypto-shredding,
through the commands an operator, a regulator or a customer runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update

from service_support import CONSENT, RESIDENT_ID, make_service
from simreg.adapters import signing
from simreg.adapters.crypto import Keyring, KeyringError, open_sealed
from simreg.adapters.sql.registry import ConsentData, PersonData, Registry, Stamp
from simreg.adapters.sql.retention import RetentionRules, run_retention
from simreg.adapters.sql.schema import (
    attempts,
    audit_entries,
    consents,
    idempotency_keys,
    numbers,
    persons,
    registrations,
    templates,
)
from simreg.cli import main
from simreg.domain.access import Role
from simreg.domain.reasons import Outcome
from simreg.domain.records import DecisionRecord

STAMP = Stamp(("dlib-resnet-v1",), "0" * 64)


def _alternative(svc, key, number=RESIDENT_ID):
    r = svc.client.post("/v1/registrations/alternative", headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": key},
                        json={"id_type": "cn_resident", "id_number": number, "name": "王芳", "id_expiry": "long_term",
                              "consent": json.loads(CONSENT), "statement": "customer declines face recognition"})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture()
def signed(runtime, tmp_path, monkeypatch, database_url):
    """A service whose receipts are signed, and the CLI pointed at the same database and keys."""
    key = signing.generate_private_key()
    key_file = tmp_path / "audit.pem"
    key_file.write_bytes(signing.private_key_to_pem(key))
    pub_file = tmp_path / "audit.pub.pem"
    pub_file.write_bytes(signing.public_key_to_pem(key))
    url = database_url
    svc = make_service(runtime, url, signing_key=key)
    keyring_file = tmp_path / "keyring.json"
    svc.rt.keyring.save(keyring_file)
    monkeypatch.setenv("SIMREG_DATABASE_URL", url)
    monkeypatch.setenv("SIMREG_KEYRING_FILE", str(keyring_file))
    svc.add_numbers(["+8613800138000", "+8613800138001", "+8613800138002"])
    with svc.client:
        yield svc, pub_file, tmp_path
    svc.close()


def _run(capsys, *argv) -> tuple[int, dict | None]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, (json.loads(out[-1]) if out else None)


def test_a_receipt_with_its_inclusion_proof_verifies_and_forgeries_fail(signed, capsys):
    svc, pub, tmp = signed
    first = _alternative(svc, "r-1")
    _alternative(svc, "r-2")  # the log grows after the receipt was issued
    receipt = first["receipt"]
    assert receipt["checkpoint"]["size"] == receipt["tree_size"] == receipt["audit_position"] + 1
    (tmp / "receipt.json").write_text(json.dumps(first))
    code, proof = _run(capsys, "audit", "prove", str(receipt["audit_position"]), "--size", str(receipt["tree_size"]))
    assert code == 0 and proof["leaf_hash"] == receipt["leaf_hash"]
    (tmp / "proof.json").write_text(json.dumps(proof))
    code, out = _run(capsys, "audit", "verify-receipt", str(tmp / "receipt.json"), str(tmp / "proof.json"),
                     "--public-key", str(pub))
    assert code == 0 and out["ok"], out

    def verify(receipt_doc, proof_doc, key=pub):
        (tmp / "r.json").write_text(json.dumps(receipt_doc))
        (tmp / "p.json").write_text(json.dumps(proof_doc))
        return _run(capsys, "audit", "verify-receipt", str(tmp / "r.json"), str(tmp / "p.json"), "--public-key",
                    str(key))

    if proof["proof"]:
        bad = dict(proof, proof=["00" * 32, *proof["proof"][1:]])
        assert verify(first, bad)[0] == 3
    forged_entry = json.loads(json.dumps(first))
    forged_entry["receipt"]["entry_hash"] = "11" * 32
    assert verify(forged_entry, proof)[0] == 3
    other = signing.generate_private_key()
    other_pub = tmp / "other.pem"
    other_pub.write_bytes(signing.public_key_to_pem(other))
    assert verify(first, proof, other_pub)[0] == 3
    forged_root = json.loads(json.dumps(first))
    forged_root["receipt"]["checkpoint"]["root_hash"] = "22" * 32
    assert verify(forged_root, proof)[0] == 3
    # the operator edits the entry afterwards: no proof is given from a broken log ...
    with svc.rt.database.begin() as c:
        c.execute(update(audit_entries).where(audit_entries.c.position == receipt["audit_position"])
                  .values(details=text("replace(details, 'approved', 'rejected')")))
    assert main(["audit", "prove", str(receipt["audit_position"])]) == 2
    err = capsys.readouterr().err
    assert "AUDIT.BROKEN" in err and "the log is broken at position" in err
    # ... and a history rewritten with every hash recomputed does not fit the receipt
    from simreg.adapters.sql.audit_store import read_rows
    from simreg.domain.audit import entry_from_row, entry_to_row, new_entry

    rows = [entry_from_row(r) for r in read_rows(svc.rt.database)]
    prev, forged = None, []
    for e in rows:
        prev = new_entry(prev, timestamp=e.timestamp, actor=e.actor, action=e.action, subject=e.subject,
                         details=e.details, model_ids=e.model_ids, policy_sha256=e.policy_sha256)
        forged.append(prev)
    with svc.rt.database.begin() as c:
        c.execute(audit_entries.delete())
        for e in forged:
            c.execute(audit_entries.insert().values(**entry_to_row(e)))
    code, rewritten_proof = _run(capsys, "audit", "prove", str(receipt["audit_position"]), "--size",
                                 str(receipt["tree_size"]))
    assert code == 0
    assert verify(first, rewritten_proof)[0] == 3


def test_keys_rotate_re_encrypts_everything_and_old_lookups_still_resolve(signed, capsys):
    svc, _, tmp = signed
    _alternative(svc, "k-1")
    with svc.rt.database.connect() as c:
        before = c.execute(select(persons.c.id_index, persons.c.id_ciphertext)).one()
        number_before = c.execute(select(numbers.c.number_ciphertext)).scalars().first()
    old_ring = svc.rt.keyring
    code, out = _run(capsys, "keys", "rotate")
    assert code == 0, out
    new_ring = Keyring.load(tmp / "keyring.json")
    assert new_ring.active_encryption_key_id == out["encryption_key"] != old_ring.active_encryption_key_id
    with svc.rt.database.connect() as c:
        after = c.execute(select(persons.c.id_index, persons.c.id_ciphertext)).one()
        number_after = c.execute(select(numbers.c.number_ciphertext)).scalars().first()
        actions = list(c.execute(select(audit_entries.c.action)).scalars())
    assert after.id_index != before.id_index and after.id_ciphertext != before.id_ciphertext
    assert after.id_index.startswith(new_ring.active_index_key_id + ":")
    assert number_after.split(".")[1] == new_ring.active_encryption_key_id != number_before.split(".")[1]
    assert actions[-1] == "keys.rotated"
    # the new keyring finds the person by the new index and by the old one; the old server's keyring too
    holder = "cn_resident_id|" + RESIDENT_ID
    assert Registry(svc.rt.database, new_ring).held_numbers(holder) == 1
    assert Registry(svc.rt.database, old_ring).held_numbers(holder) == 1
    # and the service keeps working under the new keyring
    svc.rt.keyring = new_ring
    assert _alternative(svc, "k-2")["outcome"] == "approved"
    assert Registry(svc.rt.database, new_ring).held_numbers(holder) == 2


def test_a_keyring_the_database_was_not_written_with_is_refused(signed, capsys, monkeypatch, tmp_path):
    Keyring.generate().save(tmp_path / "stranger.json")
    monkeypatch.setenv("SIMREG_KEYRING_FILE", str(tmp_path / "stranger.json"))
    code = main(["retention", "run"])
    assert code == 2
    assert "KEYS.MISMATCH" in capsys.readouterr().err


def _registry_with_person(svc, templates_on=True):
    reg = svc.rt.registry
    clerk = svc.access.clerk_for_token(svc.tokens[Role.CLERK])
    now = datetime.now(UTC)
    rec = reg.record_decision(DecisionRecord(
        now=now, clerk=clerk, path="face", session_id=None, session_checked_at=None,
        person=PersonData("cn_resident_id|" + RESIDENT_ID, "cn_resident_id", "CN", "王芳"),
        outcome=Outcome.APPROVED, reasons=(), scores={}, phone=None, quota_limit=5,
        consent=ConsentData("p", "v3", now, 30), stamp=STAMP, idempotency_key=None,
        templates={"dlib-resnet-v1": bytes(range(256)) * 2} if templates_on else None, template_days=10))
    return reg, rec


def test_deleting_the_persons_data_key_crypto_shreds_their_templates(signed):
    svc, _, _ = signed
    reg, _rec = _registry_with_person(svc)
    with svc.rt.database.connect() as c:
        pid = c.execute(select(persons.c.person_id)).scalar_one()
        backup = c.execute(select(templates)).mappings().one()  # as a backup would keep it
    assert reg.open_templates(pid)["dlib-resnet-v1"] == bytes(range(256)) * 2
    with svc.rt.database.begin() as c:
        assert reg.shred_person_biometrics(c, pid) == 1
    assert reg.open_templates(pid) == {}
    with svc.rt.database.connect() as c:
        assert c.execute(select(persons.c.data_key_wrapped).where(persons.c.person_id == pid)).scalar_one() is None
    # the backup's sealed bytes open under no key the keyring holds, nor by unwrapping anything left
    aad = f"{pid}|{backup['template_id']}|dlib-resnet-v1".encode()
    for kid in reg.keyring.key_ids()["encryption"]:
        with pytest.raises(KeyringError):
            reg.keyring.decrypt(backup["sealed"].replace(".dek.", f".{kid}.", 1), aad=aad)
    with pytest.raises(KeyringError):
        open_sealed(bytes(32), backup["sealed"], aad)


def test_retention_deletes_what_is_past_its_time_and_is_safe_to_run_twice(signed, capsys):
    svc, _, _ = signed
    reg, rec = _registry_with_person(svc)
    # the number is released: the registration may go once its consent's 30 days are over
    from simreg.domain.numbers import NumberState
    reg.set_number_state(rec.phone_number, NumberState.RELEASED,
                         "supervisor", "customer cancelled", STAMP, datetime.now(UTC))
    with svc.rt.database.begin() as c:
        c.execute(update(idempotency_keys).values(created_at=datetime.now(UTC) - timedelta(days=5)))
    now = datetime.now(UTC)
    assert run_retention(reg, RetentionRules(), now, "job", STAMP)["registrations"] == 0  # not yet
    later = now + timedelta(days=31)
    counts = run_retention(reg, RetentionRules(), later, "job", STAMP)
    assert counts["templates"] == 1 and counts["data_keys_shredded"] == 1
    assert counts["registrations"] == 1 and counts["consents"] == 1 and counts["persons"] == 1
    with svc.rt.database.connect() as c:
        for table in (persons, registrations, consents, templates):
            assert c.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.name
    again = run_retention(reg, RetentionRules(), later, "job", STAMP)
    assert all(v == 0 for v in again.values()), again
    with svc.rt.database.connect() as c:
        runs = [json.loads(d) for a, d in c.execute(select(audit_entries.c.action, audit_entries.c.details))
                if a == "retention.run"]
    assert len(runs) == 3 and runs[1]["registrations"] == 1 and runs[2]["registrations"] == 0


def test_retention_keeps_a_registration_while_its_number_is_held(signed):
    svc, _, _ = signed
    reg, _ = _registry_with_person(svc, templates_on=False)
    counts = run_retention(reg, RetentionRules(), datetime.now(UTC) + timedelta(days=400), "job", STAMP)
    assert counts["registrations"] == 0 and counts["persons"] == 0


def test_retention_run_command_audits_what_it_did(signed, capsys):
    code, counts = _run(capsys, "retention", "run")
    assert code == 0 and set(counts) >= {"templates", "registrations", "attempts", "sessions"}
    svc = signed[0]
    with svc.rt.database.connect() as c:
        assert c.execute(select(audit_entries.c.action).order_by(audit_entries.c.position.desc())).scalars().first() \
            == "retention.run"
        assert c.execute(select(func.count()).select_from(attempts)).scalar_one() == 0


def test_maintenance_commands_refuse_bad_input_with_a_code_and_change_nothing(signed, capsys, monkeypatch, tmp_path):
    svc, pub, tmp = signed
    first = _alternative(svc, "c-1")
    ring_file = tmp / "keyring.json"
    before = ring_file.read_bytes()
    assert main(["keys", "rotate", "--out", "/dev/null/new-keyring.json"]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert ring_file.read_bytes() == before  # the keyring was not replaced by a rotation that did not happen
    # a receipt or a checkpoint that is not what it should be: a code, not a traceback
    (tmp / "list.json").write_text("[]")
    (tmp / "proof.json").write_text("{}")
    assert main(["audit", "verify-receipt", str(tmp / "list.json"), str(tmp / "proof.json"), "--public-key",
                 str(pub)]) == 2
    r = first["receipt"]
    _, proof = _run(capsys, "audit", "prove", str(r["audit_position"]), "--size", str(r["tree_size"]))
    (tmp / "proof.json").write_text(json.dumps(proof))
    bad_cp = json.loads(json.dumps(first))
    bad_cp["receipt"]["checkpoint"]["signature"] = "not base64!"
    (tmp / "bad.json").write_text(json.dumps(bad_cp))
    code, out = _run(capsys, "audit", "verify-receipt", str(tmp / "bad.json"), str(tmp / "proof.json"),
                     "--public-key", str(pub))
    assert code == 3 and "signature" in out["problem"]
    # maintenance never creates a keyring the database was not written with
    monkeypatch.setenv("SIMREG_KEYRING_FILE", str(tmp_path / "nowhere" / "keyring.json"))
    assert main(["retention", "run"]) == 2
    assert "KEYS.UNAVAILABLE" in capsys.readouterr().err
    assert not (tmp_path / "nowhere" / "keyring.json").exists()
    monkeypatch.setenv("SIMREG_ENGINE_WORKERS", "abc")
    assert main(["audit", "verify"]) == 2
    assert "CONFIG.INVALID" in capsys.readouterr().err
