"""A decision's scores are typed (domain/decision.Scores) and read as the JSON
they are recorded, audited and answered as: a section absent when it is None."""

from __future__ import annotations

import json

from simreg.domain.decision import LivenessEvent, LivenessScores, MatchScores, Scores


def test_no_scores_is_an_empty_mapping():
    assert dict(Scores()) == {} and len(Scores()) == 0 and Scores() == {}


def test_the_sections_read_typed_and_as_json_in_the_recorded_order():
    s = Scores(liveness=LivenessScores(True, 0.95, None, (LivenessEvent("blink", 1.2, 1.5),)),
               pad={"fused": 0.1235, "rigidity": None},
               match=MatchScores(0.5, 0.43, 0.0001, "sface", "sface@general", 0.37))
    assert s.match is not None and s.match.score == 0.5 and s.liveness is not None and s.liveness.passed
    assert json.dumps(dict(s)) == json.dumps({
        "liveness": {"passed": True, "face_fraction": 0.95, "identity_min_similarity": None,
                     "events": [{"action": "blink", "start": 1.2, "end": 1.5}]},
        "pad": {"fused": 0.1235, "rigidity": None},
        "match": {"score": 0.5, "threshold": 0.43, "target_fmr": 0.0001, "model_id": "sface",
                  "threshold_key": "sface@general", "review_threshold": 0.37}})


def test_without_a_live_face_there_is_no_match_section():
    s = Scores(liveness=LivenessScores(False, 0.1, None), pad={})
    assert list(s) == ["liveness", "pad"] and "match" not in s and s["pad"] == {}
