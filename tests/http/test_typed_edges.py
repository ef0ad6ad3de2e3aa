"""Typed edges (issue 14 item 6): every route answers through a response model,
so the OpenAPI document states every success body and Schemathesis checks the
answers against it (tests/http/test_api_contract.py); the models describe what
the routes returned before them, key for key."""

from __future__ import annotations

import pytest

from fake_engine import fake_runtime
from service_support import make_service
from simreg.adapters.sql.audit_store import read_rows
from simreg.domain.access import Role
from simreg.http.app import create_app

SPEC = create_app().openapi()
OPERATIONS = [(path, method, op) for path, ops in SPEC["paths"].items() for method, op in ops.items()]


@pytest.mark.parametrize("path,method,op", OPERATIONS, ids=[f"{m.upper()} {p}" for p, m, _ in OPERATIONS])
def test_every_success_body_has_a_schema(path, method, op):
    for code, response in op["responses"].items():
        if code.startswith("2"):
            schema = response["content"]["application/json"].get("schema")
            assert schema, f"{code} has no schema: give the route a response_model"


@pytest.fixture
def service(tmp_path):
    svc = make_service(fake_runtime(), f"sqlite:///{tmp_path / 'db.sqlite3'}")
    yield svc
    svc.close()


def test_the_audit_entries_are_the_stored_rows_as_they_are(service):
    service.add_numbers(["+8613800138000", "+8613800138001"])
    service.access.create_outlet("Counter 9")
    r = service.client.get("/v1/audit/entries", params={"after": 0, "limit": 5}, headers=service.auth(Role.AUDITOR))
    assert r.status_code == 200, r.text
    stored = [row for row in read_rows(service.rt.database) if row["position"] > 0][:5]
    assert stored and r.json() == stored  # details and model_ids: the hashed text, byte for byte
    assert all(isinstance(e["details"], str) and isinstance(e["model_ids"], str) for e in r.json())


def test_an_auditor_reads_a_registration_masked_and_its_scores_as_recorded(service):
    service.add_numbers(["+8613800138000"])
    r = service.client.post("/v1/registrations/alternative", headers={**service.auth(Role.SUPERVISOR),
                                                                       "Idempotency-Key": "k1"}, json={
        "id_type": "cn_resident", "id_number": "11010519491231002X", "name": "王芳", "id_expiry": "long_term",
        "consent": {"text_version": "v3", "accepted_at": "2026-11-29T08:15:00+08:00"},
        "statement": "customer has a facial injury; identity checked against the card"})
    assert r.status_code == 200, r.text
    assert r.json()["scores"] == {}  # the alternative path has none: no section is invented
    rid = r.json()["registration_id"]
    seen = service.client.get(f"/v1/registrations/{rid}", headers=service.auth(Role.SUPERVISOR)).json()
    masked = service.client.get(f"/v1/registrations/{rid}", headers=service.auth(Role.AUDITOR)).json()
    assert seen["phone_number"] == "+8613800138000" and seen["person_id"]
    assert masked["phone_number"] is None and masked["person_id"] is None
    assert masked == {**seen, "phone_number": None, "person_id": None}
    assert service.rt.registry.registration(rid)["phone_number"] == "+8613800138000"  # the view was copied
