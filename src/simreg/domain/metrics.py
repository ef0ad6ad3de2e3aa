"""Biometric error rates from score sets (ISO/IEC 19795-1 vocabulary).

Scores are **higher for more similar**; a pair is accepted when
``score >= threshold``.  FMR(t) is the share of impostor scores ``>= t``;
FNMR(t) the share of genuine scores ``< t``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    target_fmr: float
    threshold: float
    fmr: float          # FMR actually reached at ``threshold`` (<= target)
    fnmr: float
    supported: bool     # enough impostor pairs back the target (rule of three)
    min_impostors: int  # impostor pairs needed for ``supported``


@dataclass(frozen=True)
class ErrorRates:
    n_genuine: int
    n_impostor: int
    eer: float
    eer_threshold: float
    points: tuple[OperatingPoint, ...]


def _as_array(scores) -> np.ndarray:
    arr = np.asarray(scores, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("an empty score set has no error rates")
    if not np.all(np.isfinite(arr)):
        raise ValueError("scores must be finite")
    return arr


def fmr_at(impostor, threshold: float) -> float:
    imp = _as_array(impostor)
    return float(np.mean(imp >= threshold))


def fnmr_at(genuine, threshold: float) -> float:
    gen = _as_array(genuine)
    return float(np.mean(gen < threshold))


def min_impostors_for(target_fmr: float) -> int:
    """Rule of three: with N impostor pairs and no false match, the 95 % upper
    bound of the FMR is about 3/N, so a target needs N >= 3/target."""
    return math.ceil(3.0 / target_fmr)


def threshold_for_fmr(impostor, target_fmr: float) -> float:
    """The lowest threshold whose FMR on ``impostor`` is at most ``target_fmr``.

    With ``k = floor(target * N)`` false matches allowed, the threshold sits just
    above the (k+1)-th highest impostor score.
    """
    if not 0.0 < target_fmr < 1.0:
        raise ValueError("target FMR must be in (0, 1)")
    imp = np.sort(_as_array(impostor))[::-1]
    # The small slack absorbs float error (0.29 * 100 = 28.999...); k < N always,
    # since accepting every impostor would exceed any target below 1.
    k = min(math.floor(target_fmr * imp.size + 1e-9), imp.size - 1)
    return float(np.nextafter(imp[k], np.inf))


def poisson_upper(k: int, z: float = 1.645) -> float:
    """One-sided upper confidence bound of a Poisson count observed as ``k``
    (Wilson-Hilferty; z = 1.645 for 95 %): 3.0 for k = 0 (the rule of three),
    about 14.2 for k = 7, 64.7 for k = 52."""
    n = k + 1.0
    return n * (1.0 - 1.0 / (9.0 * n) + z / (3.0 * math.sqrt(n))) ** 3


def threshold_for_fmr_bound(impostor, target_fmr: float, z: float = 1.645) -> float:
    """The lowest threshold at which the 95 % upper confidence bound of the FMR,
    not just the FMR seen on ``impostor``, is at most ``target_fmr``: it allows the
    largest ``k`` false matches with ``poisson_upper(k) / N <= target``.  Where not
    even ``k = 0`` qualifies (too few impostors), the threshold sits above every
    impostor score."""
    if not 0.0 < target_fmr < 1.0:
        raise ValueError("target FMR must be in (0, 1)")
    imp = np.sort(_as_array(impostor))[::-1]
    allowed = target_fmr * imp.size
    k = 0
    while k + 1 < imp.size and poisson_upper(k + 1, z) <= allowed:
        k += 1
    return float(np.nextafter(imp[k], np.inf))


def operating_point_bound(genuine, impostor, target_fmr: float) -> OperatingPoint:
    """:func:`operating_point` at :func:`threshold_for_fmr_bound`'s threshold."""
    imp = _as_array(impostor)
    t = threshold_for_fmr_bound(imp, target_fmr)
    need = min_impostors_for(target_fmr)
    return OperatingPoint(target_fmr, t, fmr_at(imp, t), fnmr_at(genuine, t), imp.size >= need, need)


def operating_point(genuine, impostor, target_fmr: float) -> OperatingPoint:
    imp = _as_array(impostor)
    t = threshold_for_fmr(imp, target_fmr)
    need = min_impostors_for(target_fmr)
    return OperatingPoint(target_fmr, t, fmr_at(imp, t), fnmr_at(genuine, t), imp.size >= need, need)


def det_curve(genuine, impostor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds, FMR, FNMR) at every distinct score, thresholds ascending."""
    gen, imp = np.sort(_as_array(genuine)), np.sort(_as_array(impostor))
    thresholds = np.unique(np.concatenate([gen, imp, [np.inf]]))
    fmr = 1.0 - np.searchsorted(imp, thresholds, side="left") / imp.size
    fnmr = np.searchsorted(gen, thresholds, side="left") / gen.size
    return thresholds, fmr, fnmr


def equal_error_rate(genuine, impostor) -> tuple[float, float]:
    """(EER, threshold).  FMR falls and FNMR rises with the threshold; the EER is
    taken where they cross, interpolated linearly between the two thresholds
    that bracket the crossing."""
    thresholds, fmr, fnmr = det_curve(genuine, impostor)
    diff = fmr - fnmr  # non-increasing
    i = int(np.argmax(diff <= 0))  # first threshold with FNMR >= FMR
    if i == 0:
        return float(max(fmr[0], fnmr[0])), float(thresholds[0])
    d0, d1 = diff[i - 1], diff[i]
    w = d0 / (d0 - d1) if d0 != d1 else 0.5
    eer = (1 - w) * (fmr[i - 1] + fnmr[i - 1]) / 2 + w * (fmr[i] + fnmr[i]) / 2
    thr = (float(thresholds[i - 1] + w * (thresholds[i] - thresholds[i - 1])) if np.isfinite(thresholds[i])
           else float(thresholds[i - 1]))
    return float(eer), thr


def error_rates(genuine, impostor, target_fmrs=(1e-2, 1e-3, 1e-4)) -> ErrorRates:
    gen, imp = _as_array(genuine), _as_array(impostor)
    eer, eer_t = equal_error_rate(gen, imp)
    pts = tuple(operating_point(gen, imp, f) for f in target_fmrs)
    return ErrorRates(gen.size, imp.size, eer, eer_t, pts)
