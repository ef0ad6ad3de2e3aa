"""The legal quota: at most N numbers per person per operator (one deployment of
simreg serves one operator).  Active, reserved (awaiting review) and suspended
numbers all count: each is registered under the person's ID."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .errors import PolicyError
from .reasons import ReasonCode

COUNTED_STATES = ("reserved", "active", "suspended")


@dataclass(frozen=True)
class QuotaRule:
    default_limit: int = 5
    per_jurisdiction: Mapping[str, int] = field(default_factory=dict)

    def limit_for(self, jurisdiction: str) -> int:
        return int(self.per_jurisdiction.get(jurisdiction, self.default_limit))


def check_quota(held: int, limit: int) -> None:
    """Raise ``QUOTA.EXCEEDED`` (409) when a person holding ``held`` numbers may not get another."""
    if held >= limit:
        raise PolicyError(ReasonCode.QUOTA_EXCEEDED,
                          f"this ID already holds {held} of at most {limit} numbers with this operator")
