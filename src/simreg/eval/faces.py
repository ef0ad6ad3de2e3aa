"""Offline evaluation of the 1:1 matcher on a folder of labelled face images.

Layout: ``ROOT/<identity>/<image>``; the identity is the first folder name.
Genuine pairs come from ``pairs.tsv`` (``img_a, img_b, same`` relative to ROOT;
rows with ``same=1``) and, with ``all_pairs``, every same-identity pair.
Impostor pairs are **all** cross-identity pairs.

An image whose face cannot be acquired counts toward the failure-to-acquire
rate, and every pair involving it counts as a non-match (a genuine pair as a
false non-match, an impostor pair as a correct rejection).
"""

from __future__ import annotations

import csv
import itertools
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..adapters.media import ImageLimits, decode_image
from ..domain.errors import InputError
from ..domain.matching import decision_score, similarity_matrix
from ..domain.metrics import ErrorRates, error_rates
from ..domain.policy import FusionComponent, Policy
from ..domain.types import FaceAnalysis
from ..ports import FaceAnalyser

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}
# Score given to pairs with a failure to acquire: below any real score.
FTA_SCORE = -1e9


@dataclass
class DatasetEmbeddings:
    """Per-model embedding matrices of the images that were acquired."""

    images: list[str]                       # relative paths, acquired ones
    failures: dict[str, str]                # relative path -> reason code
    vectors: dict[str, np.ndarray]          # model id -> (n, d)
    metrics: dict[str, str]                 # model id -> similarity metric
    index: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.index = {p: i for i, p in enumerate(self.images)}


@dataclass(frozen=True)
class PairScores:
    pairs: list[tuple[str, str, int]]       # (img_a, img_b, same)
    per_model: dict[str, np.ndarray]        # model id -> similarity per pair (FTA_SCORE on failure)
    acquired: np.ndarray                    # bool per pair


def identity_of(rel: str) -> str:
    return Path(rel).parts[0]


def list_images(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and len(p.relative_to(root).parts) >= 2)


