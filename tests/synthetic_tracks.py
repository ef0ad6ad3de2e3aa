"""Synthetic face tracks for the liveness tests.

A track is described by per-frame signals (numpy arrays over the frame times):
eye aspect ratio, yaw, pitch, whether the face was found, the box centre, and
how many confident faces the detector saw on detection frames.  The helpers
below build those signals from a few readable shapes (a blink dip, a head-turn
excursion) and assemble :class:`~simreg.domain.types.FaceTrack` values the
same way :func:`simreg.adapters.faces.tracking.track_faces` does: ``t`` from the first frame,
``duration_s`` = time of the last frame, the detector run every 5th frame,
embeddings at keyframes.

Conventions follow :mod:`simreg.domain.types`: yaw positive toward the
subject's own left, pitch positive looking up, boxes ``(x, y, w, h)`` pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from simreg.domain.types import Embedding, FaceBox, FaceTrack, HeadPose, Landmarks, TrackPoint

FPS = 30.0
FRAME = 1.0 / FPS
OPEN_EAR = 0.30
CLOSED_EAR = 0.08
FACE_W = 120.0
FRAME_SIZE = (640, 480)
MODEL_ID = "facenet-test"

Signal = np.ndarray | float | Callable[[np.ndarray], np.ndarray]


def frame_times(duration_s: float, fps: float = FPS) -> np.ndarray:
    """Frame times 0, 1/fps, ... up to and including ``duration_s``."""
    n = round(duration_s * fps) + 1
    return np.arange(n) / fps


# --- signal shapes ------------------------------------------------------------


def blink_dip(t: np.ndarray, at: float, closed_s: float = 0.15, closed: float = CLOSED_EAR,
              open_: float = OPEN_EAR) -> np.ndarray:
    """Change in EAR (to add to a baseline) for one blink centred on ``at``.

    The eye is at ``closed`` for ``closed_s`` seconds with a single deepest frame
    (``closed - 0.01``) at the frame nearest ``at``, and half-closed (2/3 of the
    way open) on the one frame either side, so the peak time is unambiguous.
    """
    d = np.zeros_like(t, dtype=np.float64)
    dt = np.abs(t - at)
    half = closed_s / 2
    ramp = (dt > half + 1e-9) & (dt <= half + FRAME + 1e-9)
    shut = dt <= half + 1e-9
    d[ramp] = (closed + 2 * (open_ - closed) / 3) - open_
    d[shut] = closed - open_
    d[np.argmin(dt)] = closed - 0.01 - open_
    return d


def excursion(t: np.ndarray, start: float, end: float, level: float, ramp: float = 0.25) -> np.ndarray:
    """A trapezoid: 0 before ``start``, rising linearly to ``level`` over ``ramp``
    seconds, held, back to 0 at ``end``.  ``end=inf`` holds it to the end."""
    up = np.clip((t - start) / ramp, 0.0, 1.0)
    down = np.clip((end - t) / ramp, 0.0, 1.0) if np.isfinite(end) else np.ones_like(t)
    return level * np.minimum(up, down)


def _as_array(x: Signal, t: np.ndarray) -> np.ndarray:
    if callable(x):
        x = x(t)
    return np.broadcast_to(np.asarray(x, dtype=np.float64), t.shape).copy()


# --- embeddings -------------------------------------------------------------------


def unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def identity_vectors(seed: int = 7, dim: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors, exactly orthogonal (two different people)."""
    rng = np.random.default_rng(seed)
    a = unit(rng.normal(size=dim))
    b = rng.normal(size=dim)
    b = unit(b - (b @ a) * a)
    return a, b


def keyframe_embeddings(vectors: Sequence[np.ndarray], every_s: float = 1.0, noise: float = 0.02,
                        seed: int = 3) -> tuple[tuple[float, Embedding], ...]:
    """``(t, Embedding)`` at t = 0, every_s, 2*every_s, ...; each vector gets a
    little noise, like repeated embeddings of one person."""
    rng = np.random.default_rng(seed)
    out = []
    for k, v in enumerate(vectors):
        noisy = unit(np.asarray(v, dtype=np.float64) + noise * rng.normal(size=len(v)) / np.sqrt(len(v)))
        out.append((k * every_s, Embedding(MODEL_ID, noisy.astype(np.float32), "cosine")))
    return tuple(out)


# --- tracks ---------------------------------------------------------------------


