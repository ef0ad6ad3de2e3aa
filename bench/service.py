"""Throughput and latency of the registration service over real HTTP.

    python bench/service.py --backend sqlite|postgresql|both --clients 1,2,4 --requests N \
        [--out docs/service-bench.md] [--engine-workers W] [--keep]
    python bench/service.py --processes 1,2,4 [--rounds R] --requests N [--out docs/service-bench.md]

The second form (PostgreSQL only) starts N separate ``simreg serve`` processes
together on one fresh schema, each with ``cores // N`` engine workers, drives them
with N x that many clients pinned round-robin to the servers, and reports server
CPU per registration (every server process and its engine workers, from /proc),
the PostgreSQL backends' CPU, RSS and PSS per server process, and what one 16-core
node and the national peak need.  Configurations are interleaved over the rounds,
all in one run; a report written with --out keeps the earlier runs after its marker.

For each backend it starts ``simreg serve`` on loopback as a subprocess (a free
port, a fresh database, a fresh keyring, ``SIMREG_ENV=development`` so that a
session may name its challenge), waits for ``/healthz``, creates an outlet, one
clerk per concurrent client and an admin with ``simreg admin`` (the same
``SIMREG_DATABASE_URL``), fills the number pool with ``POST /v1/numbers``, sends
one warm-up registration (not counted), then, for each concurrency level, runs
N registrations with C client threads (each its own clerk, like a counter
terminal): ``POST /v1/sessions`` naming the clip's own actions, then
``POST /v1/registrations`` with a real video and portrait from ../shared/data.

The requests cycle through a small mix of bona fide clips whose actions are
known (videos/events.json):

* ``pad_tranvanluyt_real.mp4`` (turns left, then right) with an ID-chip portrait
  cut from a separate still of the same man -> expected ``approved``;
* ``liveportrait_d3.mp4`` (turn right, blink, turn left) and
  ``liveportrait_s29.mp4`` (turn right) with the chip portrait of another person
  (no still of these people exists): the "wrong person at the counter" case, which
  runs the whole pipeline as well -> ``rejected`` (MATCH.BELOW_THRESHOLD) for d3;
  ``review`` for s29, whose capture also has QUALITY.FACE_TOO_SMALL (a poor
  capture that does not match goes to a supervisor).

Every request uses a different, valid resident ID number, so the per-person quota
never refuses one.  The per-ID and per-clerk lockouts count rejections; a bench
with half rejections would lock its clerks within seconds, so
``SIMREG_LOCKOUT_MAX_FAILURES`` is raised.  The tranvanluyt clip is 20.7 s long,
so ``SIMREG_MAX_VIDEO_DURATION_S`` is raised to 30 (its 621 frames are within the
default frame limit).  Nothing else departs from the defaults; the face engine
runs in ``SIMREG_ENGINE_WORKERS`` worker processes (default one per usable CPU, at most 4).

Throughput is completed registrations (a 200 with an outcome) divided by the
wall time from the first session request to the last response of the level.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir

from simreg.eval.faces import centre_chip_portrait

PG_BASE = os.environ.get("SIMREG_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
CONSENT = json.dumps({"text_version": "face-consent-v3", "accepted_at": "2026-11-29T08:15:00+08:00"})
MAX_BUSY_RETRIES = 10
SERVER_ENV = {
    "SIMREG_ENV": "development",
    "SIMREG_MAX_VIDEO_DURATION_S": "30",
    "SIMREG_LOCKOUT_MAX_FAILURES": "1000000",
}


@dataclass(frozen=True)
class Clip:
    key: str
    video: str  # under videos/
    challenge: tuple[str, ...]
    portrait: str  # under the data dir
    same_person: bool
    expected: str


MIX = (
    Clip("tvl", "pad_tranvanluyt_real.mp4", ("turn_left", "turn_right"), "spoof/real/tranvanluyt_frame_1.jpg",
         True, "approved"),
    Clip("d3", "liveportrait_d3.mp4", ("turn_right", "blink", "turn_left"),
         "faces/deepface_Angelina_Jolie/1.jpg", False, "rejected"),
    Clip("tvl", "pad_tranvanluyt_real.mp4", ("turn_left", "turn_right"), "spoof/real/tranvanluyt_frame_1.jpg",
         True, "approved"),
    Clip("s29", "liveportrait_s29.mp4", ("turn_right",), "faces/deepface_Jeff_Bezos/1.jpg", False, "review"),
)


# --------------------------------------------------------------------------- inputs

def resident_ids(start: int = 0):
    """Valid, distinct GB 11643 numbers (Beijing Dongcheng 110101, born 1990-2005)."""
    from simreg.domain.id_document import resident_id_check_char

    i = start
    while True:
        year = 1990 + (i // 999) % 16
        month = 1 + (i // (999 * 16)) % 12
        seq = 1 + i % 999
        first17 = f"110101{year:04d}{month:02d}15{seq:03d}"
        yield first17 + resident_id_check_char(first17)
        i += 1


class Ids:
    def __init__(self):
        self._it = resident_ids()
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return next(self._it)


@dataclass
class Media:
    portraits: dict[str, bytes]
    videos: dict[str, bytes]
    info: dict[str, dict]


def load_media(root: Path) -> Media:
    events = {e["file"]: e for e in json.loads((root / "videos" / "events.json").read_text())}
    portraits, videos, info = {}, {}, {}
    for c in MIX:
        portraits.setdefault(c.portrait, centre_chip_portrait(root / c.portrait))
        if c.video not in videos:
            videos[c.video] = (root / "videos" / c.video).read_bytes()
            e = events[c.video]
            info[c.video] = {"duration_s": e["duration_s"], "frames": e["frames"], "fps": e["fps"],
                             "size": f"{e['width']}x{e['height']}", "bytes": len(videos[c.video])}
    return Media(portraits, videos, info)


# --------------------------------------------------------------------------- server

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def simreg_bin() -> str:
    exe = Path(sys.executable).parent / "simreg"
    return str(exe) if exe.exists() else (shutil.which("simreg") or "simreg")


class Server:
    def __init__(self, env: dict, workdir: Path, name: str = "server"):
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"{name}.log"
        # open for the server's lifetime: stop() closes it
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([simreg_bin(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                                     env=env, cwd=workdir, stdout=self._log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 180.0) -> float:
        import httpx

        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(f"simreg serve exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            time.sleep(0.25)
        raise SystemExit(f"simreg serve not ready after {timeout:.0f} s; log:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])

    def log_problems(self) -> list[str]:
        """Server log lines at ERROR level or with a traceback."""
        self._log.flush()
        out = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if '"ERROR"' in line or '"CRITICAL"' in line or "Traceback" in line or line.startswith("ERROR"):
                out.append(line)
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def cli_json(env: dict, *args: str) -> dict:
    r = subprocess.run([simreg_bin(), *args, "--json"], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise SystemExit(f"simreg {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}")
    return json.loads(r.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- database

@contextlib.contextmanager
def database(backend: str, workdir: Path):
    """(url, description); a fresh SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'simreg.sqlite3'}", "SQLite file (WAL) in a temp dir"
        return
    from sqlalchemy import create_engine, text

    schema = "bench_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_BASE)
    try:
        with admin.begin() as c:
            c.execute(text(f'CREATE SCHEMA "{schema}"'))
            version = c.execute(text("SHOW server_version")).scalar()
        yield PG_BASE + f"?options=-csearch_path%3D{schema}", f"PostgreSQL {version}, fresh schema on 127.0.0.1:5432"
    finally:
        with contextlib.suppress(Exception), admin.begin() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def postgres_reachable() -> str | None:
    """None when the server answers, else why not."""
    try:
        from sqlalchemy import create_engine, text

        e = create_engine(PG_BASE, connect_args={"connect_timeout": 5})
        try:
            with e.connect() as c:
                c.execute(text("SELECT 1"))
        finally:
            e.dispose()
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


