"""Speed of 1:1 compare, side by side with face_recognition 1.3.0, interleaved.

    pip install --no-deps face-recognition==1.3.0     # on the same dlib-bin
    python bench/compare.py [--pairs N] [--json]

For every genuine and impostor row of faces/pairs.tsv, both tools do the whole
job from the two files on disk: face_recognition loads both images, locates
(HOG, its default upsample=1), encodes and takes the distance; simreg runs
``compare_images`` on the two files' bytes.  The two run alternately, pair by
pair, so drift in machine load hits both alike.  Reported: median and p90
per-pair wall time, CPU time (simreg's includes its worker processes'), the ratio; each tool's EER on these pairs; peak
RSS and cold start (import + model load) measured in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_dir, stamp

COLD_SIMREG = """
import sys, time, json
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's high-water mark across fork+exec.
def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
t0 = time.perf_counter()
from simreg.config import Settings
from simreg.runtime import build_runtime
from simreg.app.pipeline import compare_images
rt = build_runtime(Settings())
cold = time.perf_counter() - t0
a, b = open(sys.argv[1], 'rb').read(), open(sys.argv[2], 'rb').read()
for _ in range(3):
    compare_images(rt.engine, rt.policy, a, b, rt.limits)
workers = rt.engine.workers_peak_rss_kb() if hasattr(rt.engine, "workers_peak_rss_kb") else 0
main_kb = hwm_kb()
print(json.dumps({"cold_start_s": cold, "peak_rss_mb": (main_kb + workers) / 1024,
                  "peak_rss_main_mb": main_kb / 1024, "peak_rss_workers_mb": workers / 1024}))
"""

COLD_FR = """
import sys, time, json
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries the parent's high-water mark across fork+exec.
def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
t0 = time.perf_counter()
import face_recognition
face_recognition.face_encodings  # models load at import
cold = time.perf_counter() - t0
for _ in range(3):
    ea = face_recognition.face_encodings(face_recognition.load_image_file(sys.argv[1]))
    eb = face_recognition.face_encodings(face_recognition.load_image_file(sys.argv[2]))
    face_recognition.face_distance([ea[0]], eb[0])
