"""Resampling helpers shared by the face adapters."""

from __future__ import annotations

import cv2
import numpy as np


def downscaled(image: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """A copy scaled so its longer side is at most ``max_side`` and the factor used
    (``small = original * factor``); the image itself when already small enough."""
    h, w = image.shape[:2]
    longer = max(h, w)
    if longer <= max_side:
        return image, 1.0
    factor = max_side / longer
    small = cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    return small, factor
