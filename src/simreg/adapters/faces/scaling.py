"""Resampling helpers shared by the face adapters."""

from __future__ import annotations

import cv2
import numpy as np


def downscaled(image: np.ndarray, max_side: int, interpolation: int = cv2.INTER_AREA) -> tuple[np.ndarray, float]:
    """A copy scaled so its longer side is at most ``max_side`` and the factor used
    (``small = original * factor``); the image itself when already small enough.
    ``INTER_AREA`` by default (no aliasing); ``INTER_LINEAR`` is about 6x cheaper."""
    h, w = image.shape[:2]
    longer = max(h, w)
    if longer <= max_side:
        return image, 1.0
    factor = max_side / longer
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=interpolation)
    return small, factor


def upscaled_if_small(image: np.ndarray, below: int, factor: float) -> tuple[np.ndarray, float]:
    """A bicubic ``factor``x copy when the image's shorter side is under ``below`` px
    (and the factor used), else the image itself and 1.0."""
    h, w = image.shape[:2]
    if min(h, w) >= below or factor <= 1.0:
        return image, 1.0
    return cv2.resize(image, (round(w * factor), round(h * factor)), interpolation=cv2.INTER_CUBIC), factor
