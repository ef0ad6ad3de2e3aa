"""Every error path of POST /v1/registrations over real HTTP: a specific code, a
fitting status, {code, message, request_id}, no traceback, and nothing stored."""

from __future__ import annotations

import io
import json
from datetime import UTC, timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select

from service_support import CONSENT, RESIDENT_ID, make_service, media, registration_form, serving
from simreg.adapters.sql.schema import numbers, registrations
from simreg.domain.access import Role
from simreg.domain.records import DecisionRecord

CHALLENGE = ["turn_left", "turn_right"]


@pytest.fixture()
def svc(runtime, database_url):
    with serving(runtime, database_url, ["+8613800138000", "+8613800138001"]) as s:
        yield s


def _jpeg(color=(128, 128, 128), size=(200, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def _post(svc, form, files=None, key="k-1", role=Role.CLERK, **kw):
    headers = {**svc.auth(role), **({"Idempotency-Key": key} if key else {})}
    return svc.client.post("/v1/registrations", data=form, files=files if files is not None else media(_jpeg(), b"x"),
                           headers=headers, **kw)


def _assert_error(r, status, code):
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code, body
    assert set(body) == {"code", "message", "request_id"}
    assert body["request_id"] == r.headers["x-request-id"]
    assert "Traceback" not in r.text and "File \"" not in r.text


def _stored_registrations(svc) -> int:
    with svc.rt.database.connect() as c:
        return c.execute(select(func.count()).select_from(registrations)).scalar_one()


def test_without_a_token_the_request_is_refused(svc):
    r = svc.client.post("/v1/registrations", data={}, headers={"Idempotency-Key": "k"})
    _assert_error(r, 401, "AUTH.MISSING")


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.AUDITOR, Role.ADMIN])
def test_roles_that_may_not_register_are_forbidden(svc, role):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE)), role=role), 403, "AUTH.FORBIDDEN")


def test_a_json_body_is_refused_as_the_wrong_format(svc):
    r = svc.client.post("/v1/registrations", json={"session_id": "x"},
                        headers={**svc.auth(), "Idempotency-Key": "k"})
    _assert_error(r, 415, "MEDIA.UNSUPPORTED_FORMAT")


def test_a_malformed_multipart_body_is_refused(svc):
    r = svc.client.post("/v1/registrations", content=b"--b\r\nContent-Disposition: nonsense\r\n\r\nx\r\n--b--\r\n",
                        headers={**svc.auth(), "Idempotency-Key": "k",
                                 "Content-Type": "multipart/form-data; boundary=b"})
    _assert_error(r, 400, "REGISTRATION.FIELD")


def test_an_upload_larger_than_the_limits_is_refused_before_it_is_held(runtime, tmp_path):
    s = make_service(runtime, f"sqlite:///{tmp_path / 'db.sqlite3'}", max_video_bytes=50_000, max_image_bytes=50_000)
    with s.client:
        sid = s.session(CHALLENGE)
        r = _post(s, registration_form(sid), media(_jpeg(), b"\0" * 400_000))
    _assert_error(r, 413, "MEDIA.TOO_LARGE")


def test_a_missing_idempotency_key_is_refused(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE)), key=None), 400, "IDEMPOTENCY.KEY_MISSING")


def test_missing_fields_are_named(svc):
    form = registration_form(svc.session(CHALLENGE))
    del form["name"]
    r = _post(svc, form)
    _assert_error(r, 422, "REGISTRATION.FIELD")
    assert "name" in r.json()["message"]
    r = _post(svc, registration_form(svc.session(CHALLENGE)), files={"portrait": ("p.jpg", _jpeg(), "image/jpeg")})
    _assert_error(r, 422, "REGISTRATION.FIELD")
    assert "video" in r.json()["message"]


def test_consent_is_required_and_must_be_well_formed(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), consent=None)), 422, "CONSENT.REQUIRED")
    bad = json.dumps({"text_version": "v3", "accepted_at": "yesterday"})
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), consent=bad), key="k-2"), 422,
                  "CONSENT.INVALID")
    naive = json.dumps({"text_version": "v3", "accepted_at": "2026-11-29T08:15:00"})
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), consent=naive), key="k-3"), 422,
                  "CONSENT.INVALID")


@pytest.mark.parametrize("number,code", [
    ("110105194912310021", "ID.CHECKSUM"),
    ("110105194902300028", "ID.BIRTH_DATE"),
    ("990105194912310028", "ID.REGION"),
    ("11010519491231002", "ID.FORMAT"),
])
def test_a_malformed_resident_id_gets_its_own_code(svc, number, code):
    from simreg.domain.id_document import resident_id_check_char

    if code != "ID.CHECKSUM" and len(number) == 18:  # only the intended fault
        number = number[:17] + resident_id_check_char(number[:17])
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), id_number=number)), 422, code)


