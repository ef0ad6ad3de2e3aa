"""Accuracy of the shipped 1:1 matcher, side by side with face_recognition 1.3.0,
measured in one run on the same images.

    pip install --no-deps face-recognition==1.3.0    # the peer, on the same dlib-bin
    python bench/accuracy.py --out docs              # docs/accuracy.md + docs/img/det_*.png

Sets (identity = folder; impostor pairs are ALL cross-identity pairs; genuine
pairs are pairs.tsv plus every same-identity pair, i.e. ``--all-pairs``):

* ``faces``: ../shared/data/faces, 79 identities (never used for calibration);
* ``faces_lfw 1/2``: the half of faces_lfw's identities the policy was NOT
  calibrated on (``--subset 1/2``): the held-out report;
* ``faces_lfw 0/2``: the calibration half, shown for completeness, marked so.

Protocols: photo vs photo, and a 102x126 ID-chip portrait (JPEG q60, framed by
the fixed reference detector) of each identity's first photo vs its other photos.
Each image is embedded once by each system.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from multiprocessing import get_context
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, stamp

FR_NAME = "face_recognition 1.3.0 (defaults)"


def _fr_encode(path: str):
    import face_recognition as fr

    e = fr.face_encodings(fr.load_image_file(path))
    return e[0] if e else None


def fr_encodings(paths: dict[str, Path]) -> dict[str, np.ndarray] | None:
    """face_recognition's encodings (HOG upsample 1, 5-point, its defaults), two processes."""
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        return None
    keys = list(paths)
    with get_context("spawn").Pool(2) as pool:
        encs = pool.map(_fr_encode, [str(paths[k]) for k in keys], chunksize=16)
    return {k: e for k, e in zip(keys, encs, strict=False) if e is not None}


