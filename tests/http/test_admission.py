"""Load shedding and probes, without models: past the bound on analyses in
flight a registration is refused at once (503 ENGINE.BUSY, Retry-After), while
the cheap refusals before the biometrics are still answered; lockouts are 429
with Retry-After; /healthz and /readyz tell a load balancer what it needs."""

from __future__ import annotations

import io
import threading

import pytest
from PIL import Image
from sqlalchemy import func, select

from fake_engine import NoFaceEngine, fake_runtime
from service_support import make_service, media, registration_form
from simreg.adapters.sql.schema import registrations
from simreg.app.admission import AnalysisGate, analysis_capacity
from simreg.domain.errors import Busy

CHALLENGE = ["turn_left", "turn_right"]


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 240), (128, 128, 128)).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture()
def service(tmp_path):
    made = []

    def build(engine: NoFaceEngine, **settings):
        svc = make_service(fake_runtime(engine), f"sqlite:///{tmp_path / f'db{len(made)}.sqlite3'}", **settings)
        svc.client.__enter__()
        svc.add_numbers(["+8613800138000", "+8613800138001"])
        made.append((svc, engine))
        return svc

    yield build
    for svc, engine in made:
        engine.release.set()
        svc.client.__exit__(None, None, None)
        svc.close()


def _register(svc, key: str, **form):
    return svc.client.post("/v1/registrations", data=registration_form(svc.session(CHALLENGE), **form),
                           files=media(_jpeg(), b"a video"), headers={**svc.auth(), "Idempotency-Key": key})


def _in_background(fn, *args):
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn(*args)))
    t.start()
    return t, out


def _stored(svc) -> int:
    with svc.rt.database.connect() as c:
        return c.execute(select(func.count()).select_from(registrations)).scalar_one()


def test_past_the_bound_a_registration_is_refused_at_once_with_engine_busy(service):
    engine = NoFaceEngine(workers=1, hold=True)
    svc = service(engine)
    assert svc.rt.admission.capacity == 1  # one analysis per engine worker
    first, out = _in_background(_register, svc, "k-1")
    assert engine.started.acquire(timeout=30)  # the first analysis is running (held)

    r = _register(svc, "k-2")
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "ENGINE.BUSY" and set(r.json()) == {"code", "message", "request_id"}
    assert r.headers["retry-after"] == str(svc.rt.settings.busy_retry_after_s)
    assert engine.calls == 1  # refused before the engine, not queued behind the first
    ready = svc.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["code"] == "ENGINE.BUSY" and ready.headers["retry-after"]

    engine.release.set()
    first.join(timeout=60)
    assert out["r"].status_code == 422 and out["r"].json()["code"] == "FACE.NOT_FOUND"
    assert _stored(svc) == 0
    assert svc.client.get("/readyz").status_code == 200
    # the slot is free again, and the refused request's idempotency key was released: its retry runs
    r = _register(svc, "k-2")
    assert r.status_code == 422 and r.json()["code"] == "FACE.NOT_FOUND" and engine.calls == 2


def test_cheap_refusals_are_answered_while_the_engine_is_busy(service):
    engine = NoFaceEngine(workers=1, hold=True)
    svc = service(engine)
    first, _ = _in_background(_register, svc, "k-1")
    assert engine.started.acquire(timeout=30)
    r = _register(svc, "k-2", id_number="110105194912310021")  # wrong check character
    assert r.status_code == 422 and r.json()["code"] != "ENGINE.BUSY", r.text
    engine.release.set()
    first.join(timeout=60)


def test_the_bound_can_be_set_above_the_pool(service):
    engine = NoFaceEngine(workers=1, hold=True)
    svc = service(engine, max_analyses_in_flight=2)
    assert svc.rt.admission.capacity == 2
    threads = [_in_background(_register, svc, f"k-{i}")[0] for i in range(2)]
    assert engine.started.acquire(timeout=30) and engine.started.acquire(timeout=30)
    r = _register(svc, "k-3")
    assert r.status_code == 503 and r.json()["code"] == "ENGINE.BUSY"
    engine.release.set()
    for t in threads:
        t.join(timeout=60)


