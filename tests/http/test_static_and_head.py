"""The counter's files and pages at the edges of routing: a doubled slash is not
a file, HEAD answers as GET does, and every refusal is in the envelope.  No
models, no database."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fake_engine import fake_runtime
from simreg.http.app import create_app
from simreg.http.ui import CSP

ENVELOPE = {"code", "message", "request_id"}


@pytest.fixture(scope="module")
def client():
    return TestClient(create_app(runtime=fake_runtime()))


@pytest.mark.parametrize("path", ["/static//style.css", "/static///style.css", "/static/x//style.css",
                                  "/static/style.css/", "/static/dashboard.html"])
def test_a_path_that_is_not_exactly_a_file_is_a_404_in_the_envelope(client, path):
    r = client.get(path)
    assert r.status_code == 404, path
    assert set(r.json()) == ENVELOPE and r.json()["code"] == "ROUTE.NOT_FOUND"


@pytest.mark.parametrize("path", ["/", "/dashboard", "/static/style.css"])
def test_head_answers_as_get_does_without_a_body(client, path):
    get, head = client.get(path), client.head(path)
    assert get.status_code == head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "etag", "cache-control", "content-security-policy"):
        assert head.headers[name] == get.headers[name], name
    assert head.headers["content-security-policy"] == CSP


def test_a_method_a_page_does_not_take_is_a_405_in_the_envelope(client):
    for path in ("/", "/static/style.css"):
        r = client.post(path, content=b"x")
        assert r.status_code == 405 and set(r.json()) == ENVELOPE
        assert r.json()["code"] == "ROUTE.METHOD_NOT_ALLOWED"
