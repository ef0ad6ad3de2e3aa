"""The face engine: detector, landmarkers and embedders (ports) put to work on
the subject face of an image.  No model is built here: the factory injects them.

Two implementations share one port, :class:`simreg.ports.FaceAnalyser`:

* :class:`FaceEngine` runs in the calling process (a lock per model makes it
  safe to share between threads);
* :class:`simreg.adapters.faces.pool.EnginePool` runs engines in worker
  processes, so several faces are analysed at once on several cores (dlib holds
  the GIL while it computes, so threads cannot do this).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np

from ...domain.errors import InputError, SimregError
from ...domain.media import ImageLimits
from ...domain.policy import DetectionRules, Policy, TrackingParams
from ...domain.quality import assess_quality
from ...domain.reasons import ReasonCode
from ...domain.types import FaceAnalysis, FaceBox, FaceTrack, Landmarks, TrackPoint
from ...ports import Embedder, FaceDetector, Landmarker, VideoTrack
from ..media import decode_image
from .scaling import upscaled_if_small


def _off_frontal(p: TrackPoint) -> float:
    """``|yaw| + 0.5 |pitch|`` of a point with a pose: smaller is more frontal."""
    assert p.pose is not None
    return abs(p.pose.yaw) + 0.5 * abs(p.pose.pitch)


class FrameKeeper:
    """Keeps a few decoded frames (one per ``every_s`` seconds, at most
    ``max_frames``) while the tracker consumes the stream, so the best frontal
    frame can be analysed afterwards without decoding twice or holding the video."""

    def __init__(self, every_s: float = 0.5, max_frames: int = 32):
        self.every_s = every_s
        self.max_frames = max_frames
        self.frames: dict[float, np.ndarray] = {}
        self._last = -1e9

    def tee(self, frames):
        for f in frames:
            if f.t - self._last >= self.every_s and len(self.frames) < self.max_frames:
                self.frames[f.t] = f.image
                self._last = f.t
            yield f

    def best(self, track: FaceTrack, k: int = 1, min_spacing_s: float = 1.0) -> list[tuple[np.ndarray, FaceBox]]:
        """Up to ``k`` (frame, tracked box) pairs for the live template, best first: a tracked
        single face with open eyes (at least 0.8 of the clip's median openness),
        sharp (at least half the sharpest candidate's Laplacian variance), most
        frontal (smallest ``|yaw| + 0.5 |pitch|``), and at least ``min_spacing_s``
        apart so they spread over the clip.  Empty: no kept frame has a tracked face."""
        points = [p for p in track.points if p.t in self.frames and p.landmarks is not None
                  and p.pose is not None and p.faces <= 1]
        if not points:
            return []
        opens = [p.eye_openness for p in points if p.eye_openness is not None]
        floor = 0.8 * float(np.median(opens)) if opens else 0.0
        points = [p for p in points if (p.eye_openness or 0.0) >= floor] or points
        sharp = {p.t: _face_sharpness(self.frames[p.t], p.box) for p in points}
        top = max(sharp.values())
        points = [p for p in points if sharp[p.t] >= 0.5 * top] or points
        chosen: list = []
        for p in sorted(points, key=_off_frontal):
            if all(abs(p.t - c.t) >= min_spacing_s for c in chosen):
                chosen.append(p)
            if len(chosen) == k:
                break
        return [(self.frames[p.t], p.box) for p in chosen]


def _face_sharpness(image: np.ndarray, box: FaceBox | None) -> float:
    """Variance of the Laplacian of the grey face crop resampled to 64 px wide."""
    import cv2

    if box is None:
        return 0.0
    h, w = image.shape[:2]
    x1, y1 = max(int(box.x), 0), max(int(box.y), 0)
    x2, y2 = min(int(box.x + box.w), w), min(int(box.y + box.h), h)
    if x2 - x1 < 8 or y2 - y1 < 8:
        return 0.0
    grey = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_RGB2GRAY)
    grey = cv2.resize(grey, (64, max(8, round(64 * (y2 - y1) / (x2 - x1)))), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def live_template(analyses: Sequence[FaceAnalysis]) -> FaceAnalysis:
    """One live face from several frames' analyses (best first): the first
    analysis, its embeddings replaced by the mean of the unit-normalised
    embeddings of every analysis that passed quality (all of them when none did),
    per model.  Cosine comparisons of the mean equal the mean direction's."""
    from dataclasses import replace

    from ...domain.types import Embedding

    used = [a for a in analyses if a.quality.passed] or list(analyses)
    head = used[0]
    reasons = tuple(dict.fromkeys(r for a in analyses for r in a.reasons))  # e.g. FACE.MULTIPLE in any frame
    embeddings = {}
    for mid, e in head.embeddings.items():
        vs = [a.embeddings[mid].vector.astype(np.float64) for a in used if mid in a.embeddings]
        if e.metric != "cosine" or len(vs) == 1:
            embeddings[mid] = e
            continue
        mean = np.mean([v / max(float(np.linalg.norm(v)), 1e-12) for v in vs], axis=0)
        embeddings[mid] = Embedding(mid, mean.astype(np.float32), e.metric)
    return replace(head, embeddings=embeddings, reasons=reasons,
                   timings_ms={**head.timings_ms, "template_frames": float(len(used))})


@dataclass(frozen=True)
class Subject:
    """The chosen face of an image and what the detector saw besides."""

    box: FaceBox
    faces_found: int
    multiple: bool


def choose_subject(boxes: Sequence[FaceBox], rules: DetectionRules, near: FaceBox | None = None) -> Subject:
    """The best-scoring face is the subject; a second confident face of
    comparable size is flagged, never ignored.  With ``near`` (the tracked face
    of a video frame), the subject is the face overlapping it most (IoU >= 0.3),
    so a bystander or a held-up photo never stands in for the tracked person.
    Raises ``FACE.NOT_FOUND``."""
    faces = [b for b in boxes if b.score >= rules.min_score]
    if near is not None:
        overlapping = [b for b in faces if b.iou(near) >= 0.3]
        if not overlapping:
            raise InputError(ReasonCode.FACE_NOT_FOUND, "the tracked face is not in this frame")
        subject = max(overlapping, key=lambda b: b.iou(near))
    elif faces:
        subject = faces[0]
    else:
        raise InputError(ReasonCode.FACE_NOT_FOUND, "no face was found in the image")
    others = [b for b in faces if b is not subject
              and b.score >= rules.multiple_min_score and b.w >= rules.multiple_min_relative_width * subject.w]
    return Subject(subject, len(faces), bool(others))


class FaceEngine:
    def __init__(self, detector: FaceDetector, landmarker68: Landmarker,
                 embedders: Sequence[Embedder], measure, model_info: Sequence[dict] = (),
                 upscale_below: int = 160, upscale_factor: float = 2.0, tracking_detector=None,
                 tracking_params=None, texture_scorer=None, template_frames: int = 3):
        self.detector = detector
        self.landmarker68 = landmarker68
        self.embedders = {e.model_id: e for e in embedders}
        self.model_ids = tuple(self.embedders)
        self._measure = measure
        self._locks = {name: threading.Lock() for name in ["detector", "landmarker68", *self.embedders]}
        self.model_info = list(model_info)
        self.upscale_below = upscale_below
        self.upscale_factor = upscale_factor
        self.tracking_detector = tracking_detector or detector
        self.tracking_params = tracking_params
        self.texture_scorer = texture_scorer
        self.template_frames = template_frames  # frames averaged into the live template

    def close(self) -> None:
        pass

    def warm_up(self) -> None:
        """Run every model once on a blank image, so the first real request does not
        pay for lazy initialisation inside the runtimes (about 100 ms with OpenCV)."""
        blank = np.full((160, 160, 3), 128, dtype=np.uint8)
        box = FaceBox(40.0, 30.0, 80.0, 100.0, 1.0, "warm-up",
                      ((60.0, 70.0), (100.0, 70.0), (80.0, 90.0), (64.0, 110.0), (96.0, 110.0)))
        self.detector.detect(blank)
        lm68 = self.landmarker68.landmarks(blank, box)
        for emb in self.embedders.values():
            emb.embed(blank, box, lm68)
        self.tracking_detector.detect(blank)

    def decode_image(self, data: bytes, limits: ImageLimits) -> np.ndarray:
        """An uploaded image as RGB uint8 (adapters/media.py), in this process."""
        return decode_image(data, limits)

    def describe(self) -> dict:
        return {"detector": self.detector.model_id,
                "landmarkers": [self.landmarker68.model_id],
                "embedders": list(self.embedders), "files": self.model_info}

    def analyse_one(self, image: np.ndarray, policy: Policy, near: FaceBox | None = None) -> FaceAnalysis:
        """Locate, measure and embed the subject face of one image.

        Raises ``FACE.NOT_FOUND`` for an image without a face; a second confident
        face is reported as ``FACE.MULTIPLE`` in the analysis' reasons.  Box,
        landmarks and quality are in the pixels of ``image``; thumbnail-sized
        images (an ID-chip portrait is 102x126) are detected and landmarked on a
        copy upscaled by ``self.upscale_factor``, and embedded from ``image``
        itself (both measured better, docs/design/face-engine.md).
        """
        t = {}
        t0 = time.perf_counter()
        work, factor = upscaled_if_small(image, self.upscale_below, self.upscale_factor)
        with self._locks["detector"]:
            boxes = self.detector.detect(work)
        subject = choose_subject(boxes, policy.detection, near.scaled(factor) if near is not None else None)
        t1 = time.perf_counter()
        t["detect"] = (t1 - t0) * 1e3
        with self._locks["landmarker68"]:
            lm68 = self.landmarker68.landmarks(work, subject.box)
        t2 = time.perf_counter()
        t["landmarks"] = (t2 - t1) * 1e3
        box_orig, lm68_orig = subject.box, lm68
        if factor != 1.0:
            box_orig = subject.box.scaled(1.0 / factor)
            lm68_orig = Landmarks(lm68.scheme, lm68.points / factor)
        quality = assess_quality(self._measure(image, box_orig, lm68_orig), policy.quality)
        t3 = time.perf_counter()
        t["quality"] = (t3 - t2) * 1e3
        embeddings = {}
        # Embedders align from the decoded image (a crop warped from the upscaled
        # copy measured worse for SFace), on the detector's keypoints and the 68
        # points mapped back to it: the same recipe whatever else is configured
        # (dlib's descriptor derives its own five points from them).
        for mid, emb in self.embedders.items():
            t4 = time.perf_counter()
            with self._locks[mid]:
                embeddings[mid] = emb.embed(image, box_orig, lm68_orig)
            t[f"embed[{mid}]"] = (time.perf_counter() - t4) * 1e3
        h, w = image.shape[:2]
        reasons = (ReasonCode.FACE_MULTIPLE.value,) if subject.multiple else ()
        return FaceAnalysis(box_orig, lm68_orig, quality, embeddings, subject.faces_found, (w, h),
                            reasons=reasons, timings_ms=t)

    def analyse(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis]:
        return [self.analyse_one(img, policy) for img in images]

    def track_video(self, data: bytes, limits, rules: DetectionRules, policy: Policy | None = None,
                    mirrored: bool = False, tracking: TrackingParams | None = None) -> VideoTrack:
        """Decode ``data`` within ``limits`` and track the subject (see :mod:`simreg.adapters.faces.tracking`).
        Identity-continuity embeddings use the first embedder (the matcher's).  With a
        ``policy``, the most frontal open-eyed frame is analysed in full (every
        embedder) for matching; a mirrored recording is un-mirrored first."""
        from ..video import DecodedVideo
        from .tracking import track_faces

        # an engine built with its own parameters (benches) keeps them; else the caller's, the policy's
        params = self.tracking_params or tracking or (policy.tracking if policy is not None else TrackingParams())
        keeper = FrameKeeper() if policy is not None else None
        embedder = next(iter(self.embedders.values()))
        # the tracker uses the landmarker and the continuity embedder frame by frame:
        # hold their locks, and the detector's when tracking shares it
        held = ["landmarker68", embedder.model_id] + (["detector"] if self.tracking_detector is self.detector else [])
        with ExitStack() as stack:
            for name in sorted(held):  # one order for every caller: no deadlock
                stack.enter_context(self._locks[name])
            with DecodedVideo(data, limits) as video:
                frames = keeper.tee(video.frames()) if keeper is not None else video.frames()
                track, timings = track_faces(self, frames, rules, params,
                                             detector=self.tracking_detector, embedder=embedder,
                                             texture=self.texture_scorer)
                info = video.info
        live: FaceAnalysis | SimregError | None = None
        if keeper is not None:
            t0 = time.perf_counter()
            frames = keeper.best(track, k=self.template_frames)
            keeper.frames.clear()
            analyses: list[FaceAnalysis] = []
            assert policy is not None  # a keeper is made only with a policy
            for frame, box in frames:
                if mirrored:  # analysed un-mirrored, like the portrait; the tracked box flips with it
                    frame = np.ascontiguousarray(frame[:, ::-1])
                    box = FaceBox(frame.shape[1] - box.x - box.w, box.y, box.w, box.h, box.score, box.detector)
                try:
                    analyses.append(self.analyse_one(frame, policy, near=box))
                except SimregError as exc:
                    live = live or exc
            if analyses:
                live = live_template(analyses)
            elif live is None:
                live = InputError(ReasonCode.FACE_NOT_FOUND, "no usable face in the video")
            timings = {**timings, "live_face": (time.perf_counter() - t0) * 1e3}
        return VideoTrack(track, info, timings, live)

    def analyse_with_video(self, image: np.ndarray, video: bytes, limits, policy: Policy,
                           mirrored: bool = False) -> tuple[FaceAnalysis | SimregError, VideoTrack | None]:
        portrait = self.analyse_each([image], policy)[0]
        if isinstance(portrait, SimregError):  # in one process: no video work for a refused portrait
            return portrait, None
        return portrait, self.track_video(video, limits, policy.detection, policy, mirrored)

    def analyse_each(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis | SimregError]:
        out: list[FaceAnalysis | SimregError] = []
        for img in images:
            try:
                out.append(self.analyse_one(img, policy))
            except SimregError as exc:
                out.append(exc)
        return out
