"""The ``simreg`` command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

from .config import Settings
from .domain.audit_shards import check_shard_name


def _fail(code: str, message: str) -> int:
    print(f"error: {code}: {message}", file=sys.stderr)
    return 2


def _missing_eval_extra(command: str, modules: tuple[str, ...]) -> int | None:
    """The offline tools' packages (matplotlib, tqdm) are the ``eval`` extra, not
    run-time dependencies: without them, name the extra instead of a traceback."""
    import importlib

    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return None
    return _fail("CONFIG.EXTRA_MISSING", f"simreg {command} needs the eval extra ({', '.join(missing)} not "
                                         "installed): pip install 'simreg[eval]'")


def _run_job(settings: Settings, args, job):
    """Build the runtime, run ``job(runtime)`` and close it.  Returns (result,
    runtime, model-load ms, None), or (None, None, 0, exit code) when the input
    was refused, after printing the reason code (as JSON too with ``--json``)."""
    from .domain.errors import SimregError
    from .runtime import build_runtime

    t0 = time.perf_counter()
    with build_runtime(settings) as rt:
        load_ms = (time.perf_counter() - t0) * 1e3
        try:
            return job(rt), rt, load_ms, None
        except SimregError as exc:
            if getattr(args, "json", False):
                print(json.dumps({"error": {"code": exc.code.value, "message": exc.message}}))
            return None, None, 0.0, _fail(exc.code.value, exc.message)


def cmd_serve(args, settings: Settings) -> int:
    import uvicorn

    from .http.app import create_app
    from .logs import configure_logging

    if args.workers < 1:
        return _fail("CONFIG.INVALID", "--workers must be at least 1")
    configure_logging("INFO", json=True)  # JSON lines, ID and phone numbers redacted
    host, port = args.host or settings.host, args.port or settings.port
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_config=None, log_level="info", access_log=False)
        return 0
    import os

    from .runtime import open_service_database

    # Migrate and check the keyring once, here: a wrong keyring or an unreachable
    # database is one clear error, not N workers failing (the workers' own starts
    # then find the schema at head; they are safe at once anyway: migrate.py).
    open_service_database(settings)[0].dispose()
    if settings.engine_workers is None:
        # N servers share the CPUs this process may use (affinity, capped by a
        # cgroup quota, at most 4 engines a server, as one server sizes itself):
        # each gets its share of analysis processes (SIMREG_ENGINE_WORKERS chooses).
        from .adapters.faces.factory import default_workers, usable_cpus

        share = max(1, min(default_workers(), usable_cpus() // args.workers))
        os.environ["SIMREG_ENGINE_WORKERS"] = str(share)
    # Each worker process builds its own app (and settings, from the same
    # environment) through the factory below.
    uvicorn.run("simreg.cli:worker_app", factory=True, workers=args.workers, host=host, port=port,
                log_config=None, log_level="info", access_log=False)
    return 0


def worker_app():
    """The app of one ``simreg serve --workers N`` worker process."""
    from .http.app import create_app
    from .logs import configure_logging

    configure_logging("INFO", json=True)
    return create_app(Settings())


def _analysis_dict(a) -> dict:
    m = a.quality.measures
    return {
        "box": {"x": round(a.box.x, 1), "y": round(a.box.y, 1), "w": round(a.box.w, 1), "h": round(a.box.h, 1),
                "detector_score": round(a.box.score, 4)},
        "image_size": list(a.image_size), "faces_found": a.faces_found, "reasons": list(a.reasons),
        "quality": {"passed": a.quality.passed, "reasons": list(a.quality.reasons),
                    "inter_eye_px": round(m.inter_eye_px, 1), "sharpness": round(m.sharpness, 1),
                    "brightness": round(m.brightness, 1), "contrast": round(m.contrast, 1),
                    "yaw": round(m.pose.yaw, 1), "pitch": round(m.pose.pitch, 1), "roll": round(m.pose.roll, 1),
                    "eye_openness": round(m.eye_openness, 3)},
    }


def cmd_compare(args, settings: Settings) -> int:
    from .app.pipeline import compare_images

    try:
        data_a, data_b = Path(args.a).read_bytes(), Path(args.b).read_bytes()
    except OSError as exc:
        return _fail("INPUT.FILE", f"cannot read {exc.filename}")
    rep, rt, load_ms, refused = _run_job(settings, args, lambda rt: compare_images(
        rt.engine, rt.policy, data_a, data_b, rt.limits))
    if refused is not None:
        return refused
    m = rep.match
    out = {
        "decision": m.outcome.value, "score": round(m.score, 4), "threshold": round(m.threshold, 4),
        "target_fmr": m.target_fmr, "model_id": m.model_id, "reasons": list(rep.reasons),
        "component_scores": {k: round(v, 4) for k, v in m.component_scores.items()},
        "policy": {"version": rt.policy.version, "sha256": rt.policy.sha256},
        "a": _analysis_dict(rep.a), "b": _analysis_dict(rep.b),
        "timings_ms": {"model_load": round(load_ms, 1), **{k: round(v, 1) for k, v in rep.timings_ms.items()}},
    }
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        print(f"decision: {out['decision']}   score {out['score']} vs threshold {out['threshold']} "
              f"(stands for FMR {m.target_fmr:g}, model {m.model_id})")
        if rep.reasons:
            print("reasons: " + ", ".join(rep.reasons))
        for side in ("a", "b"):
            q = out[side]["quality"]
            print(f"{side}: {args.a if side == 'a' else args.b}: faces {out[side]['faces_found']}, "
                  f"inter-eye {q['inter_eye_px']} px, sharpness {q['sharpness']}, brightness {q['brightness']}, "
                  f"contrast {q['contrast']}, yaw/pitch/roll {q['yaw']}/{q['pitch']}/{q['roll']}, "
                  f"eyes {q['eye_openness']}, quality {'ok' if q['passed'] else ', '.join(q['reasons'])}")
        print("timings ms: " + ", ".join(f"{k} {v}" for k, v in out["timings_ms"].items()))
    return 0


def cmd_eval_faces(args, settings: Settings) -> int:
    need = ("tqdm", "matplotlib") if args.plots else ("tqdm",)
    if (refused := _missing_eval_extra("eval faces", need)) is not None:
        return refused
    from .eval.commands import eval_faces

    return eval_faces(args, settings)


def cmd_eval_liveness(args, settings: Settings) -> int:
    """BPCER, APCER per attack type and wrong-challenge APCER on a labelled folder."""
    from .eval.commands import eval_liveness

    return eval_liveness(args, settings, _run_job)


def cmd_calibrate(args, settings: Settings) -> int:
    if (refused := _missing_eval_extra("calibrate", ("tqdm",))) is not None:
        return refused
    from .eval.commands import calibrate

    return calibrate(args, settings)


def cmd_liveness(args, settings: Settings) -> int:
    from .app.pipeline import check_liveness
    from .domain.challenge import parse_actions
    from .domain.errors import SimregError

    try:
        data = Path(args.video).read_bytes()
    except OSError as exc:
        return _fail("INPUT.FILE", f"cannot read {exc.filename}")
    try:
        actions = parse_actions(args.challenge)
        prompts = [float(x) for x in args.prompt_times.split(",")] if args.prompt_times else None
    except SimregError as exc:
        return _fail(exc.code.value, exc.message)
    except ValueError:
        return _fail("CHALLENGE.INVALID", "--prompt-times must be comma-separated seconds")
    if prompts is not None and len(prompts) != len(actions):
        return _fail("CHALLENGE.INVALID", "--prompt-times needs one time per action")
    res, _rt, load_ms, refused = _run_job(settings, args, lambda rt: check_liveness(
        rt.engine, rt.policy, data, actions, args.mirrored, prompts, rt.video))
    if refused is not None:
        return refused
    r = res.report
    out = {
        "verdict": "live" if r.passed else "not_live",
        "reasons": list(r.reasons),
        "challenge": [a.value for a in actions], "mirrored": args.mirrored, "prompt_times": prompts,
        "events": [{"action": e.action.value, "start": round(e.start, 2), "end": round(e.end, 2),
                    "peak": round(e.peak, 2), "strength": round(e.strength, 3)} for e in r.events],
        "matched": [{"action": e.action.value, "peak": round(e.peak, 2)} for e in r.matched],
        "pad_scores": {k: (round(v, 4) if v is not None else None) for k, v in res.pad_scores.items()},
        "continuity": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.details.items()},
        "video": {"container": res.info.container, "codec": res.info.codec, "width": res.info.width,
                  "height": res.info.height, "duration_s": round(r.duration_s, 2),
                  "frames_analysed": len(res.track.points)},
        "timings_ms": {"model_load": round(load_ms, 1), **{k: round(v, 1) for k, v in res.timings_ms.items()}},
    }
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"verdict: {out['verdict']}" + (f"   reasons: {', '.join(r.reasons)}" if r.reasons else ""))
        print("challenge: " + " -> ".join(out["challenge"]) + ("  (mirrored capture)" if args.mirrored else ""))
        print("events: " + ", ".join(f"{e['action']}@{e['peak']}s" for e in out["events"]))
        print("matched: " + ", ".join(f"{e['action']}@{e['peak']}s" for e in out["matched"]))
        print("pad scores: " + ", ".join(f"{k} {v}" for k, v in out["pad_scores"].items()))
        print("continuity: " + ", ".join(f"{k} {v}" for k, v in out["continuity"].items()))
        print("timings ms: " + ", ".join(f"{k} {v}" for k, v in out["timings_ms"].items()))
    return 0


def _access_store(settings: Settings):
    """Outlets and staff on the configured database; admin changes are audited
    with the same stamp as the CLI's other entries."""
    from .adapters.sql.stores import AccessStore

    stamp = _stamp(settings)
    return AccessStore(_database(settings, None), stamp.model_ids, stamp.policy_sha256)


