"""FastAPI app factory.  Models are built in the lifespan, never at import."""

from __future__ import annotations

import logging
import uuid
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..config import Settings
from ..domain.errors import SimregError

log = logging.getLogger(__name__)


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

    @app.middleware("http")
    async def request_id(request: Request, call_next):
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
        try:
            response = await call_next(request)
        except Exception:  # the last line of defence: never a traceback to a client
            log.exception("unhandled error", extra={"request_id": rid})
            response = JSONResponse({"code": "INTERNAL", "message": "internal error", "request_id": rid},
                                    status_code=500)
        response.headers["x-request-id"] = rid
        return response

    @app.exception_handler(SimregError)
    async def simreg_error(request: Request, exc: SimregError):
        headers = {"Retry-After": "5"} if exc.http_status == 503 else None
        return JSONResponse({"code": exc.code.value, "message": exc.message,
                             "request_id": getattr(request.state, "request_id", "")},
                            status_code=exc.http_status, headers=headers)

    @app.get("/healthz", summary="Liveness probe", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    async def healthz():
        return {"status": "ok"}

    @app.get("/status", summary="Model ids and file hashes, policy version and hash, database status")
    async def status(request: Request):
        return request.app.state.runtime.status()

    return app
