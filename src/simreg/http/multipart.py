"""multipart/form-data parsed in memory, within limits.

Starlette's form parser spools file parts larger than 1 MB to temporary files
on disk; a face video or ID portrait must never touch the disk, so uploads are
read here: the body is streamed with a byte cap (a huge upload is refused while
it arrives, before it is held), then split into parts held as ``bytes``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers
from starlette.requests import Request

from ..domain.errors import InputError
from ..domain.reasons import ReasonCode
from .errors import error_response

if TYPE_CHECKING:  # a TypedDict the package declares for type checkers only
    from python_multipart.multipart import MultipartCallbacks


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)

    def text(self) -> str:
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError(ReasonCode.REGISTRATION_FIELD, f"field {self.name!r} is not UTF-8 text") from None


def _invalid(message: str) -> InputError:
    return InputError(ReasonCode.REGISTRATION_FIELD, message, 400)  # a refinement (http/errors.REFINED)


def request_cap(settings) -> int:
    """The largest request body the service reads: a registration's form (the
    largest video and portrait, and 256 KiB for the other fields)."""
    return settings.max_video_bytes + settings.max_image_bytes + 256 * 1024


def _too_large(max_bytes: int) -> InputError:
    return InputError(ReasonCode.MEDIA_TOO_LARGE, f"the request is larger than {max_bytes} bytes")


class BodyCap:
    """ASGI middleware: no request body, on any route, past ``max_bytes`` (the
    largest form a registration may send).  A declared ``Content-Length`` over it
    is refused at once, before a byte of the body is read; a streamed body, as soon
    as it passes it.  Both are 413 ``MEDIA.TOO_LARGE`` in the envelope (a JSON
    route's body would otherwise be buffered whole, whatever its size)."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            err = _too_large(self.max_bytes)
            return await error_response(Request(scope), err.code, err.message)(scope, receive, send)
        seen = 0

        async def capped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _too_large(self.max_bytes)  # the app's handler answers (http/errors.py)
            return message

        await self.app(scope, capped, send)


async def read_body(request, max_bytes: int) -> bytes:
    """The request body, refused with ``MEDIA.TOO_LARGE`` (413) once it passes ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(max_bytes)
    return bytes(body)


MEDIA_FIELDS = frozenset({"portrait", "video"})


def parse_form(body: bytes, content_type: str | None, max_field_bytes: int = 64 * 1024,
               media_fields: frozenset[str] = MEDIA_FIELDS) -> dict[str, Part]:
    """Parts by name (a repeated name is refused).  Every part but the named media
    fields (which the body cap bounds) is limited to ``max_field_bytes``, whether
    or not the client sent it with a filename."""
    ctype, params = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise InputError(ReasonCode.MEDIA_UNSUPPORTED_FORMAT, "send multipart/form-data")
    parts: dict[str, Part] = {}
    state: dict = {"headers": {}, "field": b"", "value": b"", "part": None}

    def on_part_begin():
        state["headers"] = {}

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][state["field"].lower()] = state["value"]
        state["field"], state["value"] = b"", b""

    def on_headers_finished():
        disp, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        name = opts.get(b"name")
        if disp != b"form-data" or not name:
            raise _invalid("every part needs a Content-Disposition: form-data name")
        name_s = name.decode("utf-8", "replace")
        if name_s in parts:
            raise _invalid(f"field {name_s!r} appears twice")
        filename = opts.get(b"filename")
        ct = state["headers"].get(b"content-type")
        state["part"] = parts[name_s] = Part(name_s, filename.decode("utf-8", "replace") if filename else None,
                                             ct.decode("latin-1") if ct else None)

    def on_part_data(data, start, end):
        part = state["part"]
        part.data += data[start:end]
        if part.name not in media_fields and len(part.data) > max_field_bytes:
            raise _invalid(f"field {part.name!r} is longer than {max_field_bytes} bytes")

    callbacks: MultipartCallbacks = {"on_part_begin": on_part_begin, "on_header_field": on_header_field,
                 "on_header_value": on_header_value, "on_header_end": on_header_end,
                 "on_headers_finished": on_headers_finished, "on_part_data": on_part_data}
    try:  # the constructor checks the boundary too (FormParserError is the base of the parse errors)
        parser = MultipartParser(params[b"boundary"], callbacks)
        parser.write(body)
        parser.finalize()
    except FormParserError:
        raise _invalid("the multipart body is malformed") from None
    return parts