def cmd_admin_create_outlet(args, settings: Settings) -> int:
    outlet = _access_store(settings).create_outlet(args.name)
    print(json.dumps({"outlet_id": outlet.outlet_id}) if args.json else f"outlet {outlet.outlet_id}: {outlet.name}")
    return 0


def cmd_admin_create_clerk(args, settings: Settings) -> int:
    from .domain.access import Role
    from .domain.errors import SimregError

    try:
        clerk, token = _access_store(settings).create_clerk(args.outlet, args.name, Role(args.role))
    except SimregError as exc:
        return _fail(exc.code.value, exc.message)
    if args.json:
        print(json.dumps({"clerk_id": clerk.clerk_id, "token": token}))
    else:
        print(f"clerk {clerk.clerk_id} ({clerk.role.value}) at {clerk.outlet_id}\n"
              f"bearer token (shown once, only its hash is stored): {token}")
    return 0


def _database(settings: Settings, url: str | None, migrate: bool = True):
    """The database; ``migrate=False`` for the read-only audit commands, which must
    not change what they check (nor need write access to it)."""
    from .adapters.sql.database import open_database
    from .adapters.sql.migrate import upgrade_to_head

    db = open_database(url or settings.database_url, read_only=not migrate)
    if migrate:
        from .adapters.sql.audit_sequencer import for_shard

        upgrade_to_head(db)
        db = for_shard(db, settings.audit_shard)  # audited commands append to the shard's outbox when set
    return db


