"""The pure rules a registration is decided by, tested directly (no database, no
models): the quota, the lockout, the quality gate, the receipt check and the
decision's order of rules."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from simreg.domain.decision import decide
from simreg.domain.errors import PolicyError
from simreg.domain.liveness import LivenessReport
from simreg.domain.lockout import LockoutRule, locked_until
from simreg.domain.matching import MatchResult
from simreg.domain.merkle import inclusion_proof, leaf_hash, root
from simreg.domain.policy import QualityLimits
from simreg.domain.quality import assess_quality
from simreg.domain.quota import QuotaRule, check_quota
from simreg.domain.reasons import MatchOutcome, Outcome, ReasonCode
from simreg.domain.receipts import check_receipt
from simreg.domain.types import HeadPose, QualityMeasures

T0 = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


# --------------------------------------------------------------------- quota

def test_the_quota_allows_up_to_the_limit_and_refuses_the_next():
    check_quota(held=4, limit=5)
    with pytest.raises(PolicyError) as exc:
        check_quota(held=5, limit=5)
    assert exc.value.code is ReasonCode.QUOTA_EXCEEDED and "5 of at most 5" in str(exc.value)


def test_a_jurisdiction_may_have_its_own_limit():
    rule = QuotaRule(default_limit=5, per_jurisdiction={"44": 3})
    assert rule.limit_for("11") == 5 and rule.limit_for("44") == 3


# ------------------------------------------------------------------- lockout

RULE = LockoutRule(max_failures=3, window_s=180, lock_s=900)


def test_no_lock_below_the_number_of_failures():
    assert locked_until([T0, T0 + timedelta(seconds=10)], T0 + timedelta(seconds=20), RULE) is None


def test_failures_within_the_window_lock_from_the_last_one():
    failures = [T0, T0 + timedelta(seconds=60), T0 + timedelta(seconds=120)]
    until = locked_until(failures, T0 + timedelta(seconds=130), RULE)
    assert until == T0 + timedelta(seconds=120 + 900)


def test_failures_spread_wider_than_the_window_do_not_lock():
    failures = [T0, T0 + timedelta(seconds=100), T0 + timedelta(seconds=181)]
    assert locked_until(failures, T0 + timedelta(seconds=200), RULE) is None


def test_the_lock_ends_after_lock_s():
    failures = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    assert locked_until(failures, T0 + timedelta(seconds=901), RULE) is not None
    assert locked_until(failures, T0 + timedelta(seconds=902), RULE) is None


def test_the_latest_run_sets_the_end_of_the_lock_whatever_the_order_given():
    failures = [T0 + timedelta(seconds=s) for s in (400, 0, 10, 20, 410, 420)]
    assert locked_until(failures, T0 + timedelta(seconds=430), RULE) == T0 + timedelta(seconds=420 + 900)


# -------------------------------------------------------------- quality gate

GOOD = QualityMeasures(inter_eye_px=60, sharpness=80, brightness=120, contrast=50,
                       pose=HeadPose(0.0, 0.0, 0.0), eye_openness=0.3)


def test_a_good_face_passes_the_quality_gate():
    assert assess_quality(GOOD, QualityLimits()).passed


@pytest.mark.parametrize("change, code", [
    ({"inter_eye_px": 10}, ReasonCode.QUALITY_FACE_TOO_SMALL),
    ({"sharpness": 5}, ReasonCode.QUALITY_BLUR),
    ({"brightness": 20}, ReasonCode.QUALITY_UNDEREXPOSED),
    ({"brightness": 240}, ReasonCode.QUALITY_OVEREXPOSED),
    ({"contrast": 5}, ReasonCode.QUALITY_LOW_CONTRAST),
    ({"pose": HeadPose(50.0, 0.0, 0.0)}, ReasonCode.QUALITY_POSE),
    ({"pose": HeadPose(0.0, -40.0, 0.0)}, ReasonCode.QUALITY_POSE),
    ({"eye_openness": 0.05}, ReasonCode.QUALITY_EYES_CLOSED),
])
def test_each_limit_gives_its_own_reason(change, code):
    report = assess_quality(QualityMeasures(**{**GOOD.__dict__, **change}), QualityLimits())
    assert report.reasons == (code.value,)


def test_every_failing_limit_is_reported():
    bad = QualityMeasures(10, 5, 20, 5, HeadPose(50.0, 0.0, 0.0), 0.05)
    assert len(assess_quality(bad, QualityLimits()).reasons) == 6


# ------------------------------------------------------------- receipt check

def _receipt_and_proof(n=7, index=4):
    entries = [hashlib.sha256(f"entry {i}".encode()).digest() for i in range(n)]
    head = root(entries)
    receipt = {"audit_position": index, "tree_size": n, "root_hash": head.hex(),
               "entry_hash": entries[index].hex(), "leaf_hash": leaf_hash(entries[index]).hex(),
               "checkpoint": {"size": n, "root_hash": head.hex(), "signature": "ok"}}
    proof = {"index": index, "size": n, "leaf_hash": receipt["leaf_hash"], "root_hash": head.hex(),
             "proof": [h.hex() for h in inclusion_proof(index, entries)]}
    return receipt, proof


def _signed(cp):
    return cp.get("signature") == "ok"


def test_a_true_receipt_with_its_proof_holds():
    receipt, proof = _receipt_and_proof()
    assert check_receipt(receipt, proof, _signed) is None


@pytest.mark.parametrize("tamper, says", [
    (lambda r, p: r.update(entry_hash=hashlib.sha256(b"other").hexdigest()), "leaf hash is not the entry's"),
    (lambda r, p: r["checkpoint"].update(signature="forged"), "signature does not verify"),
    (lambda r, p: r["checkpoint"].update(size=99), "not the receipt's tree"),
    (lambda r, p: p.update(index=3), "another entry or tree"),
    (lambda r, p: p["proof"].reverse(), "does not lead to the signed root"),
    (lambda r, p: r.pop("checkpoint"), "no signed tree head"),
    (lambda r, p: r.update(root_hash="zz"), "malformed"),
])
def test_a_tampered_receipt_or_proof_is_refused_with_what_is_wrong(tamper, says):
    receipt, proof = _receipt_and_proof()
    tamper(receipt, proof)
    assert says in (check_receipt(receipt, proof, _signed) or "")


# ------------------------------------------------------------ decision rules

def _liveness(passed=True, reasons=()):
    return LivenessReport(passed=passed, reasons=tuple(reasons), events=(), matched=(), face_fraction=1.0,
                          max_gap_s=0.0, identity_min_similarity=0.9, duration_s=4.0)


def _portrait(quality=(), reasons=()):
    return SimpleNamespace(quality=SimpleNamespace(reasons=tuple(quality)), reasons=tuple(reasons))


def _match(score, threshold=0.43):
    outcome = MatchOutcome.MATCH if score >= threshold else MatchOutcome.NO_MATCH
    return MatchResult(score, threshold, 1e-4, outcome, "sface", {"sface": score})


def test_a_failed_challenge_rejects_before_anything_else():
    d = decide(_liveness(False, [ReasonCode.LIVENESS_NO_BLINK.value]), {}, _portrait(), None, _match(0.9), 0.37)
    assert d.outcome is Outcome.REJECTED and d.reasons == (ReasonCode.LIVENESS_NO_BLINK.value,)


def test_no_live_face_rejects_with_its_reason():
    d = decide(_liveness(), {}, _portrait(), ReasonCode.FACE_MULTIPLE.value, None, 0.37)
    assert d.outcome is Outcome.REJECTED and d.reasons == (ReasonCode.FACE_MULTIPLE.value,)
    assert decide(_liveness(), {}, _portrait(), None, None, 0.37).reasons == (ReasonCode.FACE_NOT_FOUND.value,)


def test_a_match_approves_and_the_grey_zone_goes_to_review():
    assert decide(_liveness(), {}, _portrait(), None, _match(0.50), 0.37).outcome is Outcome.APPROVED
    grey = decide(_liveness(), {}, _portrait(), None, _match(0.40), 0.37)
    assert grey.outcome is Outcome.REVIEW and grey.reasons == (ReasonCode.MATCH_GREY_ZONE.value,)


def test_below_the_grey_zone_a_poor_portrait_goes_to_review_and_a_good_one_is_rejected():
    poor = decide(_liveness(), {}, _portrait(quality=[ReasonCode.QUALITY_BLUR.value]), None, _match(0.2), 0.37)
    assert poor.outcome is Outcome.REVIEW
    assert poor.reasons == (ReasonCode.MATCH_BELOW_THRESHOLD.value, ReasonCode.QUALITY_BLUR.value)
    good = decide(_liveness(), {}, _portrait(), None, _match(0.2), 0.37)
    assert good.outcome is Outcome.REJECTED and good.reasons == (ReasonCode.MATCH_BELOW_THRESHOLD.value,)


def test_without_a_review_edge_there_is_no_grey_zone():
    assert decide(_liveness(), {}, _portrait(), None, _match(0.40), None).outcome is Outcome.REJECTED


def test_the_decision_carries_the_scores_it_was_made_on():
    d = decide(_liveness(), {"fused": 0.123456, "rigidity": None}, _portrait(), None, _match(0.5), 0.37)
    assert d.scores["pad"] == {"fused": 0.1235, "rigidity": None}
    assert d.scores["match"]["score"] == 0.5 and d.scores["match"]["review_threshold"] == 0.37
    assert d.scores["liveness"]["passed"] is True


# ------------------------------------------------------ number transitions

def test_a_decision_puts_its_number_in_the_state_its_outcome_calls_for():
    from simreg.domain.decision import number_state_for
    from simreg.domain.numbers import NumberState

    assert number_state_for(Outcome.APPROVED) is NumberState.ACTIVE
    assert number_state_for(Outcome.REVIEW) is NumberState.RESERVED
    with pytest.raises(ValueError):
        number_state_for(Outcome.REJECTED)


def test_closing_a_review_activates_or_returns_the_reserved_number():
    from simreg.domain.decision import close_review
    from simreg.domain.numbers import NumberState

    yes, no = close_review(True), close_review(False)
    assert (yes.outcome, yes.number_state, yes.keeps_number) == (Outcome.APPROVED, NumberState.ACTIVE, True)
    assert (no.outcome, no.number_state, no.keeps_number) == (Outcome.REJECTED, NumberState.AVAILABLE, False)
