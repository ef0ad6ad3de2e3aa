"""Screen/print cues on the real data of ../shared/data: what the enclosing-edge cue
sees, and the bona fide background that keeps it report-only (docs/pad-screen.md)."""

from __future__ import annotations

import cv2

from simreg.adapters.faces.screen_pad import screen_cues
from simreg.adapters.video import VideoLimits
from simreg.app.pipeline import check_liveness
from simreg.domain.challenge import Action

LIMITS = VideoLimits(max_duration_s=30.0, max_frames=2000)


def _scores(runtime, path):
    res = check_liveness(runtime.engine, runtime.policy, path.read_bytes(), [Action.BLINK], limits=LIMITS)
    return res.pad_scores, res.track


def test_a_monitor_replay_shows_edges_around_the_face_that_its_live_recording_does_not(runtime, data_dir):
    replay, track = _scores(runtime, data_dir / "spoof" / "replay" / "pad_tranvanluyt_fake_replay.mp4")
    live, _ = _scores(runtime, data_dir / "videos" / "pad_tranvanluyt_real.mp4")
    assert len(track.screen_cues) == 8  # sampled like the texture crops
    assert replay["screen_frame"] >= 0.5
    assert live["screen_frame"] < 0.2


def test_an_office_background_with_window_frames_reads_as_enclosed(runtime, data_dir):
    # The reason screen_frame ships without a threshold: a real capture (Silent-Face
    # T2) in front of window mullions scores like a phone bezel.
    img = cv2.cvtColor(cv2.imread(str(data_dir / "spoof" / "real" / "silentface_image_T2.jpg")), cv2.COLOR_BGR2RGB)
    f = 640 / max(img.shape[:2])
    img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    box = runtime.engine.analyse([img], runtime.policy)[0].box
    assert screen_cues(img, box)["frame"] >= 0.5
