"""The sharded audit log through the service and the commands an operator, a
regulator or a customer runs: a registration's receipt is pending, `simreg
audit sequence` places it, `simreg audit receipt` completes it, `prove --log`
and `verify-receipt` check it offline, and `simreg audit verify` checks every
shard against the root log (and the signatures), naming what was tampered with."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from service_support import CONSENT, RESIDENT_ID, make_service
from simreg.adapters import signing
from simreg.adapters.sql.audit_sequencer import for_shard
from simreg.cli import main
from simreg.domain.access import Role


def _run(capsys, *argv) -> tuple[int, dict | None]:
    code = main(list(argv))
    out = capsys.readouterr().out.strip().splitlines()
    return code, (json.loads(out[-1]) if out else None)


@pytest.fixture()
def sharded(runtime, tmp_path, monkeypatch, database_url):
    key = signing.generate_private_key()
    key_file = tmp_path / "audit.pem"
    key_file.write_bytes(signing.private_key_to_pem(key))
    pub_file = tmp_path / "audit.pub.pem"
    pub_file.write_bytes(signing.public_key_to_pem(key))
    svc = make_service(runtime, database_url, signing_key=key)
    svc.rt.database = for_shard(svc.rt.database, "44")  # as SIMREG_AUDIT_SHARD=44 does at start
    keyring_file = tmp_path / "keyring.json"
    svc.rt.keyring.save(keyring_file)
    monkeypatch.setenv("SIMREG_DATABASE_URL", database_url)
    monkeypatch.setenv("SIMREG_KEYRING_FILE", str(keyring_file))
    monkeypatch.setenv("SIMREG_AUDIT_SIGNING_KEY_FILE", str(key_file))
    svc.add_numbers(["+8613800138000", "+8613800138001"])
    with svc.client:
        yield svc, pub_file, tmp_path, database_url
    svc.close()


def _alternative(svc, key):
    r = svc.client.post("/v1/registrations/alternative", headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": key},
                        json={"id_type": "cn_resident", "id_number": RESIDENT_ID, "name": "王芳",
                              "id_expiry": "long_term", "consent": json.loads(CONSENT),
                              "statement": "customer declines face recognition"})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_pending_receipt_is_completed_after_sequencing_and_verifies_offline(sharded, capsys):
    svc, pub, tmp, _url = sharded
    reg = _alternative(svc, "s-1")
    pending = reg["receipt"]
    assert pending["status"] == "pending" and pending["shard"] == "44" and pending["audit_position"] is None
    code, out = _run(capsys, "audit", "receipt", "44", str(pending["outbox_id"]))
    assert code == 4 and out["status"] == "pending"
    code, out = _run(capsys, "audit", "verify", "--json")  # what waits is not in a log yet, and verify says so
    assert code == 0 and out["sharded"]["pending"] >= 2 and "wait in the outbox" in out["sharded"]["message"]

    code, done = _run(capsys, "audit", "sequence")
    assert code == 0 and done["44"] >= 2  # the numbers added, the registration (and whatever else was audited)
    code, receipt = _run(capsys, "audit", "receipt", "44", str(pending["outbox_id"]))
    assert code == 0 and receipt["status"] == "sequenced"
    code, proof = _run(capsys, "audit", "prove", str(receipt["audit_position"]), "--size", str(receipt["tree_size"]),
                       "--log", "44")
    assert code == 0
    (tmp / "receipt.json").write_text(json.dumps(receipt))
    (tmp / "proof.json").write_text(json.dumps(proof))
    code, out = _run(capsys, "audit", "verify-receipt", str(tmp / "receipt.json"), str(tmp / "proof.json"),
                     "--public-key", str(pub))
    assert code == 0 and out["ok"] is True
    # ... and across the root log: the receipt's batch checkpoint is the root entry it names, under a signed root
    assert out["root_log"] == {"ok": True, "position": receipt["root"]["position"],
                               "size": receipt["root"]["tree_size"]}
    assert receipt["root"]["checkpoint"]["origin"] == "simreg/audit/root"

    def verify_with(doc):
        (tmp / "r.json").write_text(json.dumps(doc))
        return _run(capsys, "audit", "verify-receipt", str(tmp / "r.json"), str(tmp / "proof.json"),
                    "--public-key", str(pub))

    root = receipt["root"]
    edited = json.loads(root["entry"]["details"])
    edited["size"] += 1
    for forged_root, why in (
            ({**root, "entry": {**root["entry"], "details": json.dumps(edited, separators=(",", ":"),
                                                                        sort_keys=True)}}, "match its hash"),
            ({**root, "proof": ["00" * 32] + root["proof"]}, "inclusion proof"),
            ({**root, "root_hash": "ab" * 32}, "inclusion proof"),
            ({**root, "checkpoint": {**root["checkpoint"], "note": receipt["checkpoint"]["note"]}}, "signature")):
        code, out = verify_with({**receipt, "root": forged_root})
        assert code == 3 and out["ok"] is False and why in out["problem"], (why, out)
    # a root entry that hashes right but records another batch (rebuilt with the size changed)
    from simreg.domain.audit import entry_from_row, entry_to_row, new_entry

    genuine = entry_from_row(root["entry"])
    other = new_entry(None, timestamp=genuine.timestamp, actor=genuine.actor, action=genuine.action,
                      subject=genuine.subject, details=edited, model_ids=genuine.model_ids,
                      policy_sha256=genuine.policy_sha256)
    code, out = verify_with({**receipt, "root": {**root, "position": 0, "entry": entry_to_row(other)}})
    assert code == 3 and "another checkpoint" in out["problem"], out
    # a receipt whose note was signed by another key does not verify
    other = signing.generate_private_key()
    forged = {**receipt, "checkpoint": {**receipt["checkpoint"], "note": signing.sign_log_checkpoint(
        other, receipt["checkpoint"]["origin"], receipt["tree_size"], receipt["root_hash"])}}
    (tmp / "forged.json").write_text(json.dumps(forged))
    code, out = _run(capsys, "audit", "verify-receipt", str(tmp / "forged.json"), str(tmp / "proof.json"),
                     "--public-key", str(pub))
    assert code == 3 and out["ok"] is False

    code, out = _run(capsys, "audit", "verify", "--json")
    assert code == 0 and out["ok"] is True and out["sharded"]["signatures"] == "ok"
    assert out["sharded"]["shards"]["44"]["size"] == receipt["tree_size"]


def test_verify_names_an_edited_shard_entry_and_a_cut_shard(sharded, capsys):
    svc, _pub, _tmp, _url = sharded
    _alternative(svc, "s-2")
    assert main(["audit", "sequence"]) == 0
    capsys.readouterr()
    db = svc.rt.database
    with db.begin() as c:
        c.execute(text("UPDATE audit_shard_entries SET actor = 'clk_forger' WHERE shard = '44' AND position = 1"))
    code, out = _run(capsys, "audit", "verify", "--json")
    assert code == 3 and out["ok"] is False
    s44 = out["sharded"]["shards"]["44"]
    assert (s44["kind"], s44["first_bad_position"]) == ("edited", 1)
    with db.begin() as c:
        c.execute(text("DELETE FROM audit_shard_entries WHERE shard = '44' AND position >= 1"))
    code, out = _run(capsys, "audit", "verify", "--json")
    s44 = out["sharded"]["shards"]["44"]
    assert code == 3 and (s44["kind"], s44["first_bad_position"]) == ("truncated", 1)


def test_verify_refuses_a_root_log_whose_checkpoints_another_key_signed(sharded, capsys):
    svc, pub, tmp, _url = sharded
    _alternative(svc, "s-3")
    other = tmp / "other.pem"
    other.write_bytes(signing.private_key_to_pem(signing.generate_private_key()))
    assert main(["audit", "sequence", "--key", str(other)]) == 0
    capsys.readouterr()
    code, out = _run(capsys, "audit", "verify", "--json", "--public-key", str(pub))
    assert code == 3 and out["sharded"]["signatures"] == "failed"


def test_without_shards_verify_says_what_it_always_said(database_url, capsys):
    from datetime import UTC, datetime

    from simreg.adapters.sql import audit_store
    from simreg.adapters.sql.database import open_database
    from simreg.adapters.sql.migrate import upgrade_to_head

    db = open_database(database_url)
    upgrade_to_head(db)
    with db.begin() as c:
        audit_store.append(c, now=datetime.now(UTC), actor="admin-cli", action="admin.outlet_created",
                           subject="out_1", details={}, model_ids=("none",), policy_sha256="0" * 64)
    db.dispose()
    code, out = _run(capsys, "audit", "verify", "--json", "--database", database_url)
    assert code == 0 and out["ok"] is True and out["size"] == 1
    assert set(out) == {"ok", "size", "root_hash", "first_bad_position", "kind", "message"}


def test_a_replayed_request_returns_the_pending_receipt_it_first_sent(sharded, capsys):
    svc = sharded[0]
    first = _alternative(svc, "s-4")
    again = _alternative(svc, "s-4")
    assert again["idempotent_replay"] is True and again["receipt"] == first["receipt"]
    assert main(["audit", "sequence"]) == 0
    capsys.readouterr()
    code, receipt = _run(capsys, "audit", "receipt", "44", str(first["receipt"]["outbox_id"]))
    assert code == 0 and receipt["status"] == "sequenced"


def test_the_clerk_s_terminal_completes_a_pending_receipt_over_http(sharded, capsys):
    svc, _pub, _tmp, _url = sharded
    reg = _alternative(svc, "s-http")
    pending = reg["receipt"]
    url = f"/v1/audit/receipts/44/{pending['outbox_id']}"
    # the registration remembers where its entry waits, for whoever reads it later
    view = svc.client.get(f"/v1/registrations/{reg['registration_id']}", headers=svc.auth(Role.SUPERVISOR)).json()
    assert (view["audit_shard"], view["audit_outbox_id"], view["audit_position"]) == ("44", pending["outbox_id"], None)
    r = svc.client.get(url, headers=svc.auth(Role.CLERK))
    assert r.status_code == 200 and r.json()["status"] == "pending" and r.json()["audit_position"] is None
    assert _run(capsys, "audit", "sequence")[0] == 0
    done = svc.client.get(url, headers=svc.auth(Role.AUDITOR)).json()
    code, by_cli = _run(capsys, "audit", "receipt", "44", str(pending["outbox_id"]))
    assert code == 0 and done == by_cli and done["status"] == "sequenced" and done["root"]["proof"] is not None
    assert svc.client.get(url, headers=svc.auth(Role.ADMIN)).status_code == 403
    missing = svc.client.get("/v1/audit/receipts/44/999999", headers=svc.auth(Role.CLERK))
    assert missing.status_code == 404 and missing.json()["code"] == "AUDIT.NO_SUCH_ENTRY"


def test_verify_finds_a_well_chained_entry_appended_by_hand_and_a_shard_without_a_head(sharded, capsys):
    from sqlalchemy import insert, select

    from simreg.adapters.sql.schema import audit_shard_entries
    from simreg.domain.audit import ENTRY_FIELDS, entry_from_row, entry_to_row, new_entry

    svc, _pub, _tmp, _url = sharded
    _alternative(svc, "s-forge")
    assert main(["audit", "sequence"]) == 0
    capsys.readouterr()
    db = svc.rt.database
    with db.begin() as c:
        last = c.execute(select(*[audit_shard_entries.c[n] for n in ENTRY_FIELDS])
                         .where(audit_shard_entries.c.shard == "44")
                         .order_by(audit_shard_entries.c.position.desc()).limit(1)).mappings().one()
        prev = entry_from_row(dict(last))
        forged = new_entry(prev, timestamp=prev.timestamp, actor="clk_evil", action="registration.decided",
                           subject="reg_forged", details={"outcome": "approved"}, model_ids=prev.model_ids,
                           policy_sha256=prev.policy_sha256)
        c.execute(insert(audit_shard_entries).values(shard="44", outbox_id=None, **entry_to_row(forged)))
        stray = new_entry(None, timestamp=prev.timestamp, actor="clk_evil", action="registration.decided",
                          subject="reg_stray", details={}, model_ids=prev.model_ids, policy_sha256=prev.policy_sha256)
        c.execute(insert(audit_shard_entries).values(shard="99", outbox_id=None, **entry_to_row(stray)))
    code, out = _run(capsys, "audit", "verify", "--json")
    assert code == 3 and out["ok"] is False
    assert out["sharded"]["shards"]["44"]["kind"] == "inserted"
    assert out["sharded"]["shards"]["99"]["kind"] == "inserted"
