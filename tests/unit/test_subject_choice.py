"""Which face of an image is the subject (face_engine.choose_subject); pure, no models."""

from __future__ import annotations

import pytest

from simreg.adapters.faces.face_engine import choose_subject
from simreg.domain.errors import InputError
from simreg.domain.policy import DetectionRules
from simreg.domain.reasons import ReasonCode
from simreg.domain.types import FaceBox

RULES = DetectionRules(min_score=0.6, multiple_min_score=0.8, multiple_min_relative_width=0.5)
BYSTANDER = FaceBox(400, 80, 120, 150, 0.95, "yunet")   # scores higher
CUSTOMER = FaceBox(100, 100, 110, 140, 0.90, "yunet")


def test_without_a_track_the_best_scoring_face_is_the_subject_and_the_other_is_flagged():
    s = choose_subject([BYSTANDER, CUSTOMER], RULES)
    assert s.box is BYSTANDER and s.multiple and s.faces_found == 2


def test_a_video_frame_keeps_the_tracked_face_even_when_another_scores_higher():
    tracked = FaceBox(105, 95, 108, 145, 1.0, "yunet")
    s = choose_subject([BYSTANDER, CUSTOMER], RULES, near=tracked)
    assert s.box is CUSTOMER and s.multiple


def test_a_frame_without_the_tracked_face_has_no_subject():
    with pytest.raises(InputError) as e:
        choose_subject([BYSTANDER], RULES, near=FaceBox(100, 100, 110, 140, 1.0, "yunet"))
    assert e.value.code is ReasonCode.FACE_NOT_FOUND


def test_faces_under_the_minimum_score_are_not_faces():
    with pytest.raises(InputError):
        choose_subject([FaceBox(0, 0, 50, 50, 0.5, "yunet")], RULES)
