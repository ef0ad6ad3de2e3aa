"""The order of the stages, in one place.

compare (1:1, e.g. ID-chip portrait vs live photo):
    media.decode -> face engine, both faces at once: detect -> landmarks -> quality -> embed
                 -> matching.match

liveness (a challenge video):
    video.decode -> face engine: track (detect on keyframes, landmarks every frame,
    pose, eye openness, keyframe embeddings) -> liveness.assess (events, challenge,
    continuity, coverage) -> pad (planarity, texture model on sampled crops)

registration (the service; registration.py wraps this in the registry's transaction):
    id_document.validate -> lockout and quota pre-checks -> [assess_registration:
    media.decode -> face engine (portrait + video track, best live frame) ->
    quality -> liveness -> PAD -> match -> decision.decide] -> registry: session
    consumed, quota re-checked, number taken, decision and audit entry in ONE
    transaction
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ..domain.challenge import Action
from ..domain.decision import Decision, decide
from ..domain.errors import InputError, SimregError
from ..domain.flash import FlashPlan, flash_response
from ..domain.liveness import LivenessParams, LivenessReport, assess_liveness
from ..domain.matching import MatchResult, match, similarities
from ..domain.media import ImageLimits, VideoLimits
from ..domain.pad import PadParams, assess_pad
from ..domain.policy import Policy
from ..domain.reasons import ReasonCode
from ..domain.types import Embedding, FaceAnalysis, FaceTrack
from ..ports import FaceAnalyser


@dataclass(frozen=True)
class CompareReport:
    match: MatchResult
    a: FaceAnalysis
    b: FaceAnalysis
    reasons: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


def compare_images(engine: FaceAnalyser, policy: Policy, image_a: bytes, image_b: bytes,
                   limits: ImageLimits = ImageLimits()) -> CompareReport:
    """Decode, analyse and match two images.  Raises ``InputError`` for bad
    media or a missing face; everything else is in the report."""
    t = {}
    t0 = time.perf_counter()
    img_a, img_b = engine.decode_image(image_a, limits), engine.decode_image(image_b, limits)
    t["decode"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    a, b = engine.analyse([img_a, img_b], policy)  # in parallel with a worker pool
    t["analyse"] = (time.perf_counter() - t0) * 1e3
    for name in a.timings_ms:  # CPU-side stage times of both faces, summed
        t[f"{name} (a+b)"] = a.timings_ms[name] + b.timings_ms.get(name, 0.0)
    t0 = time.perf_counter()
    band = policy.band_of([a.image_size, b.image_size])
    result = match(similarities(a.embeddings, b.embeddings), policy, band)
    t["match"] = (time.perf_counter() - t0) * 1e3
    t["total"] = t["decode"] + t["analyse"] + t["match"]
    reasons = tuple(dict.fromkeys([*result.reasons, *a.reasons, *b.reasons]))
    return CompareReport(result, a, b, reasons, t)


@dataclass(frozen=True)
class LivenessCheck:
    report: LivenessReport
    pad_scores: dict[str, float | None]
    track: FaceTrack
    info: object
    timings_ms: dict[str, float] = field(default_factory=dict)
    pad_review: tuple[str, ...] = ()   # PAD reasons that send an otherwise passing clip to review


def check_liveness(engine: FaceAnalyser, policy: Policy, video: bytes, actions: Sequence[Action],
                   mirrored: bool = False, prompt_times: Sequence[float] | None = None,
                   limits: VideoLimits = VideoLimits(), params: LivenessParams | None = None,
                   pad_params: PadParams | None = None) -> LivenessCheck:
    """Decode and track the video, then judge the challenge and the passive signals
    (by the policy's PAD rules unless ``pad_params`` are given).  Raises
    ``InputError`` for unusable media; every other outcome is in the report."""
    t0 = time.perf_counter()
    vt = engine.track_video(video, limits, policy.detection, tracking=policy.tracking)
    return judge_liveness(vt, actions, mirrored, prompt_times, params or policy.liveness, pad_params or policy.pad, t0)


def judge_liveness(vt, actions: Sequence[Action], mirrored: bool = False, prompt_times: Sequence[float] | None = None,
                   params: LivenessParams = LivenessParams(), pad_params: PadParams = PadParams(),
                   t0: float | None = None) -> LivenessCheck:
    """The challenge and the passive signals judged on a video's track (``t0``: when
    the track was started, for the timings); one track can be judged against
    several challenges."""
    t0 = time.perf_counter() if t0 is None else t0
    t1 = time.perf_counter()
    report = assess_liveness(vt.track, actions, params, mirrored, prompt_times)
    t2 = time.perf_counter()
    pad = assess_pad(vt.track, pad_params)
    t3 = time.perf_counter()
    if pad.reasons:
        report = replace(report, passed=False, reasons=report.reasons + pad.reasons)
    timings = {**{f"track.{k}": v for k, v in vt.timings_ms.items()},
               "track": (t1 - t0) * 1e3, "liveness": (t2 - t1) * 1e3, "pad": (t3 - t2) * 1e3,
               "total": (t3 - t0) * 1e3}
    return LivenessCheck(report, dict(pad.scores), vt.track, vt.info, timings, pad.review)


@dataclass(frozen=True)
class Assessment:
    """Everything the biometric stages of a registration found.  No image leaves
    this object; the live face's embeddings are here only so that a deployment
    that configured templates on can seal them (the registry stores the decision
    only, by default)."""
    decision: Decision
    liveness: LivenessCheck
    match: MatchResult | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    live_embeddings: Mapping[str, Embedding] = field(default_factory=dict, repr=False)


def assess_registration(engine: FaceAnalyser, policy: Policy, portrait: bytes, video: bytes,
                        actions: Sequence[Action], mirrored: bool = False,
                        prompt_times: Sequence[float] | None = None,
                        image_limits: ImageLimits = ImageLimits(), video_limits: VideoLimits = VideoLimits(),
                        params: LivenessParams | None = None, pad_params: PadParams | None = None,
                        flash: tuple[FlashPlan, Sequence[float]] | None = None) -> Assessment:
    """The biometric half of a registration, in order:

    media (portrait image, challenge video) -> face engine (portrait analysis and
    video track at once; the best frontal live frame analysed in full) -> quality
    -> liveness (challenge, continuity, coverage) -> PAD (with the colour flash's
    response when ``flash`` gives the session's plan and when each colour appeared;
    report-only) -> 1:1 match of the live
    face against the portrait, at the threshold of the portrait's resolution band
    -> decision.

    Raises ``InputError`` for unusable media or a portrait without a face; every
    other outcome (including a video without a usable face) is a decision.
    """
    t0 = time.perf_counter()
    portrait_img = engine.decode_image(portrait, image_limits)
    t_decode = (time.perf_counter() - t0) * 1e3
    t1 = time.perf_counter()
    portrait_result, vt = engine.analyse_with_video(portrait_img, video, video_limits, policy, mirrored)
    if isinstance(portrait_result, SimregError):
        if portrait_result.code is ReasonCode.FACE_NOT_FOUND:
            raise InputError(portrait_result.code, "no face was found in the ID portrait")
        raise portrait_result
    assert vt is not None  # the video is tracked whenever the portrait was accepted
    liveness = judge_liveness(vt, actions, mirrored, prompt_times, params or policy.liveness, pad_params or policy.pad,
                              t1)
    if flash is not None:
        liveness.pad_scores["flash"] = flash_response(vt.track.skin_rgb, *flash)
    t2 = time.perf_counter()
    live = vt.live_face
    result: MatchResult | None = None
    live_error: str | None = None
    review_threshold = None
    if isinstance(live, FaceAnalysis):
        band = policy.band_of([portrait_result.image_size, live.image_size])
        result = match(similarities(portrait_result.embeddings, live.embeddings), policy, band)
        review = policy.review_entry(result.model_id, band)
        review_threshold = review.threshold if review is not None else None
    elif isinstance(live, SimregError):
        live_error = live.code.value
    decision = decide(liveness.report, liveness.pad_scores, portrait_result, live_error, result, review_threshold,
                      liveness.pad_review)
    t3 = time.perf_counter()
    timings = {"decode_portrait": t_decode, **liveness.timings_ms, "match_and_decide": (t3 - t2) * 1e3,
               "total": (t3 - t0) * 1e3}
    return Assessment(decision, liveness, result, timings,
                      dict(live.embeddings) if isinstance(live, FaceAnalysis) else {})
