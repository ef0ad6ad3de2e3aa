"""1:1 matching: per-model similarities -> one score -> match at an FMR-derived threshold."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .errors import PolicyError
from .policy import FusionComponent, Policy
from .reasons import MatchOutcome, ReasonCode
from .types import Embedding


@dataclass(frozen=True)
class MatchResult:
    score: float                     # higher is more similar; compared with ``threshold``
    threshold: float
    target_fmr: float
    outcome: MatchOutcome
    model_id: str
    component_scores: Mapping[str, float]
    reasons: tuple[str, ...] = ()
    band: str | None = None          # resolution band whose threshold applied (None: general)
    threshold_key: str = ""          # the policy entry used


METRICS = ("cosine", "one_minus_l2")


def similarity_matrix(metric: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """All similarities between the rows of ``a`` (n, d) and ``b`` (m, d); higher
    is more similar.  ``cosine``: dot product of L2-normalised rows, in [-1, 1].
    ``one_minus_l2``: ``1 - euclidean distance`` (dlib's metric; its customary
    0.6 distance is similarity 0.4)."""
    a64, b64 = np.atleast_2d(a).astype(np.float64), np.atleast_2d(b).astype(np.float64)
    if metric == "cosine":
        an = a64 / np.maximum(np.linalg.norm(a64, axis=1, keepdims=True), 1e-12)
        bn = b64 / np.maximum(np.linalg.norm(b64, axis=1, keepdims=True), 1e-12)
        return an @ bn.T
    if metric == "one_minus_l2":
        d2 = (a64 * a64).sum(1)[:, None] + (b64 * b64).sum(1)[None, :] - 2.0 * a64 @ b64.T
        return 1.0 - np.sqrt(np.maximum(d2, 0.0))
    raise ValueError(f"unknown similarity metric {metric!r}")


def similarity(a: Embedding, b: Embedding) -> float:
    if a.model_id != b.model_id or a.metric != b.metric:
        raise ValueError("embeddings of different models cannot be compared")
    return float(similarity_matrix(a.metric, a.vector, b.vector)[0, 0])


def similarities(a: Mapping[str, Embedding], b: Mapping[str, Embedding]) -> dict[str, float]:
    """Per-model similarity of two faces' embeddings (models present in both)."""
    return {mid: similarity(a[mid], b[mid]) for mid in a if mid in b}


def fuse(similarities: Mapping[str, float], components: tuple[FusionComponent, ...]) -> float:
    """Weighted mean of z-normalised similarities (z against each model's impostor
    distribution, so each model's score says "how many impostor standard
    deviations above the typical impostor")."""
    total_w = sum(c.weight for c in components)
    return sum(c.weight * (similarities[c.model_id] - c.mean) / c.std for c in components) / total_w


def decision_score(similarities: Mapping[str, float], policy: Policy) -> tuple[str, float]:
    """(model id, score) of the score the decision uses under ``policy``."""
    if policy.uses_fusion:
        return policy.matcher, fuse(similarities, policy.fusion)
    if policy.matcher not in similarities:
        raise PolicyError(ReasonCode.POLICY_NOT_CALIBRATED,
                          f"the policy's matcher {policy.matcher!r} is not calibrated for the loaded models")
    return policy.matcher, similarities[policy.matcher]


def match(similarities: Mapping[str, float], policy: Policy, band: str | None = None) -> MatchResult:
    """Match at the threshold of ``band`` (see :meth:`Policy.band_of`) when the
    policy calibrated one, else at the model's general threshold."""
    model_id, score = decision_score(similarities, policy)
    key, entry = policy.threshold_entry(model_id, band)
    ok = score >= entry.threshold
    return MatchResult(
        score=score, threshold=entry.threshold, target_fmr=entry.target_fmr,
        outcome=MatchOutcome.MATCH if ok else MatchOutcome.NO_MATCH, model_id=model_id,
        component_scores=dict(similarities),
        reasons=() if ok else (ReasonCode.MATCH_BELOW_THRESHOLD.value,),
        band=band if key != model_id else None, threshold_key=key,
    )
