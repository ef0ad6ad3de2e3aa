"""Admission control: a bound on face analyses in flight in this process.

An analysis (portrait + challenge video) takes a face-engine worker for a second
or more.  Past as many analyses as the engine has workers, a new one would only
queue behind the others, and under a burst the queue outgrows any request
deadline: every client waits, then times out.  So past the bound a request is
refused at once with 503 ``ENGINE.BUSY`` and ``Retry-After``; a load balancer
or the terminal retries, possibly on another replica, and ``/readyz`` reports
the process saturated meanwhile.

The gate is taken only around the biometric stages: the cheap refusals before
them (an invalid document, a lockout, the quota) are still answered when busy.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ..domain.errors import Busy
from ..domain.reasons import ReasonCode


class AnalysisGate:
    """At most ``capacity`` analyses at once; the next one is refused, never queued."""

    def __init__(self, capacity: int, retry_after_s: int = 2):
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.retry_after_s = retry_after_s
        self._lock = threading.Lock()
        self._in_flight = 0

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def saturated(self) -> bool:
        return self._in_flight >= self.capacity

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots for the ``with`` block, or raise :class:`Busy`."""
        with self._lock:
            if self._in_flight >= self.capacity:
                raise Busy(ReasonCode.ENGINE_BUSY, f"{self.capacity} analyses are running on this server; "
                                                   "retry shortly", self.retry_after_s)
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1


def analysis_capacity(max_in_flight: int | None, engine) -> int:
    """The bound: ``max_in_flight`` when set (SIMREG_MAX_ANALYSES_IN_FLIGHT), else one
    analysis per face-engine worker process (one for an in-process engine)."""
    if max_in_flight is not None:
        return max_in_flight
    return max(1, int(getattr(engine, "workers", 1) or 1))


def engine_ready(engine) -> bool:
    """Whether the face engine can analyse now: its own ``ready()`` when it has one,
    else whether it loaded its models (an engine is built with them or not at all)."""
    ready = getattr(engine, "ready", None)
    if callable(ready):
        return bool(ready())
    return bool(getattr(engine, "model_ids", ()))
