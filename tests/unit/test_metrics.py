"""Tests of simreg.domain.metrics on score sets whose error rates are known by construction.

Convention under test: scores are higher for more similar, a pair is accepted
when ``score >= threshold``; FMR(t) = share of impostors >= t, FNMR(t) = share
of genuine < t.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simreg.domain.metrics import (
    det_curve,
    equal_error_rate,
    error_rates,
    fmr_at,
    fnmr_at,
    min_impostors_for,
    operating_point,
    threshold_for_fmr,
)

# 1000 distinct impostor scores 0.000, 0.001, ..., 0.999.
IMPOSTORS_1000 = np.arange(1000) / 1000.0


def _accepted(scores, threshold: float) -> int:
    return int(np.count_nonzero(np.asarray(scores) >= threshold))


def _one_step_lower(threshold: float) -> float:
    return float(np.nextafter(threshold, -np.inf))


# --- threshold_for_fmr -------------------------------------------------------


def test_threshold_for_fmr_allows_exactly_the_permitted_false_matches():
    # 1 % of 1000 impostors: exactly 10 may score at or above the threshold
    # (0.990 .. 0.999); the 11th highest (0.989) must be refused.
    t = threshold_for_fmr(IMPOSTORS_1000, 0.01)

    assert _accepted(IMPOSTORS_1000, t) == 10
    assert fmr_at(IMPOSTORS_1000, t) == pytest.approx(0.01, abs=1e-15)
    assert 0.989 < t <= 0.990


@pytest.mark.parametrize("target", [0.001, 0.01, 0.0125, 0.05, 0.25, 0.5, 0.999])
def test_threshold_for_fmr_is_the_lowest_threshold_that_meets_the_target(target):
    t = threshold_for_fmr(IMPOSTORS_1000, target)

    assert fmr_at(IMPOSTORS_1000, t) <= target
    # The next representable threshold below lets one more impostor through.
    assert fmr_at(IMPOSTORS_1000, _one_step_lower(t)) > target


def test_threshold_for_fmr_rounds_a_fractional_allowance_down():
    # 1.25 % of 1000 = 12.5 permitted false matches -> only 12 are allowed.
    t = threshold_for_fmr(IMPOSTORS_1000, 0.0125)

    assert _accepted(IMPOSTORS_1000, t) == 12


def test_threshold_for_fmr_does_not_lose_a_permitted_false_match_to_floating_point_error():
    # In binary floating point 0.29 * 100 == 28.999999999999996; the allowance
    # is still 29 false matches out of 100.
    impostors = np.arange(100, dtype=np.float64)
    assert 0.29 * 100 < 29  # the premise that makes this case interesting

    t = threshold_for_fmr(impostors, 0.29)

    assert _accepted(impostors, t) == 29
    assert fmr_at(impostors, t) <= 0.29


def test_threshold_for_fmr_refuses_every_tied_impostor_rather_than_exceed_the_target():
    # 20 impostors tie at the top score; 10 false matches are allowed, so all 20
    # tied scores must be refused (accepting them would give FMR 2 %).
    impostors = np.concatenate([np.full(20, 2.0), np.arange(980) / 1000.0])

    t = threshold_for_fmr(impostors, 0.01)

    assert fmr_at(impostors, t) == 0.0
    assert t > 2.0
    assert fmr_at(impostors, _one_step_lower(t)) == pytest.approx(0.02)


def test_threshold_for_fmr_sits_above_every_impostor_when_no_false_match_is_permitted():
    # 50 impostors at 1 % allow floor(0.5) = 0 false matches.
    impostors = np.arange(50, dtype=np.float64)

    t = threshold_for_fmr(impostors, 0.01)

    assert t > impostors.max()
    assert fmr_at(impostors, t) == 0.0
    assert _accepted(impostors, _one_step_lower(t)) == 1


def test_threshold_for_fmr_does_not_depend_on_the_order_of_the_scores():
    shuffled = np.random.default_rng(7).permutation(IMPOSTORS_1000)

    assert threshold_for_fmr(shuffled, 0.01) == threshold_for_fmr(IMPOSTORS_1000, 0.01)


# --- operating_point ---------------------------------------------------------


def test_operating_point_reports_the_exact_fnmr_at_the_chosen_threshold():
    # At 1 % FMR the threshold lies just above 0.989 (see above).  Genuine scores:
    # 30 far below, 7 tied with the refused impostor 0.989 (so also refused),
    # 963 at 0.990 (accepted).  FNMR = 37 / 1000 exactly.
    genuine = np.concatenate([np.full(30, 0.5), np.full(7, 0.989), np.full(963, 0.990)])

    op = operating_point(genuine, IMPOSTORS_1000, 0.01)

    assert op.target_fmr == 0.01
    assert 0.989 < op.threshold <= 0.990
    assert op.fmr == pytest.approx(0.01, abs=1e-15)
    assert op.fnmr == pytest.approx(37 / 1000, abs=1e-15)


def test_operating_point_accepts_a_genuine_score_equal_to_the_threshold():
    t = threshold_for_fmr(IMPOSTORS_1000, 0.01)
    # 4 genuine exactly at the threshold (accepted: score >= t), 6 just below it.
    genuine = np.concatenate([np.full(4, t), np.full(6, _one_step_lower(t))])

    op = operating_point(genuine, IMPOSTORS_1000, 0.01)

    assert op.threshold == t
    assert op.fnmr == pytest.approx(0.6, abs=1e-15)


@pytest.mark.parametrize(
    ("target", "n_impostors", "supported"),
    [
        (0.1, 29, False),
        (0.1, 30, True),
        (0.01, 299, False),
        (0.01, 300, True),
        (0.001, 1000, False),
        (0.001, 2999, False),
        (0.001, 3000, True),
    ],
)
def test_operating_point_is_supported_only_with_at_least_three_over_target_impostors(
    target, n_impostors, supported
):
    impostors = np.linspace(0.0, 1.0, n_impostors)
    genuine = np.array([0.5, 1.0])

    op = operating_point(genuine, impostors, target)

    assert op.supported is supported
    assert op.min_impostors == round(3 / target)


@pytest.mark.parametrize(
    ("target", "needed"),
    [(0.1, 30), (0.01, 300), (0.001, 3000), (1e-4, 30000), (0.03, 100), (0.007, 429)],
)
def test_min_impostors_for_follows_the_rule_of_three(target, needed):
    assert min_impostors_for(target) == needed


# --- equal_error_rate --------------------------------------------------------


def test_equal_error_rate_is_zero_for_perfectly_separated_scores():
    impostors = np.linspace(0.0, 0.4, 200)
    genuine = np.linspace(0.6, 1.0, 150)

    eer, threshold = equal_error_rate(genuine, impostors)

    assert eer == 0.0
    assert 0.4 < threshold <= 0.6
    assert fmr_at(impostors, threshold) == 0.0
    assert fnmr_at(genuine, threshold) == 0.0


def test_equal_error_rate_is_the_common_value_where_fmr_and_fnmr_meet_at_a_score():
    # Impostors 0..99, genuine 80..179.  At t = 90: FMR = #{90..99}/100 = 0.10
    # and FNMR = #{80..89}/100 = 0.10.
    impostors = np.arange(0, 100, dtype=np.float64)
    genuine = np.arange(80, 180, dtype=np.float64)

    eer, threshold = equal_error_rate(genuine, impostors)

    assert eer == pytest.approx(0.10, abs=1e-12)
    assert threshold == pytest.approx(90.0, abs=1e-12)


def test_equal_error_rate_interpolates_between_the_scores_that_bracket_the_crossing():
    # Impostors 0..99, genuine 81..180.  At t = 90: FMR 0.10, FNMR 0.09;
    # at t = 91: FMR 0.09, FNMR 0.10.  By symmetry they cross half-way, at
    # t = 90.5 with a rate of 0.095.
    impostors = np.arange(0, 100, dtype=np.float64)
    genuine = np.arange(81, 181, dtype=np.float64)

    eer, threshold = equal_error_rate(genuine, impostors)

    assert eer == pytest.approx(0.095, abs=1e-12)
    assert threshold == pytest.approx(90.5, abs=1e-12)


def test_equal_error_rate_uses_shares_so_unequal_set_sizes_do_not_bias_it():
    # The same construction as the exact crossing, with every genuine score
    # repeated three times: the rates, hence the EER, are unchanged.
    impostors = np.arange(0, 100, dtype=np.float64)
    genuine = np.repeat(np.arange(80, 180, dtype=np.float64), 3)

    eer, threshold = equal_error_rate(genuine, impostors)

    assert eer == pytest.approx(0.10, abs=1e-12)
    assert threshold == pytest.approx(90.0, abs=1e-12)


def test_equal_error_rate_is_one_half_for_indistinguishable_score_sets():
    eer, threshold = equal_error_rate(np.full(10, 5.0), np.full(40, 5.0))

    assert eer == pytest.approx(0.5, abs=1e-12)
    assert threshold == 5.0


def test_equal_error_rate_is_one_for_completely_inverted_scores():
    # Every genuine score below every impostor score.
    eer, _ = equal_error_rate(np.arange(0, 10, dtype=np.float64), np.arange(10, 20, dtype=np.float64))

    assert eer == pytest.approx(1.0, abs=1e-12)


# --- det_curve ---------------------------------------------------------------


def _tied_random_scores():
    rng = np.random.default_rng(1234)
    genuine = np.round(rng.normal(0.7, 0.1, 500), 2)  # rounding creates ties
    impostors = np.round(rng.normal(0.3, 0.1, 2000), 2)
    return genuine, impostors


def test_det_curve_fmr_never_rises_and_fnmr_never_falls_as_the_threshold_increases():
    genuine, impostors = _tied_random_scores()

    thresholds, fmr, fnmr = det_curve(genuine, impostors)

    assert thresholds.shape == fmr.shape == fnmr.shape
    assert np.all(np.diff(thresholds) > 0)
    assert np.all(np.diff(fmr) <= 0)
    assert np.all(np.diff(fnmr) >= 0)
    # ... and they really move (the curve is not flat).
    assert fmr[0] > fmr[-1] and fnmr[0] < fnmr[-1]


def test_det_curve_runs_from_accepting_everything_to_refusing_everything():
    genuine, impostors = _tied_random_scores()

    thresholds, fmr, fnmr = det_curve(genuine, impostors)

    assert thresholds[0] == min(genuine.min(), impostors.min())
    assert (fmr[0], fnmr[0]) == (1.0, 0.0)
    assert math.isinf(thresholds[-1]) and thresholds[-1] > 0
    assert (fmr[-1], fnmr[-1]) == (0.0, 1.0)


def test_det_curve_agrees_with_fmr_at_and_fnmr_at_at_every_threshold():
    genuine, impostors = _tied_random_scores()

    thresholds, fmr, fnmr = det_curve(genuine, impostors)

    for t, f, n in zip(thresholds, fmr, fnmr, strict=True):
        assert f == pytest.approx(fmr_at(impostors, t), abs=1e-12)
        assert n == pytest.approx(fnmr_at(genuine, t), abs=1e-12)


# --- error_rates -------------------------------------------------------------


def test_error_rates_reports_the_eer_and_one_operating_point_per_target():
    impostors = np.arange(0, 100, dtype=np.float64)
    genuine = np.arange(80, 180, dtype=np.float64)

    rates = error_rates(genuine, impostors, target_fmrs=(0.1, 0.01))

    assert (rates.n_genuine, rates.n_impostor) == (100, 100)
    assert rates.eer == pytest.approx(0.10, abs=1e-12)
    assert rates.eer_threshold == pytest.approx(90.0, abs=1e-12)
    at_10, at_1 = rates.points
    # 10 % FMR: impostors 90..99 accepted, genuine 80..89 refused.
    assert (at_10.target_fmr, at_10.fmr, at_10.fnmr, at_10.supported) == (0.1, pytest.approx(0.1), pytest.approx(0.1),
                                                                          True)
    # 1 % FMR: only impostor 99 accepted, genuine 80..98 refused; 100 < 300 impostors.
    assert (at_1.target_fmr, at_1.fmr, at_1.fnmr, at_1.supported) == (0.01, pytest.approx(0.01), pytest.approx(0.19),
                                                                      False)


# --- invalid input -----------------------------------------------------------

_GOOD = [0.1, 0.2, 0.3]

_CALLS_WITH_EMPTY_INPUT = {
    "fmr_at": lambda: fmr_at([], 0.5),
    "fnmr_at": lambda: fnmr_at([], 0.5),
    "threshold_for_fmr": lambda: threshold_for_fmr([], 0.01),
    "operating_point/empty impostors": lambda: operating_point(_GOOD, [], 0.01),
    "operating_point/empty genuine": lambda: operating_point([], _GOOD, 0.01),
    "det_curve/empty impostors": lambda: det_curve(_GOOD, []),
    "det_curve/empty genuine": lambda: det_curve([], _GOOD),
    "equal_error_rate/empty impostors": lambda: equal_error_rate(_GOOD, []),
    "equal_error_rate/empty genuine": lambda: equal_error_rate([], _GOOD),
    "error_rates": lambda: error_rates([], []),
}


@pytest.mark.parametrize("call", _CALLS_WITH_EMPTY_INPUT.values(), ids=_CALLS_WITH_EMPTY_INPUT.keys())
def test_an_empty_score_set_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize(
    "call",
    [
        lambda s: threshold_for_fmr(s, 0.01),
        lambda s: operating_point(_GOOD, s, 0.01),
        lambda s: operating_point(s, _GOOD, 0.01),
        lambda s: det_curve(s, _GOOD),
        lambda s: det_curve(_GOOD, s),
        lambda s: equal_error_rate(s, _GOOD),
        lambda s: equal_error_rate(_GOOD, s),
    ],
    ids=[
        "threshold_for_fmr",
        "operating_point/impostors",
        "operating_point/genuine",
        "det_curve/genuine",
        "det_curve/impostors",
        "equal_error_rate/genuine",
        "equal_error_rate/impostors",
    ],
)
def test_a_non_finite_score_raises_value_error(call, bad):
    with pytest.raises(ValueError):
        call([0.1, bad, 0.3])


@pytest.mark.parametrize("target", [0.0, 1.0, -0.01, 1.5, math.nan])
def test_a_target_fmr_outside_the_open_unit_interval_raises_value_error(target):
    with pytest.raises(ValueError):
        threshold_for_fmr(IMPOSTORS_1000, target)
    with pytest.raises(ValueError):
        operating_point([0.5], IMPOSTORS_1000, target)


def test_threshold_for_fmr_never_exceeds_a_target_just_below_one():
    from simreg.domain.metrics import fmr_at, threshold_for_fmr

    scores = list(range(10))
    t = threshold_for_fmr(scores, 0.99999999999)
    assert fmr_at(scores, t) <= 0.99999999999


def test_the_upper_bound_is_the_rule_of_three_at_zero_and_tightens_the_threshold():
    from simreg.domain.metrics import poisson_upper, threshold_for_fmr, threshold_for_fmr_bound

    assert poisson_upper(0) == pytest.approx(3.0, abs=0.05)
    assert poisson_upper(52) == pytest.approx(65.0, rel=0.02)   # 95 % bound of 52 seen
    rng = np.random.default_rng(3)
    imp = rng.normal(0.0, 1.0, 200_000)
    seen = threshold_for_fmr(imp, 1e-3)       # 200 false matches allowed
    bounded = threshold_for_fmr_bound(imp, 1e-3)
    assert bounded > seen
    k = int(np.sum(imp >= bounded))
    assert poisson_upper(k) <= 1e-3 * imp.size < poisson_upper(k + 1)
    # too few impostors for the target: above every impostor score
    assert threshold_for_fmr_bound(imp[:1000], 1e-4) > imp[:1000].max()