def cmd_keys_new_signing_key(args, settings: Settings) -> int:
    import os

    from .adapters import signing

    out = Path(args.out)
    if out.exists():
        return _fail("KEYS.EXISTS", f"{out} exists; refusing to overwrite a key")
    key = signing.generate_private_key()
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signing.private_key_to_pem(key))
    print(json.dumps({"key_id": signing.key_id(key), "public_key_pem": signing.public_key_to_pem(key).decode()}))
    return 0


def _registry(settings: Settings, url: str | None = None):
    """The registry on the configured database with the configured keyring,
    refusing a keyring the database was not written with (never creating one)."""
    from .adapters.sql.registry import Registry
    from .runtime import check_keyring_matches, load_keyring

    keyring = load_keyring(settings, create=False)
    db = _database(settings, url)
    check_keyring_matches(db, keyring)
    return Registry(db, keyring, timedelta(days=settings.number_cooling_off_days))


def _stamp(settings: Settings):
    from .adapters.sql.registry import Stamp
    from .runtime import load_policy

    return Stamp(("cli",), load_policy(settings).sha256)


def cmd_keys_rotate(args, settings: Settings) -> int:
    """A new encryption key and a new blind-index key; everything re-encrypted
    and re-indexed; old keys kept so old envelopes and indexes still resolve."""
    from datetime import datetime

    if settings.keyring and not args.out:
        return _fail("KEYS.OUT_REQUIRED", "the keyring comes from SIMREG_KEYRING: give --out FILE for the new one")
    registry = _registry(settings)
    new = registry.keyring.rotate()
    if args.out:  # first, so a bad --out changes nothing
        new.save(Path(args.out))
    if not settings.keyring:
        new.save(settings.keyring_file)  # holds the old keys too: old data stays readable if the DB step fails
    counts = registry.rotate_keys(new, args.actor, _stamp(settings), datetime.now(UTC))
    print(json.dumps({"encryption_key": new.active_encryption_key_id, "index_key": new.active_index_key_id,
                      "reencrypted": counts}))
    return 0


