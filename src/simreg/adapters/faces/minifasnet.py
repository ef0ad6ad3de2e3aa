"""MiniFASNet (Silent-Face-Anti-Spoofing, Apache-2.0): a pretrained passive PAD
model run by ``cv2.dnn`` on one face of a **full** camera frame.

The vendored file is ``pad_models/minifasnet/minifasnet_fused_80.onnx`` (two
upstream models, MiniFASNetV2 at 2.7x context and MiniFASNetV1SE at 4x context,
joined into one graph that outputs the mean of their softmaxes; see the NOTICE
and LICENSE beside it).  Its sha256 is checked on the exact bytes handed to
OpenCV.

Preprocessing is upstream's ``generate_patches.CropImage``: for s in (2.7, 4.0)
a window of s times the face box, centred on the box, clamped in scale to the
image, shifted back inside it, cropped inclusive, resized to 80x80 (bilinear),
BGR float32 0..255 with no normalisation.  The context matters: pre-cropped
faces ruin the model, so callers pass the whole frame and the detector's box.

Score direction here: ``1 - prob[real]``, **higher = more likely an attack**, like
:class:`~simreg.adapters.faces.texture_pad.TexturePadScorer`.  Its training data
is unknown; it is one measured signal (``bench/pad.py``, ``docs/pad.md``).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .model_files import read_verified

MODEL_ID = "minifasnet-fused-80-v1"
MODEL_PATH = Path(__file__).resolve().parents[2] / "pad_models" / "minifasnet" / "minifasnet_fused_80.onnx"
MODEL_SHA256 = "25fda3cec5f8c1a592515acc105e4ff26047275277c12e9969423fcf8db84efc"
SCALES = (2.7, 4.0)
INPUTS = ("crop_s2p7", "crop_s4p0")
SIZE = 80
MIN_FACE_PX = 16  # smaller boxes carry no texture worth scoring


def context_crop(image_bgr: np.ndarray, box: tuple[int, int, int, int], scale: float) -> np.ndarray:
    """Upstream's ``CropImage._get_new_box`` + crop + resize: an 80x80 BGR crop of
    ``scale`` times the integer ``box`` (x, y, w, h), kept inside the image."""
    H, W = image_bgr.shape[:2]
    x, y, w, h = box
    s = min((H - 1) / h, (W - 1) / w, scale)
    nw, nh = w * s, h * s
    cx, cy = x + w / 2, y + h / 2
    x1, y1, x2, y2 = cx - nw / 2, cy - nh / 2, cx + nw / 2, cy + nh / 2
    if x1 < 0:
        x2 -= x1
        x1 = 0
    if y1 < 0:
        y2 -= y1
        y1 = 0
    if x2 > W - 1:
        x1 -= x2 - W + 1
        x2 = W - 1
    if y2 > H - 1:
        y1 -= y2 - H + 1
        y2 = H - 1
    x1, y1, x2, y2 = int(x1), int(y1), int(x2), int(y2)
    crop = image_bgr[y1:y2 + 1, x1:x2 + 1]
    return cv2.resize(crop, (SIZE, SIZE))


def _int_box(box) -> tuple[int, int, int, int]:
    if hasattr(box, "x"):
        return int(box.x), int(box.y), int(box.w), int(box.h)
    x, y, w, h = box
    return int(x), int(y), int(w), int(h)


class MiniFasNetScorer:
    """Not thread-safe (one ``cv2.dnn`` net); the engine serialises its models."""

    model_id = MODEL_ID

    def __init__(self, path: Path = MODEL_PATH, sha256: str = MODEL_SHA256):
        data = read_verified(Path(path), sha256, MODEL_ID)
        self._net = cv2.dnn.readNetFromONNX(np.frombuffer(data, dtype=np.uint8))

    def probabilities(self, image_bgr: np.ndarray, box) -> np.ndarray | None:
        """The model's ``prob`` ([print, real, screen]) for the face in ``box`` of a
        full BGR uint8 frame; None when the box is unusable."""
        img = np.asarray(image_bgr)
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or min(img.shape[:2]) < 2:
            return None
        x, y, w, h = _int_box(box)
        H, W = img.shape[:2]
        if w < MIN_FACE_PX or h < MIN_FACE_PX:
            return None
        # a box must overlap the frame; it may stick out (a face at the edge)
        if x >= W or y >= H or x + w <= 0 or y + h <= 0:
            return None
        for name, s in zip(INPUTS, SCALES, strict=True):
            crop = context_crop(img, (x, y, w, h), s)
            blob = np.ascontiguousarray(crop.transpose(2, 0, 1)[None].astype(np.float32))
            self._net.setInput(blob, name)
        out = np.asarray(self._net.forward(), dtype=np.float64).reshape(-1)
        if out.size != 3 or not np.isfinite(out).all():
            return None
        return out

    def score_frame(self, image_rgb: np.ndarray, box) -> float | None:
        """Attack score (``1 - prob[real]``, higher = attack) of the face in ``box``
        of a full RGB uint8 frame (the engine's convention); None when unusable."""
        img = np.asarray(image_rgb)
        if img.ndim != 3 or img.shape[2] != 3:
            return None
        p = self.probabilities(np.ascontiguousarray(img[:, :, ::-1]), box)
        return None if p is None else float(1.0 - p[1])


class _Shared:
    """One scorer per process, loaded on first use and serialised by a lock (the
    tracker samples a few frames per clip; engines in one process share it)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._scorer: MiniFasNetScorer | None = None

    def load(self) -> None:
        """Load (and check) the model now: engines call this at start, so a bad
        file stops start-up instead of failing a request."""
        with self._lock:
            if self._scorer is None:
                self._scorer = MiniFasNetScorer()

    def score_frame(self, image_rgb: np.ndarray, box) -> float | None:
        with self._lock:
            if self._scorer is None:
                self._scorer = MiniFasNetScorer()
            return self._scorer.score_frame(image_rgb, box)


SHARED = _Shared()
