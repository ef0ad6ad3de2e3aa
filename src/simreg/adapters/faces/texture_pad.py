"""Passive texture/colour presentation-attack score ("PAD signal (c)").

A linear model on hand-made features of one face crop:

* uniform LBP histograms (8 neighbours on a square of radius 1, 2 and 3 px; 58
  uniform codes + 1 bin for all others = 59 bins) on the Y, Cr, Cb, H, S and V
  channels of a 128x128 crop: 6 x 3 x 59 = 1062 values;
* colour histograms (16 bins each of Cr, Cb, H, S): 64 values;
* frequency cues on Y: the share of spectral energy in 4 radial bands, the peak
  to median ratio of the high band (screen moire / pixel grid, halftone dots) and
  the log variance of the Laplacian (recapture blur): 6 values.

The model (standardisation ``mean``/``scale``, ``coef``, ``intercept``) is a JSON
file trained by ``bench/train_pad.py``; its sha256 is pinned below and checked on
the exact bytes that are parsed.  Nothing is read at import time.

Score direction: :meth:`TexturePadScorer.score` is a probability-like value in
[0, 1], **higher = more likely a presentation attack**; the model file carries the
threshold chosen by leave-one-subject-out evaluation (``threshold``).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...domain.errors import InfraError
from ...domain.reasons import ReasonCode

FEATURE_VERSION = "lbp-u2-r123-ycrcb-hsv+colhist16+fft6/v1"
CROP_SIZE = 128
LBP_RADII = (1, 2, 3)
HIST_BINS = 16
MODEL_ID = "texture-linear-v1"
MODEL_PATH = Path(__file__).resolve().parents[2] / "pad_models" / "texture_linear_v1.json"
# sha256 of src/simreg/pad_models/texture_linear_v1.json; bench/train_pad.py prints it.
MODEL_SHA256 = "7071201ad341e905009f3348168ebc420fee456881b31675febaf5991ed611b4"


def _uniform_table() -> np.ndarray:
    """Map each 8-bit code to its uniform-pattern bin (0..57) or 58 (non-uniform)."""
    table = np.full(256, 58, dtype=np.int64)
    nxt = 0
    for code in range(256):
        bits = [(code >> i) & 1 for i in range(8)]
        transitions = sum(bits[i] != bits[(i + 1) % 8] for i in range(8))
        if transitions <= 2:
            table[code] = nxt
            nxt += 1
    assert nxt == 58
    return table


_UNIFORM = _uniform_table()
N_FEATURES = 6 * len(LBP_RADII) * 59 + 4 * HIST_BINS + 6


def lbp_histogram(channel: np.ndarray, radius: int) -> np.ndarray:
    """Normalised 59-bin uniform LBP histogram of a 2-D uint8 array.

    Neighbours sit on the square of half-side ``radius`` (corners and edge
    midpoints), clockwise from the top-left; a bit is set when the neighbour is
    >= the centre.  Border pixels closer than ``radius`` to an edge are skipped."""
    c = channel.astype(np.int16)
    r = radius
    h, w = c.shape
    centre = c[r:h - r, r:w - r]
    offsets = ((-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r))
    code = np.zeros(centre.shape, dtype=np.int64)
    for bit, (dy, dx) in enumerate(offsets):
        nb = c[r + dy:h - r + dy, r + dx:w - r + dx]
        code |= (nb >= centre).astype(np.int64) << bit
    hist = np.bincount(_UNIFORM[code].ravel(), minlength=59).astype(np.float64)
    return hist / max(hist.sum(), 1.0)


def _frequency_features(y: np.ndarray) -> np.ndarray:
    import cv2

    f = y.astype(np.float64)
    f = f - f.mean()
    win = np.outer(np.hanning(f.shape[0]), np.hanning(f.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2(f * win))) ** 2
    hh, ww = power.shape
    yy, xx = np.mgrid[0:hh, 0:ww]
    rad = np.hypot((yy - hh // 2) / hh, (xx - ww // 2) / ww)  # cycles per pixel, 0..~0.7
    total = power[rad > 0.01].sum() + 1e-9
    edges = (0.01, 0.08, 0.16, 0.28, 0.5)
    bands = [power[(rad > a) & (rad <= b)].sum() / total for a, b in itertools.pairwise(edges)]
    high = power[(rad > 0.16) & (rad <= 0.5)]
    peak = math.log((high.max() + 1e-9) / (np.median(high) + 1e-9))
    lap = cv2.Laplacian(y, cv2.CV_64F)
    return np.array([math.log(b + 1e-9) for b in bands] + [peak, math.log(lap.var() + 1e-6)])


def texture_features(face_rgb: np.ndarray) -> np.ndarray:
    """Feature vector (length :data:`N_FEATURES`, float64) of an RGB uint8 face crop
    of any size (it is resized to 128x128 first).  Deterministic."""
    import cv2

    if face_rgb.ndim != 3 or face_rgb.shape[2] != 3 or min(face_rgb.shape[:2]) < 8:
        raise ValueError(f"expected an RGB face crop, got shape {face_rgb.shape}")
    img: np.ndarray = np.ascontiguousarray(face_rgb, dtype=np.uint8)
    interp = cv2.INTER_AREA if min(img.shape[:2]) >= CROP_SIZE else cv2.INTER_LINEAR
    img = cv2.resize(img, (CROP_SIZE, CROP_SIZE), interpolation=interp)
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb)
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)  # H in 0..179
    parts = []
    for ch in (ycc[..., 0], ycc[..., 1], ycc[..., 2], hsv[..., 0], hsv[..., 1], hsv[..., 2]):
        for r in LBP_RADII:
            parts.append(lbp_histogram(ch, r))
    for ch, top in ((ycc[..., 1], 256), (ycc[..., 2], 256), (hsv[..., 0], 180), (hsv[..., 1], 256)):
        h = np.bincount((ch.astype(np.int64) * HIST_BINS // top).ravel(), minlength=HIST_BINS)
        parts.append(h / h.sum())
    parts.append(_frequency_features(ycc[..., 0]))
    out = np.concatenate(parts)
    assert out.shape == (N_FEATURES,)
    return out


def face_crop(image_rgb: np.ndarray, box, scale: float = 1.0) -> np.ndarray | None:
    """Square crop centred on ``box`` (pixels ``x, y, w, h``), side ``scale`` x the
    longer box side, clipped to the image; None when too little is left."""
    x, y, w, h = float(box.x), float(box.y), float(box.w), float(box.h)
    side = max(w, h) * scale
    cx, cy = x + w / 2.0, y + h / 2.0
    H, W = image_rgb.shape[:2]
    x1, y1 = round(max(0.0, cx - side / 2)), round(max(0.0, cy - side / 2))
    x2, y2 = round(min(float(W), cx + side / 2)), round(min(float(H), cy + side / 2))
    if x2 - x1 < 24 or y2 - y1 < 24:
        return None
    return image_rgb[y1:y2, x1:x2]


@dataclass(frozen=True)
class LinearPadModel:
    model_id: str
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    threshold: float
    meta: dict

    def decision(self, features: np.ndarray) -> np.ndarray:
        z = (np.atleast_2d(features) - self.mean) / self.scale
        return z @ self.coef + self.intercept

    def probability(self, features: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-np.clip(self.decision(features), -50, 50)))


def load_model(path: Path = MODEL_PATH, sha256: str | None = MODEL_SHA256) -> LinearPadModel:
    """Read, verify (sha256 of the exact bytes, unless ``sha256`` is None) and parse."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        raise InfraError(ReasonCode.MODEL_MISSING, f"{MODEL_ID}: model file {path} missing") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise InfraError(ReasonCode.MODEL_INTEGRITY, f"{MODEL_ID}: sha256 mismatch")
    doc = json.loads(data)
    if doc.get("feature_version") != FEATURE_VERSION:
        raise InfraError(ReasonCode.MODEL_INTEGRITY, f"{MODEL_ID}: feature version {doc.get('feature_version')!r}")
    arrays = {k: np.asarray(doc[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
    if any(a.shape != (N_FEATURES,) for a in arrays.values()):
        raise InfraError(ReasonCode.MODEL_INTEGRITY, f"{MODEL_ID}: wrong weight shapes")
    meta = {k: v for k, v in doc.items() if k not in ("mean", "scale", "coef")}
    return LinearPadModel(doc["model_id"], arrays["mean"], arrays["scale"], arrays["coef"],
                          float(doc["intercept"]), float(doc["threshold"]), meta)


class TexturePadScorer:
    """Scores RGB face crops; higher = more likely an attack (0..1).

    Build it in a factory (it reads and verifies the model file in ``__init__``)."""

    def __init__(self, path: Path = MODEL_PATH, sha256: str | None = MODEL_SHA256):
        self.model = load_model(path, sha256)
        self.model_id = self.model.model_id
        self.threshold = self.model.threshold

    def score(self, face_rgb: np.ndarray) -> float:
        """Attack score of one face crop (RGB uint8, any size; the crop should be the
        detector box made square, see :func:`face_crop`)."""
        return float(self.model.probability(texture_features(face_rgb))[0])

    def score_frame(self, image_rgb: np.ndarray, box) -> float | None:
        """Score the face in ``box`` of a full frame; None when the crop is too small."""
        crop = face_crop(image_rgb, box)
        return None if crop is None else self.score(crop)

    def score_video(self, frame_scores) -> float | None:
        """Video score: the median of the frame scores (None when there are none)."""
        s = [v for v in frame_scores if v is not None]
        return float(np.median(s)) if s else None
