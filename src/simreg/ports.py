"""Ports: what the domain needs from the outside world.  Adapters implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .domain.errors import SimregError
from .domain.policy import DetectionRules, Policy, TrackingParams
from .domain.types import Embedding, FaceAnalysis, FaceBox, FaceTrack, Landmarks


@runtime_checkable
class FaceDetector(Protocol):
    """Finds faces in an RGB uint8 image.  Boxes are in that image's pixels,
    sorted best first by ``score``."""

    model_id: str

    def detect(self, image: np.ndarray) -> Sequence[FaceBox]: ...


@runtime_checkable
class Landmarker(Protocol):
    """Places landmarks of one scheme (``ibug68``, ``dlib5``) inside a face box."""

    model_id: str
    scheme: str

    def landmarks(self, image: np.ndarray, box: FaceBox) -> Landmarks: ...


@runtime_checkable
class Embedder(Protocol):
    """Turns one face into a descriptor (:class:`Embedding`, which names the
    metric its descriptors are compared with)."""

    model_id: str

    def embed(self, image: np.ndarray, box: FaceBox, landmarks5: Landmarks | None) -> Embedding: ...


class FaceAnalyser(Protocol):
    """The face engine as the use cases see it: analyses of images (the subject
    face: box, landmarks, quality, embeddings) and the subject's track through a
    video.  Two adapters implement it (``simreg.adapters.faces``): ``FaceEngine``
    in the calling process and ``EnginePool`` over worker processes."""

    model_ids: tuple[str, ...]

    def track_video(self, data: bytes, limits, rules: DetectionRules, policy: Policy | None = None,
                    mirrored: bool = False, tracking: TrackingParams | None = None) -> VideoTrack:
        """Decode a video (bytes) and track the subject's face through it (by
        ``tracking``, else the policy's, else the defaults); with a ``policy``,
        also analyse the best frontal frame (``VideoTrack.live_face``)."""
        ...

    def analyse_with_video(self, image: np.ndarray, video: bytes, limits, policy: Policy,
                           mirrored: bool = False) -> tuple[FaceAnalysis | SimregError, VideoTrack]:
        """The portrait's analysis (or its error) and the video's track with its
        live face, computed at once where the implementation can (the track may be
        ``None`` when the portrait was refused)."""
        ...

    def analyse(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis]:
        """One analysis per image; raises the first image's error."""
        ...

    def analyse_each(self, images: Sequence[np.ndarray], policy: Policy) -> list[FaceAnalysis | SimregError]:
        """One analysis or error per image (errors are returned, not raised)."""
        ...

    def describe(self) -> dict: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class VideoTrack:
    """What :meth:`FaceAnalyser.track_video` returns."""

    track: FaceTrack
    info: object                  # adapters.video.VideoInfo
    timings_ms: dict
    # the best frontal frame's full analysis (all embedders), or why there is none;
    # None when not asked for
    live_face: FaceAnalysis | SimregError | None = None