def cmd_retention_run(args, settings: Settings) -> int:
    from datetime import datetime

    from .adapters.sql.retention import RetentionRules, run_retention

    registry = _registry(settings)
    rules = RetentionRules(settings.attempt_retention_days, settings.session_retention_days,
                           settings.idempotency_retention_days, settings.review_timeout_hours)
    counts = run_retention(registry, rules, datetime.now(UTC), args.actor, _stamp(settings))
    print(json.dumps(counts))
    return 0


def cmd_admin_add_numbers(args, settings: Settings) -> int:
    from datetime import datetime

    from .domain.errors import SimregError
    from .domain.numbers import normalise_phone

    if not 1 <= args.count <= 1_000_000:
        return _fail("REQUEST.INVALID", "--count must be 1..1000000")
    start = normalise_phone(args.start)  # before the database is opened
    registry = _registry(settings)
    digits = start[1:]
    numbers = ["+" + str(int(digits) + i).zfill(len(digits)) for i in range(args.count)]
    try:
        numbers = [normalise_phone(n) for n in numbers]
    except SimregError as exc:
        return _fail(exc.code.value, "the range runs past valid numbers: " + exc.message)
    added = registry.add_numbers(numbers, args.actor, _stamp(settings), datetime.now(UTC))
    print(json.dumps({"requested": len(numbers), "added": added}))
    return 0


def cmd_audit_prove(args, settings: Settings) -> int:
    from .adapters.sql import audit_sequencer
    from .adapters.sql.audit_store import inclusion

    db = _database(settings, args.database, migrate=False)
    if args.log:
        proof = audit_sequencer.inclusion(db, args.log, args.index, args.size)
    else:
        proof = inclusion(db, args.index, args.size)
    print(json.dumps(proof))
    return 0


def _signing_key_or_none(settings: Settings, path: str | None):
    from .adapters import signing

    key_path = Path(path) if path else settings.audit_signing_key_file
    if key_path is None:
        return None
    return signing.load_private_key(key_path.read_bytes())


def _batch_policy(args):
    from .domain.audit_shards import BatchPolicy

    return BatchPolicy(args.max_entries, args.max_wait_ms / 1000)


def cmd_audit_sequence(args, settings: Settings) -> int:
    """One-shot: sequence everything pending in the outbox (a CronJob, tests)."""
    from .adapters.sql.audit_sequencer import sequence_all

    try:
        key = _signing_key_or_none(settings, args.key)
    except (OSError, ValueError, TypeError):
        return _fail("KEYS.UNREADABLE", "the audit signing key cannot be read")
    db = _database(settings, args.database)
    print(json.dumps(sequence_all(db, args.shard or None, policy=_batch_policy(args), signing_key=key)))
    return 0


def cmd_audit_sequencer(args, settings: Settings) -> int:
    """The long-running sequencer: a batch as soon as one is due, until SIGTERM/SIGINT."""
    import signal

    from .adapters.sql.audit_sequencer import run_sequencer

    try:
        key = _signing_key_or_none(settings, args.key)
    except (OSError, ValueError, TypeError):
        return _fail("KEYS.UNREADABLE", "the audit signing key cannot be read")
    db = _database(settings, args.database)
    stopping = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopping.append(True))
    run_sequencer(db, args.shard or None, policy=_batch_policy(args), signing_key=key, stop=lambda: bool(stopping),
                  on_batch=lambda b: print(json.dumps({"shard": b.shard, "count": b.count, "size": b.size,
                                                       "root_position": b.root_position}), flush=True))
    return 0


def cmd_audit_receipt(args, settings: Settings) -> int:
    """The receipt of an append to a shard, by the outbox id a pending receipt names."""
    from .adapters.sql.audit_sequencer import receipt

    out = receipt(_database(settings, args.database, migrate=False), args.shard, args.outbox_id)
    print(json.dumps(out))
    return 0 if out["status"] == "sequenced" else 4


