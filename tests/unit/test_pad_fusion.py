"""The physics signals over a face track (rigidity, rPPG), the fused PAD decision
and how the decision treats a PAD review: pure functions on synthetic tracks."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from simreg.domain.decision import decide
from simreg.domain.liveness import LivenessReport
from simreg.domain.matching import MatchResult
from simreg.domain.pad import PadFusion, PadParams, assess_pad, feature_value, fit_fusion, rigidity_score, rppg_score
from simreg.domain.policy import parse_policy
from simreg.domain.reasons import MatchOutcome, Outcome, ReasonCode
from simreg.domain.types import FaceTrack, Landmarks, TrackPoint

FACE = np.array([[x, y] for x, y in zip(np.linspace(-60, 60, 68), 40 * np.sin(np.linspace(0, 6, 68)), strict=False)])
FACE[36:42] = FACE[36:42] * 0.2 + [-30, -20]   # eyes: a rough cluster each side
FACE[42:48] = FACE[42:48] * 0.2 + [30, -20]


def _track(points_at, n=60, fps=15.0, skin=()):
    pts = []
    for i in range(n):
        t = i / fps
        pts.append(TrackPoint(t, None, Landmarks("ibug68", points_at(t) + np.array([320, 240])), None, 0.3, True, 1))
    return FaceTrack(tuple(pts), (), (640, 480), pts[-1].t, n, skin_rgb=tuple(skin))


def _sheet(t):
    """A flat face moved, rotated and tilted as one sheet: a homography of the first view."""
    a = 0.3 * np.sin(t)
    H = np.array([[np.cos(a), -np.sin(a), 20 * t], [np.sin(a), np.cos(a), 5 * t], [2e-4 * t, 0, 1]])
    p = np.c_[FACE, np.ones(len(FACE))] @ H.T
    return p[:, :2] / p[:, 2:3]


def _talking(t):
    """A face whose mouth and jaw move against its brows and nose."""
    p = FACE.copy()
    p[48:68, 1] += 6 * np.sin(2 * np.pi * 1.3 * t) + 3 * np.cos(np.pi * 2.1 * t) * np.linspace(-1, 1, 20)
    p[0:17, 1] += 4 * np.sin(2 * np.pi * 1.3 * t) * np.linspace(0, 1, 17)
    return p


def test_a_sheet_moved_as_a_whole_is_rigid_and_a_talking_face_is_not():
    flat = rigidity_score(_track(_sheet))
    live = rigidity_score(_track(_talking))
    assert flat is not None and live is not None
    assert flat < 1e-3 < 0.02 < live


def test_a_cutout_blinking_eyes_do_not_make_it_less_rigid():
    def cutout(t):
        p = _sheet(t)
        p[36:48, 1] += 8 * np.sin(2 * np.pi * t)  # eyelids behind the holes move
        return p
    assert rigidity_score(_track(cutout)) < 1e-3


def test_rigidity_needs_two_frames_apart():
    assert rigidity_score(_track(_sheet, n=5)) is None


def _skin(n, fps, pulse_hz, amplitude, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / fps
    pulse = amplitude * np.sin(2 * np.pi * pulse_hz * t)
    base = np.array([150.0, 110.0, 90.0])
    # blood absorbs green most: the pulse shows in G more than R and B
    rgb = base + np.outer(pulse, [0.3, 1.0, 0.2]) + rng.normal(0, 0.05, (n, 3))
    return [(float(ti), *map(float, c)) for ti, c in zip(t, rgb, strict=False)]


def test_rppg_finds_a_pulse_in_the_skin_and_none_in_noise():
    n, fps = 150, 30.0
    pulse = rppg_score(_track(_talking, n=n, fps=fps, skin=_skin(n, fps, 1.2, 0.4)))
    noise = rppg_score(_track(_talking, n=n, fps=fps, skin=_skin(n, fps, 1.2, 0.0)))
    assert pulse is not None and noise is not None
    assert pulse > 0.6 > 0.35 > noise


def test_rppg_needs_a_few_seconds_of_skin():
    assert rppg_score(_track(_talking, n=20, fps=15.0, skin=_skin(20, 15.0, 1.2, 0.4))) is None
    assert rppg_score(_track(_talking)) is None  # no skin trace at all


def test_feature_transforms():
    s = {"minifasnet": 0.5, "rigidity": np.e, "gone": None}
    assert feature_value("minifasnet", s) == 0.5
    assert feature_value("logit:minifasnet", s) == pytest.approx(0.0)
    assert feature_value("log:rigidity", s) == pytest.approx(1.0)
    assert feature_value("log:gone", s) is None and feature_value("absent", s) is None
    assert feature_value("logit:minifasnet", {"minifasnet": 1.0}) == pytest.approx(np.log(999))


def _data(seed=1):
    rng = np.random.default_rng(seed)
    bona = [{"minifasnet": float(v), "rigidity": float(r)}
            for v, r in zip(rng.uniform(0.0, 0.3, 20), rng.uniform(0.04, 0.12, 20), strict=False)]
    prints = [{"minifasnet": float(v), "rigidity": float(r)}
              for v, r in zip(rng.uniform(0.2, 0.6, 10), rng.uniform(0.005, 0.02, 10), strict=False)]
    replays = [{"minifasnet": float(v), "rigidity": float(r)}
               for v, r in zip(rng.uniform(0.9, 1.0, 10), rng.uniform(0.04, 0.12, 10), strict=False)]
    return bona, prints, replays


def test_the_fitted_fusion_separates_attacks_each_signal_alone_would_miss():
    bona, prints, replays = _data()
    rows = bona + prints + replays
    y = [False] * len(bona) + [True] * (len(prints) + len(replays))
    model = fit_fusion(("logit:minifasnet", "log:rigidity"), rows, y, bpcer=0.05)
    assert model.review_at < model.reject_at
    # every bona fide clip at or under the edge (BPCER 0 in training), every attack above it
    assert max(model.probability(r) for r in bona) <= model.review_at + 1e-12
    assert all(model.probability(r) > model.review_at for r in prints + replays)
    # the signal that pushed hardest names the reason
    assert model.strongest(prints[0]) == "rigidity"
    assert model.strongest(replays[0]) == "minifasnet"
    # the direction learnt: less rigid (higher rigidity score) is more live
    w = dict(zip(model.features, model.weights, strict=True))
    assert w["log:rigidity"] < 0 < w["logit:minifasnet"]


def test_a_missing_signal_contributes_nothing():
    bona, prints, replays = _data()
    model = fit_fusion(("logit:minifasnet", "log:rigidity"), bona + prints + replays,
                       [False] * 20 + [True] * 20)
    only_model = {"minifasnet": 0.95, "rigidity": None}
    assert model.contributions(only_model)["rigidity"] == 0.0
    assert model.logit(only_model) == pytest.approx(model.bias + model.contributions(only_model)["minifasnet"])


def test_the_fusion_survives_its_policy_form():
    bona, prints, replays = _data()
    model = fit_fusion(("logit:minifasnet", "log:rigidity"), bona + prints + replays, [False] * 20 + [True] * 20)
    again = PadFusion.from_policy(json.loads(json.dumps(model.as_policy())))
    for r in bona + prints:
        assert again.probability(r) == pytest.approx(model.probability(r), abs=1e-4)


def _fusion(reject_at=0.6, review_at=0.4):
    # logit = 4 * (minifasnet - 0.5) : p = 0.5 at minifasnet 0.5
    return PadFusion(("minifasnet",), (0.5,), (1.0,), (4.0,), 0.0, reject_at, review_at)


def _track_scoring(minifasnet):
    return FaceTrack((), (), (640, 480), 3.0, 90, minifasnet_scores=(minifasnet,))


def test_assess_pad_rejects_above_the_edge_reviews_just_above_the_bona_fide_edge_and_passes_below():
    p = PadParams(fusion=_fusion())
    high = assess_pad(_track_scoring(0.9), p)        # p = 0.83
    near = assess_pad(_track_scoring(0.55), p)       # p = 0.55
    low = assess_pad(_track_scoring(0.2), p)         # p = 0.23
    assert high.reasons == (ReasonCode.PAD_MODEL_SUSPECTED.value,) and not high.passed
    assert near.passed and near.review == (ReasonCode.PAD_MODEL_SUSPECTED.value,)
    assert low.passed and low.review == ()
    assert high.scores["fused"] == pytest.approx(1 / (1 + np.exp(-1.6)))


def test_without_a_fusion_the_signals_are_reported_only():
    report = assess_pad(_track_scoring(0.99), PadParams())
    assert report.passed and report.review == () and "fused" not in report.scores


def _live_ok():
    return LivenessReport(passed=True, reasons=(), events=(), matched=(), face_fraction=1.0, max_gap_s=0.0,
                          identity_min_similarity=0.9, duration_s=3.0)


def _match(outcome, score=0.5):
    return MatchResult(score, 0.43, 1e-4, outcome, "m", {})


def test_a_pad_review_sends_a_match_to_review_with_the_pad_reason():
    portrait_analysis = SimpleNamespace(quality=SimpleNamespace(reasons=()), reasons=())  # a clean portrait
    reason = ReasonCode.PAD_SCREEN_SUSPECTED.value
    d = decide(_live_ok(), {}, portrait_analysis, None, _match(MatchOutcome.MATCH), 0.37, (reason,))
    assert d.outcome is Outcome.REVIEW and d.reasons == (reason,)
    d = decide(_live_ok(), {}, portrait_analysis, None, _match(MatchOutcome.MATCH), 0.37)
    assert d.outcome is Outcome.APPROVED
    grey = decide(_live_ok(), {}, portrait_analysis, None, _match(MatchOutcome.NO_MATCH, 0.40), 0.37, (reason,))
    assert grey.outcome is Outcome.REVIEW and grey.reasons == (ReasonCode.MATCH_GREY_ZONE.value, reason)


def test_the_shipped_policy_carries_a_pad_fusion_in_its_hash():
    path = Path(__file__).resolve().parents[2] / "src" / "simreg" / "policy" / "default.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    policy = parse_policy(json.dumps(doc))
    assert policy.pad.fusion is not None
    assert policy.pad.fusion.review_at < policy.pad.fusion.reject_at
    doc["pad"]["fusion"]["reject_at"] += 0.01
    assert parse_policy(json.dumps(doc)).sha256 != policy.sha256


@pytest.mark.parametrize("change", [
    lambda f: f.update(weights=f["weights"][:-1]),            # a feature without its weight
    lambda f: f.update(features=[*f["features"][:-1], "log:heartbeat"]),   # no such signal
    lambda f: f.update(features=[*f["features"][:-1], "sqrt:rigidity"]),   # no such transform
    lambda f: f.update(scale=[0.0, *f["scale"][1:]]),
    lambda f: f.update(review_at=f["reject_at"] + 0.1),       # the review band above the refusal
])
def test_a_malformed_fusion_makes_the_policy_invalid(change):
    from simreg.domain.errors import PolicyError

    path = Path(__file__).resolve().parents[2] / "src" / "simreg" / "policy" / "default.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc["pad"]["fusion"])
    with pytest.raises(PolicyError):
        parse_policy(json.dumps(doc))


def test_a_clip_whose_views_never_differ_more_than_a_sheet_is_refused_by_the_rigidity_floor():
    p = PadParams(rigidity_floor=0.01)
    flat = assess_pad(_track(_sheet), p)
    assert flat.scores["rigidity_peak"] < 0.01 and flat.reasons == (ReasonCode.PAD_PLANAR_MOTION.value,)
    live = assess_pad(_track(_talking), p)
    assert live.scores["rigidity_peak"] > 0.01 and live.passed
    assert assess_pad(_track(_sheet), PadParams()).passed  # no floor: reported only


def test_a_clip_minifasnet_is_sure_of_is_refused_whatever_the_fusion_says():
    lenient = PadParams(fusion=_fusion(reject_at=0.999, review_at=0.998), minifasnet_ceiling=0.9)
    sure = assess_pad(_track_scoring(0.95), lenient)
    assert sure.reasons == (ReasonCode.PAD_MODEL_SUSPECTED.value,)
    assert assess_pad(_track_scoring(0.85), lenient).passed
