"""The liveness evaluation protocol (simreg eval liveness): which samples are
judged against which challenge, and how errors are counted."""

from __future__ import annotations

import json

from simreg.eval.liveness import Sample, as_drawn, own_actions, protocol, summarise


def _tree(tmp_path, events, replays=(), stills=()):
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "events.json").write_text(json.dumps(events))
    for kind in ("replay", "print"):
        (tmp_path / "spoof" / kind).mkdir(parents=True, exist_ok=True)
    for name in replays:
        (tmp_path / "spoof" / "replay" / name).write_bytes(b"")
    for name in stills:
        (tmp_path / "spoof" / "print" / name).write_bytes(b"")
    return tmp_path


def _clip(file, blinks=(), turns=(), **kw):
    return {"file": file, "verified_by_eye": True, "single_face": True, "blinks": list(blinks),
            "turns": [{"direction": d, "start": s, "end": e} for d, s, e in turns], **kw}


def test_own_actions_are_the_distinct_actions_in_order_of_first_appearance():
    assert own_actions([3.0, 5.0], [{"direction": "turn_left", "start": 1.0}]) == ["turn_left", "blink"]
    assert own_actions([], []) == []


def test_an_attack_is_challenged_as_the_service_draws_a_challenge():
    assert as_drawn(["turn_right"]) == ["turn_right", "blink"]
    assert as_drawn(["blink"]) == ["turn_left", "blink"]


def test_the_protocol_judges_bona_fide_clips_wrong_challenges_and_every_attack(tmp_path):
    root = _tree(tmp_path, [
        _clip("a.mp4", blinks=[0.5], turns=[("turn_left", 2.0, 3.0)]),          # blink, then turn_left
        _clip("b.mp4", blinks=[0.5, 4.0], turns=[("turn_left", 2.0, 3.0)]),    # blinks again after the turn
        _clip("c.mp4", single_face=False, blinks=[1.0]),                        # not single-face: left out
        _clip("../spoof/replay/r.mp4", turns=[("turn_right", 1.0, 2.0)], bona_fide=False),  # its imitation
    ], replays=["r.mp4"], stills=["p1.jpg"])
    got = {(s.file, s.kind): s for s in protocol(root)}
    assert got[("videos/a.mp4", "bona-fide")].challenge == ["blink", "turn_left"]
    assert got[("videos/a.mp4", "wrong-challenge")].challenge == ["blink", "turn_left", "turn_right"]
    wrong_order = got[("videos/a.mp4", "wrong-order")]
    assert wrong_order.challenge == ["turn_left", "blink"] and wrong_order.prompt_times == [0.0, 2.5]
    # b blinks again after turning: reversing its order with prompts would not be a wrong order
    assert ("videos/b.mp4", "wrong-order") not in got
    assert not any(f == "videos/c.mp4" for f, _ in got)
    assert got[("spoof/replay/r.mp4", "attack")].challenge == ["turn_right", "blink"]
    assert got[("spoof/replay/r.mp4", "attack")].attack_type == "replay-video"
    assert got[("spoof/print/p1.jpg", "attack")].attack_type == "print-still"


def test_errors_are_refused_bona_fide_and_accepted_attacks():
    samples = [Sample("v1", "bona-fide", None, ["blink"], accepted=True),
               Sample("v2", "bona-fide", None, ["blink"], accepted=False),
               Sample("p1", "attack", "print-still", ["blink"], accepted=False),
               Sample("r1", "attack", "replay-video", ["blink"], accepted=True),
               Sample("v1", "wrong-challenge", None, ["blink", "turn_left"], accepted=False)]
    s = summarise(samples)
    assert s["bpcer"]["rate"] == 0.5 and s["bpcer"]["files"] == ["v2"]
    assert s["apcer"]["print-still"]["errors"] == 0 and s["apcer"]["replay-video"]["files"] == ["r1"]
    assert s["apcer_all_attacks"]["rate"] == 0.5
    assert s["apcer_wrong_challenge"]["rate"] == 0.0 and s["apcer_wrong_order"]["rate"] is None
