"""Accuracy must not regress below the committed ceilings, on people the shipped
thresholds were not fitted to.

The policy's thresholds were calibrated on faces_lfw ``--subset 0/2`` (one half
of its identities).  Here: ../shared/data/faces (all pairs) and faces_lfw
``--subset 1/2`` (the other half), photo and ID-chip protocols, each image
embedded once (module fixture).  The ceilings are issue 10's targets where they
were met; docs/accuracy.md holds the measured figures and says which were not.
"""

from __future__ import annotations

import numpy as np
import pytest

from simreg.domain.policy import ID_CHIP_BAND
from simreg.eval.faces import (
    decision_scores,
    embed_both_protocols,
    evaluate,
    identity_of,
    in_subset,
    list_images,
    read_pairs,
    score_pairs,
)

FTA_CEILING = 0.01


def _at(rates, fmr):
    return next(p for p in rates.points if p.target_fmr == fmr)


@pytest.fixture(scope="module")
def faces_set(runtime, faces_dir, tmp_path_factory):
    images = list_images(faces_dir)
    return embed_both_protocols(runtime.engine, runtime.policy, faces_dir, images,
                                read_pairs(faces_dir / "pairs.tsv"), True, tmp_path_factory.mktemp("chips"))


@pytest.fixture(scope="module")
def lfw_heldout_set(runtime, data_dir, tmp_path_factory):
    root = data_dir / "faces_lfw"
    if not (root / "pairs.tsv").is_file():
        pytest.fail(f"{root} is missing from the shared dataset")
    images = [p for p in list_images(root) if in_subset(identity_of(p), (1, 2))]
    kept = set(images)
    pairs = [r for r in read_pairs(root / "pairs.tsv") if r[0] in kept and r[1] in kept]
    return embed_both_protocols(runtime.engine, runtime.policy, root, images, pairs, True,
                                tmp_path_factory.mktemp("lfw-chips"))


def _rates(runtime, ps, protocol):
    pairs = ps.photo_pairs if protocol == "photos" else ps.chip_pairs
    scores = score_pairs(ps.data, pairs)
    _, s = decision_scores(scores, runtime.policy)
    return s, pairs, evaluate(s, pairs)


def test_photo_pairs_of_the_shared_faces_meet_the_eer_and_fnmr_targets(runtime, faces_set):
    _, _, rates = _rates(runtime, faces_set, "photos")
    assert rates.n_impostor > 28_000  # all cross-identity pairs, not a sample
    assert rates.eer <= 0.025, f"EER {rates.eer:.4f}"
    assert _at(rates, 1e-3).fnmr <= 0.04, f"FNMR@1e-3 {_at(rates, 1e-3).fnmr:.4f}"
    assert len(faces_set.data.failures) / (len(faces_set.images) + len(faces_set.portraits)) <= FTA_CEILING


def test_chip_portraits_against_photos_of_the_shared_faces_meet_the_eer_and_fnmr_targets(runtime, faces_set):
    _, _, rates = _rates(runtime, faces_set, "id-chip")
    assert len(faces_set.portraits) >= 75 and rates.n_genuine >= 150
    assert rates.eer <= 0.025, f"EER {rates.eer:.4f}"
    assert _at(rates, 1e-3).fnmr <= 0.04, f"FNMR@1e-3 {_at(rates, 1e-3).fnmr:.4f}"


@pytest.mark.parametrize("protocol", ["photos", "id-chip"])
def test_held_out_lfw_identities_meet_the_fnmr_target_at_fmr_1e4(runtime, lfw_heldout_set, protocol):
    _, _, rates = _rates(runtime, lfw_heldout_set, protocol)
    at = _at(rates, 1e-4)
    assert at.supported, f"{rates.n_impostor} impostor pairs cannot support FMR 1e-4"
    assert at.fnmr <= 0.06, f"FNMR@1e-4 {at.fnmr:.4f}"


@pytest.mark.parametrize("protocol", ["photos", "id-chip"])
def test_the_shipped_thresholds_hold_their_false_match_rate_on_held_out_identities(runtime, lfw_heldout_set,
                                                                                  protocol):
    """On identities the thresholds never saw, the observed FMR stays within a
    factor of two of the target (about 50 false matches expected at 1e-4 on
    ~500,000 impostor pairs, so the factor covers sampling noise, not drift)."""
    s, pairs, _ = _rates(runtime, lfw_heldout_set, protocol)
    same = np.array([p[2] for p in pairs])
    band = None if protocol == "photos" else ID_CHIP_BAND
    for entry in (runtime.policy.threshold_for(runtime.policy.matcher, band),
                  runtime.policy.review_entry(runtime.policy.matcher, band)):
        fmr = float(np.mean(s[same == 0] >= entry.threshold))
        assert fmr <= 2 * entry.target_fmr, f"{protocol}: FMR {fmr:.2e} at the {entry.target_fmr:g} threshold"
