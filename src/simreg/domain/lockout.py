"""Lockouts after repeated failed attempts: pure rules over failure times.

An ID (or a clerk) is locked once ``max_failures`` failed attempts fall within
``window_s`` seconds; the lock lasts ``lock_s`` seconds from the failure that
completed the run.  A failed attempt is one that reached the biometric stages
and was not approved or sent to review (see registration.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LockoutRule:
    max_failures: int = 5
    window_s: float = 180.0
    lock_s: float = 900.0

    @property
    def lookback(self) -> timedelta:
        """How far back failures can still matter at any instant."""
        return timedelta(seconds=self.window_s + self.lock_s)


def locked_until(failures: Sequence[datetime], now: datetime, rule: LockoutRule) -> datetime | None:
    """When the lock in force at ``now`` ends, or ``None`` when there is none."""
    times = sorted(failures)
    n = rule.max_failures
    until = None
    for i in range(n - 1, len(times)):
        if (times[i] - times[i - n + 1]).total_seconds() <= rule.window_s:
            end = times[i] + timedelta(seconds=rule.lock_s)
            if until is None or end > until:
                until = end
    return until if until is not None and until > now else None
