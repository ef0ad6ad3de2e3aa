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

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from .liveness import LivenessReport
from .matching import MatchResult
from .numbers import NumberState, check_transition
from .reasons import MatchOutcome, Outcome, ReasonCode
from .types import FaceAnalysis


@dataclass(frozen=True)
class LivenessEvent:
    """A challenge action seen in the video, in seconds from its start."""
    action: str
    start: float
    end: float


@dataclass(frozen=True)
class LivenessScores:
    passed: bool
    face_fraction: float
    identity_min_similarity: float | None
    events: tuple[LivenessEvent, ...] = ()


@dataclass(frozen=True)
class MatchScores:
    """The live face against the ID portrait, and the thresholds that applied."""
    score: float
    threshold: float
    target_fmr: float
    model_id: str
    threshold_key: str
    review_threshold: float | None


@dataclass(frozen=True, eq=False)
class Scores(Mapping[str, Any]):
    """What a decision was made on, rounded as recorded: the liveness challenge,
    the passive PAD signals (name -> score, ``None`` when one could not be
    measured) and the match (``None`` when no live face was analysed).

    Typed to read (``scores.match.score``), and a read-only mapping of its JSON
    form to store and send: ``dict(scores)`` is what the registration records,
    audits and answers, a section absent when it is ``None`` (so the
    alternative path, with no scores at all, is ``{}``)."""

    liveness: LivenessScores | None = None
    pad: Mapping[str, float | None] | None = None
    match: MatchScores | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.liveness is not None:
            live = self.liveness
            out["liveness"] = {"passed": live.passed, "face_fraction": live.face_fraction,
                               "identity_min_similarity": live.identity_min_similarity,
                               "events": [{"action": e.action, "start": e.start, "end": e.end} for e in live.events]}
        if self.pad is not None:
            out["pad"] = dict(self.pad)
        if self.match is not None:
            m = self.match
            out["match"] = {"score": m.score, "threshold": m.threshold, "target_fmr": m.target_fmr,
                            "model_id": m.model_id, "threshold_key": m.threshold_key,
                            "review_threshold": m.review_threshold}
        return out

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[str, ...]
    scores: Scores = field(default_factory=Scores)


def decide(liveness: LivenessReport, pad_scores: Mapping[str, float | None], portrait: FaceAnalysis,
           live_face_error: str | None, match: MatchResult | None,
           review_threshold: float | None, pad_review: tuple[str, ...] = ()) -> Decision:
    """See the module docstring.  ``live_face_error`` is the reason code when no
    live face could be analysed (then ``match`` is ``None``; no code means none was found)."""
    scores = Scores(
        liveness=LivenessScores(liveness.passed, round(liveness.face_fraction, 4), liveness.identity_min_similarity,
                                tuple(LivenessEvent(e.action.value, round(e.start, 2), round(e.end, 2))
                                      for e in liveness.matched)),
        pad={k: (round(v, 4) if v is not None else None) for k, v in pad_scores.items()},
        match=None if match is None else MatchScores(
            round(match.score, 4), round(match.threshold, 4), match.target_fmr, match.model_id, match.threshold_key,
            round(review_threshold, 4) if review_threshold is not None else None))
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


def number_state_for(outcome: Outcome) -> NumberState:
    """The state a decision puts its number in: active when approved, reserved
    for the supervisor when in review.  A rejection takes no number."""
    if outcome is Outcome.APPROVED:
        return NumberState.ACTIVE
    if outcome is Outcome.REVIEW:
        return NumberState.RESERVED
    raise ValueError(f"a {outcome.value} decision takes no number")


@dataclass(frozen=True)
class ReviewClosing:
    outcome: Outcome
    number_state: NumberState    # where the reserved number goes
    keeps_number: bool           # the registration keeps its number (approved) or gives it back


def close_review(approve: bool) -> ReviewClosing:
    """A review decided (by a supervisor, or expired as a rejection): approved,
    the reserved number becomes active; rejected, it returns to the pool at
    once (it never reached the customer, so no cooling-off)."""
    target = NumberState.ACTIVE if approve else NumberState.AVAILABLE
    check_transition(NumberState.RESERVED, target)
    return ReviewClosing(Outcome.APPROVED if approve else Outcome.REJECTED, target, approve)