def test_an_expired_document_is_refused(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), id_expiry="2020-01-01")), 422, "ID.EXPIRED")


def test_an_unknown_id_type_is_refused(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), id_type="library_card")), 422,
                  "REGISTRATION.FIELD")


def test_an_unknown_session_is_refused(svc):
    _assert_error(_post(svc, registration_form("ses_000000000000000000000000")), 404, "SESSION.UNKNOWN")


def test_another_clerks_session_is_unknown_to_this_clerk(svc):
    _, token = svc.access.create_clerk(svc.outlet_id, "second clerk", Role.CLERK)
    r = svc.client.post("/v1/sessions", json={"challenge": CHALLENGE}, headers={"Authorization": f"Bearer {token}"})
    _assert_error(_post(svc, registration_form(r.json()["session_id"])), 404, "SESSION.UNKNOWN")


def test_an_expired_session_is_refused(svc):
    sid = svc.session(CHALLENGE)
    svc.clock.offset = timedelta(seconds=svc.rt.settings.session_ttl_s + 1)
    _assert_error(_post(svc, registration_form(sid)), 410, "SESSION.EXPIRED")


def test_a_corrupt_portrait_is_refused_with_a_media_code(svc):
    r = _post(svc, registration_form(svc.session(CHALLENGE)), media(b"\xff\xd8\xff\xe0 not really a jpeg", b"x"))
    _assert_error(r, 422, "MEDIA.UNDECODABLE")


def test_an_empty_video_is_refused(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE)), media(_jpeg(), b"")), 422, "MEDIA.EMPTY")


def test_a_portrait_without_a_face_is_refused(svc, data_dir):
    video = (data_dir / "videos" / "liveportrait_d0.mp4").read_bytes()
    r = _post(svc, registration_form(svc.session(CHALLENGE)), media(_jpeg(), video))
    _assert_error(r, 422, "FACE.NOT_FOUND")
    assert "portrait" in r.json()["message"]


def test_a_video_that_is_not_a_video_is_refused(svc, data_dir):
    portrait = (data_dir / "faces" / "fr_Barack_Obama" / "1.jpg").read_bytes()
    r = _post(svc, registration_form(svc.session(CHALLENGE)), media(portrait, b"RIFF....WAVEfmt " + b"\0" * 2000))
    assert r.status_code in (415, 422), r.text
    assert r.json()["code"].startswith("MEDIA.")


def test_an_invalid_or_unavailable_phone_number_is_refused(svc):
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), phone_number="12345")), 422,
                  "NUMBER.INVALID")
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), phone_number="13912345678"), key="k-2"),
                  409, "NUMBER.UNAVAILABLE")


def test_an_empty_pool_is_refused_before_any_biometrics(runtime, tmp_path):
    s = make_service(runtime, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    with s.client:
        _assert_error(_post(s, registration_form(s.session(CHALLENGE))), 409, "NUMBER.POOL_EMPTY")


def test_the_quota_is_checked_before_any_biometrics(svc):
    """Fill the quota through the supervisor's alternative path, then the face path is refused early."""
    svc.rt.settings.quota_default = 2
    for i in range(2):
        r = svc.client.post("/v1/registrations/alternative", headers={**svc.auth(Role.SUPERVISOR),
                                                                      "Idempotency-Key": f"alt-{i}"},
                            json={"id_type": "cn_resident", "id_number": RESIDENT_ID, "name": "王芳",
                                  "id_expiry": "long_term", "consent": json.loads(CONSENT),
                                  "statement": "customer declines face recognition"})
        assert r.status_code == 200 and r.json()["outcome"] == "approved", r.text
    before = _stored_registrations(svc)
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE))), 409, "QUOTA.EXCEEDED")
    assert _stored_registrations(svc) == before


def test_failed_attempts_lock_the_id_out_with_retry_after(svc, data_dir):
    portrait = (data_dir / "faces" / "fr_Barack_Obama" / "1.jpg").read_bytes()
    for i in range(5):
        r = _post(svc, registration_form(svc.session(CHALLENGE)), media(portrait, b"\0" * 64), key=f"k-{i}")
        assert r.status_code == 422 and r.json()["code"].startswith("MEDIA."), r.text
    r = _post(svc, registration_form(svc.session(CHALLENGE)), media(portrait, b"\0" * 64), key="k-5")
    _assert_error(r, 429, "LOCKOUT.ID")
    assert 0 < int(r.headers["retry-after"]) <= svc.rt.settings.lockout_s
    # a different ID at the same counter is not locked by this ID's failures ...
    other = "11010519491231" + "0037"
    from simreg.domain.id_document import resident_id_check_char
    other = other[:17] + resident_id_check_char(other[:17])
    r = _post(svc, registration_form(svc.session(CHALLENGE), id_number=other), media(portrait, b"\0" * 64), key="o")
    assert r.json()["code"] != "LOCKOUT.ID"
    # ... and the lock ends after the configured time
    svc.clock.offset = timedelta(seconds=svc.rt.settings.lockout_s + 1)
    r = _post(svc, registration_form(svc.session(CHALLENGE)), media(portrait, b"\0" * 64), key="k-6")
    assert r.json()["code"].startswith("MEDIA."), r.text


