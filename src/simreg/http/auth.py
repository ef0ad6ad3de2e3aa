"""Bearer-token authentication: every API call is bound to a clerk and outlet."""

from __future__ import annotations

from fastapi import Request

from ..domain.access import Clerk, Role
from ..domain.errors import InputError
from ..domain.reasons import ReasonCode


def current_clerk(request: Request) -> Clerk:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InputError(ReasonCode.AUTH_MISSING, "send 'Authorization: Bearer <token>'")
    clerk = request.app.state.runtime.access.clerk_for_token(token.strip())
    if clerk is None:
        raise InputError(ReasonCode.AUTH_INVALID, "the token is not valid")
    request.state.clerk = clerk
    return clerk


def require(clerk: Clerk, *roles: Role) -> None:
    if clerk.role not in roles:
        raise InputError(ReasonCode.AUTH_FORBIDDEN, f"the {clerk.role.value} role may not do this")
