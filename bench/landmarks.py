"""The 68-point landmarker behind liveness and quality: dlib's shape predictor
(iBUG 300-W data, non-commercial) against MediaPipe Face Mesh + Iris (Apache-2.0),
measured in one run on ../shared/data.

    python bench/landmarks.py [--out docs/landmarks.md] [--json results.json]
    python bench/landmarks.py --fit     # re-derive the mesh->iBUG map and the ROI table

For each landmarker (``SIMREG_LANDMARKER`` = dlib68, mediapipe), everything else
as configured (detector, embedders, policy):

* **Liveness**: ``simreg.eval.liveness.evaluate`` -- the protocol and code of
  ``simreg eval liveness --root DATA`` -- in this process (engine in-process,
  OpenCV single-threaded): BPCER, APCER per attack type, wrong challenge, wrong order.
* **Events per video**: on the bona fide, single-face, eye-checked clips of
  videos/events.json, the blinks and turns the liveness rules find in each track
  against the labels.  A labelled blink is found when a detected blink spans it
  (+/- 0.15 s); a labelled turn when a detected turn of the same direction
  overlaps it (+/- 0.3 s).  Detections matching no label count as extra (those at
  a time the labeller listed as uncertain are counted apart).
* **Yaw agreement**: per frame of those clips, the two landmarkers' yaw
  (``face_geometry.geometric_yaw``) at the same frame times, and each labelled
  turn's peak |yaw|.
* **Quality**: ``FaceEngine.analyse_one`` on every photo of faces/ (as
  ``simreg eval faces`` decodes them): quality pass rate and reasons.
* **CPU per frame**: thread CPU time (``time.thread_time``) of each
  ``landmarks(image, box)`` call made by the tracker during the liveness run,
  i.e. on every analysed frame of every clip, landmarks only.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir

LANDMARKERS = ("dlib68", "mediapipe")
# --out keeps the hand-written reading of the figures above this line and
# replaces everything below it.
MARKER = "<!-- figures below: written by bench/landmarks.py; edit above this line only -->"
# Label corrections checked by eye for this comparison (docs/landmarks.md shows the
# frames): both lids shut at these times, open before and after.  The liveness
# figures are given with videos/events.json as it is, and again with these.
CORRECTIONS = {"pad_tranvanluyt_real.mp4": {"blinks": [16.43, 17.77]}}
BLINK_TOL_S = 0.15
TURN_TOL_S = 0.3


class _TimedLandmarker:
    """Wraps a landmarker; records the thread CPU time of every call."""

    def __init__(self, inner):
        self.inner = inner
        self.model_id, self.scheme = inner.model_id, inner.scheme
        self.cpu_ms: list[float] = []

    def landmarks(self, image, box):
        t = time.thread_time()
        out = self.inner.landmarks(image, box)
        self.cpu_ms.append((time.thread_time() - t) * 1e3)
        return out


class _KeepTracks:
    """Wraps the engine; keeps the last video track so each file's track can be
    collected after it is judged."""

    def __init__(self, engine):
        self.engine = engine
        self.last = None

    def track_video(self, *a, **k):
        self.last = None  # a file that fails to decode leaves no track behind
        self.last = self.engine.track_video(*a, **k)
        return self.last


def _match_events(entry: dict, events) -> dict:
    from simreg.domain.challenge import Action

    blinks = [e for e in events if e.action == Action.BLINK]
    turns = [e for e in events if e.action != Action.BLINK]
    uncertain = entry.get("blinks_uncertain") or []
    hit_b = [t for t in entry["blinks"] if any(b.start - BLINK_TOL_S <= t <= b.end + BLINK_TOL_S for b in blinks)]
    extra_b, extra_unc = [], []
    for b in blinks:
        if any(b.start - BLINK_TOL_S <= t <= b.end + BLINK_TOL_S for t in entry["blinks"]):
            continue
        near_unc = any(b.start - BLINK_TOL_S <= t <= b.end + BLINK_TOL_S for t in uncertain)
        (extra_unc if near_unc else extra_b).append(round(b.peak, 2))

    def overlaps(e, lab):
        return (e.action.value == lab["direction"] and e.start <= lab["end"] + TURN_TOL_S
                and e.end >= lab["start"] - TURN_TOL_S)

    hit_t = [lab for lab in entry["turns"] if any(overlaps(e, lab) for e in turns)]
    extra_t = [f"{e.action.value}@{e.start:.1f}-{e.end:.1f}s ({e.strength:.0f} deg)"
               for e in turns if not any(overlaps(e, lab) for lab in entry["turns"])]
    return {"blinks": len(entry["blinks"]), "blinks_found": len(hit_b),
            "blinks_missed": [t for t in entry["blinks"] if t not in hit_b],
            "blinks_extra": extra_b, "blinks_extra_uncertain": extra_unc,
            "turns": len(entry["turns"]), "turns_found": len(hit_t),
            "turns_missed": [f"{x['direction']}@{x['start']}-{x['end']}s" for x in entry["turns"] if x not in hit_t],
            "turns_extra": extra_t}


def rejudge_with_corrections(root: Path, first_pass, tracks: dict) -> dict:
    """The same protocol with ``CORRECTIONS`` applied to the labels, judged on the
    tracks of the first pass (nothing is tracked again)."""
    import tempfile

    from simreg.app.pipeline import judge_liveness
    from simreg.domain.challenge import Action
    from simreg.eval.liveness import protocol, summarise

    events = json.loads((root / "videos" / "events.json").read_text(encoding="utf-8"))
    for e in events:
        e.update(CORRECTIONS.get(e["file"], {}))
    refused = {s.file: s.reasons for s in first_pass if s.file not in tracks}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "videos").mkdir()
        (t / "videos" / "events.json").write_text(json.dumps(events), encoding="utf-8")
        (t / "spoof").symlink_to(root / "spoof")
        samples = list(protocol(t))
    for smp in samples:
        if smp.file in tracks:
            rep = judge_liveness(tracks[smp.file], [Action(a) for a in smp.challenge],
                                 prompt_times=smp.prompt_times).report
            smp.accepted, smp.reasons = rep.passed, list(rep.reasons)
        else:
            smp.accepted, smp.reasons = False, list(refused.get(smp.file, ["NOT_TRACKED"]))
    return summarise(samples)


def _pose_series(track) -> dict[float, tuple[float, float, float, bool]]:
    """Per frame with landmarks: yaw, pitch, eye openness and whether the detector ran."""
    return {round(p.t, 3): (p.pose.yaw, p.pose.pitch, p.eye_openness, p.detected)
            for p in track.points if p.pose is not None}


def box_source_jitter(poses: dict) -> dict:
    """Eye openness of each frame relative to the median of its +/-3 neighbours:
    over all frames, and split by frames whose box came from the detector and
    frames boxed from the previous landmarks (when the tracker makes both).  A
    landmarker that jitters, or reads the eye differently in the two kinds of box,
    makes dips that the blink rule reads as closures (under 0.65 of the baseline)."""
    out = {"all_frames": [], "detector_frames": [], "tracked_frames": []}
    for series in poses.values():
        rows = [series[t] for t in sorted(series, key=float)]
        ear = np.array([r[2] for r in rows], dtype=np.float64)
        for i in range(1, len(rows)):
            nb = np.r_[ear[max(0, i - 3):i], ear[i + 1:i + 4]]
            if nb.size and np.median(nb) > 0:
                r = ear[i] / np.median(nb)
                out["all_frames"].append(r)
                out["detector_frames" if rows[i][3] else "tracked_frames"].append(r)
    res = {}
    for name, vals in out.items():
        r = np.array(vals)
        res[name] = {"n": int(r.size), "median_abs_dev": float(np.median(np.abs(1 - r))) if r.size else None,
                     "below_0_65": float((r < 0.65).mean()) if r.size else None}
    return res


def measure(name: str, root: Path) -> dict:
    """Every figure for one landmarker."""
    from simreg.adapters.faces.factory import LANDMARKERS as BUILDERS
    from simreg.adapters.media import ImageLimits, decode_image
    from simreg.app.pipeline import judge_liveness
    from simreg.config import Settings
    from simreg.domain.errors import SimregError
    from simreg.eval.faces import list_images
    from simreg.eval.liveness import evaluate
    from simreg.runtime import build_runtime

    c0 = time.process_time()
    rt = build_runtime(Settings(engine_workers=0, landmarker=name))
    t0 = time.perf_counter()
    BUILDERS[name]()  # the landmarker alone, files read and checked (the engine's copy is kept)
    load_s = time.perf_counter() - t0
    engine = rt.engine
    timed = _TimedLandmarker(engine.landmarker68)
    engine.landmarker68 = timed
    from simreg.adapters.faces import model_files as mf

    by_id = {m.model_id: m for m in [*mf.ALL_MODEL_FILES, *_mediapipe_files()]}
    describe = getattr(timed.inner, "describe", None)
    out: dict = {"landmarker": name, "model_id": timed.model_id, "load_s": load_s, "commit": _commit(),
                 "files": describe() if describe else [f for f in engine.describe()["files"]
                                                      if f["model_id"].startswith("dlib-shape68")]}

    # Liveness: the protocol of `simreg eval liveness`, keeping each file's track.
    keep = _KeepTracks(engine)
    tracks = {}

    def progress(s):
        if keep.last is not None:
            tracks[s.file] = keep.last
        print(f"  [{name}] {s.kind:15s} {'ACCEPT' if s.accepted else 'reject':6s} {s.file} "
              f"{','.join(s.challenge)} {' '.join(s.reasons)}", file=sys.stderr, flush=True)

    t1 = time.perf_counter()
    samples, summary = evaluate(keep, rt.policy, root, progress=progress)
    out["liveness_s"] = time.perf_counter() - t1
    out["liveness"] = summary
    out["samples"] = [{"file": s.file, "kind": s.kind, "attack_type": s.attack_type, "challenge": s.challenge,
                       "accepted": s.accepted, "reasons": s.reasons, "planarity": (s.pad or {}).get("planarity")}
                      for s in samples]
    out["track_cpu_ms"] = list(timed.cpu_ms)
    out["liveness_corrected"] = rejudge_with_corrections(root, samples, tracks)

    # Events per bona fide clip against the labels.
    events = json.loads((root / "videos" / "events.json").read_text(encoding="utf-8"))
    per_video, poses = {}, {}
    for e in events:
        rel = f"videos/{e['file']}"
        if not (e.get("verified_by_eye") and e.get("single_face") and e.get("bona_fide", True)) or rel not in tracks:
            continue
        vt = tracks[rel]
        report = judge_liveness(vt, []).report
        per_video[e["file"]] = _match_events(e, report.events)
        poses[e["file"]] = _pose_series(vt.track)
    out["events"] = per_video
    out["box_source"] = box_source_jitter(poses)
    out["poses"] = {f: {str(t): v for t, v in s.items()} for f, s in poses.items()}

    # Quality on the face photos.
    timed.cpu_ms = []
    faces = root / "faces"
    q = {"n": 0, "passed": 0, "not_found": 0, "reasons": {}, "per_image": {}}
    for rel in list_images(faces):
        q["n"] += 1
        try:
            a = engine.analyse_one(decode_image((faces / rel).read_bytes(), ImageLimits()), rt.policy)
        except SimregError as exc:
            q["not_found"] += 1
            q["per_image"][rel] = [exc.code.value]
            continue
        q["passed"] += a.quality.passed
        q["per_image"][rel] = list(a.quality.reasons)
        for r in a.quality.reasons:
            q["reasons"][r] = q["reasons"].get(r, 0) + 1
    q["photo_cpu_ms"] = list(timed.cpu_ms)
    out["quality"] = q
    out["process_cpu_s"] = time.process_time() - c0
    for f in out["files"]:
        m = by_id.get(f["model_id"])
        f["bytes"] = m.path().stat().st_size if m is not None else 0
    rt.close()
    return out


def _mediapipe_files() -> tuple:
    try:
        from simreg.adapters.faces.mediapipe_mesh import MODEL_FILES
    except ImportError:
        return ()
    return MODEL_FILES


def _pct(r: dict) -> str:
    return "n/a" if r["rate"] is None else f"{r['rate'] * 100:.1f} % ({r['errors']}/{r['n']})"


def _cpu(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"{np.median(a):.2f} / {a.mean():.2f} / {np.percentile(a, 90):.2f} ms (n={len(a)})"


def yaw_agreement(a: dict, b: dict) -> dict:
    """Per-frame yaw of two landmarkers at the same frame times of the same clips."""
    pairs = []
    for f in a["poses"]:
        sa, sb = a["poses"][f], b["poses"].get(f, {})
        pairs += [(sa[t][0], sb[t][0]) for t in sa if t in sb]
    x, y = np.array(pairs).T
    d = np.abs(x - y)
    slope, icpt = np.polyfit(x, y, 1)
    return {"frames": len(pairs), "median_abs_diff": float(np.median(d)), "p90_abs_diff": float(np.percentile(d, 90)),
            "pearson_r": float(np.corrcoef(x, y)[0, 1]), "slope": float(slope), "intercept": float(icpt)}


def turn_peaks(results: list[dict], root: Path) -> list[dict]:
    events = json.loads((root / "videos" / "events.json").read_text(encoding="utf-8"))
    rows = []
    for e in events:
        for lab in e["turns"]:
            if e["file"] not in results[0]["poses"]:
                continue
            row = {"file": e["file"], "turn": f"{lab['direction']} {lab['start']}-{lab['end']} s",
                   "estimate": lab.get("peak_yaw_deg_est")}
            for r in results:
                s = r["poses"][e["file"]]
                ys = [v[0] for t, v in s.items() if lab["start"] <= float(t) <= lab["end"]]
                sign = 1 if lab["direction"] == "turn_left" else -1
                row[r["landmarker"]] = max((sign * y for y in ys), default=float("nan"))
            rows.append(row)
    return rows


def planarity_separation(r: dict) -> dict:
    """The landmark-based PAD cue (report-only, no threshold shipped): per clip,
    bona fide videos against video attacks (stills cannot turn, so have no score).
    AUC = P(attack score < bona fide score): planar motion has the smaller residual."""
    seen, bona, att = set(), [], []
    for s in r["samples"]:
        if s["file"] in seen or s["planarity"] is None or s["kind"] not in ("bona-fide", "attack"):
            continue
        seen.add(s["file"])
        (bona if s["kind"] == "bona-fide" else att).append(s["planarity"])
    auc = None
    if bona and att:
        auc = float(np.mean([(a < b) + 0.5 * (a == b) for a in att for b in bona]))
    return {"bona_fide": sorted(bona), "attacks": sorted(att), "auc": auc}


def report(results: list[dict], root: Path, command: str, seconds: float) -> str:
    names = [r["landmarker"] for r in results]
    head = "| | " + " | ".join(f"{r['landmarker']} (`{r['model_id']}`)" for r in results) + " |\n"
    head += "|---|" + "---|" * len(results) + "\n"
    L = []
    L.append("## Figures\n")
    L.append(f"Made by `{command}` ({seconds / 60:.1f} min on this machine: "
             f"{platform.machine()}, 2 cores shared with other work, Python {platform.python_version()}) "
             f"at commit {results[0]['commit']}. Everything but the landmarker is the configured default "
             "(detector, embedder, policy); the liveness protocol is `simreg eval liveness --root "
             f"{root}`'s own code (`simreg.eval.liveness.evaluate`), run in this process. "
             "The CLI gives the same summary with `SIMREG_LANDMARKER=dlib68` or `=mediapipe`.\n")
    L.append("## Liveness (`simreg eval liveness`)\n")
    t = head
    rows = [("BPCER (bona fide, own actions)", lambda r: _pct(r["liveness"]["bpcer"]))]
    for typ in results[0]["liveness"]["apcer"]:
        rows.append((f"APCER {typ}", lambda r, typ=typ: _pct(r["liveness"]["apcer"][typ])))
    rows += [("APCER all attacks", lambda r: _pct(r["liveness"]["apcer_all_attacks"])),
             ("APCER wrong challenge", lambda r: _pct(r["liveness"]["apcer_wrong_challenge"])),
             ("APCER wrong order (prompts)", lambda r: _pct(r["liveness"]["apcer_wrong_order"]))]
    for label, f in rows:
        t += f"| {label} | " + " | ".join(f(r) for r in results) + " |\n"
    L.append(t)
    diff = []
    for sa, sb in zip(results[0]["samples"], results[1]["samples"], strict=False):
        if sa["accepted"] != sb["accepted"]:
            diff.append(f"| {sa['kind']} | {sa['file']} | {','.join(sa['challenge'])} | "
                        f"{'ACCEPT' if sa['accepted'] else 'reject ' + ' '.join(sa['reasons'])} | "
                        f"{'ACCEPT' if sb['accepted'] else 'reject ' + ' '.join(sb['reasons'])} |")
    if diff:
        L.append(f"Samples judged differently:\n\n| kind | file | challenge | {names[0]} | {names[1]} |\n"
                 "|---|---|---|---|---|\n" + "\n".join(diff) + "\n")
    else:
        L.append("Every sample is judged the same by both.\n")

    L.append("With the label corrections of `CORRECTIONS` (" + "; ".join(
        f"{f}: blinks at {', '.join(str(x) for x in c.get('blinks', []))} s" for f, c in CORRECTIONS.items())
        + "), judged on the same tracks:\n")
    t = head
    for label, key in (("BPCER (bona fide, own actions)", "bpcer"), ("APCER all attacks", "apcer_all_attacks"),
                       ("APCER wrong challenge", "apcer_wrong_challenge"),
                       ("APCER wrong order (prompts)", "apcer_wrong_order")):
        t += f"| {label} | " + " | ".join(_pct(r["liveness_corrected"][key]) for r in results) + " |\n"
    L.append(t)

    L.append("## Events per bona fide clip against videos/events.json\n")
    tot = {}
    t = ("| clip | blinks | " + " | ".join(f"{n}: found / extra" for n in names) + " | turns | "
         + " | ".join(f"{n}: found / extra" for n in names) + " |\n|---|---|" + "---|" * len(names) + "---|"
         + "---|" * len(names) + "\n")
    for f in results[0]["events"]:
        ev = [r["events"][f] for r in results]
        for n, e in zip(names, ev, strict=False):
            s = tot.setdefault(n, dict.fromkeys(["blinks", "blinks_found", "extra_b", "extra_unc", "turns",
                                                 "turns_found", "extra_t"], 0))
            s["blinks"] += e["blinks"]
            s["blinks_found"] += e["blinks_found"]
            s["extra_b"] += len(e["blinks_extra"])
            s["extra_unc"] += len(e["blinks_extra_uncertain"])
            s["turns"] += e["turns"]
            s["turns_found"] += e["turns_found"]
            s["extra_t"] += len(e["turns_extra"])
        t += (f"| {f} | {ev[0]['blinks']} | "
              + " | ".join(f"{e['blinks_found']} / {len(e['blinks_extra'])}"
                           + (f" (+{len(e['blinks_extra_uncertain'])} uncertain)"
                              if e["blinks_extra_uncertain"] else "")
                           for e in ev)
              + f" | {ev[0]['turns']} | " + " | ".join(f"{e['turns_found']} / {len(e['turns_extra'])}" for e in ev)
              + " |\n")
    t += ("| **total** | " + str(tot[names[0]]["blinks"]) + " | "
          + " | ".join(f"**{tot[n]['blinks_found']} / {tot[n]['extra_b']}** (+{tot[n]['extra_unc']} uncertain)"
                       for n in names)
          + f" | {tot[names[0]]['turns']} | "
          + " | ".join(f"**{tot[n]['turns_found']} / {tot[n]['extra_t']}**" for n in names) + " |\n")
    L.append(t)
    L.append(f"Blink found: a detected blink spans the labelled time +/- {BLINK_TOL_S} s. Turn found: a detected "
             f"turn of the same direction overlaps the labelled interval +/- {TURN_TOL_S} s. Extra: a detection "
             "that matches no label (\"uncertain\": at a time the labeller listed as uncertain).\n")
    det = []
    for r in results:
        for f, e in r["events"].items():
            bits = []
            if e["blinks_missed"]:
                bits.append("missed blinks at " + ", ".join(f"{x:g}" for x in e["blinks_missed"]) + " s")
            if e["blinks_extra"]:
                bits.append("extra blinks at " + ", ".join(f"{x:g}" for x in e["blinks_extra"]) + " s")
            if e["turns_missed"]:
                bits.append("missed " + ", ".join(e["turns_missed"]))
            if e["turns_extra"]:
                bits.append("extra " + ", ".join(e["turns_extra"]))
            if bits:
                det.append(f"- {r['landmarker']}, {f}: " + "; ".join(bits))
    L.append("Details:\n\n" + "\n".join(det) + "\n")

    ya = yaw_agreement(results[0], results[1])
    L.append("## Yaw agreement\n")
    L.append(f"Per frame, same clips, same frame times ({ya['frames']} frames): median |yaw difference| "
             f"{ya['median_abs_diff']:.1f} deg, 90th percentile {ya['p90_abs_diff']:.1f} deg, Pearson r "
             f"{ya['pearson_r']:.3f}; least squares {names[1]} = {ya['slope']:.2f} x {names[0]} "
             f"{ya['intercept']:+.1f} deg. The two tracks run independently (each picks and boxes the face "
             "itself), so the crops can differ slightly.\n")
    t = ("| clip | labelled turn | labeller's estimate | " + " | ".join(f"peak yaw {n}" for n in names)
         + " |\n|---|---|---|" + "---|" * len(names) + "\n")
    peaks = turn_peaks(results, root)
    for row in peaks:
        t += (f"| {row['file']} | {row['turn']} | {row['estimate']} | "
              + " | ".join(f"{row[n]:.1f}" for n in names) + " |\n")
    est = [r for r in peaks if r["estimate"] is not None]
    t += ("| **mean abs. difference from the estimate** | | | "
          + " | ".join(f"**{np.mean([abs(r[n] - r['estimate']) for r in est]):.1f}**" for n in names) + " |\n")
    L.append("Peak yaw (degrees, toward the labelled direction) inside each labelled turn, next to the labeller's "
             "estimate (by eye, from face sheets and the nose ratio: rough); the turn rule needs 20 (running median "
             "of 5 frames):\n\n" + t)
    L.append("## Eye openness jitter\n")
    t = ("| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n")
    for k, label in (("all_frames", "all frames"), ("detector_frames", "frames boxed by the detector"),
                     ("tracked_frames", "frames boxed from the previous landmarks")):
        if not all(r["box_source"].get(k, {}).get("n") for r in results):
            continue
        t += (f"| {label}: median abs(1 - ratio) / share under 0.65 | "
              + " | ".join(f"{r['box_source'][k]['median_abs_dev']:.3f} / "
                           f"{r['box_source'][k]['below_0_65'] * 100:.1f} % "
                           f"(n={r['box_source'][k]['n']})" for r in results) + " |\n")
    L.append("Eye aspect ratio of each frame of the bona fide clips over the median of its +/-3 neighbours (frames "
             "with the face). Real blinks are in there too (55 labelled, about 2 frames each); the rest is the "
             "landmarker's own jitter. A dip under 0.65 of the baseline is what the blink rule counts as closed.\n\n"
             + t)

    L.append("## Planarity (landmark-based PAD cue, report-only)\n")
    t = "| | " + " | ".join(names) + " |\n|---|" + "---|" * len(names) + "\n"
    ps = [planarity_separation(r) for r in results]
    t += "| bona fide clips: median (n) | " + " | ".join(
        f"{np.median(p['bona_fide']):.3f} ({len(p['bona_fide'])})" if p["bona_fide"] else "n/a" for p in ps) + " |\n"
    t += ("| video attacks: values | "
          + " | ".join(", ".join(f"{v:.3f}" for v in p["attacks"]) or "n/a" for p in ps) + " |\n")
    t += ("| AUC (attack below bona fide) | "
          + " | ".join("n/a" if p["auc"] is None else f"{p['auc']:.2f}" for p in ps) + " |\n")
    L.append("`domain/pad.py`'s planarity score (homography residual of rigid landmarks between views of "
             "different yaw, in inter-eye distances; no threshold is shipped, so it decides nothing today):\n\n" + t)

    L.append("## Quality check on faces/ photos\n")
    t = head
    t += "| quality passed | " + " | ".join(
        f"{r['quality']['passed']}/{r['quality']['n'] - r['quality']['not_found']} "
        f"({r['quality']['passed'] / max(1, r['quality']['n'] - r['quality']['not_found']) * 100:.1f} %)"
        for r in results) + " |\n"
    reasons = sorted({k for r in results for k in r["quality"]["reasons"]})
    for k in reasons:
        t += f"| {k} | " + " | ".join(str(r["quality"]["reasons"].get(k, 0)) for r in results) + " |\n"
    t += "| no face found | " + " | ".join(str(r["quality"]["not_found"]) for r in results) + " |\n"
    L.append(t)
    qa, qb = results[0]["quality"]["per_image"], results[1]["quality"]["per_image"]
    flips = [k for k in qa if (not qa[k]) != (not qb.get(k, ["?"]))]
    L.append(f"Photos whose pass/fail differs: {len(flips)}"
             + (": " + ", ".join(f"{k} ({' '.join(qa[k]) or 'pass'} / {' '.join(qb[k]) or 'pass'})" for k in flips)
                if flips else "") + ".\n")

    L.append("## CPU time of the landmarker\n")
    t = head
    t += ("| per video frame, tracker (median / mean / p90) | "
          + " | ".join(_cpu(r["track_cpu_ms"]) for r in results) + " |\n")
    t += ("| per photo (median / mean / p90) | "
          + " | ".join(_cpu(r["quality"]["photo_cpu_ms"]) for r in results) + " |\n")
    t += "| building the landmarker: files read, sha256 checked, loaded (wall) | " + " | ".join(
        f"{r['load_s'] * 1e3:.0f} ms" for r in results) + " |\n"
    t += "| the whole liveness protocol (wall, shared machine) | " + " | ".join(
        f"{r['liveness_s']:.0f} s" for r in results) + " |\n"
    L.append(t)
    L.append("Thread CPU time (`time.thread_time`) of each `landmarks(image, box)` call, one thread (LiteRT "
             "interpreters with `num_threads=1`, OpenCV single-threaded); the tracker's call is on every analysed "
             "frame of every clip and still of the liveness run.\n")

    L.append("## Model files\n")
    t = "| landmarker | file | MB | package | sha256 | licence |\n|---|---|---|---|---|---|\n"
    for r in results:
        for f in r["files"]:
            t += (f"| {r['landmarker']} | {f['file']} | {f.get('bytes', 0) / 1e6:.1f} | {f['package']} "
                  f"{f['package_version']} | `{f['sha256'][:16]}...` | {f['licence']} |\n")
    L.append(t)
    return "\n".join(L)


def _commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" with uncommitted changes in the working tree" if dirty else "")


def fit(root: Path) -> int:
    """Re-derive the constants of adapters/faces/mediapipe_mesh.py on the face photos:
    for each iBUG point the mesh vertex nearest to dlib's (median over photos, in
    inter-eye distances), and for each detector the ROI MediaPipe's own tracking
    step settles on, relative to the detector's box."""
    import cv2

    from simreg.adapters.faces.dlib_models import DlibShapeLandmarker
    from simreg.adapters.faces.mediapipe_mesh import _LEFT_CORNERS, _RIGHT_CORNERS, MediapipeMeshLandmarker
    from simreg.adapters.faces.mtcnn import MtcnnDetector
    from simreg.adapters.faces.opencv_zoo import YunetDetector
    from simreg.adapters.faces.tracking import box_from_landmarks
    from simreg.adapters.media import decode_image
    from simreg.eval.faces import list_images

    cv2.setNumThreads(1)
    dets = {"yunet-2023mar-int8bq": YunetDetector(), "mtcnn-ipazc": MtcnnDetector()}
    d68, mp = DlibShapeLandmarker("ibug68"), MediapipeMeshLandmarker()
    ref, mesh_n, eyes_n, rois = [], [], [], {k: [] for k in [*dets, "landmark-track"]}
    for rel in list_images(root / "faces"):
        img = decode_image((root / "faces" / rel).read_bytes())
        if min(img.shape[:2]) < 160:
            img = cv2.resize(img, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        boxes = dets["yunet-2023mar-int8bq"].detect(img)
        if not boxes:
            continue
        b = boxes[0]
        a = d68.landmarks(img, b).points.astype(np.float64)
        roi = mp.face_roi(b)
        for _ in range(2):  # MediaPipe's tracking step, twice: the region it settles on
            mesh, _ = mp.mesh(img, *roi)
            roi = mp.roi_from_mesh(mesh)
        c, side, _ = roi
        iod = np.linalg.norm(a[36:42].mean(0) - a[42:48].mean(0))
        ref.append(a / iod)
        mesh_n.append(mesh / iod)
        left = mp.eye_contour(img, mesh[_LEFT_CORNERS[0]], mesh[_LEFT_CORNERS[1]], mirrored=False)[:16]
        right = mp.eye_contour(img, mesh[_RIGHT_CORNERS[1]], mesh[_RIGHT_CORNERS[0]], mirrored=True)[:16]
        eyes_n.append((left / iod, right / iod))
        cand = {"landmark-track": box_from_landmarks(mp.landmarks(img, b))}
        for k, det in dets.items():
            found = det.detect(img)
            if found:
                best = max(found, key=lambda x: x.iou(b))
                if best.iou(b) > 0.3:
                    cand[k] = best
        for k, bx in cand.items():
            rois[k].append((side / bx.w, side / bx.h, (c[0] - (bx.x + bx.w / 2)) / bx.w,
                            (c[1] - (bx.y + bx.h / 2)) / bx.h))
    ref, mesh_n = np.array(ref), np.array(mesh_n)
    print(f"{len(ref)} photos")
    for k, v in rois.items():
        print(f"ROI {k}: (side/w, side/h, dx/w, dy/h) median {np.round(np.median(v, axis=0), 3).tolist()} n={len(v)}")
    from simreg.adapters.faces.mediapipe_mesh import MESH_TO_IBUG

    nearest = []
    for k in range(68):
        d = np.median(np.linalg.norm(mesh_n - ref[:, k:k + 1, :], axis=2), axis=0)
        nearest.append(int(np.argmin(d)))
        if not 36 <= k < 48 and nearest[-1] != MESH_TO_IBUG[k]:
            print(f"iBUG {k}: nearest vertex {nearest[-1]} ({d.min():.3f} IOD); the map's {MESH_TO_IBUG[k]} "
                  f"({d[MESH_TO_IBUG[k]]:.3f} IOD)")
    print("nearest mesh vertex per iBUG point:", nearest)
    le = np.array([e[0] for e in eyes_n])
    re_ = np.array([e[1] for e in eyes_n])
    for k in range(36, 48):
        cont = le if k < 42 else re_
        d = np.median(np.linalg.norm(cont - ref[:, k:k + 1, :], axis=2), axis=0)
        print(f"iBUG {k}: nearest iris contour point {int(np.argmin(d))} ({d.min():.3f} IOD)")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the markdown report here (e.g. docs/landmarks.md)")
    ap.add_argument("--json", help="write every figure as JSON here")
    ap.add_argument("--fit", action="store_true", help="re-derive the adapter's constants and print them")
    ap.add_argument("--from-json", help="write the report from a JSON file of an earlier run (no measuring)")
    args = ap.parse_args()

    import cv2

    cv2.setNumThreads(1)
    root = data_dir()
    if args.fit:
        return fit(root)
    t0 = time.perf_counter()
    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        results, seconds = saved["results"], saved["seconds"]
        for r in results:  # derived figures are recomputed from the saved per-frame series
            r["box_source"] = box_source_jitter(r["poses"])
    else:
        results = [measure(n, root) for n in LANDMARKERS]
        seconds = time.perf_counter() - t0
    command = "python bench/landmarks.py" + (f" --out {args.out}" if args.out else "")
    text = report(results, root, command, seconds)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "seconds": seconds}, default=float))
    if args.out:
        out = Path(args.out)
        old = out.read_text(encoding="utf-8") if out.is_file() else ""
        title = "# Landmarks: dlib 68-point vs MediaPipe Face Mesh + Iris\n\n"
        above = old.split(MARKER)[0] if MARKER in old else title
        out.write_text(above + MARKER + "\n\n" + text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    summary = {r["landmarker"]: {"bpcer": r["liveness"]["bpcer"]["rate"],
                                 "apcer_all": r["liveness"]["apcer_all_attacks"]["rate"],
                                 "wrong_challenge": r["liveness"]["apcer_wrong_challenge"]["rate"],
                                 "cpu_ms_per_frame": statistics.median(r["track_cpu_ms"])} for r in results}
    print(json.dumps(summary), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
