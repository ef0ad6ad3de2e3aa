"""Policy parsing, threshold lookup by model id and resolution band, and matching."""

from __future__ import annotations

import json

import numpy as np
import pytest

from simreg.domain.errors import PolicyError
from simreg.domain.matching import fuse, match, similarity, similarity_matrix
from simreg.domain.policy import ID_CHIP_BAND, parse_policy
from simreg.domain.reasons import MatchOutcome, ReasonCode
from simreg.domain.types import Embedding

DOC = {
    "version": "t.1",
    "matcher": "fusion(a,b)",
    "fusion": [{"model_id": "a", "mean": 0.2, "std": 0.1, "weight": 1.0},
               {"model_id": "b", "mean": 0.0, "std": 0.5, "weight": 1.0}],
    "thresholds": {"fusion(a,b)": {"threshold": 2.0, "target_fmr": 0.001},
                   "fusion(a,b)@id-chip": {"threshold": 3.0, "target_fmr": 0.001}},
}


def test_fused_score_is_the_mean_of_impostor_z_scores():
    p = parse_policy(json.dumps(DOC))
    assert fuse({"a": 0.5, "b": 1.0}, p.fusion) == pytest.approx(((0.5 - 0.2) / 0.1 + 1.0 / 0.5) / 2)


def test_match_uses_the_band_threshold_when_the_policy_has_one():
    p = parse_policy(json.dumps(DOC))
    sims = {"a": 0.5, "b": 1.0}  # fused 2.5
    assert match(sims, p).outcome is MatchOutcome.MATCH
    chip = match(sims, p, ID_CHIP_BAND)
    assert chip.outcome is MatchOutcome.NO_MATCH and chip.threshold == 3.0
    assert chip.band == ID_CHIP_BAND and chip.reasons == (ReasonCode.MATCH_BELOW_THRESHOLD.value,)


def test_match_falls_back_to_the_general_threshold_for_an_uncalibrated_band():
    doc = json.loads(json.dumps(DOC))
    del doc["thresholds"]["fusion(a,b)@id-chip"]
    r = match({"a": 0.5, "b": 1.0}, parse_policy(json.dumps(doc)), ID_CHIP_BAND)
    assert r.threshold == 2.0 and r.band is None and r.threshold_key == "fusion(a,b)"


def test_an_uncalibrated_matcher_is_a_policy_error():
    doc = dict(DOC, thresholds={})
    with pytest.raises(PolicyError) as exc:
        match({"a": 0.5, "b": 1.0}, parse_policy(json.dumps(doc)))
    assert exc.value.code is ReasonCode.POLICY_NOT_CALIBRATED


def test_band_of_flags_comparisons_with_a_chip_sized_image():
    p = parse_policy(json.dumps(DOC))
    assert p.band_of([(102, 126), (1280, 960)]) == ID_CHIP_BAND
    assert p.band_of([(250, 250), (1280, 960)]) is None


def test_policy_hash_ignores_key_order_and_whitespace_but_not_values():
    a = parse_policy(json.dumps(DOC))
    b = parse_policy(json.dumps(dict(reversed(list(DOC.items()))), indent=4))
    assert a.sha256 == b.sha256
    changed = json.loads(json.dumps(DOC))
    changed["thresholds"]["fusion(a,b)"]["threshold"] = 2.1
    assert parse_policy(json.dumps(changed)).sha256 != a.sha256


def test_invalid_policy_files_are_refused_with_a_reason_code():
    for text in ("not json", json.dumps({"matcher": "x"}), json.dumps(dict(DOC, quality={"bogus": 1}))):
        with pytest.raises(PolicyError) as exc:
            parse_policy(text)
        assert exc.value.code is ReasonCode.POLICY_INVALID


def test_similarity_metrics_are_higher_for_more_similar_vectors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=8)
    near, far = x + 0.01 * rng.normal(size=8), -x
    for metric in ("cosine", "one_minus_l2"):
        def e(v, metric=metric):
            return Embedding("m", np.asarray(v, dtype=np.float32), metric)
        assert similarity(e(x), e(near)) > similarity(e(x), e(far))
    m = similarity_matrix("one_minus_l2", np.stack([x, near]), np.stack([x, far]))
    assert m[0, 0] == pytest.approx(1.0) and m[0, 1] == pytest.approx(1 - 2 * np.linalg.norm(x))


def test_embeddings_of_different_models_are_not_compared():
    with pytest.raises(ValueError):
        similarity(Embedding("a", np.ones(4, np.float32), "cosine"), Embedding("b", np.ones(4, np.float32), "cosine"))
