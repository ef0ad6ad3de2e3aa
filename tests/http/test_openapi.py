"""The OpenAPI document is the API's contract: every endpoint is in it with a
summary, examples of its success body and of every error it documents, and
every error is the one {code, message, request_id} shape."""

from __future__ import annotations

import pytest

from simreg.http.app import create_app

SPEC = create_app().openapi()
OPERATIONS = [(path, method, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()]


def _resolve(obj):
    if isinstance(obj, dict):
        if "$ref" in obj:
            return _resolve(SPEC["components"]["schemas"][obj["$ref"].rsplit("/", 1)[1]])
        return {k: _resolve(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_resolve(v) for v in obj]
    return obj


def _has_example(obj) -> bool:
    if isinstance(obj, dict):
        if obj.get("example") is not None or obj.get("examples"):
            return True
        return any(_has_example(v) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_example(v) for v in obj)
    return False


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_endpoint_has_a_summary_and_examples(path, method, op):
    assert op.get("summary"), "no summary"
    ok = {c: r for c, r in op["responses"].items() if c.startswith("2")}
    assert ok and all(_has_example(_resolve(r)) for r in ok.values()), "no example of the success body"
    if "requestBody" in op:
        assert _has_example(_resolve(op["requestBody"])), "no example of the request body"
    for code, r in op["responses"].items():
        if code[0] in "45":
            schema = r["content"]["application/json"]
            assert _has_example(schema), f"no example for {code}"
            assert set(_resolve(schema.get("schema", {})).get("properties", {})) in (set(), {"code", "message",
                                                                                             "request_id"})


def test_the_api_covers_the_registration_service():
    paths = set(SPEC["paths"])
    for needed in ["/v1/sessions", "/v1/registrations", "/v1/registrations/{registration_id}", "/v1/reviews",
                   "/v1/registrations/alternative", "/v1/citizen/lookups", "/v1/audit/proof/{index}", "/healthz",
                   "/status"]:
        assert needed in paths