def test_a_clerk_with_many_failures_is_locked_out(svc, data_dir):
    from simreg.domain.id_document import resident_id_check_char

    portrait = (data_dir / "faces" / "fr_Barack_Obama" / "1.jpg").read_bytes()
    ids = []
    for i in range(6):
        stem = f"1101051949123100{i}"[:17]
        ids.append(stem + resident_id_check_char(stem))
    for i, number in enumerate(ids[:5]):
        _post(svc, registration_form(svc.session(CHALLENGE), id_number=number), media(portrait, b"\0" * 64),
              key=f"c-{i}")
    r = _post(svc, registration_form(svc.session(CHALLENGE), id_number=ids[5]), media(portrait, b"\0" * 64),
              key="c-5")
    _assert_error(r, 429, "LOCKOUT.CLERK")


def test_an_idempotency_key_reused_for_another_request_is_refused(svc):
    sid = svc.session(CHALLENGE)
    _post(svc, registration_form(sid), key="same")  # fails (corrupt media): the claim is released
    r = _post(svc, registration_form(sid, name="李雷"), key="same")
    assert r.json()["code"] != "IDEMPOTENCY.MISMATCH"  # a failed request does not hold its key


def test_no_error_leaves_a_registration_or_a_number_behind(svc, data_dir):
    portrait = (data_dir / "faces" / "fr_Barack_Obama" / "1.jpg").read_bytes()
    _post(svc, registration_form(svc.session(CHALLENGE)), media(portrait, b"\0" * 64))
    _post(svc, registration_form("ses_nope"))
    assert _stored_registrations(svc) == 0
    with svc.rt.database.connect() as c:
        states = c.execute(select(numbers.c.state)).scalars().all()
    assert states == ["available", "available"]


def test_twenty_simultaneous_approved_registrations_over_http_activate_exactly_the_quota(svc, monkeypatch):
    """The HTTP path end to end (sessions, idempotency claims, the decision's
    transaction) with the biometric stages stubbed to "approved": the quota, not
    the face engine, is what is under test here."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import simreg.app.pipeline
    from simreg.domain.decision import Decision
    from simreg.domain.reasons import Outcome

    monkeypatch.setattr(simreg.app.pipeline, "assess_registration",
                        lambda *a, **k: simreg.app.pipeline.Assessment(Decision(Outcome.APPROVED, (), {}), None, None))
    svc.add_numbers([f"+86139001390{i:02d}" for i in range(25)])
    sessions = [svc.session(CHALLENGE) for _ in range(20)]
    barrier = threading.Barrier(20)

    def go(i):
        barrier.wait()
        return _post(svc, registration_form(sessions[i]), key=f"q-{i}")

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(go, range(20)))
    approved = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 409]
    assert len(approved) == svc.rt.settings.quota_default == 5, [r.text for r in responses]
    assert len(refused) == 15 and {r.json()["code"] for r in refused} == {"QUOTA.EXCEEDED"}
    with svc.rt.database.connect() as c:
        assert c.execute(select(func.count()).select_from(numbers).where(numbers.c.state == "active")).scalar_one() == 5
    assert _stored_registrations(svc) == 5


def test_a_database_failure_is_a_503_with_nothing_stored(svc, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from simreg.adapters.sql.registry import Registry

    def down(*a, **k):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Registry, "failures", down)
    r = _post(svc, registration_form(svc.session(CHALLENGE)))
    _assert_error(r, 503, "STORAGE.UNAVAILABLE")
    assert r.headers["retry-after"] == "5"
    assert "server closed" not in r.text
    assert _stored_registrations(svc) == 0


def test_each_request_is_logged_once_with_its_own_id_and_without_the_raw_path(svc, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="simreg.access")
    r = svc.client.post("/v1/numbers/+8613800138000/state", json={"state": "suspended", "reason": "lost phone"},
                        headers=svc.auth(Role.SUPERVISOR))
    lines = [rec for rec in caplog.records if rec.name == "simreg.access"]
    assert len(lines) == 1
    assert lines[0].request_id == r.headers["x-request-id"]
    assert lines[0].getMessage() == f"POST /v1/numbers/{{phone_number}}/state {r.status_code}"
    assert "8613800138000" not in lines[0].getMessage()


def test_authentication_comes_before_body_validation(svc):
    """A caller without a token learns nothing about the body's schema."""
    r = svc.client.post("/v1/reviews/reg_x", json={"decision": "maybe"})
    _assert_error(r, 401, "AUTH.MISSING")
    r = svc.client.post("/v1/admin/clerks", json={"role": "emperor"}, headers=svc.auth(Role.CLERK))
    assert r.status_code in (403, 422)


