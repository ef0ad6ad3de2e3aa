"""The citizen's "numbers under my ID" lookup, dispute and consent withdrawal,
with real videos and portraits from ../shared/data, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service_support import CHALLENGE, media, registration_form, serving
from simreg.adapters.sql.schema import audit_entries, numbers, persons, templates
from simreg.domain.access import Role


@pytest.fixture()
def svc(runtime, database_url):
    with serving(runtime, database_url, ["+8613800138000", "+8613800138001"], store_templates=True) as s:
        yield s


def _lookup(svc, portrait, video):
    sid = svc.session(CHALLENGE)
    form = {k: v for k, v in registration_form(sid).items() if k != "consent"}
    return svc.client.post("/v1/citizen/lookups", data=form, files=media(portrait, video), headers=svc.auth())


def _actions(svc) -> list[str]:
    with svc.rt.database.connect() as c:
        return list(c.execute(select(audit_entries.c.action).order_by(audit_entries.c.position)).scalars())


def test_a_citizen_proves_who_they_are_sees_their_numbers_disputes_one_and_withdraws_consent(
        svc, video, same_person_portrait, other_person_portrait):
    portrait = same_person_portrait
    # registered at the counter, face path, templates configured on
    sid = svc.session(CHALLENGE)
    r = svc.client.post("/v1/registrations", data=registration_form(sid), files=media(portrait, video),
                        headers={**svc.auth(), "Idempotency-Key": "reg-1"})
    assert r.status_code == 200 and r.json()["outcome"] == "approved", r.text
    with svc.rt.database.connect() as c:
        # one sealed template per embedder of the engine (SFace)
        assert c.execute(select(func.count()).select_from(templates)).scalar_one() == len(svc.rt.engine.model_ids)

    # someone else's face with this ID is refused, and the refusal is audited
    refused = _lookup(svc, other_person_portrait, video)
    assert refused.status_code == 200, refused.text
    assert refused.json()["outcome"] == "rejected" and refused.json()["numbers"] == []
    assert refused.json()["lookup_token"] is None
    assert _actions(svc)[-1] == "citizen.lookup_refused"

    # the person themself sees the number, with outlet and date
    ok = _lookup(svc, portrait, video)
    assert ok.status_code == 200, ok.text
    body = ok.json()
    assert body["outcome"] == "approved"
    assert [(n["phone_number_masked"], n["state"], n["outlet"]) for n in body["numbers"]] == \
        [("+86138****8000", "active", "Counter 7")]
    assert body["numbers"][0]["registered_at"]
    assert _actions(svc)[-1] == "citizen.lookup"

    # "not my number": into the supervisors' queue, audited
    d = svc.client.post("/v1/citizen/disputes", json={"lookup_token": body["lookup_token"],
                                                      "number_ref": body["numbers"][0]["number_ref"]},
                        headers=svc.auth())
    assert d.status_code == 201, d.text
    assert _actions(svc)[-1] == "dispute.raised"
    forged = svc.client.post("/v1/citizen/disputes", json={"lookup_token": "forged", "number_ref": "num_x"},
                             headers=svc.auth())
    assert forged.status_code == 404 and forged.json()["code"] == "LOOKUP.UNKNOWN"
    queue = svc.client.get("/v1/disputes", headers=svc.auth(Role.SUPERVISOR)).json()
    assert [q["dispute_id"] for q in queue] == [d.json()["dispute_id"]]
    res = svc.client.post(f"/v1/disputes/{d.json()['dispute_id']}",
                          json={"resolution": "upheld", "note": "registered with a forged card"},
                          headers=svc.auth(Role.SUPERVISOR))
    assert res.status_code == 200 and res.json()["status"] == "upheld", res.text
    with svc.rt.database.connect() as c:
        assert c.execute(select(numbers.c.state).where(numbers.c.number_masked == "+86138****8000")).scalar_one() \
            == "suspended"
    assert _actions(svc)[-1] == "dispute.resolved"

    # withdrawal of biometric consent shreds the templates
    w = svc.client.post("/v1/citizen/consent/withdraw", json={"lookup_token": body["lookup_token"]},
                        headers=svc.auth())
    assert w.status_code == 200 and w.json() == {"templates_shredded": len(svc.rt.engine.model_ids),
                                                 "consents_withdrawn": 1}, w.text
    with svc.rt.database.connect() as c:
        assert c.execute(select(func.count()).select_from(templates)).scalar_one() == 0
        assert c.execute(select(persons.c.data_key_wrapped)).scalar_one() is None
    assert _actions(svc)[-1] == "consent.withdrawn"

    # the lookup's token ends
    svc.clock.offset = svc.clock.offset + __import__("datetime").timedelta(minutes=11)
    late = svc.client.post("/v1/citizen/consent/withdraw", json={"lookup_token": body["lookup_token"]},
                           headers=svc.auth())
    assert late.status_code == 410 and late.json()["code"] == "LOOKUP.EXPIRED"
