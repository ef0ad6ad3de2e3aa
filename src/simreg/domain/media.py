"""Limits on the media a registration uploads: plain data, read by the media
adapters (``adapters/media.py``, ``adapters/video.py``) and set by the
composition root from the settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImageLimits:
    """``max_bytes``: upload size; ``max_pixels``: width*height in the header;
    ``max_side``: the decoded image is scaled down to at most this many pixels
    on its longer side (faces need far fewer)."""

    max_bytes: int = 15 * 1024 * 1024
    max_pixels: int = 60_000_000
    max_side: int = 1600


@dataclass(frozen=True)
class VideoLimits:
    """``max_bytes`` of the upload; ``max_duration_s``; ``max_side`` of the coded
    picture (8K is refused); ``max_frames`` decoded or declared;
    ``min_frames`` a liveness decision needs; frames are delivered scaled so
    their longer side is at most ``work_side`` px."""

    max_bytes: int = 20 * 1024 * 1024
    max_duration_s: float = 15.0
    max_side: int = 1920
    max_frames: int = 15 * 60
    min_frames: int = 10
    work_side: int = 640
