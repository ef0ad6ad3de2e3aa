"""Liveness on the real videos of ../shared/data: bona fide clips against their own
verified actions (videos/events.json), attacks against challenges as the service
draws them, and wrong challenges.  Clips up to 21 s are judged with a 30 s limit."""

from __future__ import annotations

import json

import pytest

from simreg.adapters.video import VideoLimits
from simreg.app.pipeline import check_liveness
from simreg.domain.challenge import Action
from simreg.domain.reasons import ReasonCode

LIMITS = VideoLimits(max_duration_s=30.0, max_frames=2000)

# Bona fide clips the current engine gets wrong, with the measured reason.  strict:
# the test fails as soon as one of them starts passing, so this list stays true.
# Empty since yaw is measured along the eye line (domain/face_geometry.py): the two
# former misses, liveportrait_s20 (turn made with the head tilted by ~19 degrees) and
# videoretalking_face1 (held ~15-21 degrees with ~8 degrees of tilt), read too small
# along the image x axis.  Their margins are thin (peaks 21.7 and 21.4 against 20).
KNOWN_MISSES: dict[str, str] = {}


def _events(data_dir):
    return json.loads((data_dir / "videos" / "events.json").read_text())


def _own_actions(entry) -> list[Action]:
    acts = sorted([(b, "blink") for b in entry["blinks"]] + [(t["start"], t["direction"]) for t in entry["turns"]])
    out: list[Action] = []
    for _, a in acts:
        if Action(a) not in out:
            out.append(Action(a))
    return out[:3]


def _bona_fide(data_dir):
    return [e for e in _events(data_dir) if e.get("verified_by_eye") and e.get("single_face")
            and "spoof" not in e["file"] and _own_actions(e)]


def _bona_fide_ids():
    # collected lazily from the data: a fixed list keeps test ids stable and readable
    return ["liveportrait_d0.mp4", "liveportrait_d10.mp4", "liveportrait_d11.mp4", "liveportrait_d13.mp4",
            "liveportrait_d18.mp4", "liveportrait_d19.mp4", "liveportrait_d3.mp4", "liveportrait_d9.mp4",
            "liveportrait_s18.mp4", "liveportrait_s20.mp4", "liveportrait_s29.mp4", "pad_tranvanluyt_real.mp4",
            "sadtalker_WDA_AlexandriaOcasioCortez_000.mp4", "videoretalking_face1.mp4", "videoretalking_face3.mp4",
            "videoretalking_face4.mp4"]


@pytest.mark.parametrize("name", _bona_fide_ids())
def test_a_bona_fide_video_passes_the_challenge_of_its_own_actions(name, runtime, data_dir, request):
    entry = next((e for e in _bona_fide(data_dir) if e["file"] == name), None)
    assert entry is not None, f"{name} is no longer a verified single-face clip in events.json"
    if name in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_MISSES[name], strict=True))
    res = check_liveness(runtime.engine, runtime.policy, (data_dir / "videos" / name).read_bytes(),
                         _own_actions(entry), limits=LIMITS)
    assert res.report.passed, res.report.reasons
    assert [e.action for e in res.report.matched] == _own_actions(entry)


def test_a_bona_fide_turn_sequence_in_reverse_order_is_refused(runtime, data_dir):
    res = check_liveness(runtime.engine, runtime.policy,
                         (data_dir / "videos" / "pad_tranvanluyt_real.mp4").read_bytes(),
                         [Action.TURN_RIGHT, Action.TURN_LEFT], limits=LIMITS)
    assert not res.report.passed and ReasonCode.LIVENESS_ORDER.value in res.report.reasons


def test_an_action_the_person_never_performed_is_missing(runtime, data_dir):
    res = check_liveness(runtime.engine, runtime.policy, (data_dir / "videos" / "liveportrait_d13.mp4").read_bytes(),
                         [Action.BLINK, Action.TURN_LEFT], limits=LIMITS)
    assert not res.report.passed and ReasonCode.LIVENESS_TURN_MISSING.value in res.report.reasons


