"""Phone numbers: their format and their lifecycle.

    available -> reserved -> active -> suspended -> active
         ^          |           |           |
         |          v           v           v
         +------ released <-----+-----------+
    (released numbers become available again after a cooling-off period)

``reserved`` holds a number for a registration awaiting manual review.
"""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from .errors import InputError, PolicyError
from .reasons import ReasonCode


class NumberState(str, Enum):
    AVAILABLE = "available"
    RESERVED = "reserved"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    RELEASED = "released"


TRANSITIONS: dict[NumberState, frozenset[NumberState]] = {
    NumberState.AVAILABLE: frozenset({NumberState.RESERVED, NumberState.ACTIVE}),
    NumberState.RESERVED: frozenset({NumberState.ACTIVE, NumberState.AVAILABLE}),
    NumberState.ACTIVE: frozenset({NumberState.SUSPENDED, NumberState.RELEASED}),
    NumberState.SUSPENDED: frozenset({NumberState.ACTIVE, NumberState.RELEASED}),
    NumberState.RELEASED: frozenset({NumberState.AVAILABLE}),
}


def check_transition(current: NumberState, target: NumberState) -> None:
    if target not in TRANSITIONS[current]:
        raise PolicyError(ReasonCode.NUMBER_TRANSITION, f"a number cannot go from {current.value} to {target.value}")


_CN_MOBILE = re.compile(r"1[3-9]\d{9}")
_E164 = re.compile(r"\+[1-9]\d{7,14}")


def normalise_phone(text: str, default_country: str = "86") -> str:
    """E.164 form (``+8613812345678``).  Accepts full-width digits, spaces, dashes
    and brackets; an 11-digit mainland mobile number without a prefix gets
    ``+86``.  Raises ``NUMBER.INVALID``."""
    s = unicodedata.normalize("NFKC", str(text)).strip()
    s = re.sub(r"[\s\-().]", "", s)
    if s.startswith("00"):
        s = "+" + s[2:]
    if not s.startswith("+"):
        s = f"+{default_country}{s}" if _CN_MOBILE.fullmatch(s) and default_country == "86" else "+" + s
    if not _E164.fullmatch(s):
        raise InputError(ReasonCode.NUMBER_INVALID, "the phone number is not a valid E.164 number")
    if s.startswith("+86") and not _CN_MOBILE.fullmatch(s[3:]):
        raise InputError(ReasonCode.NUMBER_INVALID, "not a mainland China mobile number")
    return s


def mask_phone(number: str) -> str:
    """``+86138****5678``: what a clerk's screen or a log may show."""
    return number[:-8] + "****" + number[-4:] if len(number) > 8 else "****"
