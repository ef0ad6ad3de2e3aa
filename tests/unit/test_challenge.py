"""Tests of simreg.domain.challenge: drawing, expiry and parsing of capture challenges."""

from __future__ import annotations

import base64
import itertools
import random
import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from simreg.domain.challenge import DRAWABLE, Action, Challenge, draw_challenge, parse_actions
from simreg.domain.errors import InputError
from simreg.domain.reasons import ReasonCode

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
DRAWS = 500


def _well_formed(actions: tuple[Action, ...]) -> None:
    assert 2 <= len(actions) <= 4, actions
    assert any(a.is_turn for a in actions), actions
    assert Action.BLINK in actions, actions
    assert all(a != b for a, b in itertools.pairwise(actions)), actions
    assert all(a in DRAWABLE for a in actions), actions


@pytest.fixture(scope="module")
def many() -> list[Challenge]:
    return [draw_challenge(NOW) for _ in range(DRAWS)]


# --- draw_challenge -------------------------------------------------------------


def test_every_drawn_challenge_has_2_to_4_actions_a_turn_a_blink_and_no_repeat(many):
    for ch in many:
        _well_formed(ch.actions)


def test_the_nonce_is_url_safe_and_carries_at_least_128_bits(many):
    for ch in many:
        assert re.fullmatch(r"[A-Za-z0-9_-]+", ch.nonce), ch.nonce
        raw = base64.urlsafe_b64decode(ch.nonce + "=" * (-len(ch.nonce) % 4))
        assert len(raw) * 8 >= 128


def test_nonces_never_repeat(many):
    assert len({ch.nonce for ch in many}) == DRAWS


def test_expiry_is_issue_time_plus_ttl():
    ch = draw_challenge(NOW, ttl_s=30)
    assert ch.issued_at == NOW
    assert ch.expires_at == NOW + timedelta(seconds=30)
    assert draw_challenge(NOW).expires_at == NOW + timedelta(seconds=120)  # the default ttl


def test_a_challenge_is_valid_until_just_before_expiry_and_expired_from_that_instant():
    ch = draw_challenge(NOW, ttl_s=60)
    assert not ch.expired(NOW)
    assert not ch.expired(ch.expires_at - timedelta(microseconds=1))
    assert ch.expired(ch.expires_at)
    assert ch.expired(ch.expires_at + timedelta(seconds=1))


def test_over_many_draws_every_length_and_every_action_appears(many):
    lengths = Counter(len(ch.actions) for ch in many)
    assert set(lengths) == {2, 3, 4}, lengths
    actions = Counter(a for ch in many for a in ch.actions)
    assert set(actions) == set(DRAWABLE), actions
    # Neither direction of turn is starved (expected share of turns ~50/50).
    turns = actions[Action.TURN_LEFT] + actions[Action.TURN_RIGHT]
    assert 0.35 < actions[Action.TURN_LEFT] / turns < 0.65, actions
    # Both a turn and a blink can come first.
    firsts = Counter(ch.actions[0] for ch in many)
    assert Action.BLINK in firsts and (Action.TURN_LEFT in firsts or Action.TURN_RIGHT in firsts), firsts


def test_a_seeded_rng_reproduces_the_same_actions():
    a = [draw_challenge(NOW, rng=random.Random(1234)).actions for _ in range(3)]
    b = [draw_challenge(NOW, rng=random.Random(1234)).actions for _ in range(3)]
    assert a == b
    seq1 = random.Random(99)
    seq2 = random.Random(99)
    assert [draw_challenge(NOW, rng=seq1).actions for _ in range(20)] == \
           [draw_challenge(NOW, rng=seq2).actions for _ in range(20)]
    # ... and different seeds do not all give the same challenge.
    assert len({draw_challenge(NOW, rng=random.Random(s)).actions for s in range(50)}) > 5


def test_the_nonce_does_not_come_from_the_injected_rng():
    # A caller-provided (possibly predictable) rng must not make the nonce predictable.
    a = draw_challenge(NOW, rng=random.Random(1234))
    b = draw_challenge(NOW, rng=random.Random(1234))
    assert a.actions == b.actions
    assert a.nonce != b.nonce


class ScriptedRng:
    """An rng that plays back fixed answers to randint() and choice()."""

    def __init__(self, lengths, picks):
        self.lengths, self.picks = list(lengths), list(picks)

    def randint(self, a, b):
        n = self.lengths.pop(0)
        assert a <= n <= b
        return n

    def choice(self, seq):
        pick = self.picks.pop(0)
        assert pick in seq
        return pick


def test_draws_breaking_a_rule_are_rejected_and_redrawn():
    L, R, B = Action.TURN_LEFT, Action.TURN_RIGHT, Action.BLINK
    rng = ScriptedRng(
        lengths=[2, 2, 3, 3],
        picks=[B, B,          # no turn
               L, R,          # no blink
               L, L, B,       # the same action twice in a row
               R, B, L],      # fine
    )
    ch = draw_challenge(NOW, rng=rng)
    assert ch.actions == (R, B, L)
    assert rng.lengths == [] and rng.picks == []


def test_the_length_bounds_are_passed_to_the_rng():
    rng = random.Random(5)
    for _ in range(50):
        assert len(draw_challenge(NOW, rng=rng, min_len=3, max_len=3).actions) == 3


# --- parse_actions -----------------------------------------------------------------


def test_parse_accepts_a_comma_separated_list_with_spaces():
    assert parse_actions("turn_left, blink") == (Action.TURN_LEFT, Action.BLINK)
    assert parse_actions(" turn_right ,blink,  turn_left ") == (Action.TURN_RIGHT, Action.BLINK, Action.TURN_LEFT)


def test_parse_round_trips_a_drawn_challenge(many):
    for ch in many[:50]:
        assert parse_actions(",".join(a.value for a in ch.actions)) == ch.actions


@pytest.mark.parametrize("text", ["turn_left, nod", "wink", "turn_left;blink", "blink, turn left"])
def test_parse_refuses_an_unknown_action_as_challenge_invalid(text):
    with pytest.raises(InputError) as exc:
        parse_actions(text)
    assert exc.value.code == ReasonCode.CHALLENGE_INVALID
    assert exc.value.http_status == 422


@pytest.mark.parametrize("text", ["", "   ", ",", " , ,"])
def test_parse_refuses_an_empty_challenge_as_challenge_invalid(text):
    with pytest.raises(InputError) as exc:
        parse_actions(text)
    assert exc.value.code == ReasonCode.CHALLENGE_INVALID
    assert exc.value.http_status == 422
