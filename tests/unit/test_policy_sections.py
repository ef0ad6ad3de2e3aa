"""The shipped policy states every rule of the liveness challenge, the tracking
and passive PAD, so that the policy hash in an audit entry pins the rules that
made its decision; and the code uses the policy's values, not its defaults."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from simreg.domain.liveness import LivenessParams
from simreg.domain.pad import PadParams
from simreg.domain.policy import TrackingParams, parse_policy

SHIPPED = Path(__file__).resolve().parents[2] / "src" / "simreg" / "policy" / "default.json"


def _doc() -> dict:
    return json.loads(SHIPPED.read_text(encoding="utf-8"))


@pytest.mark.parametrize("section, params", [("liveness", LivenessParams), ("tracking", TrackingParams),
                                              ("pad", PadParams)])
def test_the_shipped_policy_states_every_rule_of_each_section(section, params):
    stated = set(_doc()[section]) - {"calibration"}
    assert stated == {f.name for f in dataclasses.fields(params)}


@pytest.mark.parametrize("section, field, value", [("liveness", "turn_angle", 25.0),
                                                   ("tracking", "detect_every", 3),
                                                   ("pad", "min_yaw_delta", 10.0)])
def test_a_rule_read_from_the_policy_is_used_and_changes_the_hash(section, field, value):
    doc = _doc()
    before = parse_policy(json.dumps(doc))
    doc[section][field] = value
    after = parse_policy(json.dumps(doc))
    assert getattr(getattr(after, section), field) == value != getattr(getattr(before, section), field)
    assert after.sha256 != before.sha256


def test_a_policy_without_the_sections_falls_back_to_the_defaults():
    doc = {k: v for k, v in _doc().items() if k not in ("liveness", "tracking", "pad")}
    policy = parse_policy(json.dumps(doc))
    assert policy.liveness == LivenessParams() and policy.tracking == TrackingParams() and policy.pad == PadParams()


def test_an_unknown_rule_makes_the_policy_invalid():
    from simreg.domain.errors import PolicyError

    doc = _doc()
    doc["liveness"]["blink_speed_of_light"] = 1.0
    with pytest.raises(PolicyError):
        parse_policy(json.dumps(doc))
