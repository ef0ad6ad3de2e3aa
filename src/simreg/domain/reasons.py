"""Reason codes and outcomes: part of the public API contract.

A code's string value never changes once released; new codes may be added.
"""

from __future__ import annotations

from enum import Enum


class ReasonCode(str, Enum):
    # Media / input
    MEDIA_EMPTY = "MEDIA.EMPTY"
    MEDIA_TOO_LARGE = "MEDIA.TOO_LARGE"
    MEDIA_UNDECODABLE = "MEDIA.UNDECODABLE"
    MEDIA_UNSUPPORTED_FORMAT = "MEDIA.UNSUPPORTED_FORMAT"
    MEDIA_DIMENSIONS = "MEDIA.DIMENSIONS"
    # Faces
    FACE_NOT_FOUND = "FACE.NOT_FOUND"
    FACE_MULTIPLE = "FACE.MULTIPLE"
    # Quality
    QUALITY_FACE_TOO_SMALL = "QUALITY.FACE_TOO_SMALL"
    QUALITY_BLUR = "QUALITY.BLUR"
    QUALITY_UNDEREXPOSED = "QUALITY.UNDEREXPOSED"
    QUALITY_OVEREXPOSED = "QUALITY.OVEREXPOSED"
    QUALITY_LOW_CONTRAST = "QUALITY.LOW_CONTRAST"
    QUALITY_POSE = "QUALITY.POSE"
    QUALITY_EYES_CLOSED = "QUALITY.EYES_CLOSED"
    # Matching
    MATCH_BELOW_THRESHOLD = "MATCH.BELOW_THRESHOLD"
    # Models / policy / infrastructure
    MODEL_INTEGRITY = "MODEL.INTEGRITY"
    MODEL_MISSING = "MODEL.MISSING"
    POLICY_INVALID = "POLICY.INVALID"
    POLICY_NOT_CALIBRATED = "POLICY.NOT_CALIBRATED"


class MatchOutcome(str, Enum):
    MATCH = "match"
    NO_MATCH = "no_match"
