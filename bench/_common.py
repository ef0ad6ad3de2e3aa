"""Helpers shared by the bench scripts: where the data is, and stamping results
with the model and policy hashes they were measured with."""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Settings().data_dir (SIMREG_DATA_DIR, default ../shared/data), relative to the checkout."""
    from simreg.config import Settings

    d = Settings().shared_data_dir()
    if not (d / "faces" / "pairs.tsv").is_file():
        raise SystemExit(f"shared dataset not found at {d} (set SIMREG_DATA_DIR)")
    return d


def stamp(runtime) -> dict:
    return {
        "policy_version": runtime.policy.version,
        "policy_sha256": runtime.policy.sha256,
        "models": {f["model_id"]: f["sha256"][:16] for f in runtime.engine.describe()["files"]},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def run_timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> dict:
    """Run a command to the end: wall seconds, CPU seconds (user + system of the
    child and every descendant it waited for) and its stdout; a failure stops the bench."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, cmd[:4]))} exited {out.returncode}: {out.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "stdout": out.stdout}


def loadavg() -> str:
    """The machine's load average over 1, 5 and 15 minutes, as /proc gives it."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, interpolated linearly; NaN for none."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)