def fr_scores(enc: dict[str, np.ndarray], pairs) -> np.ndarray:
    out = np.full(len(pairs), -1e9)
    for i, (a, b, _) in enumerate(pairs):
        if a in enc and b in enc:
            out[i] = -float(np.linalg.norm(enc[a] - enc[b]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "docs"))
    ap.add_argument("--no-peer", action="store_true", help="skip face_recognition")
    args = ap.parse_args()
    out = Path(args.out)
    (out / "img").mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simreg.config import Settings
    from simreg.domain.metrics import det_curve
    from simreg.domain.policy import ID_CHIP_BAND
    from simreg.eval.faces import (
        decision_scores,
        embed_both_protocols,
        evaluate,
        identity_of,
        in_subset,
        list_images,
        read_pairs,
        score_pairs,
    )
    from simreg.runtime import build_runtime

    d = data_dir()
    sets = [("faces", d / "faces", None), ("faces_lfw 1/2 (held out)", d / "faces_lfw", (1, 2)),
            ("faces_lfw 0/2 (calibration)", d / "faces_lfw", (0, 2))]
    sections = []
    t_start = time.perf_counter()
    with build_runtime(Settings()) as rt:
        policy, shipped, st = rt.policy, rt.policy.matcher, stamp(rt)
        for name, root, subset in sets:
            images = [p for p in list_images(root) if in_subset(identity_of(p), subset)]
            kept = set(images)
            tsv = [r for r in read_pairs(root / "pairs.tsv") if r[0] in kept and r[1] in kept]
            work = Path(tempfile.mkdtemp(prefix="simreg-acc-"))
            try:
                ps = embed_both_protocols(rt.engine, policy, root, images, tsv, True, work, rt.limits)
                fr = None if args.no_peer else fr_encodings(
                    {**{p: root / p for p in images}, **{"chip:" + p: work / p for p in ps.portraits}})
            finally:
                shutil.rmtree(work, ignore_errors=True)
            n_ids = len({identity_of(p) for p in images})
            for protocol, pairs in (("photos", ps.photo_pairs), ("id-chip", ps.chip_pairs)):
                _, s = decision_scores(score_pairs(ps.data, pairs), policy)
                systems = {shipped: s}
                if fr is not None:
                    systems[FR_NAME] = fr_scores(fr, pairs)
                band = None if protocol == "photos" else ID_CHIP_BAND
                same = np.array([p[2] for p in pairs])
                rows = ["| system | EER | FNMR @ FMR 1e-2 | FNMR @ FMR 1e-3 | FNMR @ FMR 1e-4 | FNMR @ FMR 1e-5 |",
                        "|---|---|---|---|---|---|"]
                fig, ax = plt.subplots(figsize=(6.5, 5))
                for sys_name, sc in systems.items():
                    r = evaluate(sc, pairs, (1e-2, 1e-3, 1e-4, 1e-5))
                    pts = {p.target_fmr: p for p in r.points}

                    def cell(f, pts=pts):
                        return f"{pts[f].fnmr * 100:.2f} %" + ("" if pts[f].supported else " (unsupported)")
                    bold = "**" if sys_name == shipped else ""
                    rows.append(f"| {bold}{sys_name}{bold} | {r.eer * 100:.2f} % | "
                                + " | ".join(cell(f) for f in (1e-2, 1e-3, 1e-4, 1e-5)) + " |")
                    _, fmr, fnmr = det_curve(sc[same == 1], sc[same == 0])
                    ax.plot(np.maximum(fmr, 0.5 / max(1, (same == 0).sum())),
                            np.maximum(fnmr, 0.5 / max(1, (same == 1).sum())), lw=2 if bold else 1,
                            label=sys_name + (" [shipped]" if bold else ""))
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel("FMR")
                ax.set_ylabel("FNMR")
                ax.grid(True, which="both", alpha=0.3)
                for f in (1e-2, 1e-3, 1e-4):
                    ax.axvline(f, color="grey", ls=":", lw=0.8)
                ax.legend(fontsize=7)
                ax.set_title(f"DET: {name}, {protocol}")
                fig.tight_layout()
                img = f"det_{name.split()[0]}{'_' + str(subset[0]) if subset else ''}_{protocol}.png"
                fig.savefig(out / "img" / img, dpi=100)
                plt.close(fig)
                ops = []
                for label, entry in (("match", policy.threshold_for(shipped, band)),
                                     ("review edge", policy.review_entry(shipped, band))):
                    fmr_obs = float(np.mean(s[same == 0] >= entry.threshold))
                    fnmr_obs = float(np.mean(s[same == 1] < entry.threshold))
                    ops.append(f"{label} threshold {entry.threshold:.4f} (target FMR {entry.target_fmr:g}): "
                               f"FMR {fmr_obs:.2e} ({int(np.sum(s[same == 0] >= entry.threshold))} of "
                               f"{int((same == 0).sum())}), FNMR {fnmr_obs * 100:.2f} %")
                sections.append(f"### {name}, {protocol}: {len(images)} photos of {n_ids} identities, "
                                f"{int((same == 1).sum())} genuine / {int((same == 0).sum())} impostor pairs, "
                                f"{len(ps.data.failures)} images not acquired by simreg\n\n" + "\n".join(rows)
                                + "\n\nAt the shipped thresholds (`" + shipped + ("@id-chip" if band else "")
                                + "`):\n\n" + "\n".join(f"- {o}" for o in ops) + f"\n\n![DET](img/{img})\n")
                print(sections[-1], flush=True)

    md = f"""# Accuracy of the 1:1 matcher

Made by `python bench/accuracy.py --out docs` ({time.perf_counter() - t_start:.0f} s; this file and
`docs/img/det_*.png` are its output). Policy `{st['policy_version']}` (sha256 `{st['policy_sha256'][:16]}…`);
{st['machine']}. face_recognition 1.3.0 runs with its defaults (HOG upsample 1, 5-point encoding,
`-distance` as the score) on the same files in the same run.

The shipped thresholds were calibrated on **faces_lfw `--subset 0/2`** only (`simreg calibrate ...
--all-pairs --subset 0/2`, see docs/design/face-engine.md); `faces` and **faces_lfw `--subset 1/2`** are
people the thresholds never saw, but for two: Angelina Jolie and Joe Biden are in `faces` (deepface's and
face_recognition's photos) and in the calibration half (LFW's). Each threshold is the lowest at which the
95 % upper confidence bound of the FMR on the calibration half meets its target (`simreg calibrate`), so the
FMR seen on the calibration half sits below the target. "unsupported": fewer impostor pairs than the rule of three needs
(3/FMR). A pair with an image the system could not acquire counts as a non-match.

{chr(10).join(sections)}
```json
{json.dumps(st, indent=2)}
```
"""
    (out / "accuracy.md").write_text(md, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
