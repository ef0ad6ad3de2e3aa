"""The face engine: detector, landmarkers and embedders (ports) put to work on
one image or several.  No model is built here: the factory injects them.

Concurrency: each model is used by one thread at a time (a lock per model), and
the embeddings of several faces are computed one model per worker thread, so a
GIL-releasing runtime (``cv2.dnn``) runs beside one that holds it (dlib).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .domain.errors import InputError
from .domain.policy import DetectionRules, Policy
from .domain.quality import assess_quality
from .domain.reasons import ReasonCode
from .domain.types import Embedding, FaceAnalysis, FaceBox, Landmarks
from .ports import Embedder, FaceDetector, Landmarker


@dataclass(frozen=True)
class Subject:
    """The chosen face of an image and what the detector saw besides."""

    box: FaceBox
    faces_found: int
    multiple: bool


def choose_subject(boxes: Sequence[FaceBox], rules: DetectionRules) -> Subject:
    """The best-scoring face is the subject; a second confident face of
    comparable size is flagged, never ignored.  Raises ``FACE.NOT_FOUND``."""
    faces = [b for b in boxes if b.score >= rules.min_score]
    if not faces:
        raise InputError(ReasonCode.FACE_NOT_FOUND, "no face was found in the image", 422)
    subject = faces[0]
    others = [b for b in faces[1:]
              if b.score >= rules.multiple_min_score and b.w >= rules.multiple_min_relative_width * subject.w]
    return Subject(subject, len(faces), bool(others))


class FaceEngine:
    def __init__(self, detector: FaceDetector, landmarker68: Landmarker, landmarker5: Landmarker,
                 embedders: Sequence[Embedder], measure, model_info: Sequence[dict] = ()):
        self.detector = detector
        self.landmarker68 = landmarker68
        self.landmarker5 = landmarker5
        self.embedders = {e.model_id: e for e in embedders}
        self._measure = measure
        self._locks = {name: threading.Lock() for name in
                       ["detector", "landmarker68", "landmarker5", *self.embedders]}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.embedders)),
                                        thread_name_prefix="simreg-embed")
        self.model_info = list(model_info)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def locate(self, image: np.ndarray, rules: DetectionRules) -> tuple[Subject, Landmarks, Landmarks]:
        with self._locks["detector"]:
            boxes = self.detector.detect(image)
        subject = choose_subject(boxes, rules)
        with self._locks["landmarker68"]:
            lm68 = self.landmarker68.landmarks(image, subject.box)
        with self._locks["landmarker5"]:
            lm5 = self.landmarker5.landmarks(image, subject.box)
        return subject, lm68, lm5

    def embed_all(self, faces: Sequence[tuple[np.ndarray, FaceBox, Landmarks]]
                  ) -> tuple[list[dict[str, Embedding]], dict[str, float]]:
        """Every embedder on every face, one worker per model; also each model's
        wall time in ms."""

        def run(model_id: str) -> tuple[str, list[Embedding], float]:
            emb = self.embedders[model_id]
            t0 = time.perf_counter()
            with self._locks[model_id]:
                out = [emb.embed(img, box, lm5) for img, box, lm5 in faces]
            return model_id, out, (time.perf_counter() - t0) * 1000.0

        results: list[dict[str, Embedding]] = [{} for _ in faces]
        timings: dict[str, float] = {}
        for model_id, embs, ms in self._pool.map(run, list(self.embedders)):
            timings[model_id] = ms
            for i, e in enumerate(embs):
                results[i][model_id] = e
        return results, timings

    def similarities(self, a: FaceAnalysis, b: FaceAnalysis) -> dict[str, float]:
        return {mid: emb.similarity(a.embeddings[mid], b.embeddings[mid]) for mid, emb in self.embedders.items()}

    def describe(self) -> dict:
        return {"detector": self.detector.model_id,
                "landmarkers": [self.landmarker68.model_id, self.landmarker5.model_id],
                "embedders": list(self.embedders), "files": self.model_info}

    def analyse(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis]:
        """Locate, measure and embed the subject face of each image.

        Raises ``FACE.NOT_FOUND`` for an image without a face; a second confident
        face is reported as ``FACE.MULTIPLE`` in the analysis' reasons.
        """
        located = []
        for image in images:
            t0 = time.perf_counter()
            subject, lm68, lm5 = self.locate(image, policy.detection)
            t1 = time.perf_counter()
            quality = assess_quality(self._measure(image, subject.box, lm68), policy.quality)
            t2 = time.perf_counter()
            timings = {"detect_landmarks": (t1 - t0) * 1e3, "quality": (t2 - t1) * 1e3}
            located.append((image, subject, lm68, lm5, quality, timings))
        embeddings, embed_ms = self.embed_all([(img, s.box, lm5) for img, s, _lm68, lm5, _q, _t in located])
        share = 1.0 / max(len(located), 1)
        out = []
        for (image, subject, lm68, _lm5, quality, timings), embs in zip(located, embeddings):
            h, w = image.shape[:2]
            reasons = (ReasonCode.FACE_MULTIPLE.value,) if subject.multiple else ()
            timings.update({f"embed[{k}]": v * share for k, v in embed_ms.items()})
            out.append(FaceAnalysis(subject.box, lm68, quality, embs, subject.faces_found, (w, h),
                                    reasons=reasons, timings_ms=timings))
        return out
