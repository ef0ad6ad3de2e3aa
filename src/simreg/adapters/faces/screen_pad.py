"""Screen and print cues on one video frame ("PAD signal (b)"): cheap, hand-made,
no trained model.

* ``frame``: straight edges that **enclose** the face.  A phone, a monitor or a
  sheet of paper held in front of the camera is a finite rectangle, so its bezel
  or border shows as long straight edges beside the face, roughly parallel to
  it, on at least two sides.  In a live capture the face is surrounded by hair,
  shoulders and background; a straight edge may run beside it on one side (a
  door frame, the neckline below the chin), rarely on two.  The score is the
  coverage of the *second* best side: for each side (left, right, above, below)
  the longest straight segment (Hough, within 25 degrees of the side's
  direction, wholly outside the face box, within 1 face size of it) is measured
  as the fraction of the face's height (or width) it runs alongside; the score
  is the second largest of the four, 0..1.  Segments on the picture's border
  are ignored, and flat letterbox/pillarbox bars are cut off first.
* ``moire``: the strongest isolated peak in the high-frequency spectrum of the
  face (a pixel grid or moire re-filmed from a screen, halftone dots of a
  print), as the log ratio to the median of its frequency ring, axes excluded.
* ``glare``: the fraction of the face crop that is near-white and unsaturated
  (a screen's or a glossy print's specular reflection).

Every cue is computed on a few sampled frames while tracking (``tracking.py``)
and summarised per clip by :func:`simreg.domain.pad.screen_scores`.  Higher is
more attack-like for all three.  See docs/pad-screen.md for what they separate
on the shared data and which thresholds hold out of sample.
"""

from __future__ import annotations

import cv2
import numpy as np

CONTEXT = 3.0        # context crop side, in face-box sizes
FACE_PX = 100        # the face box width is resampled to this many pixels
MIN_SEGMENT = 0.5    # shortest segment, in face heights
SIDE_ANGLE = 25.0    # degrees from the side's direction
MOIRE_SIZE = 128


def content_rect(image: np.ndarray) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the picture inside flat letterbox/pillarbox bars: a
    bar's inner edge is the border of the picture, not an edge in the scene."""
    gray = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float64)
    cols, rows = gray.std(axis=0) < 4.0, gray.std(axis=1) < 4.0

    def run(flags: np.ndarray) -> int:
        n = int(np.argmin(flags)) if not flags.all() else len(flags)
        return n if n < len(flags) // 3 else 0  # more than a third flat: not a bar, a flat picture

    H, W = gray.shape
    return run(cols), run(rows), W - run(cols[::-1]), H - run(rows[::-1])


def _context(image: np.ndarray, box) -> tuple[np.ndarray, tuple[float, float, float, float], tuple[bool, ...]]:
    X1, Y1, X2, Y2 = content_rect(image)
    cx, cy = box.x + box.w / 2.0, box.y + box.h / 2.0
    x1, y1 = int(max(X1, cx - box.w * CONTEXT / 2)), int(max(Y1, cy - box.h * CONTEXT / 2))
    x2, y2 = int(min(X2, cx + box.w * CONTEXT / 2)), int(min(Y2, cy + box.h * CONTEXT / 2))
    if x2 - x1 < 8 or y2 - y1 < 8:
        x1, y1, x2, y2 = X1, Y1, X2, Y2
    f = FACE_PX / max(float(box.w), 1.0)
    size = (max(8, round((x2 - x1) * f)), max(8, round((y2 - y1) * f)))
    crop = cv2.resize(image[y1:y2, x1:x2], size, interpolation=cv2.INTER_AREA)
    face = ((box.x - x1) * f, (box.y - y1) * f, box.w * f, box.h * f)
    return crop, face, (x1 == X1, y1 == Y1, x2 == X2, y2 == Y2)


