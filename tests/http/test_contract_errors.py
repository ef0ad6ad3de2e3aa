"""Requests the OpenAPI document calls invalid are refused in the one envelope,
with a specific code: bodies that are not JSON, routes and methods that do not
exist, parameters of the wrong type or shape, fields outside their published
patterns (multipart forms included).  No models are loaded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from fake_engine import fake_runtime
from service_support import make_service, media, registration_form
from simreg.domain.access import Role
from simreg.http.app import create_app


@pytest.fixture(scope="module")
def svc(tmp_path_factory):
    s = make_service(fake_runtime(), f"sqlite:///{tmp_path_factory.mktemp('c') / 'db.sqlite3'}")
    s.add_numbers(["+8613800138000", "+8613800138001"])
    with s.client:
        yield s
    s.close()


def _envelope(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "message", "request_id"} and body["code"] == code, body
    assert body["request_id"] == r.headers["x-request-id"]
    return body


def test_a_body_that_is_not_json_is_refused_in_the_envelope(svc):
    h = svc.auth(Role.ADMIN)
    _envelope(svc.client.post("/v1/admin/outlets", content=b"{not json", headers={**h, "Content-Type":
                                                                                  "application/json"}),
              400, "REQUEST.MALFORMED")
    _envelope(svc.client.post("/v1/admin/outlets", content=b"\xff\xfe", headers={**h, "Content-Type":
                                                                                 "application/json"}),
              400, "REQUEST.MALFORMED")
    _envelope(svc.client.post("/v1/admin/outlets", content=b"name=x", headers={**h, "Content-Type": "text/plain"}),
              415, "MEDIA.UNSUPPORTED_FORMAT")
    _envelope(svc.client.post("/v1/admin/outlets", json=["a list"], headers=h), 422, "REQUEST.INVALID")


def test_unknown_routes_and_methods_are_refused_in_the_envelope(svc):
    _envelope(svc.client.get("/v1/no-such-thing"), 404, "ROUTE.NOT_FOUND")
    r = svc.client.delete("/v1/admin/outlets", headers=svc.auth(Role.ADMIN))
    _envelope(r, 405, "ROUTE.METHOD_NOT_ALLOWED")
    assert r.headers["allow"] == "POST"


@pytest.mark.parametrize("query", ["since=0.5", "since=1700000000", "since=2026-11-29", "since=2026-11-29T08:00:00",
                                   "since=2026-13-01T00:00:00Z"])
def test_the_report_takes_only_an_rfc3339_instant(svc, query):
    _envelope(svc.client.get(f"/v1/reports/outlets?{query}", headers=svc.auth(Role.AUDITOR)), 422, "REQUEST.INVALID")


def test_the_report_takes_an_rfc3339_instant(svc):
    r = svc.client.get("/v1/reports/outlets?since=2026-11-29T08:00:00%2B08:00", headers=svc.auth(Role.AUDITOR))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("query", ["limit=1.0", "limit=%2B5", "limit=1_0", "after=0.5", "limit=%201"])
def test_integer_parameters_take_digits_only(svc, query):
    _envelope(svc.client.get(f"/v1/audit/entries?{query}", headers=svc.auth(Role.AUDITOR)), 422, "REQUEST.INVALID")
    assert svc.client.get("/v1/audit/entries?limit=5&after=-1", headers=svc.auth(Role.AUDITOR)).status_code == 200


@pytest.mark.parametrize("number", ["138 0013 8000", "１３８００１３８０００", "+86-138-0013-8000", "0013800138000",
                                    "12345"])
def test_phone_numbers_outside_the_published_pattern_are_number_invalid(svc, number):
    _envelope(svc.client.post("/v1/numbers", json={"numbers": [number]}, headers=svc.auth(Role.ADMIN)),
              422, "NUMBER.INVALID")


def test_a_phone_number_in_a_path_outside_the_pattern_is_number_invalid(svc):
    r = svc.client.post("/v1/numbers/138-0013-8000/state", json={"state": "suspended", "reason": "lost card"},
                        headers=svc.auth(Role.ADMIN))
    _envelope(r, 422, "NUMBER.INVALID")


def _alternative(svc, **fields):
    body = {"id_type": "cn_resident", "id_number": "11010519491231002X", "name": "王芳", "id_expiry": "long_term",
            "consent": {"text_version": "v3", "accepted_at": "2026-11-29T08:15:00+08:00"},
            "statement": "customer declines face recognition", **fields}
    return svc.client.post("/v1/registrations/alternative", json=body,
                           headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": "alt-shape"})


@pytest.mark.parametrize("fields,code", [
    ({"id_number": "110105 19491231 002X"}, "ID.FORMAT"),
    ({"id_number": "１１０１０５１９４９１２３１００２Ｘ"}, "ID.FORMAT"),
    ({"id_expiry": "2031.05.01"}, "ID.EXPIRY_INVALID"),
    ({"birth_date": 19491231}, "ID.BIRTH_DATE"),
    ({"sex": "female"}, "ID.SEX_INVALID"),
    ({"phone_number": "138 0013 8000"}, "NUMBER.INVALID"),
    ({"consent": {"text_version": "v3", "accepted_at": 1700000000}}, "REQUEST.INVALID"),
])
def test_alternative_path_fields_outside_their_patterns_get_their_codes(svc, fields, code):
    _envelope(_alternative(svc, **fields), 422, code)


def test_an_idempotency_key_over_128_characters_is_refused(svc):
    body = {"id_type": "cn_resident", "id_number": "11010519491231002X", "name": "王芳", "id_expiry": "long_term",
            "consent": {"text_version": "v3", "accepted_at": "2026-11-29T08:15:00+08:00"},
            "statement": "customer declines face recognition"}
    r = svc.client.post("/v1/registrations/alternative", json=body, headers={**svc.auth(Role.SUPERVISOR),
                                                                            "Idempotency-Key": "k" * 129})
    _envelope(r, 400, "IDEMPOTENCY.KEY_MISSING")


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 240), (128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.mark.parametrize("fields,code", [
    ({"id_number": "１１０１０５１９４９１２３１００２Ｘ"}, "ID.FORMAT"),
    ({"id_number": " 11010519491231002X"}, "ID.FORMAT"),
    ({"id_expiry": "长期"}, "ID.EXPIRY_INVALID"),
    ({"birth_date": "19491231"}, "ID.BIRTH_DATE"),
    ({"sex": "m"}, "ID.SEX_INVALID"),
    ({"phone_number": "+86 138 0013 8000"}, "NUMBER.INVALID"),
    ({"mirrored": "yes"}, "REGISTRATION.FIELD"),
    ({"mirrored": ""}, "REGISTRATION.FIELD"),
    ({"prompt_times": "1e3,2"}, "REGISTRATION.FIELD"),
    ({"prompt_times": "inf,2"}, "REGISTRATION.FIELD"),
    ({"id_type": "drivers_licence"}, "REGISTRATION.FIELD"),
    ({"name": "王" * 201}, "ID.NAME_TOO_LONG"),
])
def test_registration_form_fields_outside_their_patterns_get_their_codes(svc, fields, code):
    session = svc.session(["turn_left", "turn_right"])
    r = svc.client.post("/v1/registrations", data=registration_form(session, **fields),
                        files=media(_jpeg(), b"video"), headers={**svc.auth(), "Idempotency-Key": "form-shape"})
    _envelope(r, 422, code)


def test_an_empty_optional_form_field_counts_as_absent(svc):
    """A browser form sends its empty inputs; the schema allows them (``^$|...``)."""
    session = svc.session(["turn_left", "turn_right"])
    r = svc.client.post("/v1/registrations", data=registration_form(session, phone_number="", sex=""),
                        files=media(_jpeg(), b"video"), headers={**svc.auth(), "Idempotency-Key": "form-empty"})
    _envelope(r, 422, "FACE.NOT_FOUND")  # through to the (fake) engine: the form was accepted


def test_every_route_documents_the_shared_error_statuses():
    spec = create_app().openapi()
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            statuses = set(op["responses"])
            if path.startswith("/v1/"):
                assert {"401", "503"} <= statuses, (method, path)
            if op.get("parameters") or op.get("requestBody"):
                assert "422" in statuses, (method, path)
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                assert {"400", "415"} <= statuses, (method, path)


def test_the_published_patterns_are_the_enforced_ones():
    """The schemas carry the patterns the server checks (one source: http/contract.py)."""
    from simreg.http import contract

    spec = create_app().openapi()
    alt = spec["components"]["schemas"]["AlternativeRequest"]["properties"]
    assert alt["id_number"]["anyOf"][0]["pattern"] == contract.ID_NUMBER_PATTERN
    assert alt["phone_number"]["anyOf"][0]["pattern"] == contract.PHONE_PATTERN
    form = spec["paths"]["/v1/registrations"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["properties"]["id_number"]["pattern"] == "^$|" + contract.ID_NUMBER_PATTERN
    assert form["properties"]["mirrored"] == {"type": "boolean", "description": form["properties"]["mirrored"][
        "description"]}
    numbers = spec["components"]["schemas"]["NumbersRequest"]["properties"]["numbers"]["items"]
    assert numbers["pattern"] == contract.PHONE_PATTERN
    since = next(p for p in spec["paths"]["/v1/reports/outlets"]["get"]["parameters"] if p["name"] == "since")
    assert since["schema"]["anyOf"][0]["format"] == "date-time"
