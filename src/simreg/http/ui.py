"""The counter's pages: the clerk's capture page at ``/`` and the supervisors'
and auditors' dashboard at ``/dashboard``, plain HTML, CSS and JavaScript from
``http/static`` (no CDN, no build step, works offline), and ``GET /v1/me``,
which tells a page whose token it holds.

Every page and asset carries a strict Content-Security-Policy (scripts and
styles from this origin only, no inline script; media from ``blob:`` for the
camera preview) and cache headers: pages are revalidated on every load, and
assets are referenced with ``?v=<hash of the static files>``, so an upgrade is
seen at once while an unchanged asset costs a 304 at most.

The files are read once, when the app is built, and served from memory; an
unknown path is a 404 in the API's error envelope.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.routing import Route, Router

from ..domain.access import Clerk
from ..domain.reasons import ReasonCode
from .auth import current_clerk
from .errors import error_response
from .schemas import MeResponse, error_responses

STATIC_DIR = Path(__file__).parent / "static"

#: The Content-Security-Policy of every page and asset: nothing from another
#: origin, no inline script or style, the camera preview from blob: URLs.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # the capture page needs the camera (this origin only); nothing needs the rest
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=(), payment=(), usb=()",
}

#: Pages: revalidated on every load (they name the assets' version).
PAGE_CACHE = "no-cache"
#: Assets: named with ?v=<hash>, so a day's caching never serves a stale mix.
ASSET_CACHE = "public, max-age=86400"

PAGES = {"/": "index.html", "/dashboard": "dashboard.html"}

_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


def load_assets(directory: Path = STATIC_DIR) -> tuple[dict[str, Asset], str]:
    """The files of ``directory`` (flat) by name, and the version: a short hash of
    all of them, which the pages put into their assets' URLs."""
    files: dict[str, Asset] = {}
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")):
        body = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + body + b"\0")
        media_type = _TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        files[path.name] = Asset(body, media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')
    return files, digest.hexdigest()[:12]


def _respond(asset: Asset, cache: str, if_none_match: str | None) -> Response:
    headers = {**SECURITY_HEADERS, "Cache-Control": cache, "ETag": asset.etag}
    if if_none_match and asset.etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


class StaticAssets:
    """The ASGI app mounted at ``/static``: a Starlette router of one route,
    ``GET``/``HEAD /{name}``, over the files held in memory.  ``name`` is one path
    segment (so no ``//x``, ``a/b`` or ``..``), and the pages are served at their
    routes only, never as files; anything else is the router's 404 or 405, in
    the envelope (http/errors.py)."""

    def __init__(self, files: dict[str, Asset]):
        self.files = files
        self.router = Router(routes=[Route("/{name}", self.asset, methods=["GET", "HEAD"])],
                             redirect_slashes=False)

    async def asset(self, request: Request) -> Response:
        name = request.path_params["name"]
        found = self.files.get(name) if not name.endswith(".html") else None
        if found is None:
            return error_response(request, ReasonCode.ROUTE_NOT_FOUND, "no such page or file",
                                  headers=SECURITY_HEADERS)
        return _respond(found, ASSET_CACHE, request.headers.get("if-none-match"))

    async def __call__(self, scope, receive, send) -> None:
        await self.router(scope, receive, send)


def build_router(files: dict[str, Asset], version: str) -> APIRouter:
    router = APIRouter()
    pages = {}
    for route, name in PAGES.items():
        body = files[name].body.replace(b"__V__", version.encode())
        pages[route] = Asset(body, files[name].media_type, '"' + hashlib.sha256(body).hexdigest()[:20] + '"')

    def page(route: str):
        async def serve(request: Request) -> Response:
            return _respond(pages[route], PAGE_CACHE, request.headers.get("if-none-match"))
        return serve

    for route in PAGES:  # HEAD as GET (FastAPI's routes do not add it themselves)
        router.add_api_route(route, page(route), methods=["GET", "HEAD"], include_in_schema=False)


    @router.get("/v1/me", response_model=MeResponse, summary="Who holds this token: name, role, outlet",
                responses=error_responses(401, ok=(200, {
                    "clerk_id": "clk_1f9d1c5a3e7b2a9d", "name": "王芳", "role": "clerk",
                    "outlet_id": "out_4b1f9d1c5a3e7b2a", "outlet": "Counter 7, Xidan",
                    "capture": {"max_video_duration_s": 15.0, "max_video_bytes": 20971520,
                                "max_image_bytes": 15728640}})))
    async def me(request: Request, clerk: Clerk = Depends(current_clerk)):
        """For the counter's pages: the member of staff the bearer token belongs to
        (any role), the outlet's name, and the capture limits the page must respect
        (a recording is stopped before the service's duration limit)."""
        rt = request.app.state.runtime
        outlet = await run_in_threadpool(rt.access.outlet_name, clerk.outlet_id)
        s = rt.settings
        return MeResponse(clerk_id=clerk.clerk_id, name=clerk.name, role=clerk.role.value,
                          outlet_id=clerk.outlet_id, outlet=outlet,
                          capture={"max_video_duration_s": s.max_video_duration_s,
                                   "max_video_bytes": s.max_video_bytes, "max_image_bytes": s.max_image_bytes})

    return router


def install_ui(app: FastAPI, directory: Path = STATIC_DIR) -> None:
    """Add the pages, ``/v1/me`` and the ``/static`` files to ``app`` (ordinary
    routes: an unknown path or method is the router's 404 or 405 in the envelope)."""
    files, version = load_assets(directory)
    app.include_router(build_router(files, version))
    app.mount("/static", StaticAssets(files), name="static")
