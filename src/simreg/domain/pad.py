"""Passive presentation-attack signals over a face track: pure functions.

(a) Planarity.  A real head turning in front of the camera moves its landmarks
    as a 3D object: the nose tip and the jaw line shift against each other
    (parallax).  A photo, however it is tilted or bent slightly, moves as a
    plane, so one homography maps all its landmarks from one view to another.
    The score is the landmark residual after the best homography between views
    that differ in yaw, in units of the inter-eye distance: high for a head,
    near landmark noise for a sheet of paper or a flat cut-out.

(c) MiniFASNet (adapters/faces/minifasnet.py), a pretrained passive PAD model
    on the sampled full frames: the mean over the clip.  Report-only: measured in
    docs/pad.md (``bench/pad.py``).

(b) Screen and print cues (adapters/faces/screen_pad.py) on the sampled frames:
    straight edges enclosing the face (a bezel, a paper border), a periodic
    high-frequency peak (pixel grid, moire, halftone) and specular glare.  Each is
    summarised per clip as the median over the sampled frames.

Each signal gives a score; the policy's thresholds (chosen from data, see
docs/liveness.md) turn scores into reason codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .reasons import ReasonCode
from .types import FaceTrack

# Landmarks that stay put on a face while it turns (iBUG-68): jaw, brows, nose,
# eye corners.  Mouth and eyelids move with expressions and are left out.
RIGID = np.r_[0:36, 36, 39, 42, 45]


@dataclass(frozen=True)
class PadParams:
    min_yaw_delta: float = 15.0     # views must differ at least this much in yaw
    max_pairs: int = 12             # view pairs examined (largest yaw differences first)
    # Residual / inter-eye distance below which motion is called planar.  None:
    # report the score only.  On the shared data the score did not yet separate
    # bona fide turns from the simulated prints (dlib's jaw-line landmarks are too
    # noisy on warped photos), so no threshold is shipped; see docs/liveness.md.
    planar_threshold: float | None = None
    # Median texture-model score (adapters/faces/texture_pad.py) at or above which a
    # clip is called a print/screen presentation.  None: report only.  The model's
    # own threshold (0.409) gave no false alarm on the 16 shared bona fide clips,
    # but held-out-source tests put every real face of an unseen camera above it
    # (docs/pad-texture.md), so it is not a decision until re-derived on bona fide
    # captures from the counter's own cameras.
    texture_threshold: float | None = None
    # Screen/print cues (docs/pad-screen.md): the clip's median over the sampled
    # frames at or above which the clip is called a screen or print presentation
    # (PAD.SCREEN_SUSPECTED).  None: report only.
    screen_frame_threshold: float | None = None
    screen_moire_threshold: float | None = None
    screen_glare_threshold: float | None = None


def homography_dlt(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares homography (normalised DLT) mapping ``src`` (n, 2) to ``dst``."""

    def normalise(p):
        c = p.mean(axis=0)
        d = np.sqrt(((p - c) ** 2).sum(axis=1)).mean()
        s = np.sqrt(2) / d if d > 0 else 1.0
        T = np.array([[s, 0, -s * c[0]], [0, s, -s * c[1]], [0, 0, 1]])
        ph = np.c_[p, np.ones(len(p))] @ T.T
        return ph, T

    a, Ta = normalise(src.astype(np.float64))
    b, Tb = normalise(dst.astype(np.float64))
    rows = []
    for (x, y, _), (u, v, _) in zip(a, b):
        rows.append([-x, -y, -1, 0, 0, 0, u * x, u * y, u])
        rows.append([0, 0, 0, -x, -y, -1, v * x, v * y, v])
    _, _, vt = np.linalg.svd(np.asarray(rows))
    H = vt[-1].reshape(3, 3)
    H = np.linalg.inv(Tb) @ H @ Ta
    return H / H[2, 2] if abs(H[2, 2]) > 1e-12 else H