def landmarks_for(box: FaceBox, ear: float, yaw: float, ear2: float | None = None) -> Landmarks:
    """68 iBUG points inside ``box`` that agree with the other signals: the eye
    contours (points 36-41 image-left, 42-47 image-right) have aspect ratios
    ``ear`` and ``ear2`` (default: ``ear``) and the nose tip (30) sits between the
    jaw ends (0 and 16) where a head turned by ``yaw`` puts it.  The remaining
    points are a plausible but unused grid."""
    gx, gy = np.meshgrid(np.linspace(0.1, 0.9, 17), np.linspace(0.55, 0.95, 4))
    pts = np.stack([box.x + gx.ravel() * box.w, box.y + gy.ravel() * box.h], axis=1)
    pts[0] = (box.x, box.y + 0.4 * box.h)                # jaw ends
    pts[16] = (box.x + box.w, box.y + 0.4 * box.h)
    half = box.w / 2
    pts[30] = (box.x + half + half * np.tan(np.radians(yaw)), box.y + 0.6 * box.h)  # nose tip
    ew, ey = 0.2 * box.w, box.y + 0.4 * box.h
    for first, cx, r in ((36, box.x + 0.3 * box.w, ear), (42, box.x + 0.7 * box.w, ear if ear2 is None else ear2)):
        up, down = ey - r * ew / 2, ey + r * ew / 2
        pts[first:first + 6] = [(cx - ew / 2, ey), (cx - ew / 6, up), (cx + ew / 6, up),
                                (cx + ew / 2, ey), (cx + ew / 6, down), (cx - ew / 6, down)]
    return Landmarks("ibug68", pts.astype(np.float64))


def make_track(duration_s: float, *, ear: Signal = OPEN_EAR, ear2: Signal | None = None,
               yaw: Signal = 0.0, pitch: Signal = 0.0,
               present: np.ndarray | Callable[[np.ndarray], np.ndarray] | None = None,
               centre_x: Signal | None = None, faces: Signal = 1.0, detect_every: int = 5,
               embeddings: Sequence[tuple[float, Embedding]] | None = None,
               fps: float = FPS, face_w: float = FACE_W) -> FaceTrack:
    """A 30 fps track of one face.

    ``ear``/``yaw``/``pitch``/``centre_x``/``faces`` are constants, arrays over
    :func:`frame_times` or functions of those times; ``ear`` is both eyes' aspect
    ratio (also ``eye_openness``) unless ``ear2`` gives the image-right eye's.  ``present`` (bool per
    frame) says where the face was found; elsewhere box, landmarks, pose and EAR
    are ``None``.  ``faces`` is the confident-face count reported on detection
    frames (every ``detect_every``-th frame).  ``embeddings`` default to the same
    person at every keyframe, one per second.
    """
    t = frame_times(duration_s, fps)
    ear_a, yaw_a, pitch_a = _as_array(ear, t), _as_array(yaw, t), _as_array(pitch, t)
    ear2_a = ear_a if ear2 is None else _as_array(ear2, t)
    cx = _as_array(centre_x if centre_x is not None else FRAME_SIZE[0] / 2, t)
    faces_a = _as_array(faces, t)
    if present is None:
        present_a = np.ones_like(t, dtype=bool)
    else:
        present_a = np.asarray(present(t) if callable(present) else present, dtype=bool)
    points = []
    for i, ti in enumerate(t):
        detected = i % detect_every == 0
        if present_a[i]:
            box = FaceBox(float(cx[i] - face_w / 2), 150.0, face_w, face_w, 0.99, "synthetic")
            lm = landmarks_for(box, float(ear_a[i]), float(yaw_a[i]), float(ear2_a[i]))
            points.append(TrackPoint(float(ti), box, lm, HeadPose(float(yaw_a[i]), float(pitch_a[i]), 0.0),
                                     float((ear_a[i] + ear2_a[i]) / 2), detected,
                                     int(faces_a[i]) if detected else 0))
        else:
            points.append(TrackPoint(float(ti), None, None, None, None, detected, 0))
    if embeddings is None:
        a, _ = identity_vectors()
        n_key = int(t[-1] // 1.0) + 1
        embeddings = keyframe_embeddings([a] * n_key)
    return FaceTrack(tuple(points), tuple(embeddings), FRAME_SIZE, float(t[-1]), len(t))