def test_prompt_times_refuse_actions_performed_outside_their_windows(runtime, data_dir):
    video = (data_dir / "videos" / "pad_tranvanluyt_real.mp4").read_bytes()
    # turn_left happens at ~2 s and turn_right at ~7.5 s: in time for prompts at 0 s and 6 s ...
    ok = check_liveness(runtime.engine, runtime.policy, video, [Action.TURN_LEFT, Action.TURN_RIGHT],
                        prompt_times=[0.0, 6.0], limits=LIMITS)
    assert ok.report.passed, ok.report.reasons
    # ... but not when the second prompt only appeared at 12 s
    late = check_liveness(runtime.engine, runtime.policy, video, [Action.TURN_LEFT, Action.TURN_RIGHT],
                          prompt_times=[0.0, 12.0], limits=LIMITS)
    assert not late.report.passed


@pytest.mark.data
@pytest.mark.parametrize("name", ["pad_tranvanluyt_real.mp4", "liveportrait_s29.mp4"])
def test_a_bona_fide_clip_with_no_blink_seen_by_eye_fails_a_blink_challenge(name, runtime, data_dir):
    # Issue 12: pad_tranvanluyt_real.mp4 passed "blink" on the eye-contour dip of a fast
    # turn back from near-profile at 5.4 s (yaw swept 26 and pitch 21 degrees in 0.1 s);
    # the head must now hold still through a blink (LivenessParams.blink_max_head_sweep).
    entry = next(e for e in _events(data_dir) if e["file"] == name)
    assert entry["verified_by_eye"] and entry["blinks"] == []
    res = check_liveness(runtime.engine, runtime.policy, (data_dir / "videos" / name).read_bytes(),
                         [Action.BLINK], limits=LIMITS)
    assert not res.report.passed
    assert res.report.reasons == (ReasonCode.LIVENESS_NO_BLINK.value,)
    assert [e for e in res.report.events if e.action == Action.BLINK] == []


def test_a_mirrored_capture_flips_the_turn_direction(runtime, data_dir):
    video = (data_dir / "videos" / "liveportrait_s18.mp4").read_bytes()  # held turned to the subject's left
    plain = check_liveness(runtime.engine, runtime.policy, video, [Action.TURN_LEFT], limits=LIMITS)
    mirrored = check_liveness(runtime.engine, runtime.policy, video, [Action.TURN_LEFT], mirrored=True, limits=LIMITS)
    assert plain.report.passed and not mirrored.report.passed


def test_a_stage_clip_with_several_people_and_cuts_is_not_live(runtime, data_dir):
    res = check_liveness(runtime.engine, runtime.policy,
                         (data_dir / "videos" / "face_recognition_short_hamilton_clip.mp4").read_bytes(),
                         [Action.TURN_LEFT, Action.BLINK], limits=LIMITS)
    assert not res.report.passed
    assert set(res.report.reasons) & {ReasonCode.LIVENESS_FACE_LOST.value, ReasonCode.LIVENESS_TRACK_JUMP.value,
                                      ReasonCode.LIVENESS_MULTIPLE_FACES.value,
                                      ReasonCode.LIVENESS_IDENTITY_CHANGED.value}


def _attacks(data_dir):
    out = []
    for e in _events(data_dir):
        if "spoof" in e["file"]:
            out.append(((data_dir / "videos" / e["file"]).resolve(), _own_actions(e)))
    manifest = json.loads((data_dir / "spoof" / "simulated" / "manifest.json").read_text())
    for it in manifest["items"]:
        im = it["imitates"]
        turns = im.get("turns") or ([im["turn"]] if isinstance(im.get("turn"), dict) else [])
        acts = sorted([(t["start"], t["direction"]) for t in turns] + [(b, "blink") for b in im.get("blink_times", [])])
        imitated: list[Action] = []
        for _, a in acts:
            if Action(a) not in imitated:
                imitated.append(Action(a))
        out.append((data_dir / "spoof" / "simulated" / it["file"], imitated))
    return out


def test_every_replay_print_and_cutout_attack_fails_a_drawn_challenge(runtime, data_dir):
    attacks = _attacks(data_dir)
    assert len(attacks) >= 11
    accepted = []
    for path, imitated in attacks:
        challenge = list(imitated)
        if Action.BLINK not in challenge:
            challenge.append(Action.BLINK)
        if not any(a.is_turn for a in challenge):
            challenge.insert(0, Action.TURN_LEFT)
        res = check_liveness(runtime.engine, runtime.policy, path.read_bytes(), challenge, limits=LIMITS)
        if res.report.passed:
            accepted.append(path.name)
    assert accepted == []