print(json.dumps({"cold_start_s": cold, "peak_rss_mb": hwm_kb() / 1024}))
"""


def fr_compare(fr, path_a: Path, path_b: Path) -> float | None:
    """face_recognition's documented recipe; returns a similarity (-distance) or None."""
    ea = fr.face_encodings(fr.load_image_file(str(path_a)))
    eb = fr.face_encodings(fr.load_image_file(str(path_b)))
    if not ea or not eb:
        return None
    return -float(fr.face_distance([ea[0]], eb[0])[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=0, help="use an even sample of N pairs (0 = all)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", help="also write the report as Markdown to this file (e.g. docs/compare-speed.md)")
    args = ap.parse_args()

    import face_recognition as fr

    from simreg.app.pipeline import compare_images
    from simreg.config import Settings
    from simreg.domain.errors import InputError
    from simreg.domain.metrics import error_rates
    from simreg.eval.faces import read_pairs
    from simreg.runtime import build_runtime

    faces = data_dir() / "faces"
    pairs = read_pairs(faces / "pairs.tsv")
    if args.pairs and args.pairs < len(pairs):  # an even sample over genuine and impostor rows
        step = len(pairs) / args.pairs
        pairs = [pairs[int(i * step)] for i in range(args.pairs)]
    rt = build_runtime(Settings())

    def cpu_now() -> float:
        """This process's CPU time plus the engine's worker processes'."""
        workers = rt.engine.workers_cpu_seconds() if hasattr(rt.engine, "workers_cpu_seconds") else 0.0
        return time.process_time() + workers

    # Warm both (first calls initialise thread pools and caches).
    a0, b0 = faces / pairs[0][0], faces / pairs[0][1]
    fr_compare(fr, a0, b0)
    compare_images(rt.engine, rt.policy, a0.read_bytes(), b0.read_bytes(), rt.limits)

    rows = []
    for i, (a, b, same) in enumerate(pairs):
        pa, pb = faces / a, faces / b
        order = ("fr", "simreg") if i % 2 == 0 else ("simreg", "fr")
        row = {"same": same}
        for tool in order:
            w0, c0 = time.perf_counter(), cpu_now()
            if tool == "fr":
                score = fr_compare(fr, pa, pb)
            else:
                try:
                    compared = compare_images(rt.engine, rt.policy, pa.read_bytes(), pb.read_bytes(), rt.limits)
                    score = compared.match.score
                except InputError:
                    score = None
            row[tool] = {"wall": time.perf_counter() - w0, "cpu": cpu_now() - c0, "score": score}
        rows.append(row)
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{len(pairs)} pairs", file=sys.stderr)

    def summary(tool: str) -> dict:
        wall = [r[tool]["wall"] * 1e3 for r in rows]
        cpu = [r[tool]["cpu"] * 1e3 for r in rows]
        scores = [r[tool]["score"] for r in rows]
        floor = min(s for s in scores if s is not None) - 1.0
        gen = [s if s is not None else floor for s, r in zip(scores, rows, strict=False) if r["same"] == 1]
        imp = [s if s is not None else floor for s, r in zip(scores, rows, strict=False) if r["same"] == 0]
        rates = error_rates(gen, imp, (1e-2,))
        return {"median_ms": statistics.median(wall), "p90_ms": statistics.quantiles(wall, n=10)[-1],
                "median_cpu_ms": statistics.median(cpu), "failed_pairs": sum(s is None for s in scores),
                "eer_on_these_pairs": rates.eer}

    res = {"pairs": len(rows), "face_recognition": summary("fr"), "simreg": summary("simreg")}
    res["ratio_median_wall"] = res["simreg"]["median_ms"] / res["face_recognition"]["median_ms"]
    res["ratio_median_cpu"] = res["simreg"]["median_cpu_ms"] / res["face_recognition"]["median_cpu_ms"]
    for name, code in (("simreg", COLD_SIMREG), ("face_recognition", COLD_FR)):
        out = subprocess.run([sys.executable, "-c", code, str(a0), str(b0)], capture_output=True, text=True, check=True)
        res[name].update(json.loads(out.stdout.strip().splitlines()[-1]))
    res["stamp"] = stamp(rt)
    if args.out:
        fr_, sr = res["face_recognition"], res["simreg"]

        def table_row(name, s):
            return (f"| {name} | {s['median_ms']:.1f} | {s['p90_ms']:.1f} | {s['median_cpu_ms']:.1f} | "
                    f"{s['eer_on_these_pairs'] * 100:.2f} % | {s['failed_pairs']} | {s['cold_start_s']:.2f} | "
                    f"{s['peak_rss_mb']:.0f} |")
        pairs_opt = ' --pairs ' + str(args.pairs) if args.pairs else ''
        ratios = (f"simreg / face_recognition: **{res['ratio_median_wall']:.2f}x** the median wall time, "
                  f"{res['ratio_median_cpu']:.2f}x the CPU time.")
        rss = f"main {sr.get('peak_rss_main_mb', 0):.0f} MB + workers {sr.get('peak_rss_workers_mb', 0):.0f} MB"
        Path(args.out).write_text(f"""# Speed of 1:1 compare, side by side with face_recognition

Made by `python bench/compare.py{pairs_opt} --out {args.out}` on {res['stamp']['machine']}
(policy `{res['stamp']['policy_version']}`). {res['pairs']} pairs of `faces/pairs.tsv`, both tools
alternating pair by pair; each does the whole job from the two image files.

| | median ms / pair | p90 ms | median CPU ms / pair | EER on these pairs | pairs failed | cold start s | peak RSS MB |
|---|---|---|---|---|---|---|---|
{table_row('face_recognition 1.3.0', fr_)}
{table_row('simreg', sr)}

{ratios}

What the numbers mean:
- simreg analyses the two faces of a pair at once in two worker processes (YuNet, 68 landmarks
  and quality, SFace with flip), so its wall time can be lower than its CPU time; under full
  load (both cores busy with other requests) throughput follows the CPU column.
- "pairs failed": the tool found no face in one of the images (HOG misses turned and small
  faces). A failed pair counts as a non-match.
- Peak RSS of simreg is its main process plus both workers (each holds its own models;
  shared library pages are counted in each): {rss}.
- Cold start = import + model load (+ starting the workers), in a fresh process.
""", encoding="utf-8")
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        print(f"pairs: {res['pairs']} (faces/pairs.tsv, interleaved)")
        print(f"{'':18s} {'median ms':>10s} {'p90 ms':>8s} {'cpu ms':>8s} {'EER':>7s} {'fail':>5s} "
              f"{'cold s':>7s} {'RSS MB':>7s}")
        for name in ("face_recognition", "simreg"):
            s = res[name]
            print(f"{name:18s} {s['median_ms']:10.1f} {s['p90_ms']:8.1f} {s['median_cpu_ms']:8.1f} "
                  f"{s['eer_on_these_pairs'] * 100:6.2f}% {s['failed_pairs']:5d} {s['cold_start_s']:7.2f} "
                  f"{s['peak_rss_mb']:7.0f}")
        if "peak_rss_workers_mb" in res["simreg"]:
            print(f"simreg peak RSS: main {res['simreg']['peak_rss_main_mb']:.0f} MB + workers "
                  f"{res['simreg']['peak_rss_workers_mb']:.0f} MB (shared pages counted in each)")
        print(f"simreg / face_recognition: wall {res['ratio_median_wall']:.2f}x, cpu {res['ratio_median_cpu']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