# --------------------------------------------------------------------------- load

@dataclass
class Result:
    clip: str
    expected: str
    t_session: float = 0.0
    t_registration: float = 0.0
    status: int | None = None
    outcome: str | None = None
    reasons: tuple[str, ...] = ()
    error: str | None = None  # error code (HTTP error body) or exception name
    request_id: str | None = None
    session_request_id: str | None = None
    scores: dict | None = None
    busy_retries: int = 0  # 503 answers (ENGINE.BUSY) retried after their Retry-After
    start: float = 0.0
    end: float = 0.0

    @property
    def t_total(self) -> float:
        return self.t_session + self.t_registration


def one_registration(client, token: str, clip: Clip, media: Media, ids: Ids) -> Result:
    import httpx

    r = Result(clip.key, clip.expected, start=time.perf_counter())
    auth = {"Authorization": f"Bearer {token}"}
    try:
        t0 = time.perf_counter()
        s = client.post("/v1/sessions", json={"challenge": list(clip.challenge)}, headers=auth)
        r.t_session = time.perf_counter() - t0
        r.session_request_id = s.headers.get("x-request-id")
        if s.status_code != 201:
            r.status, r.error, r.request_id = s.status_code, "session:" + _code(s), s.headers.get("x-request-id")
            return r
        form = {"session_id": s.json()["session_id"], "id_type": "cn_resident", "id_number": ids.next(),
                "name": "王芳", "id_expiry": "long_term", "mirrored": "false", "consent": CONSENT}
        files = {"portrait": ("portrait.jpg", media.portraits[clip.portrait], "image/jpeg"),
                 "video": ("capture.mp4", media.videos[clip.video], "video/mp4")}
        key = uuid.uuid4().hex
        t0 = time.perf_counter()
        while True:  # a 503 with Retry-After is retried as a terminal would (the session was not used)
            g = client.post("/v1/registrations", data=form, files=files, headers={**auth, "Idempotency-Key": key})
            if g.status_code != 503 or "retry-after" not in g.headers or r.busy_retries >= MAX_BUSY_RETRIES:
                break
            r.busy_retries += 1
            time.sleep(float(g.headers["retry-after"]))
        r.t_registration = time.perf_counter() - t0
        r.status, r.request_id = g.status_code, g.headers.get("x-request-id")
        if g.status_code == 200:
            body = g.json()
            r.outcome, r.reasons = body["outcome"], tuple(body.get("reasons", ()))
            r.scores = body.get("scores")
        else:
            r.error = _code(g)
    except httpx.HTTPError as exc:
        r.error = type(exc).__name__
    finally:
        r.end = time.perf_counter()
    return r


def _code(resp) -> str:
    try:
        return str(resp.json().get("code", resp.status_code))
    except ValueError:
        return f"HTTP {resp.status_code}"


