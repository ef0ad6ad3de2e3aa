"""1:1 matching: per-model similarities -> one score -> match at an FMR-derived threshold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import PolicyError
from .policy import FusionComponent, Policy, fusion_model_id
from .reasons import MatchOutcome, ReasonCode


@dataclass(frozen=True)
class MatchResult:
    score: float                     # higher is more similar; compared with ``threshold``
    threshold: float
    target_fmr: float
    outcome: MatchOutcome
    model_id: str
    component_scores: Mapping[str, float]
    reasons: tuple[str, ...] = ()


def fuse(similarities: Mapping[str, float], components: tuple[FusionComponent, ...]) -> float:
    """Weighted mean of z-normalised similarities (z against each model's impostor
    distribution, so each model's score says "how many impostor standard
    deviations above the typical impostor")."""
    total_w = sum(c.weight for c in components)
    return sum(c.weight * (similarities[c.model_id] - c.mean) / c.std for c in components) / total_w


def decision_score(similarities: Mapping[str, float], policy: Policy) -> tuple[str, float]:
    """(model id, score) of the score the decision uses under ``policy``."""
    if policy.fusion and policy.matcher == fusion_model_id(policy.fusion):
        return policy.matcher, fuse(similarities, policy.fusion)
    if policy.matcher not in similarities:
        raise PolicyError(ReasonCode.POLICY_NOT_CALIBRATED,
                          f"the policy's matcher {policy.matcher!r} is not calibrated for the loaded models")
    return policy.matcher, similarities[policy.matcher]


def match(similarities: Mapping[str, float], policy: Policy) -> MatchResult:
    model_id, score = decision_score(similarities, policy)
    entry = policy.threshold_for(model_id)
    ok = score >= entry.threshold
    return MatchResult(
        score=score, threshold=entry.threshold, target_fmr=entry.target_fmr,
        outcome=MatchOutcome.MATCH if ok else MatchOutcome.NO_MATCH, model_id=model_id,
        component_scores=dict(similarities),
        reasons=() if ok else (ReasonCode.MATCH_BELOW_THRESHOLD.value,),
    )
