"""MiniFASNet adapter: the vendored file's integrity, upstream's preprocessing
reproduced to the model README's check values on real images, and bad input."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from simreg.adapters.faces import minifasnet as mf
from simreg.domain.errors import InfraError
from simreg.domain.reasons import ReasonCode

# The model README's table (../shared/models/minifasnet/reference_outputs.json),
# fixed boxes so that no detector is involved: image, (x, y, w, h), prob.
CHECK_VALUES = [
    ("spoof/real/silentface_image_T1.jpg", (106, 147, 207, 213), (0.0001, 0.9936, 0.0064)),
    ("spoof/print/silentface_image_F1.jpg", (178, 136, 223, 225), (0.1960, 0.0723, 0.7316)),
    ("spoof/replay/silentface_image_F2.jpg", (120, 252, 252, 256), (0.0016, 0.1813, 0.8172)),
    ("spoof/real/tranvanluyt_frame_3.jpg", (7, 62, 233, 270), (0.0736, 0.8605, 0.0658)),
]


@pytest.fixture(scope="module")
def scorer(face_models):
    return mf.MiniFasNetScorer()


def test_the_vendored_file_carries_its_licence_and_notice():
    d = mf.MODEL_PATH.parent
    assert "Apache License" in (d / "LICENSE-Silent-Face-Anti-Spoofing.txt").read_text()
    notice = (d / "NOTICE").read_text()
    assert "MODIFIED" in notice and mf.MODEL_SHA256 in notice


def test_a_changed_model_file_is_refused(tmp_path, face_models):
    bad = tmp_path / "m.onnx"
    data = bytearray(mf.MODEL_PATH.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad.write_bytes(bytes(data))
    with pytest.raises(InfraError) as e:
        mf.MiniFasNetScorer(bad)
    assert e.value.code == ReasonCode.MODEL_INTEGRITY
    with pytest.raises(InfraError) as e:
        mf.MiniFasNetScorer(tmp_path / "missing.onnx")
    assert e.value.code == ReasonCode.MODEL_MISSING


@pytest.mark.data
@pytest.mark.parametrize("rel,box,expected", CHECK_VALUES, ids=[c[0].split("/")[-1] for c in CHECK_VALUES])
def test_the_readme_check_values_are_reproduced(scorer, data_dir, rel, box, expected):
    bgr = cv2.imread(str(data_dir / rel))
    prob = scorer.probabilities(bgr, box)
    assert prob is not None
    np.testing.assert_allclose(prob, expected, atol=2e-4)
    # score_frame takes the engine's RGB frames and returns 1 - prob[real]
    assert scorer.score_frame(np.ascontiguousarray(bgr[:, :, ::-1]), box) == pytest.approx(1 - expected[1], abs=2e-4)


@pytest.mark.data
def test_the_reference_file_beside_the_source_model_agrees(data_dir):
    ref = data_dir.parent / "models" / "minifasnet" / "reference_outputs.json"
    if not ref.is_file():
        pytest.skip("../shared/models/minifasnet not present")
    assert [(r[0], tuple(r[1]), tuple(r[2])) for r in json.loads(ref.read_text())] == CHECK_VALUES


@pytest.mark.data
def test_with_yunet_boxes_a_live_face_scores_low_and_a_print_high(scorer, data_dir):
    from simreg.adapters.faces.opencv_zoo import YunetDetector

    det = YunetDetector()
    scores = {}
    for rel in ("spoof/real/silentface_image_T1.jpg", "spoof/print/silentface_image_F1.jpg"):
        rgb = cv2.imread(str(data_dir / rel))[:, :, ::-1].copy()
        boxes = det.detect(rgb)
        assert boxes
        scores[rel] = scorer.score_frame(rgb, boxes[0])
    assert scores["spoof/real/silentface_image_T1.jpg"] < 0.2
    assert scores["spoof/print/silentface_image_F1.jpg"] > 0.5


@pytest.mark.parametrize("image,box", [
    (np.zeros((0, 0, 3), np.uint8), (0, 0, 10, 10)),
    (np.zeros((100, 100), np.uint8), (10, 10, 50, 50)),          # grey
    (np.zeros((100, 100, 3), np.float32), (10, 10, 50, 50)),     # not uint8
    (np.zeros((100, 100, 3), np.uint8), (10, 10, 4, 4)),         # box too small
    (np.zeros((100, 100, 3), np.uint8), (200, 200, 50, 50)),     # box outside the frame
    (np.zeros((100, 100, 3), np.uint8), (-80, -80, 50, 50)),
])
def test_unusable_input_gives_none_not_an_error(scorer, image, box):
    assert scorer.probabilities(image, box) is None
    assert scorer.score_frame(image, box) is None


def test_a_box_at_the_frame_edge_is_shifted_inside():
    img = np.arange(200 * 300 * 3, dtype=np.uint32).reshape(200, 300, 3).astype(np.uint8)
    crop = mf.context_crop(img, (250, 150, 40, 40), 2.7)
    assert crop.shape == (80, 80, 3)
    # clamped scale: a box as large as the frame gives a window of the frame itself
    assert mf.context_crop(img, (0, 0, 300, 200), 4.0).shape == (80, 80, 3)


def test_clip_score_is_the_mean_of_the_sampled_frames():
    from simreg.domain.pad import minifasnet_score
    from simreg.domain.types import FaceTrack

    def track(scores):
        return FaceTrack((), (), (640, 480), 5.0, 150, minifasnet_scores=tuple(scores))

    assert minifasnet_score(track([0.2, 0.4])) == pytest.approx(0.3)
    assert minifasnet_score(track([])) is None


def test_the_clip_score_in_the_pad_report_is_the_mean_of_the_sampled_frames():
    import dataclasses

    from simreg.domain.pad import PadParams, assess_pad
    from synthetic_tracks import make_track

    track = dataclasses.replace(make_track(2.0), minifasnet_scores=(0.1, 0.3, 0.8))
    report = assess_pad(track, PadParams())
    assert report.scores["minifasnet"] == pytest.approx(0.4)
    assert report.reasons == ()  # report-only: no threshold in PadParams
    assert assess_pad(make_track(2.0), PadParams()).scores["minifasnet"] is None


@pytest.mark.data
def test_the_tracker_scores_a_few_full_frames_of_a_real_clip_and_a_replay(runtime, data_dir):
    from simreg.adapters.faces.tracking import TrackingParams
    from simreg.adapters.video import VideoLimits

    limits = VideoLimits(max_duration_s=30.0, max_frames=2000)
    tracks = {}
    for rel in ("videos/liveportrait_d0.mp4", "spoof/replay/pad_tranvanluyt_fake_replay.mp4"):
        path = data_dir / rel
        if not path.is_file():
            pytest.fail(f"{rel} missing from the shared data")
        tracks[rel] = runtime.engine.track_video(path.read_bytes(), limits, runtime.policy.detection).track
    for tr in tracks.values():
        assert 1 <= len(tr.minifasnet_scores) <= TrackingParams().texture_max_samples
    live = np.mean(tracks["videos/liveportrait_d0.mp4"].minifasnet_scores)
    replay = np.mean(tracks["spoof/replay/pad_tranvanluyt_fake_replay.mp4"].minifasnet_scores)
    assert live < 0.5 < replay
