"""Screen/print cues: the image measurements (adapters/faces/screen_pad.py) on synthetic
frames, and their per-clip summary and policy in domain/pad.py."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from simreg.adapters.faces.screen_pad import content_rect, frame_sides, glare_fraction, moire_peak, screen_cues
from simreg.domain.pad import PadParams, assess_pad, screen_scores
from simreg.domain.reasons import ReasonCode
from simreg.domain.types import FaceBox
from synthetic_tracks import make_track

BOX = FaceBox(270.0, 170.0, 100.0, 120.0, 0.99, "test")


def _scene(seed: int = 0) -> np.ndarray:
    """A 640x480 frame: a shaded, noisy background and a face-like ellipse in BOX."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:480, 0:640]
    img = (60 + 0.15 * xx + 0.2 * yy)[..., None] + rng.normal(0, 10, (480, 640, 3))
    img = img.clip(0, 255).astype(np.uint8)
    cv2.ellipse(img, (320, 230), (48, 60), 0, 0, 360, (200, 160, 140), -1)
    cv2.circle(img, (300, 215), 6, (40, 30, 30), -1)
    cv2.circle(img, (340, 215), 6, (40, 30, 30), -1)
    return img


def _with_bezel(img: np.ndarray, margin: int = 40) -> np.ndarray:
    """A dark phone bezel (rectangle outline) around the face."""
    out = img.copy()
    x1, y1 = int(BOX.x) - margin, int(BOX.y) - margin
    x2, y2 = int(BOX.x + BOX.w) + margin, int(BOX.y + BOX.h) + margin
    cv2.rectangle(out, (x1, y1), (x2, y2), (15, 15, 15), 12)
    return out


def test_a_live_face_without_straight_edges_around_it_scores_zero():
    assert screen_cues(_scene(), BOX)["frame"] == 0.0


def test_a_bezel_around_the_face_scores_its_enclosing_edges():
    sides = frame_sides(_with_bezel(_scene()), BOX)
    assert sorted(sides)[1] > 0.8  # at least two sides run along the whole face
    assert min(sides) > 0.5
    assert screen_cues(_with_bezel(_scene()), BOX)["frame"] > 0.8


def test_one_straight_edge_beside_the_face_is_not_an_enclosure():
    img = _scene()
    img[:, :230] = (img[:, :230] * 0.3).astype(np.uint8)  # a door frame on the left only
    sides = frame_sides(img, BOX)
    assert sides[0] > 0.5
    assert screen_cues(img, BOX)["frame"] < 0.1


def test_a_tilted_bezel_still_counts():
    img = _with_bezel(_scene())
    m = cv2.getRotationMatrix2D((320, 230), 12, 1.0)
    tilted = cv2.warpAffine(img, m, (640, 480), borderMode=cv2.BORDER_REFLECT)
    assert screen_cues(tilted, BOX)["frame"] > 0.6


def test_letterbox_bars_are_the_border_of_the_picture_not_a_bezel():
    img = _scene()
    img[:, :150] = 0
    img[:, 490:] = 0
    assert np.allclose(content_rect(img), (150, 0, 490, 480), atol=2)
    assert screen_cues(img, BOX)["frame"] == 0.0


def test_a_pixel_grid_gives_a_high_frequency_peak_that_a_live_face_does_not():
    face = cv2.resize(_scene()[170:290, 270:370], (128, 128))
    yy, xx = np.mgrid[0:128, 0:128]
    grid = (18 * np.sin(2 * np.pi * (xx * np.cos(0.3) + yy * np.sin(0.3)) / 3.2))[..., None]
    screen = (face.astype(float) + grid).clip(0, 255).astype(np.uint8)
    assert moire_peak(screen) > moire_peak(face) + 1.0


def test_glare_is_the_share_of_near_white_unsaturated_pixels():
    face = np.full((100, 100, 3), (200, 150, 130), np.uint8)
    assert glare_fraction(face) == 0.0
    face[:30, :50] = 250
    assert glare_fraction(face) == pytest.approx(0.15)


def test_a_face_too_small_to_measure_gives_no_cues():
    assert screen_cues(_scene(), FaceBox(10.0, 10.0, 12.0, 12.0, 0.9, "test")) is None


# --- per clip, and the policy ------------------------------------------------------


def _track(frames: list[dict]):
    return dataclasses.replace(make_track(2.0), screen_cues=tuple(frames))


def test_clip_scores_are_the_median_over_the_sampled_frames():
    track = _track([{"frame": 0.0, "moire": 2.0, "glare": 0.0}, {"frame": 0.9, "moire": 2.2, "glare": 0.1},
                    {"frame": 0.8, "moire": 1.0, "glare": 0.0}])
    assert screen_scores(track) == {"screen_frame": 0.8, "screen_moire": 2.0, "screen_glare": 0.0}


def test_no_sampled_frame_gives_no_screen_scores():
    assert screen_scores(make_track(2.0)) == {"screen_frame": None, "screen_moire": None, "screen_glare": None}


def test_screen_scores_are_reported_but_decide_nothing_by_default():
    track = _track([{"frame": 1.0, "moire": 9.0, "glare": 0.9}] * 3)
    report = assess_pad(track)
    assert report.passed
    assert report.scores["screen_frame"] == 1.0 and report.scores["screen_glare"] == 0.9
    assert PadParams().screen_frame_threshold is None
    assert PadParams().screen_moire_threshold is None
    assert PadParams().screen_glare_threshold is None


@pytest.mark.parametrize("field,cue", [("screen_frame_threshold", "frame"), ("screen_moire_threshold", "moire"),
                                       ("screen_glare_threshold", "glare")])
def test_a_clip_at_or_above_a_set_screen_threshold_is_screen_suspected(field, cue):
    frames = [{"frame": 0.0, "moire": 0.0, "glare": 0.0} for _ in range(3)]
    for f in frames:
        f[cue] = 0.5
    params = PadParams(**{field: 0.5})
    assert assess_pad(_track(frames), params).reasons == (ReasonCode.PAD_SCREEN_SUSPECTED.value,)
    for f in frames:
        f[cue] = 0.49
    assert assess_pad(_track(frames), params).passed
