"""Uploads over the limit are refused before they are read whole: 413
``MEDIA.TOO_LARGE`` in the envelope, answered while the client is still sending.

A real server (uvicorn, in a thread) and a raw socket, so that what is tested is
what a client on the network sees: with a declared ``Content-Length`` far over
the limit, the answer comes after a few kilobytes of a body that is never sent
whole; with a chunked body (no declared length), it comes once the limit is
passed, long before the client's body ends.  No models; the answer's timing is
never measured, only the order of events."""

from __future__ import annotations

import json
import select
import socket
import threading
import time

import pytest
import uvicorn

from fake_engine import fake_runtime
from service_support import make_service
from simreg.domain.access import Role

LIMITS = {"max_video_bytes": 200_000, "max_image_bytes": 100_000}  # the cap: their sum + 256 KiB
CAP = 200_000 + 100_000 + 256 * 1024
CHUNK = 64 * 1024
PATHS = ["/v1/registrations", "/v1/citizen/lookups"]  # the multipart uploads
JSON_PATHS = ["/v1/sessions", "/v1/registrations/alternative"]  # bodies FastAPI would otherwise buffer whole


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    svc = make_service(fake_runtime(), f"sqlite:///{tmp_path_factory.mktemp('db') / 'simreg.sqlite3'}", **LIMITS)
    config = uvicorn.Config(svc.client.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(600):  # start-up guard, not a measurement
        if srv.started:
            break
        time.sleep(0.05)
    assert srv.started, "uvicorn did not start"
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield svc, port
    srv.should_exit = True
    thread.join(timeout=30)
    svc.close()


def _head(svc, path: str, extra: str) -> bytes:
    ctype = "application/json" if path in JSON_PATHS else "multipart/form-data; boundary=xyz"
    role = Role.SUPERVISOR if path.endswith("/alternative") else Role.CLERK
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {svc.tokens[role]}\r\nIdempotency-Key: big-1\r\n"
            f"Content-Type: {ctype}\r\n{extra}\r\n").encode()


def _response(sock: socket.socket) -> tuple[int, dict[str, str], dict]:
    """Read one HTTP/1.1 response with a Content-Length body."""
    sock.settimeout(60)  # a hang guard: a server that never answers fails here
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"the connection closed without a response: {data!r}"
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    while len(body) < int(headers["content-length"]):
        more = sock.recv(65536)
        assert more
        body += more
    return status, headers, json.loads(body)


def _assert_too_large(status, headers, body):
    assert status == 413
    assert set(body) == {"code", "message", "request_id"} and body["code"] == "MEDIA.TOO_LARGE"
    assert body["request_id"] == headers["x-request-id"]


@pytest.mark.parametrize("path", PATHS + JSON_PATHS)
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server, path):
    svc, port = server
    declared = 10 * 1024 ** 3  # 10 GiB, of which a few kilobytes are ever sent
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head(svc, path, f"Content-Length: {declared}\r\n"))
        sock.sendall((b'{"a": "' if path in JSON_PATHS else b"--xyz\r\n") + b"x" * 4096)
        status, headers, body = _response(sock)
    _assert_too_large(status, headers, body)


@pytest.mark.parametrize("path", PATHS + JSON_PATHS)
def test_a_streamed_body_is_refused_once_it_passes_the_limit_not_when_it_ends(server, path):
    svc, port = server
    planned = 50 * CAP  # what the client would send if nobody stopped it
    sent = 0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(_head(svc, path, "Transfer-Encoding: chunked\r\n"))
        chunk = f"{CHUNK:x}\r\n".encode() + b"x" * CHUNK + b"\r\n"
        answered = False
        while sent < planned:
            readable, writable, _ = select.select([sock], [sock], [], 60)
            if readable:
                answered = True
                break
            assert writable, "the server neither reads nor answers"
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):  # it answered and closed: read the answer
                answered = True
                break
            sent += CHUNK
        assert answered, "the server read the whole oversized body without answering"
        status, headers, body = _response(sock)
    _assert_too_large(status, headers, body)
    assert sent < planned // 2  # answered while most of the body was still to come
