"""Ports: what the domain needs from the outside world.  Adapters implement them."""

from __future__ import annotations

from typing import Protocol, Sequence, runtime_checkable

import numpy as np

from .domain.types import Embedding, FaceBox, Landmarks


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
