"""The passive texture/colour PAD scorer: features, model integrity, and one honest data check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from simreg.adapters.faces import texture_pad as tp
from simreg.domain.errors import InfraError
from simreg.domain.reasons import ReasonCode


def _noise_face(seed: int = 0, size: int = 150) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)


def test_features_have_the_documented_length_and_are_deterministic():
    img = _noise_face()
    a, b = tp.texture_features(img), tp.texture_features(img.copy())
    assert a.shape == (tp.N_FEATURES,) == (6 * 3 * 59 + 4 * 16 + 6,)
    assert np.isfinite(a).all()
    assert np.array_equal(a, b)


def test_features_do_not_depend_on_crop_size_much_for_smooth_images():
    # resizing to 128 px first: a smooth gradient gives nearly the same LBP either way
    ramp = np.tile(np.linspace(0, 255, 256, dtype=np.float64), (256, 1))
    img = np.stack([ramp, ramp.T, 255 - ramp], -1).astype(np.uint8)
    assert tp.texture_features(img).shape == (tp.N_FEATURES,)


def test_lbp_histogram_of_a_flat_image_is_one_uniform_code():
    h = tp.lbp_histogram(np.full((20, 20), 77, np.uint8), 2)
    assert h.shape == (59,)
    assert h.sum() == pytest.approx(1.0)
    assert h.max() == pytest.approx(1.0)  # every neighbour >= centre: code 255, a uniform pattern
    assert h[58] == 0.0


def test_rejects_a_non_rgb_crop():
    with pytest.raises(ValueError):
        tp.texture_features(np.zeros((64, 64), np.uint8))


def test_shipped_model_passes_its_integrity_check_and_scores_in_0_1():
    scorer = tp.TexturePadScorer()
    s = scorer.score(_noise_face(1))
    assert 0.0 <= s <= 1.0
    assert 0.0 < scorer.threshold < 1.0
    assert tp.MODEL_PATH.stat().st_size < 200_000


def test_refuses_a_tampered_model_file(tmp_path: Path):
    doc = json.loads(tp.MODEL_PATH.read_bytes())
    doc["intercept"] = doc["intercept"] - 5.0  # an attacker lowering every score
    bad = tmp_path / "texture_linear_v1.json"
    bad.write_text(json.dumps(doc, separators=(",", ":")))
    with pytest.raises(InfraError) as exc:
        tp.TexturePadScorer(path=bad)
    assert exc.value.code == ReasonCode.MODEL_INTEGRITY


def test_a_missing_model_file_is_an_infrastructure_error(tmp_path: Path):
    with pytest.raises(InfraError):
        tp.TexturePadScorer(path=tmp_path / "absent.json")


def test_scores_nuaa_prints_of_a_held_out_subject_above_their_real_faces(data_dir: Path, face_models):
    """The shipped model was trained without this subject (``held_out_subjects``)."""
    import cv2

    from simreg.adapters.faces.mtcnn import MtcnnDetector

    scorer = tp.TexturePadScorer()
    subject = scorer.model.meta["held_out_subjects"][0]          # e.g. "nuaa_0015"
    detector = MtcnnDetector(max_side=640, min_face_fraction=0.05)

    def crop(p: Path) -> np.ndarray:
        img = cv2.cvtColor(cv2.imread(str(p), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        boxes = [b for b in detector.detect(img) if b.score >= 0.8]
        if boxes:
            return tp.face_crop(img, boxes[0])
        s = min(img.shape[:2])  # NUAA files are face crops already: centre square, as in training
        top, left = (img.shape[0] - s) // 2, (img.shape[1] - s) // 2
        return img[top:top + s, left:left + s]

    real = sorted((data_dir / "spoof" / "real").glob(f"{subject}_*.jpg"))
    prints = sorted((data_dir / "spoof" / "print").glob(f"{subject}_*.jpg"))
    assert len(real) >= 3 and len(prints) >= 3
    real_scores = [scorer.score(crop(p)) for p in real]
    print_scores = [scorer.score(crop(p)) for p in prints]
    assert np.mean(print_scores) > np.mean(real_scores)
