"""FastAPI app factory.  Models are built in the lifespan, never at import."""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import asynccontextmanager
from dataclasses import replace

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool

from ..adapters.sql.database import database_status
from ..app.admission import engine_ready
from ..config import Settings
from ..domain.access import Clerk, Role
from ..domain.challenge import draw_challenge, parse_actions
from ..domain.errors import InputError
from ..domain.flash import flash_plan
from ..domain.reasons import ReasonCode
from ..logs import reset_request_id, set_request_id
from .admin import router as admin_router
from .auth import current_clerk, require
from .citizen import router as citizen_router
from .contract import complete_error_statuses
from .errors import error_response, install_error_handlers, internal_error
from .multipart import BodyCap, request_cap
from .registrations import router as registrations_router
from .schemas import (
    ErrorResponse,
    FlashPublic,
    HealthPublic,
    ReadyPublic,
    SessionRequest,
    SessionResponse,
    StatusPublic,
    error_responses,
)
from .ui import install_ui

log = logging.getLogger(__name__)
access = logging.getLogger("simreg.access")

def create_app(settings: Settings | None = None, runtime=None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if runtime is not None:
            app.state.runtime = runtime
        else:
            from ..runtime import build_runtime

            app.state.runtime = build_runtime(settings, with_database=True)
        try:
            yield
        finally:
            if runtime is None:
                app.state.runtime.close()

    app = FastAPI(title="simreg", version=__import__("simreg").__version__, lifespan=lifespan,
                  description="Real-name SIM registration with face portrait matching.")
    if runtime is not None:  # injected (tests, embedding): usable without the lifespan
        app.state.runtime = runtime

    # no body past the largest registration form, on any route (inside the
    # request-id middleware below, so its refusals carry the request's id)
    app.add_middleware(BodyCap, max_bytes=request_cap(getattr(runtime, "settings", None) or settings))

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        rid = request.headers.get("x-request-id", "")
        if not (0 < len(rid) <= 64 and rid.replace("-", "").isascii() and rid.replace("-", "").isalnum()):
            rid = uuid.uuid4().hex  # a client's id is echoed only when it is short and plain
        request.state.request_id = rid
        token = set_request_id(rid)
        t0 = time.perf_counter()
        response = None
        try:
            response = await call_next(request)
        except Exception:  # the last line of defence: never a traceback to a client
            log.exception("unhandled error", extra={"request_id": rid})
            response = internal_error(rid)
        finally:
            # The access line is ours (uvicorn's is off): it carries this request's
            # id, and the route's template rather than the raw path, so a number in
            # a URL never reaches the log.
            route = request.scope.get("route")
            access.info("%s %s %s", request.method, getattr(route, "path", "-"),
                        response.status_code if response is not None else 500,
                        extra={"request_id": rid, "duration_ms": round((time.perf_counter() - t0) * 1e3, 1)})
            reset_request_id(token)
        response.headers["x-request-id"] = rid
        return response

    install_error_handlers(app)  # the one mapping of errors to HTTP (http/errors.py)

    @app.post("/v1/sessions", status_code=201, response_model=SessionResponse, summary="Open a capture session",
              responses=error_responses(401, 403, 422))
    async def create_session(request: Request, body: SessionRequest | None = None,
                             clerk: Clerk = Depends(current_clerk)):
        """Draw a random challenge (2-4 actions, at least one turn and one blink) with a
        nonce and an expiry, bound to the calling clerk; a registration uses it once."""
        require(clerk, Role.CLERK)  # sessions serve the counter: registrations and citizen lookups
        rt = request.app.state.runtime
        now = rt.clock()
        challenge = draw_challenge(now, rt.settings.session_ttl_s)
        if body is not None and body.challenge is not None:
            if rt.settings.env != "development":
                raise InputError(ReasonCode.CHALLENGE_NOT_ALLOWED,
                                 "a request may name its challenge only in development mode")
            challenge = replace(challenge, actions=parse_actions(",".join(body.challenge)))
        session_id = rt.sessions.create(challenge, clerk, tuple(rt.engine.model_ids), rt.policy.sha256)
        plan = flash_plan(challenge.nonce)
        return SessionResponse(session_id=session_id, challenge=[a.value for a in challenge.actions],
                               nonce=challenge.nonce, expires_at=challenge.expires_at,
                               flash=FlashPublic(colours=plan.hex(), segment_s=plan.segment_s))

    app.include_router(registrations_router)
    app.include_router(citizen_router)
    app.include_router(admin_router)
    install_ui(app)  # the counter's pages at / and /dashboard, their files at /static, GET /v1/me

    @app.get("/healthz", response_model=HealthPublic,
             summary="Liveness probe",
             responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    async def healthz():
        """The process is alive and answers (no dependency is checked: a database
        outage must not make an orchestrator restart every replica)."""
        return {"status": "ok"}

    @app.get("/readyz", response_model=ReadyPublic,
             summary="Readiness probe: database reachable, models loaded, not saturated",
             responses={200: {"content": {"application/json": {"example": {
                 "status": "ready", "database": True, "models": True, "analyses_in_flight": 1,
                 "max_analyses_in_flight": 2}}}},
                 503: {"model": ErrorResponse, "content": {"application/json": {"example": {
                     "code": "ENGINE.BUSY", "message": "not ready: saturated (2 of 2 analyses in flight)",
                     "request_id": "6f1c0c8e2b8e4b1f9d1c5a3e7b2a9d40"}}}}})
    async def readyz(request: Request):
        """For a load balancer: 200 when this process should get new work; 503 with
        the first reason it should not (STORAGE.UNAVAILABLE, ENGINE.UNAVAILABLE,
        ENGINE.BUSY) and Retry-After."""
        rt = request.app.state.runtime
        database = rt.database is not None and (await run_in_threadpool(database_status, rt.database))["ok"]
        models = engine_ready(rt.engine)
        gate = rt.admission
        body = {"status": "ready", "database": database, "models": models,
                "analyses_in_flight": gate.in_flight, "max_analyses_in_flight": gate.capacity}
        if not database:
            code, why = ReasonCode.STORAGE_UNAVAILABLE, "the database does not answer"
        elif not models:
            code, why = ReasonCode.ENGINE_UNAVAILABLE, "the face engine is not loaded"
        elif gate.saturated:
            code, why = ReasonCode.ENGINE_BUSY, f"saturated ({gate.in_flight} of {gate.capacity} analyses in flight)"
        else:
            return body
        return error_response(request, code, "not ready: " + why,
                              retry_after_s=gate.retry_after_s if code is ReasonCode.ENGINE_BUSY else None)

    @app.get("/status", response_model=StatusPublic,
             summary="Model ids and file hashes, policy version and hash, database status",
             responses={200: {"content": {"application/json": {"example": {
                 "version": "0.1.0", "policy": {"version": "2026-12-04.9", "sha256": "3f1e..."},
                 "models": {"detector": "yunet-2023mar-int8bq", "embedders": ["sface-2021dec-int8bq+flip"]},
                 "database": {"backend": "sqlite", "ok": True},
                 "audit": {"checkpoint_public_key": {"key_id": "5d0c9e3a77e1ab12",
                                                     "pem": "-----BEGIN PUBLIC KEY-----..."},
                           "entries": 1042}}}}}} | error_responses(503))
    async def status(request: Request):
        return request.app.state.runtime.status()

    # the statuses the shared machinery (authentication, validation, storage) can
    # give every route, documented on each (contract.complete_error_statuses)
    base_openapi = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            complete_error_statuses(base_openapi())
        assert app.openapi_schema is not None  # base_openapi() stores what it builds
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend the schema
    return app