def cmd_audit_verify_receipt(args, settings: Settings) -> int:
    """Offline: does the proof put the receipt's entry under the signed tree head?"""
    from .adapters import signing
    from .domain.receipts import check_receipt, check_root_link

    try:
        receipt = json.loads(Path(args.receipt).read_text(encoding="utf-8"))
        proof = json.loads(Path(args.proof).read_text(encoding="utf-8"))
        pub = Path(args.public_key).read_bytes()
        key = signing.load_private_key(pub).public_key() if b"PRIVATE" in pub else signing.load_public_key(pub)
    except (OSError, ValueError, TypeError) as exc:
        return _fail("INPUT.FILE", str(exc))
    if not isinstance(receipt, dict) or not isinstance(proof, dict):
        return _fail("INPUT.FILE", "the receipt and the proof must be JSON objects")

    def signed(cp) -> bool:
        if isinstance(cp, dict) and cp.get("format") == "c2sp-checkpoint":  # a shard's batch checkpoint
            try:
                opened = signing.open_log_checkpoint(key, cp["note"], cp["origin"])
            except (KeyError, TypeError, ValueError):
                return False
            return opened is not None and opened == (cp.get("size"), cp.get("root_hash"))
        try:
            return signing.verify_checkpoint(key, signing.Checkpoint.from_json(json.dumps(cp)))
        except ValueError:  # a malformed checkpoint does not verify
            return False

    body = receipt.get("receipt", receipt)
    problem = check_receipt(body, proof, signed)
    root = None
    if not problem and isinstance(body, dict) and "root" in body:  # a sharded receipt: across the root log too
        problem = check_root_link(body, signed)
        root = problem is None
    if problem:
        print(json.dumps({"ok": False, "problem": problem}))
        return 3
    out = {"ok": True, "index": proof["index"], "size": proof["size"]}
    if root is not None:
        out["root_log"] = {"ok": True, "position": body["root"]["position"], "size": body["root"]["tree_size"]}
    print(json.dumps(out))
    return 0


def cmd_audit_checkpoint(args, settings: Settings) -> int:
    from datetime import datetime

    from .adapters import signing
    from .adapters.sql.audit_store import read_rows
    from .domain.audit import verify_chain

    key_path = Path(args.key) if args.key else settings.audit_signing_key_file
    if key_path is None or not key_path.is_file():
        return _fail("KEYS.MISSING", "give --key FILE or set SIMREG_AUDIT_SIGNING_KEY_FILE")
    report = verify_chain(read_rows(_database(settings, args.database, migrate=False)))
    if not report.ok:
        assert report.kind is not None  # a failed report names its kind
        return _fail("AUDIT.BROKEN", f"refusing to sign a broken log: {report.kind.value} at position "
                                     f"{report.first_bad_position}: {report.message}")
    try:
        private_key = signing.load_private_key(key_path.read_bytes())
    except (OSError, ValueError, TypeError):
        return _fail("KEYS.UNREADABLE", f"{key_path} is not an Ed25519 private key in PEM")
    cp = signing.sign_checkpoint(private_key, report.size, report.root_hash, datetime.now(UTC).isoformat())
    text = cp.to_json()
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


