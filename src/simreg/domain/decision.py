"""The decision: approve, reject or send to manual review.  Pure: reports in,
a :class:`Decision` out, every outcome with stable reason codes.

Rules, in order (docs/design/registration.md says why):

1. the liveness challenge failed, or the fused passive PAD score refused the
   clip -> **rejected** with their reasons (the customer may retry with a new
   session);
2. no usable live face could be taken from the video -> **rejected**;
3. the live face matches the ID portrait at the policy's threshold (set from a
   target FMR) -> **approved**, unless the fused PAD score lies just above the
   bona fide edge (``pad_review``) -> **review** with the PAD reason: the
   supervisor at the counter looks at the person;
4. it does not, but the score lies in the grey zone (at or above the lower edge
   calibrated at a looser FMR, ``simreg calibrate --review``) -> **review**
   (``MATCH.GREY_ZONE``): a supervisor compares the person with the card;
5. it does not, and the portrait itself failed quality or showed two faces ->
   **review**: a poor card photo is no evidence of a different person;
6. otherwise -> **rejected** (``MATCH.BELOW_THRESHOLD``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .liveness import LivenessReport
from .matching import MatchResult
from .reasons import MatchOutcome, Outcome, ReasonCode
from .types import FaceAnalysis


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    scores: Mapping[str, object] = field(default_factory=dict)


def decide(liveness: LivenessReport, pad_scores: Mapping[str, float | None], portrait: FaceAnalysis,
           live_face_error: str | None, match: MatchResult | None,
           review_threshold: float | None, pad_review: tuple[str, ...] = ()) -> Decision:
    """See the module docstring.  ``live_face_error`` is the reason code when no
    live face could be analysed (then ``match`` is ``None``; no code means none was found)."""
    scores: dict[str, object] = {
        "liveness": {"passed": liveness.passed, "face_fraction": round(liveness.face_fraction, 4),
                     "identity_min_similarity": liveness.identity_min_similarity,
                     "events": [{"action": e.action.value, "start": round(e.start, 2), "end": round(e.end, 2)}
                                for e in liveness.matched]},
        "pad": {k: (round(v, 4) if v is not None else None) for k, v in pad_scores.items()},
    }
    if match is not None:
        scores["match"] = {"score": round(match.score, 4), "threshold": round(match.threshold, 4),
                           "target_fmr": match.target_fmr, "model_id": match.model_id,
                           "threshold_key": match.threshold_key,
                           "review_threshold": round(review_threshold, 4) if review_threshold is not None else None}
    if not liveness.passed:
        return Decision(Outcome.REJECTED, tuple(liveness.reasons), scores)
    if match is None:
        return Decision(Outcome.REJECTED, (live_face_error or ReasonCode.FACE_NOT_FOUND.value,), scores)
    if match.outcome is MatchOutcome.MATCH:
        return Decision(Outcome.REVIEW, tuple(pad_review), scores) if pad_review else \
            Decision(Outcome.APPROVED, (), scores)
    if review_threshold is not None and match.score >= review_threshold:
        return Decision(Outcome.REVIEW, (ReasonCode.MATCH_GREY_ZONE.value, *pad_review), scores)
    portrait_findings = tuple(portrait.quality.reasons) + tuple(portrait.reasons)
    if portrait_findings:
        return Decision(Outcome.REVIEW, (ReasonCode.MATCH_BELOW_THRESHOLD.value, *portrait_findings), scores)
    return Decision(Outcome.REJECTED, tuple(match.reasons) or (ReasonCode.MATCH_BELOW_THRESHOLD.value,), scores)
