"""Colour flash: the counter page lights the screen with a colour sequence that
the server draws for the session, and a live face close to the screen reflects
it in time.  A recording made earlier, or a video injected into the camera
stream, does not follow a sequence it could not know.  Pure functions.

* :func:`flash_plan` derives the sequence from the session's nonce (SHA-256):
  the server recomputes it at decision time and never takes the colours from the
  client; the client only reports *when* each colour appeared (``flash_times``,
  seconds from the recording's start, as for the prompts).
* :func:`flash_response` correlates the skin's chromaticity (the track's
  ``skin_rgb``: mean colour under the eyes and on the forehead, every frame)
  per colour segment with the colours shown: Pearson's r over segments and
  channels, after removing each channel's mean, at the camera latency (0 to
  0.2 s) that fits best.  Near 1: the face followed the sequence; near 0: it did
  not.

20 segments of 0.25 s: on a real capture without any flash
(pad_tranvanluyt_real.mp4, 1,000 random plans) the score's null distribution
has p95 0.28, p99 0.37 and a maximum of 0.53 (natural colour changes, a head
turning, can line up with a plan by chance; with 10 segments of 0.4 s the
maximum was 0.57-0.61); a synthetic reflection of 9 grey levels scores 0.9 and
more.  Report-only: no counter footage with a flash exists yet to calibrate a
threshold (docs/pad.md), and one would have to sit above that tail.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Saturated colours a screen shows well; each differs from the next in chromaticity.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (255, 32, 32), "green": (32, 255, 32), "blue": (32, 32, 255),
    "yellow": (255, 255, 32), "magenta": (255, 32, 255), "cyan": (32, 255, 255),
}


@dataclass(frozen=True)
class FlashPlan:
    colours: tuple[str, ...]
    segment_s: float

    def rgb(self) -> np.ndarray:
        return np.array([PALETTE[c] for c in self.colours], dtype=np.float64)

    def hex(self) -> list[str]:
        return ["#{:02x}{:02x}{:02x}".format(*PALETTE[c]) for c in self.colours]


def flash_plan(nonce: str, n: int = 20, segment_s: float = 0.25) -> FlashPlan:
    """The session's colour sequence: ``n`` colours of ``segment_s`` each, no
    colour twice in a row, drawn from SHA-256 of the nonce."""
    names = sorted(PALETTE)
    digest = hashlib.sha256(("simreg-flash:" + nonce).encode()).digest()
    out: list[str] = []
    for b in digest:
        if len(out) == n:
            break
        c = names[b % len(names)]
        if out and c == out[-1]:
            c = names[(b + 1) % len(names)]
        out.append(c)
    return FlashPlan(tuple(out), segment_s)


def flash_response(skin_rgb: Sequence[tuple[float, float, float, float]], plan: FlashPlan,
                   times: Sequence[float], max_lag_s: float = 0.2, lag_step_s: float = 0.05,
                   min_segments: int = 5) -> float | None:
    """Pearson's r between the skin's chromaticity per segment and the colours
    shown (``times[i]``: when colour ``i`` appeared), at the best camera lag.
    ``None``: fewer than ``min_segments`` segments with skin samples."""
    if len(skin_rgb) < 2 or len(times) != len(plan.colours):
        return None
    trace = np.asarray(skin_rgb, dtype=np.float64)
    t, rgb = trace[:, 0], trace[:, 1:4]
    chroma = rgb / np.maximum(rgb.sum(axis=1, keepdims=True), 1e-6)
    shown = plan.rgb() / plan.rgb().sum(axis=1, keepdims=True)
    ends = [*times[1:], times[-1] + plan.segment_s]
    best: float | None = None
    for lag in np.arange(0.0, max_lag_s + 1e-9, lag_step_s):
        obs, exp = [], []
        for i, (a, b) in enumerate(zip(times, ends, strict=True)):
            # the middle of the segment: the screen and the camera's exposure have settled
            sel = (t >= a + lag + 0.25 * (b - a)) & (t < b + lag - 0.1 * (b - a))
            if sel.any():
                obs.append(chroma[sel].mean(axis=0))
                exp.append(shown[i])
        if len(obs) < min_segments:
            continue
        o = np.asarray(obs) - np.mean(obs, axis=0)
        e = np.asarray(exp) - np.mean(exp, axis=0)
        r = 0.0 if o.std() < 1e-9 or e.std() < 1e-9 else float(np.corrcoef(o.ravel(), e.ravel())[0, 1])
        best = r if best is None else max(best, r)
    return best
