"""Accuracy of the 1:1 matcher, side by side with its components and peers.

    python bench/accuracy.py [--out docs]     # writes docs/accuracy.md and docs/img/*.png

Two protocols on ../shared/data/faces (identity = folder):

* **photos**: genuine pairs = the same=1 rows of pairs.tsv; impostor pairs = all
  cross-identity pairs of all images (what ``simreg eval faces`` does).
* **ID-chip portrait**: the first image of each identity becomes a 102x126
  portrait framed like an ID photo (face box ~55 % of the width, JPEG q60); only
  portrait-vs-photo pairs are scored: genuine = portrait vs the other photos of
  the same identity, impostor = portrait vs every photo of every other identity.

Systems: simreg's shipped matcher (fusion with the policy's own normalisation),
its components, the FaceNet flip variant and its fusion, and face_recognition
1.3.0 with its defaults (HOG upsample 1, 5-point encodings, -distance as score)
when it is installed (``pip install --no-deps face-recognition==1.3.0``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, data_dir, stamp  # noqa: E402


def fr_scores(root: Path, images: list[str], pairs) -> tuple[np.ndarray, float] | None:
    """face_recognition's scores (-distance) per pair and its failure-to-acquire rate."""
    try:
        import face_recognition as fr
    except ImportError:
        return None
    enc = {}
    for rel in images:
        e = fr.face_encodings(fr.load_image_file(str(root / rel)))
        if e:
            enc[rel] = e[0]
    out = np.full(len(pairs), -1e9)
    for i, (a, b, _) in enumerate(pairs):
        if a in enc and b in enc:
            out[i] = -float(np.linalg.norm(enc[a] - enc[b]))
    return out, 1.0 - len(enc) / len(images)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(REPO / "docs"))
    ap.add_argument("--quick", action="store_true", help="shipped configuration only (no flip variant, no peer)")
    args = ap.parse_args()
    out = Path(args.out)
    (out / "img").mkdir(parents=True, exist_ok=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from simreg.config import Settings
    from simreg.domain.metrics import det_curve
    from simreg.domain.policy import fusion_model_id
    from simreg.domain.policy import ID_CHIP_BAND
    from simreg.evaluation import (build_id_chip_protocol, build_pairs, embed_dataset, evaluate,
                                   impostor_normalisation, list_images, read_pairs, score_pairs, write_plots)
    from simreg.domain.matching import fuse
    from simreg.runtime import build_runtime

    faces = data_dir() / "faces"
    images = list_images(faces)
    photo_pairs = build_pairs(images, read_pairs(faces / "pairs.tsv"), all_pairs=False)

    # Portrait protocol: a folder of portraits plus links to the other photos.
    tmp = Path(tempfile.mkdtemp(prefix="simreg-portraits-"))
    with build_runtime(Settings()) as rt:
        p_images, portrait_pairs = build_id_chip_protocol(faces, images, tmp)
        n_identities = len({i.split("/")[0] for i in images})
        results = {}
        curves = {}
        policy = rt.policy
        shipped = policy.matcher
        st = stamp(rt)

        def run(label_prefix, settings):
            with build_runtime(settings) as r2:
                for proto, root, imgs, pairs in (("photos", faces, images, photo_pairs),
                                                 ("portrait", tmp, p_images, portrait_pairs)):
                    data = embed_dataset(r2.engine, r2.policy, root, imgs, progress=False)
                    sc = score_pairs(data, pairs)
                    systems = dict(sc.per_model)
                    # fusion with the normalisation of the photo protocol (as calibrate writes it)
                    if proto == "photos":
                        norms[label_prefix] = impostor_normalisation(sc)
                    comps = norms[label_prefix]
                    acq = sc.acquired
                    fused = np.full(len(pairs), -1e9)
                    fused[acq] = fuse({m: s[acq] for m, s in sc.per_model.items()}, comps)
                    systems[fusion_model_id(comps)] = fused
                    for name, s in systems.items():
                        results.setdefault(proto, {})[name] = (evaluate(s, pairs), len(data.failures) / len(imgs))
                        curves.setdefault(proto, {})[name] = (s, pairs)

        norms: dict = {}
        run("shipped", Settings(engine_workers=2))
        if not args.quick:
            run("flip", Settings(engine_workers=2, facenet_flip=True))

        for proto, root, imgs, pairs in (("photos", faces, images, photo_pairs),
                                         ("portrait", tmp, p_images, portrait_pairs)):
            got = None if args.quick else fr_scores(root, imgs, pairs)
            if got is not None:
                s, fta = got
                name = "face_recognition 1.3.0 (defaults)"
                results[proto][name] = (evaluate(s, pairs), fta)
                curves[proto][name] = (s, pairs)

        # The general (photo-calibrated) threshold at chip resolution, and the id-chip one.
        s, pairs = curves["portrait"][shipped]
        same = np.array([p[2] for p in pairs])
        entry = policy.threshold_for(shipped)
        chip_fmr = float(np.mean(s[same == 0] >= entry.threshold))
        chip_fnmr = float(np.mean(s[same == 1] < entry.threshold))
        chip_entry = policy.threshold_for(shipped, ID_CHIP_BAND)

        # Plots.
        for proto in ("photos", "portrait"):
            fig, ax = plt.subplots(figsize=(6.5, 5))
            for name, (sc, pr) in curves[proto].items():
                g = sc[[p[2] == 1 for p in pr]]
                i = sc[[p[2] == 0 for p in pr]]
                _, fmr, fnmr = det_curve(g, i)
                ax.plot(np.maximum(fmr, 0.5 / len(i)), np.maximum(fnmr, 0.5 / len(g)), lw=2 if name == shipped else 1,
                        label=name + (" [shipped]" if name == shipped else ""))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("FMR")
            ax.set_ylabel("FNMR")
            ax.grid(True, which="both", alpha=0.3)
            for f in (1e-2, 1e-3):
                ax.axvline(f, color="grey", ls=":", lw=0.8)
            ax.legend(fontsize=7)
            ax.set_title("DET, " + ("photo vs photo" if proto == "photos" else "102x126 ID-chip portrait vs photo"))
            fig.tight_layout()
            fig.savefig(out / "img" / f"det_{proto}.png", dpi=110)
            plt.close(fig)
        sc, pr = curves["photos"][shipped]
        hist_dir = Path(tempfile.mkdtemp())
        for p in write_plots(hist_dir, sc, pr, shipped):
            if p.name == "histograms.png":  # the DET curve is drawn above, with the peers
                shutil.copy(p, out / "img" / f"photos_{p.name}")

    shutil.rmtree(tmp, ignore_errors=True)

    def table(proto):
        rows = ["| system | EER | FNMR @ FMR 1e-2 | FNMR @ FMR 1e-3 | FNMR @ FMR 1e-4 | FTA |",
                "|---|---|---|---|---|---|"]
        for name, (r, fta) in results[proto].items():
            pts = {p.target_fmr: p for p in r.points}
            cell = lambda f: f"{pts[f].fnmr * 100:.1f} %" + ("" if pts[f].supported else " (too few impostors)")
            bold = "**" if name == shipped else ""
            rows.append(f"| {bold}{name}{bold} | {r.eer * 100:.2f} % | {cell(1e-2)} | {cell(1e-3)} | {cell(1e-4)} | {fta * 100:.1f} % |")
        r0 = results[proto][shipped][0]
        return "\n".join(rows), r0

    t_photos, r_photos = table("photos")
    t_portrait, r_portrait = table("portrait")
    md = f"""# Accuracy of the 1:1 matcher

Made by `python bench/accuracy.py` (this file and `docs/img/*.png` are its output).
Policy `{st['policy_version']}` (sha256 `{st['policy_sha256'][:16]}…`); {st['machine']}.

## Photo vs photo: `../shared/data/faces`

{len(images)} images of {n_identities} identities; genuine pairs are the `same=1` rows of `pairs.tsv`
({r_photos.n_genuine}), impostor pairs are **all** {r_photos.n_impostor} cross-identity pairs.
The same numbers come from `simreg eval faces --root ../shared/data/faces --pairs ../shared/data/faces/pairs.tsv`.
Fusions use the z-normalisation that `simreg calibrate` derives from the impostor scores of this set.

{t_photos}

![DET photos](img/det_photos.png)

![histograms](img/photos_histograms.png)

## ID-chip portrait (102x126, JPEG q60) vs photo

The first photo of each identity is turned into a 102x126 portrait framed like an ID photo
(face box about 55 % of the width, `simreg.evaluation.id_chip_portrait`); only portrait-vs-photo
pairs are scored: {r_portrait.n_genuine} genuine, {r_portrait.n_impostor} impostor. Fusions keep the
normalisation of the photo protocol (what the shipped policy holds).

{t_portrait}

Images whose shorter side is under 160 px are upscaled 2x (bicubic) before detection and
embedding. The general threshold ({entry.threshold:.4f}, calibrated for FMR {entry.target_fmr:g} on photo pairs)
would give FMR {chip_fmr:.2e} and FNMR {chip_fnmr * 100:.1f} % on these portrait pairs, so the policy also
holds an `@id-chip` threshold ({chip_entry.threshold:.4f}, `simreg calibrate --protocol id-chip --fmr 1e-3`, on
{chip_entry.calibrated_on}); compare uses it whenever either image's shorter side is at most 159 px.

![DET portrait](img/det_portrait.png)

```json
{json.dumps({k: v for k, v in st.items()}, indent=2)}
```
"""
    (out / "accuracy.md").write_text(md, encoding="utf-8")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