def homography_residual(src: np.ndarray, dst: np.ndarray) -> float:
    """RMS distance (pixels) between ``dst`` and ``src`` mapped by the best homography."""
    H = homography_dlt(src, dst)
    ph = np.c_[src, np.ones(len(src))] @ H.T
    proj = ph[:, :2] / ph[:, 2:3]
    return float(np.sqrt(((proj - dst) ** 2).sum(axis=1).mean()))


def planarity_score(track: FaceTrack, p: PadParams = PadParams()) -> float | None:
    """Median residual (in inter-eye distances) over the view pairs with the
    largest yaw differences; ``None`` when no two views differ by ``min_yaw_delta``."""
    views = [(q.pose.yaw, q.landmarks.points[RIGID]) for q in track.points
             if q.landmarks is not None and q.pose is not None]
    if len(views) < 2:
        return None
    yaws = np.array([v[0] for v in views])
    order = np.argsort(yaws)
    # pair the most-left views with the most-right ones, and each with the most frontal
    frontal = int(np.argmin(np.abs(yaws)))
    candidates = set()
    k = min(len(order), p.max_pairs)
    for i in range(k):
        lo, hi = int(order[i]), int(order[-1 - i])
        candidates.update({(lo, hi), (frontal, lo), (frontal, hi)})
    scores = []
    for i, j in candidates:
        if i == j or abs(yaws[i] - yaws[j]) < p.min_yaw_delta:
            continue
        a, b = views[i][1], views[j][1]
        ied = max(float(np.linalg.norm(a[-1] - a[-4])), 1e-6)  # outer eye corners 36 and 45 of view a
        scores.append(homography_residual(a, b) / ied)
    if not scores:
        return None
    return float(np.median(sorted(scores, reverse=True)[: p.max_pairs]))


def texture_score(track: FaceTrack) -> float | None:
    """Median of the sampled crops' texture scores (``None``: nothing sampled)."""
    if not track.texture_scores:
        return None
    return float(np.median(track.texture_scores))


def minifasnet_score(track: FaceTrack) -> float | None:
    """Mean of the sampled frames' MiniFASNet scores (1 - P(real), higher = attack;
    ``None``: nothing sampled).  The mean, as upstream and the model's README
    average about ten frames per clip."""
    if not track.minifasnet_scores:
        return None
    return float(np.mean(track.minifasnet_scores))


SCREEN_CUES = ("frame", "moire", "glare")


def screen_scores(track: FaceTrack) -> dict[str, float | None]:
    """``screen_<cue>``: the median of each screen/print cue over the sampled frames
    (``None``: nothing sampled)."""
    out: dict[str, float | None] = {}
    for cue in SCREEN_CUES:
        vals = [float(c[cue]) for c in track.screen_cues if c.get(cue) is not None]
        out[f"screen_{cue}"] = float(np.median(vals)) if vals else None
    return out


@dataclass(frozen=True)
class PadReport:
    """Every passive signal's score (``None``: not measurable on this clip) and the
    reason codes of the signals whose policy threshold the clip crossed."""
    scores: dict[str, float | None]
    reasons: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.reasons


def assess_pad(track: FaceTrack, p: PadParams = PadParams()) -> PadReport:
    """All passive signals over one track, judged against ``p``'s thresholds."""
    planar = planarity_score(track, p)
    texture = texture_score(track)
    screen = screen_scores(track)
    reasons = []
    if planar is not None and p.planar_threshold is not None and planar < p.planar_threshold:
        reasons.append(ReasonCode.PAD_PLANAR_MOTION.value)
    if texture is not None and p.texture_threshold is not None and texture >= p.texture_threshold:
        reasons.append(ReasonCode.PAD_PRINT_SUSPECTED.value)
    limits = {"screen_frame": p.screen_frame_threshold, "screen_moire": p.screen_moire_threshold,
              "screen_glare": p.screen_glare_threshold}
    if any(screen[k] is not None and v is not None and screen[k] >= v for k, v in limits.items()):
        reasons.append(ReasonCode.PAD_SCREEN_SUSPECTED.value)
    return PadReport({"planarity": planar, "texture": texture, **screen,
                      "minifasnet": minifasnet_score(track)}, tuple(reasons))