def _proc_tree(pid: int, field) -> list:
    """``field(proc_dir, stat_fields)`` for ``pid`` and each of its live descendants
    (Linux /proc); processes that vanish while read are skipped."""
    parent, value = {}, {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            value[int(d.name)] = field(d, f)
        except (OSError, StopIteration, ValueError, IndexError):
            continue
        parent[int(d.name)] = int(f[1])
    tree, todo = set(), [pid]
    while todo:
        p = todo.pop()
        tree.add(p)
        todo += [c for c, pp in parent.items() if pp == p and c not in tree]
    return [value[p] for p in tree if p in value]


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum(_proc_tree(pid, lambda d, f: (int(f[11]) + int(f[12])) / tick))


def tree_rss_mb(pid: int) -> tuple[float, int]:
    """Resident memory (VmRSS, MB) summed over ``pid`` and its live descendants,
    and how many processes that is (shared library pages count in each)."""
    def rss_kb(d, _f):
        return next(int(line.split()[1]) for line in (d / "status").read_text().splitlines()
                    if line.startswith("VmRSS:"))
    kbs = _proc_tree(pid, rss_kb)
    return sum(kbs) / 1024, len(kbs)


def run_level(url: str | list[str], tokens: list[str], clients: int, requests: int, media: Media, ids: Ids,
              offset: int = 0) -> tuple[list[Result], float]:
    """``requests`` registrations by ``clients`` threads, each with its own clerk and connection;
    with several server URLs, client n talks to server n mod len(urls) (a round-robin balancer)."""
    urls = [url] if isinstance(url, str) else list(url)
    import httpx

    jobs = list(range(offset, offset + requests))
    lock = threading.Lock()
    results: list[Result] = []
    barrier = threading.Barrier(clients + 1)

    def worker(n: int) -> None:
        with httpx.Client(base_url=urls[n % len(urls)], timeout=httpx.Timeout(600.0)) as client:
            barrier.wait()
            while True:
                with lock:
                    if not jobs:
                        return
                    j = jobs.pop(0)
                res = one_registration(client, tokens[n], MIX[j % len(MIX)], media, ids)
                with lock:
                    results.append(res)

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return results, time.perf_counter() - t0


def mix_table(media) -> list[str]:
    """The report's table of the request mix: each clip, its challenge and portrait."""
    out = ["", f"The mix: requests cycle through {', '.join(c.key for c in MIX)} in this order.", "",
           "| key | video | duration | frames | size | file size | challenge (its own actions) | portrait | expected |",
           "|---|---|---|---|---|---|---|---|---|"]
    for c in {c.key: c for c in MIX}.values():
        i = media.info[c.video]
        out.append(f"| {c.key} | videos/{c.video} | {i['duration_s']:.2f} s | {i['frames']} @ {i['fps']:g} fps | "
                   f"{i['size']} | {i['bytes'] / 1e6:.2f} MB | {', '.join(c.challenge)} | "
                   f"102x126 chip cut of {c.portrait} ({'same person' if c.same_person else 'another person'}) | "
                   f"{c.expected} |")
    return out


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(-(-q * len(v) // 100)) - 1))
    return v[k]


def summarise(results: list[Result], wall: float) -> dict:
    done = [r for r in results if r.status == 200 and r.outcome]
    reg = [r.t_registration for r in done]
    tot = [r.t_total for r in done]
    return {
        "requests": len(results), "completed": len(done), "wall_s": wall,
        "per_min": 60.0 * len(done) / wall if wall > 0 else 0.0,
        "reg_p50": pct(reg, 50), "reg_p95": pct(reg, 95), "reg_mean": statistics.fmean(reg) if reg else None,
        "tot_p50": pct(tot, 50), "tot_p95": pct(tot, 95),
        "session_p50": pct([r.t_session for r in done], 50),
        "outcomes": dict(Counter(r.outcome for r in done)),
        "errors": dict(Counter(f"{r.status} {r.error}" for r in results if r.error)),
        "by_clip": {k: dict(Counter((r.outcome or r.error or "?") for r in results if r.clip == k))
                    for k in sorted({r.clip for r in results})},
        "reasons": dict(Counter(x for r in done for x in r.reasons)),
        "unexpected": sum(1 for r in done if r.outcome != r.expected),
        "busy_retries": sum(r.busy_retries for r in results),
    }


# --------------------------------------------------------------------------- a backend

def bench_backend(backend: str, levels: list[int], requests: int, media: Media, args) -> dict:
    import httpx

    out: dict = {"backend": backend, "levels": [], "server_problems": [], "warmup": None}
    with tempfile.TemporaryDirectory(prefix=f"simreg-bench-{backend}-") as tmp:
        workdir = Path(tmp)
        with database(backend, workdir) as (url, description):
            out["database"] = description
            env = {**os.environ, **SERVER_ENV, "SIMREG_DATABASE_URL": url,
                   "SIMREG_KEYRING_FILE": str(workdir / "keyring.json"),
                   "SIMREG_DATA_DIR": str(data_dir())}
            env.pop("SIMREG_KEYRING", None)
            if args.code_dir:  # the committed code, not a checkout that teammates may be editing
                env["PYTHONPATH"] = os.pathsep.join([str(args.code_dir), *filter(None, [env.get("PYTHONPATH")])])
            if args.engine_workers is not None:
                env["SIMREG_ENGINE_WORKERS"] = str(args.engine_workers)
            else:
                env.pop("SIMREG_ENGINE_WORKERS", None)
            server = Server(env, workdir)
            try:
                out["startup_s"] = server.wait_ready()
                print(f"[{backend}] serving on {server.url} after {out['startup_s']:.1f} s", flush=True)
                outlet = cli_json(env, "admin", "create-outlet", "Bench counter")["outlet_id"]
                tokens = [cli_json(env, "admin", "create-clerk", "--outlet", outlet, "--name", f"clerk {i + 1}",
                                   "--role", "clerk")["token"] for i in range(max(levels))]
                admin = cli_json(env, "admin", "create-clerk", "--outlet", outlet, "--name", "bench admin",
                                 "--role", "admin")["token"]
                total = 1 + requests * len(levels)
                pool = [f"+86139{n:08d}" for n in range(total + 10)]
                with httpx.Client(base_url=server.url, timeout=60) as c:
                    status = c.get("/status").json()
                    for i in range(0, len(pool), 500):
                        r = c.post("/v1/numbers", json={"numbers": pool[i:i + 500]},
                                   headers={"Authorization": f"Bearer {admin}"})
                        if r.status_code != 201:
                            raise SystemExit(f"POST /v1/numbers: {r.status_code} {r.text}")
                out["status"] = status
                ids = Ids()
                warm, warm_wall = run_level(server.url, tokens, 1, 1, media, ids)
                out["warmup"] = {"wall_s": warm_wall, "status": warm[0].status,
                                 "outcome": warm[0].outcome or warm[0].error}
                print(f"[{backend}] warm-up: {warm[0].outcome or warm[0].error} in {warm_wall:.1f} s", flush=True)
                offset = 1
                for c_ in levels:
                    load0, cpu0 = os.getloadavg()[0], tree_cpu_s(server.proc.pid)
                    results, wall = run_level(server.url, tokens, c_, requests, media, ids, offset)
                    cpu = tree_cpu_s(server.proc.pid) - cpu0
                    offset += requests
                    s = summarise(results, wall)
                    s["clients"] = c_
                    s["server_cpu_s"] = cpu
                    s["cpu_per_reg"] = cpu / s["completed"] if s["completed"] else None
                    s["load"] = (load0, os.getloadavg()[0])
                    s["raw"] = [{"clip": r.clip, "status": r.status, "outcome": r.outcome, "reasons": r.reasons,
                                 "error": r.error, "request_ids": (r.session_request_id, r.request_id),
                                 "t_session": r.t_session, "t_registration": r.t_registration,
                                 "scores": r.scores} for r in results]
                    s["failed_requests"] = [(r.status, r.error, r.request_id) for r in results if r.error][:10]
                    out["levels"].append(s)
                    print(f"[{backend}] {c_} client(s): {s['completed']}/{s['requests']} in {wall:.1f} s, "
                          f"{s['per_min']:.1f}/min, registration p50 {fmt_s(s['reg_p50'])} "
                          f"p95 {fmt_s(s['reg_p95'])}, outcomes {s['outcomes']}, errors {s['errors']}", flush=True)
                out["rss_after_mb"], out["rss_processes"] = tree_rss_mb(server.proc.pid)
                print(f"[{backend}] serving processes after the registrations: {out['rss_after_mb']:.0f} MB RSS "
                      f"in {out['rss_processes']} processes", flush=True)
                out["server_problems"] = server.log_problems()
            finally:
                server.stop()
                if args.keep:
                    keep = Path(tempfile.mkdtemp(prefix=f"simreg-bench-{backend}-log-"))
                    shutil.copy(server.log_path, keep / "server.log")
                    print(f"[{backend}] server log kept in {keep / 'server.log'}", flush=True)
    return out


# --------------------------------------------------------------------------- 1, 2, 4 server processes

def tree_pss_mb(pid: int) -> float:
    """Proportional set size (MB) summed over ``pid`` and its live descendants:
    shared pages are divided among the processes that map them, so it adds up."""
    def pss_kb(d, _f):
        return next(int(line.split()[1]) for line in (d / "smaps_rollup").read_text().splitlines()
                    if line.startswith("Pss:"))
    return sum(_proc_tree(pid, pss_kb)) / 1024


def pid_cpu_s(pids) -> dict[int, float]:
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            out[p] = (int(f[11]) + int(f[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return out


class DbCpu:
    """CPU of the PostgreSQL backends serving one configuration's servers (found by
    their application_name in pg_stat_activity, read from /proc: the server runs on
    this machine).  A backend that ends during a level loses its last CPU; the
    servers' pools keep theirs open, so that is rare."""

    def __init__(self, admin, application_name: str):
        self.admin, self.app = admin, application_name

    def snapshot(self) -> dict[int, float]:
        from sqlalchemy import text

        with self.admin.connect() as c:
            pids = c.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"),
                             {"a": self.app}).scalars().all()
        return pid_cpu_s(pids)

    @staticmethod
    def delta(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(v - before.get(p, 0.0) for p, v in after.items())


def bench_processes(n: int, workers: int | None, round_no: int, requests: int, media: Media, ids: Ids,
                    args) -> dict:
    """``n`` separate ``simreg serve`` processes started at once on one fresh PostgreSQL
    schema, each on its own port with ``cores // n`` engine workers (what
    ``serve --workers n`` gives each worker), driven by ``n * that`` clients pinned
    round-robin to the servers: each server gets as many clients as its bound on
    analyses in flight."""
    import httpx
    from sqlalchemy import create_engine

    from simreg.adapters.crypto import Keyring

    cores = os.cpu_count() or 1
    engine_workers = workers or (args.engine_workers if args.engine_workers is not None else max(1, cores // n))
    clients = n * engine_workers
    label = f"{n}" if workers is None else f"{n} ({workers} engine workers)"
    out: dict = {"processes": n, "config": label, "round": round_no, "engine_workers": engine_workers,
                 "clients": clients,
                 "server_problems": []}
    app_name = f"simreg_bench_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix=f"simreg-bench-p{n}-") as tmp:
        workdir = Path(tmp)
        Keyring.generate().save(workdir / "keyring.json")  # one keyring for every replica
        with database("postgresql", workdir) as (url, description):
            url += f"&application_name={app_name}"
            out["database"] = description
            env = {**os.environ, **SERVER_ENV, "SIMREG_DATABASE_URL": url,
                   "SIMREG_KEYRING_FILE": str(workdir / "keyring.json"), "SIMREG_DATA_DIR": str(data_dir()),
                   "SIMREG_ENGINE_WORKERS": str(engine_workers)}
            env.pop("SIMREG_KEYRING", None)
            if args.code_dir:
                env["PYTHONPATH"] = os.pathsep.join([str(args.code_dir), *filter(None, [env.get("PYTHONPATH")])])
            admin_db = create_engine(PG_BASE)
            servers = [Server(env, workdir, f"server{i}") for i in range(n)]  # all at once, fresh schema
            try:
                t0 = time.perf_counter()
                for sv in servers:
                    sv.wait_ready()
                out["startup_s"] = time.perf_counter() - t0
                print(f"[{n} process(es), round {round_no}] {n} server(s) ready after {out['startup_s']:.1f} s",
                      flush=True)
                outlet = cli_json(env, "admin", "create-outlet", "Bench counter")["outlet_id"]
                tokens = [cli_json(env, "admin", "create-clerk", "--outlet", outlet, "--name", f"clerk {i + 1}",
                                   "--role", "clerk")["token"] for i in range(clients)]
                admin = cli_json(env, "admin", "create-clerk", "--outlet", outlet, "--name", "bench admin",
                                 "--role", "admin")["token"]
                with httpx.Client(base_url=servers[0].url, timeout=60) as c:
                    out["status"] = c.get("/status").json()
                    pool = [f"+86139{k:08d}" for k in range(requests + n + 10)]
                    r = c.post("/v1/numbers", json={"numbers": pool}, headers={"Authorization": f"Bearer {admin}"})
                    if r.status_code != 201:
                        raise SystemExit(f"POST /v1/numbers: {r.status_code} {r.text}")
                # one warm-up registration per server, together (not counted)
                warm, warm_wall = run_level([sv.url for sv in servers], tokens, n, n, media, ids)
                out["warmup"] = {"wall_s": warm_wall, "outcomes": dict(Counter(w.outcome or w.error for w in warm))}
                db = DbCpu(admin_db, app_name)
                load0 = os.getloadavg()[0]
                cpu0 = [tree_cpu_s(sv.proc.pid) for sv in servers]
                db0 = db.snapshot()
                results, wall = run_level([sv.url for sv in servers], tokens, clients, requests, media, ids)
                cpu = [tree_cpu_s(sv.proc.pid) - c0 for sv, c0 in zip(servers, cpu0, strict=False)]
                db_cpu = DbCpu.delta(db0, db.snapshot())
                s = summarise(results, wall)
                s.update(out)
                s["server_cpu_s"] = sum(cpu)
                s["server_cpu_each"] = cpu
                s["db_cpu_s"] = db_cpu
                s["db_backends"] = len(db0)
                s["cpu_per_reg"] = sum(cpu) / s["completed"] if s["completed"] else None
                s["reg_per_cpu_s"] = s["completed"] / sum(cpu) if sum(cpu) > 0 else None
                s["load"] = (load0, os.getloadavg()[0])
                mem = [tree_rss_mb(sv.proc.pid) for sv in servers]
                s["rss_mb_each"] = [m[0] for m in mem]
                s["rss_procs_each"] = [m[1] for m in mem]
                s["pss_mb_each"] = [tree_pss_mb(sv.proc.pid) for sv in servers]
                s["raw"] = [{"clip": r.clip, "status": r.status, "outcome": r.outcome, "reasons": r.reasons,
                             "error": r.error, "busy_retries": r.busy_retries,
                             "t_session": r.t_session, "t_registration": r.t_registration, "scores": r.scores}
                            for r in results]
                s["failed_requests"] = [(r.status, r.error, r.request_id) for r in results if r.error][:10]
                s["server_problems"] = [p for sv in servers for p in sv.log_problems()]
                print(f"[{n} process(es), round {round_no}] {clients} clients: {s['completed']}/{s['requests']} "
                      f"in {wall:.1f} s, {s['per_min']:.1f}/min, {s['cpu_per_reg'] or 0:.2f} server CPU-s each "
                      f"({s['reg_per_cpu_s'] or 0:.3f} per CPU-s), DB {db_cpu:.1f} CPU-s, "
                      f"busy retries {s['busy_retries']}, errors {s['errors']}, "
                      f"RSS {', '.join(f'{m:.0f}' for m in s['rss_mb_each'])} MB", flush=True)
                return s
            finally:
                for sv in servers:
                    sv.stop()
                admin_db.dispose()
                if args.keep:
                    keep = Path(tempfile.mkdtemp(prefix=f"simreg-bench-p{n}-log-"))
                    for sv in servers:
                        shutil.copy(sv.log_path, keep / sv.log_path.name)
                    print(f"[{n} process(es)] server logs kept in {keep}", flush=True)


def over_text(pooled: dict, cores: int | None) -> str:
    """What the configurations with more engine workers than cores show, next to
    one another: the same oversubscription in one process or in several."""
    over = {n: p for n, p in pooled.items() if not p["fits"]}
    if not over:
        return ""
    base = next(iter(pooled.values()))["rate"]
    parts = [f"{n}: {p['ew']} engine workers on {cores} cores, {p['rate'] / base:.2f} ×" for n, p in over.items()]
    return (" With more engine workers than cores, CPU-bound processes are time-sliced on the same cores "
            "(cache and scheduling cost); the configurations that do so, relative to the first: " + "; ".join(parts)
            + ". A control with as many engine workers in one process separates that cost from the number of "
            "server processes.")


def node_sizing(reg_per_cpu_s: float) -> dict:
    """One 16-core node as docs/deploy.md plans it (7 pods of 2 CPUs: 14 CPUs for
    simreg), and the nodes the national peak needs at the HPA's 60 % target."""
    import math

    per_node = 14 * reg_per_cpu_s
    return {"node_full": per_node, "node_16_full": 16 * reg_per_cpu_s, "node_at_60": 0.6 * per_node,
            "nodes": {peak: math.ceil(peak / (0.6 * per_node)) for peak in (30, 95)},
            "cores_per_1000_h": 1000 / 3600 / reg_per_cpu_s}


def report_processes(levels: list[dict], media: Media, args, command: str, started: str, elapsed: float) -> str:
    cores = os.cpu_count()
    status = next((s["status"] for s in levels if s.get("status")), {})
    models, policy = status.get("models", {}), status.get("policy", {})
    configs = list(dict.fromkeys(s["config"] for s in levels))
    rounds = max((s["round"] for s in levels), default=1)
    L = ["# Registration service: throughput on 1, 2 and 4 server processes (PostgreSQL)", "",
         f"Made by `{command}` on {started}; code: {code_description(args)}. The whole run took "
         f"{elapsed / 60:.1f} min. Every configuration was measured in this one run, "
         + (f"in {rounds} interleaved rounds ({', '.join(map(str, configs))}, then again), " if rounds > 1 else "")
         + "on the same machine, so the ratios between them are what count.", "",
         f"- Machine: {platform.machine()}, **{cores} cores**, no GPU, Python {platform.python_version()}, "
         f"{platform.system()} {platform.release()}. The bench's client threads and PostgreSQL run on the same "
         f"{cores} cores as the servers. The machine is shared with other engineers' jobs: the load average "
         "before and after each level is in the table.",
         f"- Servers: N separate `simreg serve` processes (N = {', '.join(map(str, configs))}), each on its own "
         "port, **started at the same moment on one fresh PostgreSQL schema** (one keyring file for all), each "
         f"with `SIMREG_ENGINE_WORKERS` = {cores} // N (at least 1): what `simreg serve --workers N` gives each "
         "worker, and what a Kubernetes pod per process would have. A configuration written N (W engine workers) "
         "sets W instead: a control with as many engine workers as a bigger N, in fewer processes. Other settings: "
         + ", ".join(f"`{k}={v}`" for k, v in SERVER_ENV.items()) + "; the bound on analyses in flight is the "
         "default (the engine workers of the process).",
         "- Clients: N × engine workers per process client threads (each its own clerk and keep-alive "
         "connection), client k pinned to server k mod N like a round-robin balancer, so that each server gets as "
         "many concurrent registrations as its bound. A 503 with `Retry-After` would be retried after that delay "
         "(column *busy retries*).",
         f"- Policy {policy.get('version', '?')}, sha256 `{policy.get('sha256', '?')}`; models "
         + ", ".join(f"`{m}`" for m in models.get("embedders", [])) + f"; detector `{models.get('detector', '?')}`.",
         f"- Each level: {args.requests} registrations of the clip mix below (`POST /v1/sessions` naming the "
         "clip's actions, then `POST /v1/registrations` with the video and a chip portrait), after one warm-up "
         "registration per server (not counted). **Server CPU** = user + system CPU of every server process and "
         "its engine worker children (from /proc, summed over the process trees) during the level. **DB CPU** = "
         "CPU of the PostgreSQL backends of those servers (by `application_name`), not included in server CPU.",
         "",
         "| processes | engine workers each | clients | round | completed | wall | registrations/min | "
         "server CPU / registration | **registrations per server CPU-s** | server CPU use | DB CPU / registration | "
         "registration p50 | p95 | busy retries | errors | RSS per server process (with its engine workers) | "
         "PSS per server process | load avg before → after |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for s in levels:
        L.append(f"| {s['config']} | {s['engine_workers']} | {s['clients']} | {s['round']} | "
                 f"{s['completed']}/{s['requests']} | {s['wall_s']:.0f} s | **{s['per_min']:.1f}** | "
                 f"{fmt_s(s['cpu_per_reg'])} | **{s['reg_per_cpu_s'] or 0:.3f}** | "
                 f"{s['server_cpu_s'] / s['wall_s']:.2f} cores | "
                 f"{(s['db_cpu_s'] / s['completed'] * 1000 if s['completed'] else 0):.0f} ms | "
                 f"{fmt_s(s['reg_p50'])} | {fmt_s(s['reg_p95'])} | {s['busy_retries']} | {fmt_counts(s['errors'])} | "
                 f"{' / '.join(f'{m:.0f}' for m in s['rss_mb_each'])} MB | "
                 f"{' / '.join(f'{m:.0f}' for m in s['pss_mb_each'])} MB | "
                 f"{s['load'][0]:.1f} → {s['load'][1]:.1f} |")
    L += ["", "Per configuration (all rounds pooled):", "",
          "| processes | engine workers in all (per core) | completed | registrations/min | server CPU-s / "
          "registration | registrations per server CPU-s | relative to the first | DB CPU / registration | RSS, mean "
          "per server process | PSS, sum over all servers |", "|---|---|---|---|---|---|---|---|---|---|"]
    pooled = {}
    for n in configs:
        ss = [s for s in levels if s["config"] == n]
        done = sum(s["completed"] for s in ss)
        cpu, wall = sum(s["server_cpu_s"] for s in ss), sum(s["wall_s"] for s in ss)
        db = sum(s["db_cpu_s"] for s in ss)
        rss = [m for s in ss for m in s["rss_mb_each"]]
        pss = statistics.fmean(sum(s["pss_mb_each"]) for s in ss)
        ew = ss[0]["processes"] * ss[0]["engine_workers"]
        pooled[n] = {"done": done, "cpu": cpu, "wall": wall, "rate": done / cpu if cpu else 0.0, "db": db,
                     "rss": statistics.fmean(rss) if rss else 0.0, "pss": pss, "ew": ew,
                     "fits": ew <= (cores or 1)}
    base = pooled[configs[0]]["rate"] if configs else 0.0
    for n in configs:
        p = pooled[n]
        L.append(f"| {n} | {p['ew']} ({p['ew'] / (cores or 1):g}) | {p['done']} | {60 * p['done'] / p['wall']:.1f} | "
                 f"{p['cpu'] / p['done']:.2f} s | "
                 f"**{p['rate']:.3f}** | {p['rate'] / base:.2f} × | {p['db'] / p['done'] * 1000:.0f} ms | "
                 f"{p['rss']:.0f} MB | {p['pss']:.0f} MB |")
    all_done = sum(p["done"] for p in pooled.values())
    all_rate = all_done / sum(p["cpu"] for p in pooled.values()) if all_done else 0.0
    # sizing from the configurations shaped like a pod: no more engine workers than cores
    fit = [p for p in pooled.values() if p["fits"]] or list(pooled.values())
    fit_names = [n for n, p in pooled.items() if p in fit]
    total_done = sum(p["done"] for p in fit)
    total_cpu = sum(p["cpu"] for p in fit)
    rate = total_done / total_cpu if total_cpu else 0.0
    db_ms = 1000 * sum(p["db"] for p in pooled.values()) / all_done if all_done else 0.0
    z = node_sizing(rate) if rate else None
    mean_video = statistics.fmean(media.info[c.video]["duration_s"] for c in MIX)
    if z:
        L += ["", "### What this means for a node and for the national peak", "",
              f"- Over the {total_done} registrations of the configurations with no more engine workers than "
              f"cores ({', '.join(map(str, fit_names))} process(es): the shape of a pod, whose "
              f"`SIMREG_ENGINE_WORKERS` comes from its CPU limit), the servers spent **{1 / rate:.2f} CPU-s per "
              f"registration**, i.e. **{rate:.3f} registrations per CPU-second** "
              f"(**{z['cores_per_1000_h']:.2f} cores per 1,000 registrations an hour**); over all {all_done}, "
              f"{1 / all_rate:.2f} CPU-s ({all_rate:.3f} per CPU-second). PostgreSQL added "
              f"{db_ms:.0f} ms of CPU per registration, on its own machines in a deployment.",
              "- On 2 cores the CPU is the limit, so more processes cannot add throughput here. What scaling out "
              "needs is that the CPU per registration does not grow with the number of processes (no lock, "
              "no shared state outside PostgreSQL that they queue for); the *relative to the first* column "
              "shows it. Then throughput grows with the cores given to the processes."
              + over_text(pooled, cores),
              f"- **One 16-core node** (7 pods of 2 CPUs = 14 CPUs for simreg, as in docs/deploy.md) carries "
              f"about **{z['node_full']:.1f} registrations/s** with every core busy ({z['node_16_full']:.1f}/s if "
              f"all 16 cores ran simreg), and **{z['node_at_60']:.1f}/s** at the HPA's 60 % target.",
              f"- **The national peak** (100–300 M registrations a year, peak 10 × average ≈ 30–95 "
              f"registrations/s) needs **{z['nodes'][30]} to {z['nodes'][95]} such nodes** at the 60 % target "
              f"({30 / z['node_full']:.1f} to {95 / z['node_full']:.1f} nodes' worth of CPU at 100 %), plus "
              f"PostgreSQL. This is for this clip mix (mean {mean_video:.1f} s of video); the cost grows with the "
              "clip's length."]
    L += ["", "Outcomes by clip and reason codes:", "",
          "| processes | round | " + " | ".join(sorted({c.key for c in MIX})) + " | reasons | unexpected outcomes |",
          "|---|---|" + "---|" * len({c.key for c in MIX}) + "---|---|"]
    for s in levels:
        L.append(f"| {s['config']} | {s['round']} | "
                 + " | ".join(fmt_counts(s["by_clip"].get(k, {})) for k in sorted({c.key for c in MIX}))
                 + f" | {fmt_counts(s['reasons'])} | {s['unexpected']} |")
    L += ["", "Servers:", ""]
    for s in levels:
        w = s.get("warmup") or {}
        L.append(f"- {s['config']} process(es), round {s['round']}: {s.get('database', '?')}; all ready "
                 f"{s.get('startup_s', 0):.1f} s after being started together; warm-up "
                 f"{fmt_counts(w.get('outcomes', {}))} in {w.get('wall_s', 0):.1f} s; server log lines at ERROR "
                 f"level: {len(s['server_problems'])}; PostgreSQL backends of these servers: {s['db_backends']}.")
    L += mix_table(media)
    L += ["", "Reading the figures: the face engine dominates a registration, so the CPU per registration is "
          "what sizes a deployment; wall-clock throughput here is bounded by 2 shared cores and by what the other "
          "jobs on the machine took (see the load average). Memory is per server process with its engine "
          "workers: RSS counts shared library pages in each process, PSS divides them among the processes that "
          "share them, so the PSS sum is what the servers take together on one machine.", ""]
    return "\n".join(L) + "\n"


EARLIER_MARK = "<!-- Earlier runs below: kept as they are when bench/service.py --processes rewrites this file. -->"


def keep_earlier(path: Path) -> str:
    """The part of an existing report that a --processes run keeps: from EARLIER_MARK on,
    or, the first time, the whole old report under a second-level heading."""
    if not path.exists():
        return ""
    old = path.read_text(encoding="utf-8")
    if EARLIER_MARK in old:
        return old[old.index(EARLIER_MARK):]
    lines = old.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    lines = ["#" + ln if ln.startswith("#") else ln for ln in lines]  # one level down
    return (EARLIER_MARK + "\n\n## Earlier run: one server process (`--backend` / `--clients` mode)\n"
            + "\n".join(lines) + "\n")



# --------------------------------------------------------------------------- report

def fmt_s(v: float | None) -> str:
    return "–" if v is None else f"{v:.2f} s"


def fmt_counts(d: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"


def head_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def export_src(commit: str, dest: Path) -> Path:
    """``src/`` of ``commit`` (git archive) under ``dest``; the servers import simreg from there."""
    archive = subprocess.run(["git", "archive", commit, "src"], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest / "src"


def code_description(args) -> str:
    if args.code == "head":
        return f"commit `{args.commit[:12]}` (its src/ exported with git archive and served from there)"
    sha = head_commit()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src"], cwd=REPO,
                           capture_output=True, text=True).stdout.strip()
    changes = " with uncommitted changes in src/" if dirty else ""
    return f"the checkout at commit `{(sha or 'unknown')[:12]}`" + changes


def report(runs: list[dict], skipped: dict[str, str], media: Media, args, command: str, started: str,
           elapsed: float) -> str:
    cores = os.cpu_count()
    status = next((r["status"] for r in runs if r.get("status")), {})
    models = status.get("models", {})
    workers = models.get("worker_processes", args.engine_workers if args.engine_workers is not None
                         else min(4, cores or 1))
    policy = status.get("policy", {})
    workers_env = ("=" + str(args.engine_workers) if args.engine_workers is not None
                   else "unset: one per usable CPU, at most 4")
    L = ["# Registration service: throughput and latency", "",
         f"Made by `{command}` on {started}; code: {code_description(args)}. The whole run took "
         f"{elapsed / 60:.1f} min.", "",
         f"- Machine: {platform.machine()}, **{cores} cores**, no GPU, Python {platform.python_version()}, "
         f"{platform.system()} {platform.release()}. The bench's client threads run on the same 2 cores as the "
         "server.",
         f"- Server: `simreg serve` (one uvicorn process) on 127.0.0.1; face analysis in **{workers} engine worker "
         f"process(es)** (`SIMREG_ENGINE_WORKERS` {workers_env}). "
         "Settings changed from the defaults: " + ", ".join(f"`{k}={v}`" for k, v in SERVER_ENV.items()) + ".",
         f"- Policy {policy.get('version', '?')}, sha256 `{policy.get('sha256', '?')}`; models "
         + ", ".join(f"`{m}`" for m in models.get("embedders", [])) + f"; detector `{models.get('detector', '?')}`.",
         f"- Each level: {args.requests} registrations (`POST /v1/sessions` naming the clip's actions, then "
         "`POST /v1/registrations`, multipart, a fresh Idempotency-Key and a fresh valid resident ID each), by C "
         "client threads, each its own clerk and keep-alive connection. One warm-up registration per server is "
         "excluded. Throughput = completed registrations (200 with an outcome) / wall time of the level. "
         "Latencies are client-side, over completed registrations; percentiles are nearest-rank.",
         ""]
    for b, why in skipped.items():
        L += [f"**{b}: not measured** — {why}", ""]
    L += ["| backend | clients | completed | wall | registrations/min | registration p50 | p95 | "
          "session + registration p50 | p95 | outcomes | errors | server CPU / registration | server CPU use | "
          "load avg before → after |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        for s in run["levels"]:
            L.append(f"| {run['backend']} | {s['clients']} | {s['completed']}/{s['requests']} | {s['wall_s']:.0f} s | "
                     f"**{s['per_min']:.1f}** | {fmt_s(s['reg_p50'])} | {fmt_s(s['reg_p95'])} | "
                     f"{fmt_s(s['tot_p50'])} | {fmt_s(s['tot_p95'])} | {fmt_counts(s['outcomes'])} | "
                     f"{fmt_counts(s['errors'])} | {fmt_s(s['cpu_per_reg'])} | "
                     f"{s['server_cpu_s'] / s['wall_s']:.2f} cores | "
                     f"{s['load'][0]:.1f} → {s['load'][1]:.1f} |")
    cpu = [s["cpu_per_reg"] for run in runs for s in run["levels"] if s["cpu_per_reg"]]
    best = max((s["per_min"] for run in runs for s in run["levels"]), default=0.0)
    if cpu:
        med = statistics.median(cpu)
        L += ["", f"The server (uvicorn process and its engine workers) spent a median **{med:.1f} CPU-seconds per "
              f"registration** of this mix, so {cores} fully available cores cap it at about "
              f"{(cores or 1) * 60 / med:.0f} registrations/min; the best level measured reached {best:.1f}. "
              "The load average column shows what else ran on the machine: it is shared with other sessions' "
              "test runs, whose CPU the server competed for, so wall-clock figures are lower and noisier than on "
              "an idle machine, while CPU per registration is not affected by that."]
    for run in runs:
        if run.get("rss_after_mb"):
            L += ["", f"{run['backend']}: the serving processes (server and engine workers, {run['rss_processes']} "
                  f"processes) held **{run['rss_after_mb']:.0f} MB RSS** after the registrations (VmRSS summed; "
                  "shared library pages count in each process)."]
    L += ["", "Outcomes by clip and reason codes:", "",
          "| backend | clients | " + " | ".join(sorted({c.key for c in MIX})) + " | reasons | unexpected outcomes |",
          "|---|---|" + "---|" * len({c.key for c in MIX}) + "---|---|"]
    for run in runs:
        for s in run["levels"]:
            L.append(f"| {run['backend']} | {s['clients']} | "
                     + " | ".join(fmt_counts(s["by_clip"].get(k, {})) for k in sorted({c.key for c in MIX}))
                     + f" | {fmt_counts(s['reasons'])} | {s['unexpected']} |")
    L += ["", "Servers:", ""]
    for run in runs:
        w = run.get("warmup") or {}
        L.append(f"- {run['backend']}: {run.get('database', '?')}; ready after {run.get('startup_s', 0):.1f} s "
                 f"(models loaded in the workers); warm-up registration {w.get('outcome')} in "
                 f"{w.get('wall_s', 0):.1f} s; server log lines at ERROR level: {len(run['server_problems'])}.")
    L += mix_table(media)
    L += ["", "What the service answered, per clip (all levels and backends):", "",
          "| key | registrations | registration time p50 | outcomes | match score (threshold, review) | "
          "liveness passed | events seen |", "|---|---|---|---|---|---|---|"]
    for key in dict.fromkeys(c.key for c in MIX):
        raw = [r for run in runs for s in run["levels"] for r in s["raw"] if r["clip"] == key]
        ok = [r for r in raw if r["scores"]]
        if not raw:
            continue
        m = [r["scores"].get("match") or {} for r in ok]
        scores = sorted({x["score"] for x in m if "score" in x})
        thr = next((f"{x['threshold']}, {x.get('review_threshold')}" for x in m if "threshold" in x), "–")
        live = [r["scores"].get("liveness") or {} for r in ok]
        ev = next((", ".join(f"{e['action']} {e['start']}–{e['end']} s" for e in x.get("events", [])) for x in live),
                  "–")
        L.append(f"| {key} | {len(raw)} | {fmt_s(pct([r['t_registration'] for r in ok], 50))} | "
                 f"{fmt_counts(Counter(r['outcome'] or r['error'] for r in raw))} | "
                 f"{', '.join(f'{x:.2f}' for x in scores) or '–'} ({thr}) | "
                 f"{sum(1 for x in live if x.get('passed'))}/{len(ok)} | {ev} |")
    L += ["",
          "Reading the figures: the face engine (MTCNN tracking over the sampled frames, landmarks, two "
          "descriptors, PAD cues) dominates a registration; the database work is a few small transactions. "
          "One registration's video is tracked by one engine worker while the portrait goes to the other, so "
          "one client keeps at most about one core busy; two clients can use both workers; more clients than "
          "workers only queue for them: latency grows with the number of clients, and throughput cannot pass the "
          "CPU cap above, whatever the concurrency. The server CPU use column (CPU-seconds of the server and its "
          "workers over the level's wall "
          "time) shows how much of the 2 cores the server actually got. "
          "The work scales with the clip's length (the 20.7 s tranvanluyt clip costs far more than the 5.3 s "
          f"one), so these figures hold for this mix only. With {args.requests} requests per level, the "
          "nearest-rank p95 is the slowest request of the level.", ""]
    return "\n".join(L) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    ap.add_argument("--clients", default="1,2,4", help="concurrency levels, comma-separated")
    ap.add_argument("--requests", type=int, default=8, help="measured registrations per level")
    ap.add_argument("--out", help="Markdown report to write")
    ap.add_argument("--engine-workers", type=int, help="SIMREG_ENGINE_WORKERS for the server (default: unset)")
    ap.add_argument("--code", choices=["head", "checkout"], default="head",
                    help="serve the committed src/ of HEAD (exported to the temp dir; default) or the checkout as is")
    ap.add_argument("--keep", action="store_true", help="keep the servers' logs")
    ap.add_argument("--processes", help="PostgreSQL scale-out mode: numbers of separate server processes, "
                    "comma-separated (e.g. 1,2,4); NxW: N processes with W engine workers each (default cores // N); "
                    "--clients is then ignored (N x W clients)")
    ap.add_argument("--rounds", type=int, default=1, help="with --processes: interleaved repetitions")
    ap.add_argument("--json", dest="json_out", help="also write every request's result (and scores) as JSON here")
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.clients.split(",") if x.strip()]
    if not levels or min(levels) < 1 or args.requests < 1:
        ap.error("need positive --clients and --requests")

    command = "python bench/service.py " + " ".join(argv if argv is not None else sys.argv[1:])
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    t0 = time.perf_counter()
    media = load_media(data_dir())
    args.code_dir = None
    code_tmp = None
    if args.code == "head":
        args.commit = head_commit()
        if args.commit is None:
            ap.error("--code head needs a git checkout")
        code_tmp = tempfile.TemporaryDirectory(prefix="simreg-bench-code-")
        args.code_dir = export_src(args.commit, Path(code_tmp.name))
    if args.processes:
        return main_processes(args, media, command, started, t0, code_tmp)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    runs, skipped = [], {}
    for b in backends:  # may grow: sqlite replaces an unreachable postgresql
        if b == "postgresql":
            why = postgres_reachable()
            if why:
                skipped[b] = f"PostgreSQL at {PG_BASE} is not reachable ({why})"
                print(f"[postgresql] skipped: {skipped[b]}; continuing with SQLite", flush=True)
                if "sqlite" not in backends:
                    backends.append("sqlite")
                continue
        runs.append(bench_backend(b, levels, args.requests, media, args))
    if code_tmp is not None:
        code_tmp.cleanup()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"runs": runs, "skipped": skipped}, indent=1, default=str))
    text = report(runs, skipped, media, args, command, started, time.perf_counter() - t0)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    problems = [p for r in runs for p in r["server_problems"]]
    for run in runs:
        for s in run["levels"]:
            for f in s["failed_requests"]:
                print(f"[{run['backend']}] failed request: {f}", file=sys.stderr)
    for p in problems[:20]:
        print(f"server: {p[:2000]}", file=sys.stderr)
    return 0


def main_processes(args, media: Media, command: str, started: str, t0: float, code_tmp) -> int:
    configs = []  # N, or NxW: N processes with W engine workers each
    for item in filter(None, (x.strip() for x in args.processes.split(","))):
        n, _, w = item.partition("x")
        configs.append((int(n), int(w) if w else None))
    if not configs or min(min(n, w or 1) for n, w in configs) < 1 or args.rounds < 1:
        raise SystemExit("need positive --processes and --rounds")
    why = postgres_reachable()
    if why:
        raise SystemExit(f"PostgreSQL at {PG_BASE} is not reachable ({why})")
    ids = Ids()
    levels = []
    try:
        for rnd in range(1, args.rounds + 1):
            for n, w in configs:
                levels.append(bench_processes(n, w, rnd, args.requests, media, ids, args))
    finally:
        if code_tmp is not None:
            code_tmp.cleanup()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"levels": levels}, indent=1, default=str))
    text = report_processes(levels, media, args, command, started, time.perf_counter() - t0)
    if args.out:
        out = Path(args.out)
        earlier = keep_earlier(out)
        out.write_text(text + ("\n" + earlier if earlier else ""), encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    for s in levels:
        for f in s["failed_requests"]:
            print(f"[{s['processes']} process(es)] failed request: {f}", file=sys.stderr)
        for p in s["server_problems"][:10]:
            print(f"server: {p[:2000]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
