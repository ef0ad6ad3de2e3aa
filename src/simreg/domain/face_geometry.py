"""Geometry of iBUG-68 landmarks: pure functions shared by quality and liveness.

Points are ``(x, y)`` pixels; "image-left" eye = points 36-41, "image-right"
eye = points 42-47; jaw line 0-16; nose tip 30.
"""

from __future__ import annotations

import numpy as np


def eye_aspect_ratios(points: np.ndarray) -> tuple[float, float]:
    """Each eye's (|p2-p6| + |p3-p5|) / (2 |p1-p4|), image-left eye first: about
    0.25-0.35 open, under 0.15 closed."""
    p = np.asarray(points, dtype=np.float64)

    def ear(e: np.ndarray) -> float:
        horiz = np.linalg.norm(e[0] - e[3])
        if horiz <= 1e-6:
            return 0.0
        return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2.0 * horiz))

    return ear(p[36:42]), ear(p[42:48])


def eye_aspect_ratio(points: np.ndarray) -> float:
    """Mean of both eyes' aspect ratios."""
    a, b = eye_aspect_ratios(points)
    return 0.5 * (a + b)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(points, dtype=np.float64)
    return p[36:42].mean(axis=0), p[42:48].mean(axis=0)


def geometric_yaw(points: np.ndarray) -> float:
    """Yaw in degrees from where the nose tip sits between the two ends of the jaw
    line (points 30, 0 and 16): a head turned by yaw puts the nose tip, about one
    half-width in front of the jaw ends, at ``tan(yaw)`` of the half-width from
    their midpoint.  Less precise than a 3D fit at large angles, but it needs no
    3D face model, so it carries no bias from a face shape that differs from the
    model's (solvePnP read a frontal face with glasses as turned by 20 degrees).
    Positive toward the subject's left (nose toward the image right, unmirrored).

    The offsets are measured along the face's own horizontal axis (the line
    through the eye centres), not along the image x axis.  The nose tip sits about
    0.3 half-widths below the jaw ends, so with the head tilted (roll) an
    image-x measurement slides it sideways by ``0.3 sin(roll)`` half-widths: a
    turn made with the head tilted toward the turn side read too small (on
    ``liveportrait_s20.mp4``, 19 degrees of roll turned a 21.6 degree reading into
    16.1), and a tilt alone read as a few degrees of yaw."""
    p = np.asarray(points, dtype=np.float64)
    left_eye, right_eye = p[36:42].mean(axis=0), p[42:48].mean(axis=0)
    axis = right_eye - left_eye
    norm = float(np.linalg.norm(axis))
    if norm <= 1e-6:
        return 0.0
    axis /= norm
    left, right, nose = p[0] @ axis, p[16] @ axis, p[30] @ axis
    half = (right - left) / 2.0
    if half <= 1e-6:
        return 0.0
    offset = (nose - (left + right) / 2.0) / half
    return float(np.degrees(np.arctan(offset)))


# Depth of the nose tip in front of the eye centres, in inter-eye distances, for
# ``keypoint_yaw``: fitted where the 68-point yaw is reliable (frontal to 30
# degrees, pad_tranvanluyt_real.mp4 1.9-2.4 s: 0.37-0.62).
NOSE_DEPTH_IOD = 0.45
# Beyond this nose offset (about 34 degrees) the 68-point fit is no longer
# trusted for yaw: near profile it folds the jaw line and reads the turn with the
# wrong sign (-27 degrees for a head held at about 60 degrees to its left).
KEYPOINT_YAW_FROM_OFFSET = 0.3


def keypoint_offset(keypoints) -> float | None:
    """The nose tip's offset from the eye midpoint along the eye line, in
    inter-eye distances (detector keypoints in FaceBox order: eye image-left, eye
    image-right, nose, ...); positive toward the image right.  None when the eyes
    coincide."""
    k = np.asarray(keypoints, dtype=np.float64)
    axis = k[1] - k[0]
    iod = float(np.linalg.norm(axis))
    if iod <= 1e-6:
        return None
    return float((k[2] - (k[0] + k[1]) / 2.0) @ (axis / iod) / iod)


def reconciled_yaw(landmark_yaw: float, keypoints) -> float:
    """The 68-point yaw, unless the detector's five keypoints say the head is
    turned past ``KEYPOINT_YAW_FROM_OFFSET``: then ``atan(offset / depth)`` from the
    keypoints, which keep the nose on the right side of the eyes up to profile.
    Same sign convention as :func:`geometric_yaw`."""
    if keypoints is None:
        return landmark_yaw
    offset = keypoint_offset(keypoints)
    if offset is None or abs(offset) < KEYPOINT_YAW_FROM_OFFSET:
        return landmark_yaw
    return float(np.degrees(np.arctan(offset / NOSE_DEPTH_IOD)))