def cmd_audit_verify(args, settings: Settings) -> int:
    from .adapters import signing
    from .adapters.sql.audit_store import read_rows
    from .domain.audit import verify_against_checkpoint, verify_chain

    db = _database(settings, args.database, migrate=False)
    if args.checkpoint:
        try:
            cp = signing.Checkpoint.from_json(Path(args.checkpoint).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            return _fail("AUDIT.CHECKPOINT_INVALID", str(exc))
        pub = args.public_key or settings.audit_signing_key_file
        if pub is None:
            return _fail("KEYS.MISSING", "give --public-key FILE (or set SIMREG_AUDIT_SIGNING_KEY_FILE)")
        try:
            pub_bytes = Path(pub).read_bytes()
            key = (signing.load_private_key(pub_bytes).public_key() if b"PRIVATE" in pub_bytes
                   else signing.load_public_key(pub_bytes))
        except (OSError, ValueError, TypeError):
            return _fail("KEYS.UNREADABLE", f"cannot read a key from {pub}")
        if not signing.verify_checkpoint(key, cp):
            return _fail("AUDIT.CHECKPOINT_SIGNATURE", "the checkpoint's signature does not verify")
        report = verify_against_checkpoint(read_rows(db), cp)
    else:
        report = verify_chain(read_rows(db))
    out = {"ok": report.ok, "size": report.size, "root_hash": report.root_hash,
           "first_bad_position": report.first_bad_position,
           "kind": report.kind.value if report.kind else None, "message": report.message}
    lines = [f"intact: {report.size} entries, root {report.root_hash}" if report.ok else
             f"BROKEN: {out['kind']} at position {out['first_bad_position']}: {report.message}"]
    sharded = _verify_sharded(db, args, settings)
    if sharded is not None:
        out["sharded"] = sharded
        out["ok"] = report.ok and sharded["ok"]
        lines.append(("intact: " if sharded["ok"] else "BROKEN: ") + sharded["message"])
    print(json.dumps(out) if args.json else "\n".join(lines))
    return 0 if out["ok"] else 3


def _verify_sharded(db, args, settings: Settings) -> dict | None:
    """The shards and the root log (when the database has them): every chain, each
    shard against every (size, root) the root log recorded, and with a public key
    every signed note (shard checkpoints in root entries, the root's own)."""
    from .adapters import signing
    from .adapters.sql import audit_sequencer as seq
    from .domain.audit import verify_against_checkpoint
    from .domain.audit_shards import ROOT, ShardHead, origin, verify_shards

    if not seq.has_shards(db):
        return None
    root_rows = list(seq.read_rows(db, ROOT))
    shard_rows = {name: list(seq.read_rows(db, name)) for name in seq.logs(db)}
    rep = verify_shards(root_rows, shard_rows)
    ok, messages = rep.ok, [rep.message]
    pending = seq.outbox_size(db)
    if pending:  # not in any log yet: nothing to verify, but say so
        messages.append(f"{pending} entries wait in the outbox for the sequencer")
    pub = getattr(args, "public_key", None) or settings.audit_signing_key_file
    signatures = None
    if ok and pub is not None:
        try:
            raw = Path(pub).read_bytes()
            key = signing.load_private_key(raw).public_key() if b"PRIVATE" in raw else signing.load_public_key(raw)
        except (OSError, ValueError, TypeError):
            key = None
            ok, signatures = False, "unreadable key"
            messages.append(f"cannot read a key from {pub}")
        if key is not None:
            bad = []
            for r in root_rows:  # every shard checkpoint the root log holds
                d = json.loads(r["details"])
                note, shard = d.get("checkpoint"), d.get("shard")
                if not isinstance(note, str) or not isinstance(shard, str) \
                        or signing.open_log_checkpoint(key, note, origin(shard)) != (d.get("size"), d.get("root_hash")):
                    bad.append(f"root entry {r['position']} (shard {d['shard']} size {d['size']})")
            latest = seq.latest_checkpoint(db, ROOT) if root_rows else None  # an empty root log has none
            opened = None if latest is None or latest["note"] is None else \
                signing.open_log_checkpoint(key, latest["note"], origin(ROOT))
            if opened is None and root_rows:
                bad.append("the root log's latest checkpoint")
            elif opened is not None:
                root_check = verify_against_checkpoint(root_rows, ShardHead(*opened))
                if not root_check.ok:
                    bad.append(f"the root log against its signed checkpoint: {root_check.message}")
            signatures = "ok" if not bad else "failed"
            if bad:
                ok = False
                messages.append("signature or checkpoint does not verify: " + ", ".join(bad))
    return {"ok": ok, "message": "; ".join(messages), "signatures": signatures, "pending": pending,
            "root": {"size": rep.root.size, "root_hash": rep.root.root_hash, "ok": rep.root.ok,
                     "kind": rep.root.kind.value if rep.root.kind else None,
                     "first_bad_position": rep.root.first_bad_position},
            "shards": {name: {"size": r.size, "root_hash": r.root_hash, "ok": r.ok,
                              "kind": r.kind.value if r.kind else None, "first_bad_position": r.first_bad_position,
                              "message": r.message} for name, r in rep.shards.items()}}


def cmd_status(args, settings: Settings) -> int:
    from .runtime import build_runtime

    with build_runtime(settings) as rt:
        print(json.dumps(rt.status(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simreg", description="Real-name SIM registration with face portrait matching")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the HTTP service")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int, default=1,
                   help="uvicorn worker processes sharing the port (each with its own face-engine pool; "
                        "all share the one database)")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("compare", help="1:1 compare two face images")
    c.add_argument("a")
    c.add_argument("b")
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)

    def dataset_args(q):
        q.add_argument("--root", required=True, help="folder of <identity>/<image> files")
        q.add_argument("--pairs", help="pairs.tsv (img_a, img_b, same); genuine pairs are its same=1 rows")
        q.add_argument("--all-pairs", action="store_true", help="also every same-identity pair under ROOT")
        q.add_argument("--protocol", choices=["photos", "id-chip"], default="photos",
                       help="photos: the pairs above; id-chip: each identity's first image as a 102x126 ID-chip "
                            "portrait against the other photos (portrait-vs-photo pairs only)")
        q.add_argument("--subset", metavar="K/N",
                       help="only the identities in part K of N (a fixed hash split of folder names): "
                            "calibrate on one part, report on another")
        q.add_argument("--no-progress", action="store_true")

    e = sub.add_parser("eval", help="offline evaluation")
    esub = e.add_subparsers(dest="what", required=True)
    ef = esub.add_parser("faces", help="FMR/FNMR of the 1:1 matcher on a labelled folder")
    dataset_args(ef)
    ef.add_argument("--json", action="store_true")
    ef.add_argument("--scores-out", help="TSV of img_a, img_b, same, score (higher = more similar)")
    ef.add_argument("--plots", help="folder for det.png and histograms.png")
    ef.set_defaults(func=cmd_eval_faces)
    el = esub.add_parser("liveness", help="BPCER / APCER of the liveness check on a labelled folder")
    el.add_argument("--root", required=True, help="folder laid out as ../shared/data (videos/events.json, spoof/)")
    el.add_argument("--json", action="store_true", help="per-sample results and the summary as JSON")
    el.add_argument("--attacks", help="a folder of more attacks with a manifest.json (bench/gen_attacks.py)")
    el.set_defaults(func=cmd_eval_liveness)

    k = sub.add_parser("calibrate", help="write the threshold for a target FMR into the policy file")
    dataset_args(k)
    k.add_argument("--fmr", type=float, default=1e-3)
    k.add_argument("--policy", help="policy file to update (default: SIMREG_POLICY_PATH)")
    k.add_argument("--dataset-name")
    k.add_argument("--review", action="store_true",
                   help="write the grey zone's lower edge (scores between it and the threshold go to manual review)")
    k.set_defaults(func=cmd_calibrate)

    lv = sub.add_parser("liveness", help="judge a challenge video: events, verdict, reason codes, PAD scores")
    lv.add_argument("video")
    lv.add_argument("--challenge", required=True, help="actions in order, e.g. turn_left,blink,turn_right "
                    "(turn_left = the subject's own left)")
    lv.add_argument("--mirrored", action="store_true", help="the recording is mirrored (a selfie preview)")
    lv.add_argument("--prompt-times", help="seconds from the video's start at which each prompt appeared")
    lv.add_argument("--json", action="store_true")
    lv.set_defaults(func=cmd_liveness)

    adm = sub.add_parser("admin", help="outlets and clerks (uses SIMREG_DATABASE_URL)")
    asub = adm.add_subparsers(dest="what", required=True)
    co = asub.add_parser("create-outlet", help="create an outlet")
    co.add_argument("name")
    co.add_argument("--json", action="store_true")
    co.set_defaults(func=cmd_admin_create_outlet)
    cc = asub.add_parser("create-clerk", help="create a clerk; prints their bearer token once")
    cc.add_argument("--outlet", required=True)
    cc.add_argument("--name", required=True)
    cc.add_argument("--role", required=True, choices=["clerk", "supervisor", "auditor", "admin"])
    cc.add_argument("--json", action="store_true")
    cc.set_defaults(func=cmd_admin_create_clerk)

    keys = sub.add_parser("keys", help="key management")
    ksub = keys.add_subparsers(dest="what", required=True)
    nk = ksub.add_parser("new-signing-key", help="a new Ed25519 key for audit checkpoints (PEM, mode 0600)")
    nk.add_argument("--out", required=True)
    nk.set_defaults(func=cmd_keys_new_signing_key)

    au = sub.add_parser("audit", help="the tamper-evident audit log")
    ausub = au.add_subparsers(dest="what", required=True)
    ack = ausub.add_parser("checkpoint", help="sign (size, Merkle root) of the verified log")
    ack.add_argument("--key", help="Ed25519 private key PEM (default SIMREG_AUDIT_SIGNING_KEY_FILE)")
    ack.add_argument("--out", help="also write the checkpoint JSON here")
    ack.add_argument("--database", help="database URL (default SIMREG_DATABASE_URL)")
    ack.set_defaults(func=cmd_audit_checkpoint)
    av = ausub.add_parser("verify", help="recompute the whole log offline; exit 0 when intact")
    av.add_argument("--checkpoint", help="a signed checkpoint the log must still reproduce")
    av.add_argument("--public-key", help="the checkpoint key's public PEM")
    av.add_argument("--database", help="database URL (default SIMREG_DATABASE_URL)")
    av.add_argument("--json", action="store_true")
    av.set_defaults(func=cmd_audit_verify)

    ap = ausub.add_parser("prove", help="the Merkle inclusion proof of one entry (JSON)")
    ap.add_argument("index", type=int, help="the entry's position (a receipt's audit_position)")
    ap.add_argument("--size", type=int, help="the tree size to prove against (a receipt's tree_size; default: all)")
    ap.add_argument("--log", help="a shard's name, or 'root' for the root log (default: the global chain)")
    ap.add_argument("--database", help="database URL (default SIMREG_DATABASE_URL)")
    ap.set_defaults(func=cmd_audit_prove)

    def at_least(convert, low):  # an argparse type: its ValueError reads "invalid ... value"
        def parse(text: str):
            if not (value := convert(text)) >= low:
                raise ValueError(text)
            return value
        parse.__name__ = f"{convert.__name__} >= {low}"
        return parse

    def sequencer_args(q):
        q.add_argument("--shard", action="append", type=check_shard_name,
                       help="a shard to sequence (repeatable; default: every shard with pending entries)")
        q.add_argument("--max-entries", type=at_least(int, 1), default=256,
                       help="entries per batch at most (default 256)")
        q.add_argument("--max-wait-ms", type=at_least(float, 0), default=250,
                       help="cut a batch once its oldest entry waited this long (default 250)")
        q.add_argument("--key", help="Ed25519 private key PEM signing the batch checkpoints "
                                     "(default SIMREG_AUDIT_SIGNING_KEY_FILE; none: unsigned)")
        q.add_argument("--database", help="database URL (default SIMREG_DATABASE_URL)")

    asq = ausub.add_parser("sequence", help="sharded log: sequence every pending outbox entry now, then exit")
    sequencer_args(asq)
    asq.set_defaults(func=cmd_audit_sequence)
    asr = ausub.add_parser("sequencer", help="sharded log: the sequencer loop (batches of --max-entries or "
                                             "--max-wait-ms), until SIGTERM")
    sequencer_args(asr)
    asr.set_defaults(func=cmd_audit_sequencer)
    arc = ausub.add_parser("receipt", help="sharded log: the receipt of an entry by the outbox id of its pending "
                                           "receipt (exit 4 while still pending)")
    arc.add_argument("shard")
    arc.add_argument("outbox_id", type=int)
    arc.add_argument("--database", help="database URL (default SIMREG_DATABASE_URL)")
    arc.set_defaults(func=cmd_audit_receipt)
    ar = ausub.add_parser("verify-receipt", help="offline: check a receipt against its inclusion proof; exit 0 if "
                                                 "the entry is in the signed log")
    ar.add_argument("receipt", help="the registration response or its receipt (JSON file)")
    ar.add_argument("proof", help="the output of `simreg audit prove INDEX --size SIZE` (JSON file)")
    ar.add_argument("--public-key", required=True, help="the log's public key (PEM, from GET /status)")
    ar.set_defaults(func=cmd_audit_verify_receipt)

    krot = ksub.add_parser("rotate", help="new encryption and blind-index keys; re-encrypt and re-index everything")
    krot.add_argument("--out", help="also write the new keyring here (required when it comes from SIMREG_KEYRING)")
    krot.add_argument("--actor", default="admin-cli", help="who rotates (recorded in the audit log)")
    krot.set_defaults(func=cmd_keys_rotate)

    ret = sub.add_parser("retention", help="data retention")
    retsub = ret.add_subparsers(dest="what", required=True)
    rr = retsub.add_parser("run", help="delete or crypto-shred what is past its retention; safe to run twice")
    rr.add_argument("--actor", default="retention-job")
    rr.set_defaults(func=cmd_retention_run)

    an = asub.add_parser("add-numbers", help="add a range of numbers to the pool")
    an.add_argument("--start", required=True, help="first number, e.g. 13800138000 or +8613800138000")
    an.add_argument("--count", type=int, default=1)
    an.add_argument("--actor", default="admin-cli")
    an.set_defaults(func=cmd_admin_add_numbers)

    st = sub.add_parser("status", help="model ids, file hashes and policy hash")
    st.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from .adapters.crypto import KeyringError
    from .domain.errors import SimregError

    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as exc:
        return _fail("CONFIG.INVALID", "invalid SIMREG_* settings: " + ", ".join(
            ".".join(map(str, e["loc"])) for e in exc.errors()))
    try:
        return int(args.func(args, settings) or 0)
    except SQLAlchemyError as exc:  # a missing table, a server that does not answer: a code, not a traceback
        return _fail("STORAGE.UNAVAILABLE", f"the database cannot be read ({type(exc).__name__}); "
                                            "is SIMREG_DATABASE_URL / --database right?")
    except SimregError as exc:
        return _fail(exc.code.value, exc.message)
    except KeyringError as exc:
        return _fail(exc.code, exc.message)
    except OSError as exc:  # an output path that cannot be written, a file that cannot be read
        return _fail("INPUT.FILE", f"{exc.strerror or type(exc).__name__}: {exc.filename or ''}")


if __name__ == "__main__":
    sys.exit(main())
