"""Passive presentation-attack signals over a face track: pure functions.

(a) Planarity.  A real head turning in front of the camera moves its landmarks
    as a 3D object: the nose tip and the jaw line shift against each other
    (parallax).  A photo, however it is tilted or bent slightly, moves as a
    plane, so one homography maps all its landmarks from one view to another.
    The score is the landmark residual after the best homography between views
    that differ in yaw, in units of the inter-eye distance: high for a head,
    near landmark noise for a sheet of paper or a flat cut-out.

(b) Screen and print cues (adapters/faces/screen_pad.py) on the sampled frames:
    straight edges enclosing the face (a bezel, a paper border), a periodic
    high-frequency peak (pixel grid, moire, halftone) and specular glare.  Each is
    summarised per clip as the median over the sampled frames.

(c) MiniFASNet (adapters/faces/minifasnet.py), a pretrained passive PAD model
    on the sampled full frames: the mean over the clip.

(d) Rigidity: the planarity residual over every pair of frames, on the
    landmarks a cut-out cannot move (all but the eyes), whether or not the head
    turned.

(e) rPPG: the skin's colour pulse (POS), measured and not fused.

The decision is :class:`PadFusion`, a logistic regression over some of these
scores, fitted leave-one-source-out by ``bench/pad_fusion.py`` and shipped in
the policy's ``pad`` section with its two edges (docs/pad.md); the per-signal
thresholds of :class:`PadParams` remain for an operator who wants one rule per
signal.  The colour flash's response is in ``domain/flash.py``.
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
    # A floor under the rigidity's 90th percentile over pairs of views (``rigidity_peak``):
    # below it no two views of the clip differ by more than a flat sheet explains, which
    # a live head turning for its challenge always does (PAD.PLANAR_MOTION, whatever the
    # fused score).  None: report only.
    rigidity_floor: float | None = None
    # MiniFASNet's clip score at or above which the clip is refused whatever the other
    # signals say (PAD.MODEL_SUSPECTED): the fused score weighs it linearly, so a replay
    # the model is sure of could otherwise land in review.  None: no ceiling.
    minifasnet_ceiling: float | None = None
    # The fused decision over the signals (PadFusion below, fitted by bench/pad_fusion.py,
    # shipped in the policy's ``pad`` section).  None: the signals are reported only.
    fusion: PadFusion | None = None

    @classmethod
    def from_policy(cls, doc: dict) -> PadParams:
        d = dict(doc)
        fusion = d.pop("fusion", None)
        d.pop("calibration", None)  # how the fusion was fitted: for the reader, hashed with the rest
        return cls(**d, fusion=PadFusion.from_policy(fusion) if fusion else None)


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
    x, y, u, v = a[:, 0], a[:, 1], b[:, 0], b[:, 1]
    one, zero = np.ones(len(a)), np.zeros(len(a))
    rows = np.empty((2 * len(a), 9))
    rows[0::2] = np.stack([-x, -y, -one, zero, zero, zero, u * x, u * y, u], axis=1)
    rows[1::2] = np.stack([zero, zero, zero, -x, -y, -one, v * x, v * y, v], axis=1)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
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


# Landmarks of a face that a sheet of paper keeps rigid but a live face does not:
# jaw, brows, nose and mouth (the eyes are left out: a cut-out shows real eyes).
NON_EYE = np.r_[0:36, 48:68]


def rigidity_residuals(track: FaceTrack, every_s: float = 0.25, min_gap_s: float = 0.5,
                       max_views: int = 16) -> list[float]:
    """How far the face's non-eye landmarks are from moving as one flat sheet, per
    pair of views (frames sampled every ``every_s``, at most ``max_views`` spread
    over the clip; pairs at least ``min_gap_s`` apart): the residual after the
    best homography, in inter-eye distances.  A print or a cut-out, whatever way
    it is moved, bent a little or turned, stays near landmark noise; a live face
    talking, blinking or turning does not."""
    views, last = [], -1e9
    for q in track.points:
        if q.landmarks is not None and q.t - last >= every_s:
            views.append((q.t, q.landmarks.points))
            last = q.t
    if len(views) > max_views:
        views = [views[int(i)] for i in np.linspace(0, len(views) - 1, max_views).round()]
    res = []
    for i in range(len(views)):
        for j in range(i + 1, len(views)):
            if views[j][0] - views[i][0] < min_gap_s:
                continue
            a, b = views[i][1], views[j][1]
            ied = float(np.linalg.norm(a[36:42].mean(0) - a[42:48].mean(0)))
            if ied < 1e-6:
                continue
            res.append(homography_residual(a[NON_EYE], b[NON_EYE]) / ied)
    return res


def rigidity_score(track: FaceTrack, quantile: float = 50.0,
                   residuals: list[float] | None = None) -> float | None:
    """The ``quantile`` of :func:`rigidity_residuals` (pass them when already
    computed); ``None``: fewer than two usable views."""
    res = rigidity_residuals(track) if residuals is None else residuals
    return float(np.percentile(res, quantile)) if res else None


def rppg_score(track: FaceTrack, low_hz: float = 0.7, high_hz: float = 3.0, rate: float = 15.0,
               min_s: float = 2.5) -> float | None:
    """Remote photoplethysmography: the skin's colour pulse at heart rate.

    The skin trace (mean colour under the eyes and on the forehead, every tracked
    frame) is resampled at ``rate`` Hz and turned into a pulse signal by the POS
    projection (Wang et al., "Algorithmic principles of remote PPG", 2017: in
    1.6 s windows, temporally normalised colour projected on the plane
    orthogonal to the skin tone, overlap-added).  The score is the fraction of
    the band's power (``low_hz`` to ``high_hz``, 42-180 beats a minute) that
    lies within 0.15 Hz of its strongest peak: a live pulse concentrates there,
    paper and noise spread.  ``None``: a trace shorter than ``min_s``."""
    if len(track.skin_rgb) < 8:
        return None
    trace = np.asarray(track.skin_rgb, dtype=np.float64)
    t, rgb = trace[:, 0], trace[:, 1:4]
    if t[-1] - t[0] < min_s:
        return None
    grid = np.arange(t[0], t[-1], 1.0 / rate)
    c = np.stack([np.interp(grid, t, rgb[:, k]) for k in range(3)], axis=1)
    win = int(1.6 * rate)
    h = np.zeros(len(grid))
    proj = np.array([[0.0, 1.0, -1.0], [-2.0, 1.0, 1.0]])
    for s0 in range(0, len(grid) - win + 1):
        block = c[s0:s0 + win]
        mean = block.mean(axis=0)
        if np.any(mean <= 0):
            continue
        S = (block / mean) @ proj.T
        sd = S.std(axis=0)
        p = S[:, 0] + (sd[0] / sd[1] if sd[1] > 1e-9 else 0.0) * S[:, 1]
        h[s0:s0 + win] += p - p.mean()
    h = h - np.polyval(np.polyfit(np.arange(len(h)), h, 2), np.arange(len(h)))
    n = max(256, 1 << int(np.ceil(np.log2(len(h)))) + 1)
    power = np.abs(np.fft.rfft(h * np.hanning(len(h)), n)) ** 2
    freq = np.fft.rfftfreq(n, 1.0 / rate)
    band = (freq >= low_hz) & (freq <= high_hz)
    total = power[band].sum()
    if total <= 0:
        return None
    peak = freq[band][int(np.argmax(power[band]))]
    near = band & (np.abs(freq - peak) <= 0.15)
    return float(power[near].sum() / total)


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


# The reason code that names each signal when the fused score refuses a clip.
SIGNAL_REASONS = {
    "minifasnet": ReasonCode.PAD_MODEL_SUSPECTED,
    "screen_frame": ReasonCode.PAD_SCREEN_SUSPECTED,
    "screen_moire": ReasonCode.PAD_SCREEN_SUSPECTED,
    "screen_glare": ReasonCode.PAD_SCREEN_SUSPECTED,
    "rigidity": ReasonCode.PAD_PLANAR_MOTION,
    "rigidity_peak": ReasonCode.PAD_PLANAR_MOTION,
    "planarity": ReasonCode.PAD_PLANAR_MOTION,
    "texture": ReasonCode.PAD_PRINT_SUSPECTED,
    "rppg": ReasonCode.PAD_NO_PULSE,
}


@dataclass(frozen=True)
class PadReport:
    """Every passive signal's score (``None``: not measurable on this clip), the
    reason codes of the signals that refuse the clip, and those that send it to
    review (the fused score just above the bona fide edge)."""
    scores: dict[str, float | None]
    reasons: tuple[str, ...]
    review: tuple[str, ...] = ()

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
    if any((s := screen[k]) is not None and v is not None and s >= v for k, v in limits.items()):
        reasons.append(ReasonCode.PAD_SCREEN_SUSPECTED.value)
    residuals = rigidity_residuals(track)  # the homographies once, for both quantiles
    peak = rigidity_score(track, 90.0, residuals)
    scores = {"planarity": planar, "texture": texture, **screen, "minifasnet": minifasnet_score(track),
              "rigidity": rigidity_score(track, 50.0, residuals), "rigidity_peak": peak,
              "rppg": rppg_score(track)}
    if peak is not None and p.rigidity_floor is not None and peak < p.rigidity_floor:
        reasons.append(ReasonCode.PAD_PLANAR_MOTION.value)
    mf = scores["minifasnet"]
    if mf is not None and p.minifasnet_ceiling is not None and mf >= p.minifasnet_ceiling:
        reasons.append(ReasonCode.PAD_MODEL_SUSPECTED.value)
    review: list[str] = []
    if p.fusion is not None:
        fused = p.fusion.probability(scores)
        scores["fused"] = fused
        code = SIGNAL_REASONS[p.fusion.strongest(scores)].value
        if fused >= p.fusion.reject_at:
            reasons.append(code)
        elif fused > p.fusion.review_at:
            review.append(code)
    return PadReport(scores, tuple(dict.fromkeys(reasons)), tuple(review))


def feature_value(spec: str, scores: dict[str, float | None]) -> float | None:
    """A fusion feature: ``signal``, ``logit:signal`` (for a probability) or
    ``log:signal`` (for a positive scale), ``None`` when the signal is missing."""
    kind, _, name = spec.rpartition(":")
    v = scores.get(name)
    if v is None:
        return None
    v = float(v)
    if kind == "logit":
        v = min(max(v, 1e-3), 1 - 1e-3)
        return float(np.log(v / (1 - v)))
    if kind == "log":
        return float(np.log(max(v, 1e-3)))
    return v


@dataclass(frozen=True)
class PadFusion:
    """A logistic regression over standardised signal scores: the fused
    probability that a clip is an attack.  A signal not measurable on a clip
    (``None``) contributes nothing.  ``review_at`` <= ``reject_at``: at or above
    ``reject_at`` the clip is rejected, from ``review_at`` up to it a supervisor
    reviews it.  Fitted by :func:`fit_fusion` (``bench/pad_fusion.py``)."""
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    reject_at: float
    review_at: float

    def contributions(self, scores: dict[str, float | None]) -> dict[str, float]:
        """Each signal's push on the logit (positive: toward "attack")."""
        out: dict[str, float] = {}
        for spec, m, s, w in zip(self.features, self.mean, self.scale, self.weights, strict=True):
            v = feature_value(spec, scores)
            name = spec.split(":")[-1]
            out[name] = out.get(name, 0.0) + (0.0 if v is None else w * (v - m) / s)
        return out

    def logit(self, scores: dict[str, float | None]) -> float:
        return self.bias + sum(self.contributions(scores).values())

    def probability(self, scores: dict[str, float | None]) -> float:
        return float(1.0 / (1.0 + np.exp(-self.logit(scores))))

    def strongest(self, scores: dict[str, float | None]) -> str:
        """The signal that pushed the clip furthest toward "attack"."""
        c = self.contributions(scores)
        return max(c, key=c.__getitem__)

    def as_policy(self) -> dict:
        return {"features": list(self.features), "mean": [round(v, 6) for v in self.mean],
                "scale": [round(v, 6) for v in self.scale], "weights": [round(v, 6) for v in self.weights],
                "bias": round(self.bias, 6), "reject_at": round(self.reject_at, 6),
                "review_at": round(self.review_at, 6)}

    @classmethod
    def from_policy(cls, d: dict) -> PadFusion:
        """From the policy's ``pad.fusion``; ``ValueError`` (an invalid policy) unless
        every feature has its mean, scale and weight, the scales are positive, every
        feature names a known signal, and 0 <= review_at <= reject_at <= 1."""
        f = cls(tuple(str(x) for x in d["features"]), tuple(float(x) for x in d["mean"]),
                tuple(float(x) for x in d["scale"]), tuple(float(x) for x in d["weights"]),
                float(d["bias"]), float(d["reject_at"]), float(d["review_at"]))
        if not len(f.features) == len(f.mean) == len(f.scale) == len(f.weights):
            raise ValueError("pad.fusion: features, mean, scale and weights differ in length")
        unknown = [x for x in f.features if x.split(":")[-1] not in SIGNAL_REASONS
                   or x.rpartition(":")[0] not in ("", "log", "logit")]
        if unknown or not all(v > 0 for v in f.scale) or not 0 <= f.review_at <= f.reject_at <= 1:
            raise ValueError(f"pad.fusion: unknown features {unknown} or invalid scales or edges")
        return f