def test_a_deeply_nested_consent_is_refused_not_crashed_on(svc):
    r = _post(svc, registration_form(svc.session(CHALLENGE), consent="[" * 60000))
    _assert_error(r, 422, "CONSENT.INVALID")


def test_a_boundary_the_parser_refuses_is_a_client_error(svc):
    b = "b" * 300
    r = svc.client.post("/v1/registrations", content=f"--{b}\r\n\r\n--{b}--\r\n".encode(),
                        headers={**svc.auth(), "Idempotency-Key": "k",
                                 "Content-Type": f"multipart/form-data; boundary={b}"})
    _assert_error(r, 400, "REGISTRATION.FIELD")


def test_prompt_times_must_fit_the_challenge_and_stay_small(svc):
    form = registration_form(svc.session(CHALLENGE), prompt_times="0,2,4")  # three prompts for two actions
    _assert_error(_post(svc, form), 422, "REGISTRATION.FIELD")
    big = ("0," * 40000).rstrip(",")
    files = {**media(_jpeg(), b"x"), "prompt_times": ("t.txt", big.encode(), "text/plain")}  # sent as a "file"
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE)), files, key="k-2"), 400, "REGISTRATION.FIELD")
    _assert_error(_post(svc, registration_form(svc.session(CHALLENGE), prompt_times="0,inf"), key="k-3"), 422,
                  "REGISTRATION.FIELD")


def test_a_nul_byte_is_a_client_error_on_every_backend(svc):
    r = svc.client.post("/v1/admin/outlets", json={"name": "Counter\x00 9"}, headers=svc.auth(Role.ADMIN))
    assert r.status_code in (201, 422), r.text  # SQLite stores it; PostgreSQL refuses the value
    if r.status_code == 422:
        assert r.json()["code"] == "REQUEST.INVALID"
    r = svc.client.get("/v1/registrations/reg_%00", headers=svc.auth())
    assert r.status_code in (404, 422) and r.json()["code"] in ("REGISTRATION.UNKNOWN", "REQUEST.INVALID")


def test_a_reserved_number_is_decided_only_by_its_review(svc):
    from datetime import datetime

    from simreg.adapters.sql.registry import ConsentData, PersonData, Stamp
    from simreg.domain.reasons import Outcome

    clerk = svc.access.clerk_for_token(svc.tokens[Role.CLERK])
    rec = svc.rt.registry.record_decision(DecisionRecord(
        now=datetime.now(UTC), clerk=clerk, path="face", session_id=None, session_checked_at=None,
        person=PersonData("cn_resident_id|" + RESIDENT_ID, "cn_resident_id", "CN", "王芳"), outcome=Outcome.REVIEW,
        reasons=("MATCH.GREY_ZONE",), scores={}, phone=None, quota_limit=5,
        consent=ConsentData("p", "v3", datetime.now(UTC), 30), stamp=Stamp(("m",), "0" * 64),
        idempotency_key=None))
    r = svc.client.post(f"/v1/numbers/{rec.phone_number}/state", json={"state": "active", "reason": "skip review"},
                        headers=svc.auth(Role.SUPERVISOR))
    _assert_error(r, 409, "NUMBER.TRANSITION")
    d = svc.client.post(f"/v1/reviews/{rec.registration_id}", json={"decision": "reject", "reason": "not him"},
                        headers=svc.auth(Role.SUPERVISOR))
    assert d.status_code == 200 and d.json()["outcome"] == "rejected"
    with svc.rt.database.connect() as c:
        assert c.execute(select(numbers.c.state).where(numbers.c.number_masked == "+86138****8000")).scalar_one() \
            == "available"


def test_free_text_that_would_reach_the_audit_log_with_a_phone_number_is_refused(svc):
    r = svc.client.post("/v1/reviews/reg_x", json={"decision": "reject", "reason": "customer's number 13812345678"},
                        headers=svc.auth(Role.SUPERVISOR))
    _assert_error(r, 422, "REQUEST.INVALID")
    r = svc.client.post("/v1/registrations/alternative", headers={**svc.auth(Role.SUPERVISOR), "Idempotency-Key": "a"},
                        json={"id_type": "cn_resident", "id_number": RESIDENT_ID, "name": "王芳",
                              "id_expiry": "long_term", "consent": json.loads(CONSENT),
                              "statement": f"declines; ID {RESIDENT_ID} checked"})
    _assert_error(r, 422, "REQUEST.INVALID")
