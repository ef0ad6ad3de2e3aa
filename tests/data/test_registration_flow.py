"""Complete registrations over real HTTP with real videos and portraits from
../shared/data: approved for the same person, rejected for a different one,
review and the supervisor's decision, idempotent retries, the alternative path."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image, ImageFilter
from sqlalchemy import select

from service_support import CHALLENGE, CONSENT, RESIDENT_ID, media, registration_form, serving
from simreg.adapters.sql.schema import audit_entries, numbers
from simreg.domain.access import Role

POOL = ["+8613800138000", "+8613800138001", "+8613800138002"]








@pytest.fixture()
def svc(runtime, database_url):
    with serving(runtime, database_url, POOL) as s:
        yield s


def _register(svc, portrait, video, key, **form):
    sid = svc.session(CHALLENGE)
    return svc.client.post("/v1/registrations", data=registration_form(sid, **form), files=media(portrait, video),
                           headers={**svc.auth(), "Idempotency-Key": key})


def _states(svc) -> dict[str, str]:
    with svc.rt.database.connect() as c:
        return {r.number_masked: r.state for r in c.execute(select(numbers.c.number_masked, numbers.c.state))}


def _audit_actions(svc) -> list[str]:
    with svc.rt.database.connect() as c:
        return list(c.execute(select(audit_entries.c.action).order_by(audit_entries.c.position)).scalars())


def test_the_same_person_is_approved_and_the_number_activated(svc, video, same_person_portrait):
    r = _register(svc, same_person_portrait, video, "a-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "approved" and body["reasons"] == []
    assert body["phone_number"] == POOL[0]
    m = body["scores"]["match"]
    assert m["score"] >= m["threshold"] and m["threshold_key"].endswith("@id-chip")
    assert body["scores"]["liveness"]["passed"] is True
    assert list(_states(svc).values()).count("active") == 1
    assert _audit_actions(svc)[-1] == "registration.decided"
    # the clerk reads it back; the auditor sees it without the number
    got = svc.client.get(f"/v1/registrations/{body['registration_id']}", headers=svc.auth()).json()
    assert got["outcome"] == "approved" and got["phone_number"] == POOL[0]
    seen = svc.client.get(f"/v1/registrations/{body['registration_id']}", headers=svc.auth(Role.AUDITOR)).json()
    assert seen["phone_number"] is None and seen["phone_number_masked"] == "+86138****8000"
    # a retry with the same key returns the first result and registers nothing more
    again = svc.client.post("/v1/registrations", data=registration_form(got["session_id"]),
                            files=media(same_person_portrait, video),
                            headers={**svc.auth(), "Idempotency-Key": "a-1"})
    assert again.status_code == 200, again.text
    assert again.json()["registration_id"] == body["registration_id"] and again.json()["idempotent_replay"]
    assert list(_states(svc).values()).count("active") == 1
    # the session cannot be used again under a new key
    replay = svc.client.post("/v1/registrations", data=registration_form(got["session_id"]),
                             files=media(same_person_portrait, video),
                             headers={**svc.auth(), "Idempotency-Key": "a-2"})
    assert replay.status_code == 409 and replay.json()["code"] == "SESSION.REPLAYED"
    # the same key with a different request is refused
    other = svc.client.post("/v1/registrations", data=registration_form(got["session_id"], name="李雷"),
                            files=media(same_person_portrait, video),
                            headers={**svc.auth(), "Idempotency-Key": "a-1"})
    assert other.status_code == 422 and other.json()["code"] == "IDEMPOTENCY.MISMATCH"


def test_a_different_person_is_rejected_and_nothing_is_activated(svc, video, other_person_portrait):
    r = _register(svc, other_person_portrait, video, "b-1")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "rejected" and body["reasons"] == ["MATCH.BELOW_THRESHOLD"]
    assert body["phone_number"] is None
    assert body["scores"]["match"]["score"] < body["scores"]["match"]["review_threshold"]
    assert set(_states(svc).values()) == {"available"}
    got = svc.client.get(f"/v1/registrations/{body['registration_id']}", headers=svc.auth()).json()
    assert got["outcome"] == "rejected" and got["person_id"] is None


def test_a_poor_portrait_that_does_not_match_goes_to_review_and_a_supervisor_decides(svc, video,
                                                                                       other_person_portrait):
    im = Image.open(io.BytesIO(other_person_portrait)).filter(ImageFilter.GaussianBlur(3))
    buf = io.BytesIO()
    im.save(buf, "JPEG")
    r = _register(svc, buf.getvalue(), video, "c-1", phone_number="13800138002")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "review", body
    assert "MATCH.BELOW_THRESHOLD" in body["reasons"] and any(x.startswith("QUALITY.") for x in body["reasons"])
    assert body["phone_number"] == POOL[2]
    assert _states(svc)["+86138****8002"] == "reserved"
    # clerks cannot see the queue; the supervisor can
    assert svc.client.get("/v1/reviews", headers=svc.auth()).status_code == 403
    queue = svc.client.get("/v1/reviews", headers=svc.auth(Role.SUPERVISOR)).json()
    assert [q["registration_id"] for q in queue] == [body["registration_id"]]
    no_reason = svc.client.post(f"/v1/reviews/{body['registration_id']}", json={"decision": "reject", "reason": ""},
                                headers=svc.auth(Role.SUPERVISOR))
    assert no_reason.status_code == 422 and no_reason.json()["code"] == "REVIEW.REASON_REQUIRED"
    d = svc.client.post(f"/v1/reviews/{body['registration_id']}",
                        json={"decision": "reject", "reason": "not the person on the card"},
                        headers=svc.auth(Role.SUPERVISOR))
    assert d.status_code == 200, d.text
    assert d.json()["outcome"] == "rejected" and "DECISION.SUPERVISOR_REJECTED" in d.json()["reasons"]
    assert _states(svc)["+86138****8002"] == "available"
    assert svc.client.get("/v1/reviews", headers=svc.auth(Role.SUPERVISOR)).json() == []
    twice = svc.client.post(f"/v1/reviews/{body['registration_id']}", json={"decision": "approve", "reason": "x" * 5},
                            headers=svc.auth(Role.SUPERVISOR))
    assert twice.status_code == 409 and twice.json()["code"] == "REVIEW.NOT_PENDING"
    view = svc.client.get(f"/v1/registrations/{body['registration_id']}", headers=svc.auth(Role.SUPERVISOR)).json()
    assert view["reviewed_by"] and view["review_reason"] == "not the person on the card"
    assert _audit_actions(svc)[-2:] == ["registration.reviewed", "registration.viewed"]


def test_the_alternative_path_registers_without_a_face_on_the_supervisors_word(svc):
    body = {"id_type": "cn_resident", "id_number": RESIDENT_ID, "name": "王芳", "id_expiry": "long_term",
            "consent": json.loads(CONSENT), "statement": "customer declines face recognition (PIPL art. 29)"}
    clerk = svc.client.post("/v1/registrations/alternative", json=body,
                            headers={**svc.auth(), "Idempotency-Key": "alt-0"})
    assert clerk.status_code == 403
    short = svc.client.post("/v1/registrations/alternative", json={**body, "statement": "no"},
                            headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": "alt-1"})
    assert short.status_code == 422 and short.json()["code"] == "ALTERNATIVE.REASON_REQUIRED"
    r = svc.client.post("/v1/registrations/alternative", json=body,
                        headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": "alt-2"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["outcome"] == "approved" and out["reasons"] == ["DECISION.ALTERNATIVE_PATH"]
    view = svc.client.get(f"/v1/registrations/{out['registration_id']}", headers=svc.auth(Role.SUPERVISOR)).json()
    assert view["path"] == "alternative" and view["statement"].startswith("customer declines")
    assert _audit_actions(svc)[-2:] == ["registration.alternative", "registration.viewed"]