def parse_subset(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> ``(K, N)`` with ``0 <= K < N``; ``None`` for no subset."""
    if not text:
        return None
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--subset takes K/N (e.g. 0/2), not {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise ValueError(f"--subset K/N needs 0 <= K < N, not {text!r}")
    return k, n


def in_subset(identity: str, subset: tuple[int, int] | None) -> bool:
    """A fixed split of identities by a hash of their folder name: part K of N.
    Calibrate on one part and report on another, so no threshold is measured on
    the people it was fitted to."""
    if subset is None:
        return True
    import hashlib

    k, n = subset
    return int.from_bytes(hashlib.sha256(identity.encode("utf-8")).digest()[:8], "big") % n == k


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    rows = []
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if not row or row[0].startswith("#") or row[0] == "img_a":
                continue
            rows.append((row[0].strip(), row[1].strip(), int(row[2])))
    return rows


def embed_dataset(engine: FaceAnalyser, policy: Policy, root: Path, images: Sequence[str],
                  limits: ImageLimits = ImageLimits(), progress: bool = True) -> DatasetEmbeddings:
    """Analyse every image, a batch at a time so that a worker pool runs in parallel."""
    from tqdm import tqdm

    ok: list[str] = []
    failures: dict[str, str] = {}
    rows: dict[str, list[np.ndarray]] = {m: [] for m in engine.model_ids}
    metrics: dict[str, str] = {}
    batch = 16
    with tqdm(total=len(images), desc="faces", unit="img", disable=not progress, file=sys.stderr) as bar:
        for start in range(0, len(images), batch):
            chunk, decoded = [], []
            for rel in images[start:start + batch]:
                try:
                    decoded.append(decode_image((root / rel).read_bytes(), limits))
                    chunk.append(rel)
                except InputError as exc:
                    failures[rel] = exc.code.value
            for rel, result in zip(chunk, engine.analyse_each(decoded, policy), strict=True):
                if isinstance(result, InputError):
                    failures[rel] = result.code.value
                    continue
                assert isinstance(result, FaceAnalysis), result  # (as before: other errors are not expected here)
                ok.append(rel)
                for m, e in result.embeddings.items():
                    rows[m].append(e.vector)
                    metrics[m] = e.metric
            bar.update(len(images[start:start + batch]))
    vectors = {m: (np.stack(v) if v else np.zeros((0, 1), np.float32)) for m, v in rows.items()}
    return DatasetEmbeddings(ok, failures, vectors, metrics)


def build_pairs(images: Sequence[str], pairs_tsv: Sequence[tuple[str, str, int]],
                all_pairs: bool) -> list[tuple[str, str, int]]:
    genuine = [(a, b, 1) for a, b, same in pairs_tsv if same == 1]
    if all_pairs:
        seen = {frozenset((a, b)) for a, b, _ in genuine}
        for a, b in itertools.combinations(images, 2):
            if identity_of(a) == identity_of(b) and frozenset((a, b)) not in seen:
                genuine.append((a, b, 1))
    impostor = [(a, b, 0) for a, b in itertools.combinations(images, 2) if identity_of(a) != identity_of(b)]
    return genuine + impostor


def score_pairs(data: DatasetEmbeddings, pairs: list[tuple[str, str, int]]) -> PairScores:
    ia = np.array([data.index.get(a, -1) for a, _, _ in pairs])
    ib = np.array([data.index.get(b, -1) for _, b, _ in pairs])
    acquired = (ia >= 0) & (ib >= 0)
    per_model = {}
    for mid, vectors in data.vectors.items():
        s = np.full(len(pairs), FTA_SCORE)
        if acquired.any():
            sim = similarity_matrix(data.metrics[mid], vectors, vectors)
            s[acquired] = sim[ia[acquired], ib[acquired]]
        per_model[mid] = s
    return PairScores(pairs, per_model, acquired)


def impostor_normalisation(scores: PairScores) -> tuple[FusionComponent, ...]:
    """Equal-weight z-normalisation against each model's impostor scores."""
    same = np.array([p[2] for p in scores.pairs])
    imp = (same == 0) & scores.acquired
    return tuple(FusionComponent(mid, float(s[imp].mean()), float(s[imp].std()), 1.0)
                 for mid, s in scores.per_model.items())


def decision_scores(scores: PairScores, policy: Policy) -> tuple[str, np.ndarray]:
    """The score the decision uses, per pair: :func:`matching.decision_score` on
    the acquired pairs (it works element-wise on arrays), ``FTA_SCORE`` elsewhere."""
    acq = scores.acquired
    model_id, s = decision_score({mid: v[acq] for mid, v in scores.per_model.items()}, policy)
    out = np.full(len(scores.pairs), FTA_SCORE)
    out[acq] = s
    return model_id, out


def split(scores: np.ndarray, pairs: Sequence[tuple[str, str, int]]) -> tuple[np.ndarray, np.ndarray]:
    same = np.array([p[2] for p in pairs])
    return scores[same == 1], scores[same == 0]


def evaluate(scores: np.ndarray, pairs: Sequence[tuple[str, str, int]],
             target_fmrs=(1e-2, 1e-3, 1e-4)) -> ErrorRates:
    gen, imp = split(scores, pairs)
    return error_rates(gen, imp, target_fmrs)


def write_scores_tsv(path: Path, pairs: Sequence[tuple[str, str, int]], scores: np.ndarray,
                     acquired: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, delimiter="\t", lineterminator="\n")
        w.writerow(["img_a", "img_b", "same", "score"])
        for (a, b, same), s, ok in zip(pairs, scores, acquired, strict=True):
            w.writerow([a, b, same, f"{s:.6f}" if ok else "nan"])


def write_plots(out_dir: Path, scores: np.ndarray, pairs: Sequence[tuple[str, str, int]],
                title: str, acquired: np.ndarray | None = None) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..domain.metrics import det_curve

    out_dir.mkdir(parents=True, exist_ok=True)
    gen, imp = split(scores, pairs)
    _, fmr, fnmr = det_curve(gen, imp)
    fig, ax = plt.subplots(figsize=(6, 5))
    floor = 0.5 / len(imp)
    ax.plot(np.maximum(fmr, floor), np.maximum(fnmr, 0.5 / len(gen)), lw=1.5)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("FMR (false match rate)")
    ax.set_ylabel("FNMR (false non-match rate)")
    for f in (1e-2, 1e-3, 1e-4):
        ax.axvline(f, color="grey", ls=":", lw=0.8)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(f"DET: {title}")
    det = out_dir / "det.png"
    fig.tight_layout()
    fig.savefig(det, dpi=110)
    plt.close(fig)

    keep = scores > FTA_SCORE / 2
    g, i = split(np.where(keep, scores, np.nan), pairs)
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(np.nanmin(scores[keep]), np.nanmax(scores[keep]), 60)
    ax.hist(i[~np.isnan(i)], bins=bins.tolist(), alpha=0.6, density=True, label=f"impostor (n={np.sum(~np.isnan(i))})")
    ax.hist(g[~np.isnan(g)], bins=bins.tolist(), alpha=0.6, density=True, label=f"genuine (n={np.sum(~np.isnan(g))})")
    ax.set_xlabel("score (higher = more similar)")
    ax.set_ylabel("density")
    ax.legend()
    ax.set_title(f"Score distributions: {title}")
    hist = out_dir / "histograms.png"
    fig.tight_layout()
    fig.savefig(hist, dpi=110)
    plt.close(fig)
    return [det, hist]


def rates_to_dict(r: ErrorRates) -> dict:
    return {
        "n_genuine": r.n_genuine, "n_impostor": r.n_impostor,
        "eer": r.eer, "eer_threshold": r.eer_threshold,
        "operating_points": [
            {"target_fmr": p.target_fmr, "threshold": p.threshold, "fmr": p.fmr, "fnmr": p.fnmr,
             "supported": p.supported, "min_impostors": p.min_impostors} for p in r.points],
    }


def format_rates(r: ErrorRates, fta: float, n_images: int, model_id: str) -> str:
    lines = [f"model: {model_id}",
             f"images: {n_images}   failure to acquire: {fta * 100:.2f} %",
             f"pairs: {r.n_genuine} genuine, {r.n_impostor} impostor",
             f"EER: {r.eer * 100:.2f} %  (threshold {r.eer_threshold:.4f})"]
    for p in r.points:
        note = "" if p.supported else f"  [too few impostor pairs: {r.n_impostor} < {p.min_impostors} needed]"
        lines.append(f"FNMR @ FMR {p.target_fmr:g}: {p.fnmr * 100:.2f} %  (threshold {p.threshold:.4f}, "
                     f"FMR reached {p.fmr:.2e}){note}")
    return "\n".join(lines)


def id_chip_portrait(image: np.ndarray, box, size: tuple[int, int] = (102, 126), face_width: float = 0.55,
                     jpeg_quality: int = 60) -> bytes:
    """An ID-chip-like portrait of the face in ``box``: ``size`` pixels (a Chinese
    ID chip photo is 102x126), the face box about ``face_width`` of the width,
    eyes a little above the middle, JPEG at ``jpeg_quality``."""
    import io

    from PIL import Image

    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    width = box.w / face_width
    height = width * size[1] / size[0]
    left, top = cx - width / 2.0, cy - height * 0.45
    crop = Image.fromarray(image).crop((round(left), round(top), round(left + width), round(top + height)))
    buf = io.BytesIO()
    crop.resize(size, Image.Resampling.LANCZOS).convert("RGB").save(buf, "JPEG", quality=jpeg_quality)
    return buf.getvalue()


def centre_chip_portrait(path, size: tuple[int, int] = (102, 126), jpeg_quality: int = 90) -> bytes:
    """An ID-chip-sized portrait (102x126 JPEG) cut from a photo without any model:
    centre crop to the chip's aspect ratio, then resized.  For tests and benches
    that need a portrait of a known person (:func:`id_chip_portrait` frames the
    face with a detector instead)."""
    import io

    from PIL import Image

    im = Image.open(path).convert("RGB")
    w, h = im.size
    tw = round(h * size[0] / size[1])
    if tw <= w:
        im = im.crop(((w - tw) // 2, 0, (w - tw) // 2 + tw, h))
    else:
        th = round(w * size[1] / size[0])
        im = im.crop((0, (h - th) // 2, w, (h - th) // 2 + th))
    buf = io.BytesIO()
    im.resize(size, Image.Resampling.LANCZOS).save(buf, "JPEG", quality=jpeg_quality)
    return buf.getvalue()


def build_id_chip_protocol(root: Path, images: Sequence[str], workdir: Path,
                           limits: ImageLimits = ImageLimits(), framing_detector=None
                           ) -> tuple[list[str], list[tuple[str, str, int]]]:
    """The ID-chip protocol: the first image (in sorted order) of each identity
    becomes ``<identity>/portrait.jpg`` in ``workdir`` (:func:`id_chip_portrait`);
    the other images are linked beside it.  Pairs are portrait-vs-photo only:
    genuine with the same identity's photos, impostor with everyone else's.

    The portraits are framed on the box of a fixed reference detector (MTCNN
    searching from 20 px faces), not the engine's, so that tuning the engine
    never changes the test set.  Returns the images under ``workdir`` and the
    pairs; an identity whose first image has no face gets no portrait.
    """
    if framing_detector is None:
        from ..adapters.faces.mtcnn import MtcnnDetector

        framing_detector = MtcnnDetector(min_face_size=20, min_face_fraction=0.0)
    firsts: dict[str, str] = {}
    for rel in images:
        firsts.setdefault(identity_of(rel), rel)
    for ident, rel in sorted(firsts.items()):
        try:
            img = decode_image((root / rel).read_bytes(), limits)
        except InputError:
            continue
        boxes = framing_detector.detect(img)
        if not boxes:
            continue
        (workdir / ident).mkdir(parents=True, exist_ok=True)
        (workdir / ident / "portrait.jpg").write_bytes(id_chip_portrait(img, boxes[0]))
    first_set = set(firsts.values())
    for rel in images:
        if rel not in first_set:
            (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
            (workdir / rel).symlink_to((root / rel).resolve())
    p_images = list_images(workdir)
    portraits = [p for p in p_images if Path(p).name == "portrait.jpg"]
    photos = [p for p in p_images if Path(p).name != "portrait.jpg"]
    pairs = [(p, q, int(identity_of(p) == identity_of(q))) for p in portraits for q in photos]
    return p_images, pairs


@dataclass(frozen=True)
class ProtocolSet:
    """One folder scored under both protocols from ONE embedding pass: every photo
    and every ID-chip portrait is embedded once; ``photo_pairs`` and
    ``chip_pairs`` index into the same :class:`DatasetEmbeddings`."""

    images: list[str]                     # photos (relative to the dataset root)
    portraits: list[str]                  # "<identity>/portrait.jpg", relative to the portrait folder
    data: DatasetEmbeddings               # photos by their path, portraits by "chip:<path>"
    photo_pairs: list[tuple[str, str, int]]
    chip_pairs: list[tuple[str, str, int]]


def embed_both_protocols(engine: FaceAnalyser, policy: Policy, root: Path, images: Sequence[str],
                         pairs_tsv: Sequence[tuple[str, str, int]], all_pairs: bool, workdir: Path,
                         limits: ImageLimits = ImageLimits(), progress: bool = False) -> ProtocolSet:
    """The photo protocol (:func:`build_pairs`) and the ID-chip protocol
    (:func:`build_id_chip_protocol`) on ``images``, embedding each file once."""
    p_images, chip_pairs = build_id_chip_protocol(root, images, workdir, limits)
    portraits = [p for p in p_images if Path(p).name == "portrait.jpg"]
    photos = embed_dataset(engine, policy, root, images, limits, progress)
    chips = embed_dataset(engine, policy, workdir, portraits, limits, progress)
    key = "chip:"
    merged_images = photos.images + [key + p for p in chips.images]
    vectors = {m: np.concatenate([photos.vectors[m], chips.vectors[m]]) if len(chips.images) else photos.vectors[m]
               for m in photos.vectors}
    failures = {**photos.failures, **{key + k: v for k, v in chips.failures.items()}}
    data = DatasetEmbeddings(merged_images, failures, vectors, {**photos.metrics, **chips.metrics})
    chip_pairs = [(key + a if Path(a).name == "portrait.jpg" else a, b, same) for a, b, same in chip_pairs]
    return ProtocolSet(list(images), portraits, data, build_pairs(images, pairs_tsv, all_pairs), chip_pairs)