def frame_sides(image: np.ndarray, box) -> tuple[float, float, float, float]:
    """Coverage (0..1) of the longest straight edge left of, above, right of and
    below the face (see the module docstring)."""
    crop, (fx, fy, fw, fh), _ = _context(image, box)
    gray = cv2.GaussianBlur(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (3, 3), 0)
    edges = cv2.Canny(gray, 40, 100)
    h, w = gray.shape
    lines = cv2.HoughLinesP(edges, 1, np.pi / 180, threshold=30, minLineLength=int(MIN_SEGMENT * fh), maxLineGap=6)
    cov = [0.0, 0.0, 0.0, 0.0]
    if lines is None:
        return 0.0, 0.0, 0.0, 0.0
    for x1, y1, x2, y2 in np.asarray(lines).reshape(-1, 4):
        xa, xb = sorted((int(x1), int(x2)))
        ya, yb = sorted((int(y1), int(y2)))
        if xb <= 1 or xa >= w - 2 or yb <= 1 or ya >= h - 2:
            continue  # the crop's (and maybe the image's) border
        angle = np.degrees(np.arctan2(abs(y2 - y1), abs(x2 - x1)))
        if angle > 90 - SIDE_ANGLE:
            c = max(0.0, min(yb, fy + fh) - max(ya, fy)) / fh
            if xb < fx - 0.05 * fw:
                cov[0] = max(cov[0], c)
            elif xa > fx + 1.05 * fw:
                cov[2] = max(cov[2], c)
        elif angle < SIDE_ANGLE:
            c = max(0.0, min(xb, fx + fw) - max(xa, fx)) / fw
            if yb < fy - 0.05 * fh:
                cov[1] = max(cov[1], c)
            elif ya > fy + 1.05 * fh:
                cov[3] = max(cov[3], c)
    left, top, right, bottom = (min(1.0, c) for c in cov)
    return left, top, right, bottom


def _face(image: np.ndarray, box) -> np.ndarray | None:
    H, W = image.shape[:2]
    x1, y1 = int(max(0.0, box.x)), int(max(0.0, box.y))
    x2, y2 = int(min(float(W), box.x + box.w)), int(min(float(H), box.y + box.h))
    if x2 - x1 < 24 or y2 - y1 < 24:
        return None
    return cv2.resize(image[y1:y2, x1:x2], (MOIRE_SIZE, MOIRE_SIZE), interpolation=cv2.INTER_AREA)


_YY, _XX = np.mgrid[-MOIRE_SIZE // 2:MOIRE_SIZE // 2, -MOIRE_SIZE // 2:MOIRE_SIZE // 2]
_R = np.hypot(_YY, _XX).astype(int)
_BAND = (_R >= 16) & (_R <= 60) & (np.abs(_XX) > 2) & (np.abs(_YY) > 2)
_WINDOW = np.outer(np.hanning(MOIRE_SIZE), np.hanning(MOIRE_SIZE))


def moire_peak(face_rgb: np.ndarray) -> float:
    """Log ratio of the strongest high-frequency peak to the median of its ring."""
    y = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY).astype(np.float64)
    y -= cv2.GaussianBlur(y, (0, 0), 2.0)
    spec = np.log(np.abs(np.fft.fftshift(np.fft.fft2(y * _WINDOW))) + 1e-6)
    ring_median = np.zeros(_R.max() + 1)
    for r in range(16, 61):
        ring_median[r] = np.median(spec[(r == _R) & _BAND])
    return float((spec - ring_median[_R])[_BAND].max())


def glare_fraction(face_rgb: np.ndarray) -> float:
    hsv = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2HSV)
    return float(((hsv[..., 2] > 240) & (hsv[..., 1] < 51)).mean())


def screen_cues(image_rgb: np.ndarray, box) -> dict[str, float] | None:
    """The three cues of the face in ``box`` of a full frame (None: face too small)."""
    face = _face(image_rgb, box)
    if face is None:
        return None
    sides = sorted(frame_sides(image_rgb, box), reverse=True)
    return {"frame": float(sides[1]), "moire": moire_peak(face), "glare": glare_fraction(face)}
