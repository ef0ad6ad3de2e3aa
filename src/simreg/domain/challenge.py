"""Capture challenges: a server-drawn random sequence of actions.

Direction convention, stated once: ``turn_left`` means the subject turns the
head to **their own left**.  In an unmirrored camera image the face then turns
toward the image's right; a browser preview is usually mirrored, so the capture
declares ``mirrored`` and the analysis flips yaw back before judging.
"""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .errors import InputError
from .reasons import ReasonCode


class Action(str, Enum):
    TURN_LEFT = "turn_left"
    TURN_RIGHT = "turn_right"
    BLINK = "blink"
    # Reserved for later: NOD = "nod", OPEN_MOUTH = "open_mouth"; the matcher
    # handles any action whose events the analysis can report.

    @property
    def is_turn(self) -> bool:
        return self in (Action.TURN_LEFT, Action.TURN_RIGHT)


DRAWABLE = (Action.TURN_LEFT, Action.TURN_RIGHT, Action.BLINK)


@dataclass(frozen=True)
class Challenge:
    actions: tuple[Action, ...]
    nonce: str
    issued_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


def draw_challenge(now: datetime, ttl_s: float = 120.0, rng: secrets.SystemRandom | None = None,
                   min_len: int = 2, max_len: int = 4) -> Challenge:
    """A random sequence of ``min_len``..``max_len`` actions from a CSPRNG, with at
    least one turn and one blink and no action twice in a row, plus a 128-bit nonce."""
    rng = rng or secrets.SystemRandom()
    while True:
        n = rng.randint(min_len, max_len)
        actions = [rng.choice(DRAWABLE) for _ in range(n)]
        if (any(a.is_turn for a in actions) and Action.BLINK in actions
                and all(a != b for a, b in itertools.pairwise(actions))):
            break
    return Challenge(tuple(actions), secrets.token_urlsafe(16), now, now + timedelta(seconds=ttl_s))


def parse_actions(text: str) -> tuple[Action, ...]:
    """``"turn_left,blink"`` -> actions; an unknown action is an input error."""
    try:
        actions = tuple(Action(a.strip()) for a in text.split(",") if a.strip())
    except ValueError:
        raise InputError(ReasonCode.CHALLENGE_INVALID,
                         f"actions must be among {', '.join(a.value for a in Action)}") from None
    if not actions:
        raise InputError(ReasonCode.CHALLENGE_INVALID, "the challenge has no action")
    return actions