def test_the_default_bound_is_the_engine_pool_size():
    assert analysis_capacity(None, NoFaceEngine(workers=3)) == 3
    assert analysis_capacity(None, object()) == 1  # an in-process engine: one at a time
    assert analysis_capacity(5, NoFaceEngine(workers=3)) == 5


def test_a_gate_refuses_past_its_capacity_and_frees_a_slot_on_error():
    gate = AnalysisGate(1, retry_after_s=3)
    with pytest.raises(RuntimeError), gate.slot():
        assert gate.saturated
        with pytest.raises(Busy) as busy, gate.slot():
            pass
        assert busy.value.retry_after_s == 3 and busy.value.http_status == 503
        raise RuntimeError("the analysis failed")
    assert gate.in_flight == 0 and not gate.saturated


def test_failed_attempts_lock_the_id_out_with_429_and_retry_after(service):
    svc = service(NoFaceEngine())
    for i in range(svc.rt.settings.lockout_max_failures):
        assert _register(svc, f"k-{i}").json()["code"] == "FACE.NOT_FOUND"
    r = _register(svc, "k-locked")
    assert r.status_code == 429 and r.json()["code"] == "LOCKOUT.ID", r.text
    assert 0 < int(r.headers["retry-after"]) <= svc.rt.settings.lockout_s


def test_healthz_and_readyz_answer_when_all_is_well(service):
    svc = service(NoFaceEngine(workers=2))
    assert svc.client.get("/healthz").json() == {"status": "ok"}
    r = svc.client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "database": True, "models": True, "analyses_in_flight": 0,
                        "max_analyses_in_flight": 2}


def test_readyz_is_503_when_the_database_does_not_answer(service):
    from simreg.adapters.sql.database import open_database

    svc = service(NoFaceEngine())
    svc.rt.database = open_database("postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2")
    r = svc.client.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "STORAGE.UNAVAILABLE" and r.headers["retry-after"]
    assert svc.client.get("/healthz").status_code == 200  # alive all the same: no restart for an outage


def test_readyz_is_503_when_the_engine_is_not_ready(service):
    engine = NoFaceEngine()
    engine.ready = lambda: False
    svc = service(engine)
    r = svc.client.get("/readyz")
    assert r.status_code == 503 and r.json()["code"] == "ENGINE.UNAVAILABLE"


def test_a_burst_of_16_registrations_ends_in_answers_or_503_with_retry_after(service):
    """Issue 13: a burst at one server ends in answers, or in 503/429 with
    Retry-After, never another 5xx.  Two engine workers: two analyses run (held
    until every other request has its answer), the other fourteen are refused at once."""
    engine = NoFaceEngine(workers=2, hold=True)
    svc = service(engine)
    sessions = [svc.session(CHALLENGE) for _ in range(16)]
    answers: list = [None] * 16
    answered = threading.Semaphore(0)

    def post(i: int) -> None:
        answers[i] = svc.client.post("/v1/registrations", data=registration_form(sessions[i]),
                                     files=media(_jpeg(), b"a video"),
                                     headers={**svc.auth(), "Idempotency-Key": f"burst-{i}"})
        answered.release()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for _ in range(2):
        assert engine.started.acquire(timeout=60)  # the two admitted analyses are running
    for _ in range(14):
        assert answered.acquire(timeout=60)  # every other request has its answer while they run
    assert engine.calls == 2
    engine.release.set()
    for t in threads:
        t.join(timeout=60)

    busy = [r for r in answers if r.status_code == 503]
    done = [r for r in answers if r.status_code != 503]
    assert len(busy) == 14 and all(r.json()["code"] == "ENGINE.BUSY" and int(r.headers["retry-after"]) > 0
                                   for r in busy)
    assert [r.json()["code"] for r in done] == ["FACE.NOT_FOUND"] * 2
    assert _stored(svc) == 0
