"""The colour flash: a sequence drawn from the session's nonce, and how well the
skin's colour followed it (synthetic skin traces)."""

from __future__ import annotations

import itertools

import numpy as np

from simreg.domain.flash import PALETTE, flash_plan, flash_response


def test_the_plan_is_a_function_of_the_nonce_alone():
    a, b = flash_plan("nonce-1"), flash_plan("nonce-1")
    assert a == b and len(a.colours) == 20
    assert flash_plan("nonce-2").colours != a.colours
    assert all(c in PALETTE for c in a.colours)
    assert all(x != y for x, y in itertools.pairwise(a.colours))  # never the same colour twice in a row
    assert a.hex()[0].startswith("#") and len(a.hex()[0]) == 7


def _trace(plan, times, fps=30.0, strength=6.0, lag=0.1, noise=0.4, seed=0, follow=None):
    """Skin colour at ``fps``: a base tone plus, when ``follow`` (a plan) is given,
    the reflection of its colours ``lag`` seconds after each appears."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, times[-1] + plan.segment_s + 0.5, 1 / fps)
    rgb = np.tile([150.0, 110.0, 95.0], (len(t), 1)) + rng.normal(0, noise, (len(t), 3))
    if follow is not None:
        shown = follow.rgb() / 255.0
        for i, start in enumerate(times):
            sel = (t >= start + lag) & (t < start + lag + follow.segment_s)
            rgb[sel] += strength * (shown[i] - shown.mean(axis=0))
    return [(float(x), *map(float, c)) for x, c in zip(t, rgb, strict=True)]


def test_a_face_that_reflects_the_sequence_scores_high_and_one_that_does_not_scores_low():
    plan = flash_plan("session-nonce")
    times = [1.0 + plan.segment_s * i for i in range(len(plan.colours))]
    live = flash_response(_trace(plan, times, follow=plan), plan, times)
    replay = flash_response(_trace(plan, times, follow=None), plan, times)
    assert live is not None and replay is not None
    assert live > 0.8 > 0.5 > replay


def test_a_recording_that_follows_another_sessions_sequence_does_not_pass():
    plan, other = flash_plan("today"), flash_plan("yesterday")
    times = [1.0 + plan.segment_s * i for i in range(len(plan.colours))]
    scores = [flash_response(_trace(plan, times, follow=other, seed=s), plan, times) for s in range(5)]
    assert max(scores) < 0.6


def test_too_few_segments_with_skin_give_no_score():
    plan = flash_plan("n")
    times = [1.0 + plan.segment_s * i for i in range(len(plan.colours))]
    trace = [row for row in _trace(plan, times, follow=plan) if row[0] < 1.0 + 3 * plan.segment_s]  # 3 segments
    assert flash_response(trace, plan, times) is None
    assert flash_response(_trace(plan, times, follow=plan), plan, times[:-1]) is None  # times do not fit the plan
