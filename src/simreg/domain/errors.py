"""One exception tree.  Outcomes are values; exceptions are for bad input,
policy refusals that stop the flow, and infrastructure faults.

An error carries a code (a member of the ``reasons.Code`` family), a message safe
to show a client, and, when the caller can tell, the seconds after which a retry
may succeed (``retry_after_s``).  It does not choose its HTTP status: the HTTP
layer's one table (``http/errors.py``) maps each code to its status, and the tree
drawn there shows the classes.
"""

from __future__ import annotations

from .reasons import Code


class SimregError(Exception):
    """Base error: carries a stable reason code and a message safe to show a client."""

    def __init__(self, code: Code, message: str, *, retry_after_s: int | None = None):
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.retry_after_s = retry_after_s
        self._http_status: int | None = None  # only the HTTP layer sets one (see InputError)

    @property
    def http_status(self) -> int:
        """The status the HTTP layer's table gives this error (read by callers and
        tests; the domain never chooses it)."""
        from ..http.errors import status_of  # the table is the HTTP layer's

        return status_of(self)

    def __reduce__(self):  # survives pickling (errors raised in engine worker processes)
        return _rebuild, (type(self), self.code, self.message, self.retry_after_s, self._http_status)


def _rebuild(cls, code, message, retry_after_s=None, http_status=None):
    err = cls.__new__(cls)
    SimregError.__init__(err, code, message, retry_after_s=retry_after_s)
    err._http_status = http_status
    return err


class InputError(SimregError):
    """The client sent something unusable (4xx).

    ``http_status`` is for the HTTP layer's own raise sites only, where one code
    takes a second status (a multipart body that cannot be parsed is a 400
    ``REGISTRATION.FIELD``; an empty upload in the form, a 422 ``MEDIA.EMPTY``);
    ``http/errors.py`` lists these refinements, and a test keeps other layers
    from passing one."""

    def __init__(self, code: Code, message: str, http_status: int | None = None):
        super().__init__(code, message)
        self._http_status = http_status


class PolicyError(SimregError):
    """The policy refuses, or the policy file itself is unusable."""


class InfraError(SimregError):
    """A fault of ours (model files, storage, keys); retryable."""


class Busy(InfraError):
    """This server is at its bound of work in flight, with the seconds to wait
    (refused at once rather than queued past the client's deadline)."""

    def __init__(self, code: Code, message: str, retry_after_s: int):
        super().__init__(code, message, retry_after_s=retry_after_s)


class Throttled(PolicyError):
    """The policy refuses for now (a lockout), with the seconds to wait."""

    def __init__(self, code: Code, message: str, retry_after_s: int):
        super().__init__(code, message, retry_after_s=retry_after_s)
