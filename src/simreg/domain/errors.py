"""One exception tree.  Outcomes are values; exceptions are for bad input,
policy refusals that stop the flow, and infrastructure faults."""

from __future__ import annotations

from .reasons import ReasonCode


class SimregError(Exception):
    """Base error: carries a stable reason code and a message safe to show a client."""

    http_status = 500

    def __init__(self, code: ReasonCode, message: str):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self):  # survives pickling (errors raised in worker processes)
        return _rebuild, (type(self), self.code, self.message, self.http_status)


def _rebuild(cls, code, message, http_status):
    err = cls.__new__(cls)
    SimregError.__init__(err, code, message)
    err.http_status = http_status
    return err


class InputError(SimregError):
    """The client sent something unusable (4xx)."""

    http_status = 422

    def __init__(self, code: ReasonCode, message: str, http_status: int | None = None):
        super().__init__(code, message)
        if http_status is not None:
            self.http_status = http_status


class PolicyError(SimregError):
    """The policy refuses, or the policy file itself is unusable."""

    http_status = 409


class InfraError(SimregError):
    """A fault of ours (model files, storage); retryable (503)."""

    http_status = 503


class Busy(InfraError):
    """This server is at its bound of work in flight: 503 with the seconds to wait
    (refused at once rather than queued past the client's deadline)."""

    def __init__(self, code: ReasonCode, message: str, retry_after_s: int):
        super().__init__(code, message)
        self.retry_after_s = retry_after_s


class Throttled(PolicyError):
    """The policy refuses for now (a lockout): 429 with the seconds to wait."""

    http_status = 429

    def __init__(self, code: ReasonCode, message: str, retry_after_s: int):
        super().__init__(code, message)
        self.retry_after_s = retry_after_s