def fit_fusion(features: tuple[str, ...], rows: list[dict[str, float | None]], y, bpcer: float = 0.05,
               l2: float = 3.0, review_margin: float = 1.0) -> PadFusion:
    """Fit :class:`PadFusion` on signal scores (one dict per clip, ``None``:
    missing; ``features`` as :func:`feature_value` reads them) and labels
    (``True``: attack): L2-penalised logistic regression by Newton's
    method, the two classes weighted equally.  ``review_at`` is the training bona
    fide's ``1 - bpcer`` quantile of the fused probability (at least their
    highest when there are fewer than ``1 / bpcer`` of them), ``reject_at`` lies
    ``review_margin`` logits above it."""
    A = np.array([[np.nan if (v := feature_value(f, row)) is None else v for f in features] for row in rows],
                 dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mean = np.nanmean(A, axis=0)
    scale = np.nanstd(A, axis=0)
    mean = np.where(np.isnan(mean), 0.0, mean)
    scale = np.where(~(scale > 1e-9), 1.0, scale)
    Z = np.nan_to_num((A - mean) / scale, nan=0.0)
    Zb = np.c_[np.ones(len(Z)), Z]
    cw = np.where(y > 0, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1))
    w = np.zeros(Zb.shape[1])
    pen = np.r_[0.0, np.full(Z.shape[1], l2 / len(Z))]
    for _ in range(50):
        p = 1 / (1 + np.exp(-Zb @ w))
        g = Zb.T @ (cw * (p - y)) + pen * w
        Hm = (Zb * (cw * p * (1 - p))[:, None]).T @ Zb + np.diag(pen + 1e-9)
        step = np.linalg.solve(Hm, g)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    logits = Zb @ w
    bona = np.sort(logits[y == 0])
    k = int(np.floor((1 - bpcer) * len(bona)))
    edge = bona[-1] if k >= len(bona) - 1 or len(bona) < 1 / max(bpcer, 1e-9) else bona[k]
    sig = lambda v: float(1 / (1 + np.exp(-v)))  # noqa: E731
    return PadFusion(tuple(features), tuple(mean.tolist()), tuple(scale.tolist()), tuple(w[1:].tolist()),
                     float(w[0]), sig(edge + review_margin), sig(edge))
