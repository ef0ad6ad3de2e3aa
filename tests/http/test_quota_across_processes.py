"""Issue 13: the per-person quota stays exact with 20 concurrent registrations
for one person spread over four server processes on one PostgreSQL schema.

Four separate server processes (tests/approving_server.py: the product's start
path and app, served by uvicorn, with the biometric stages answering
"approved" so that no model is needed) are started at the same moment on a
fresh schema.  Twenty registrations of the same resident ID, each by one of
four clerks at four outlets, each with its capture session opened on another
server than the one that gets the registration, are released together, five at
each server.  The quota (5) must grant exactly five and refuse fifteen with
409 QUOTA.EXCEEDED, and the database must hold exactly the five approved
registrations, with no reserved number, no half-written person, consent or
registration, and an audit chain that verifies."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from cli_support import checkout_env
from service_support import CONSENT, RESIDENT_ID, fresh_postgres_schema, registration_form
from simreg.adapters.crypto import Keyring
from simreg.adapters.sql import audit_store
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.schema import consents, idempotency_keys, numbers, persons, registrations
from simreg.adapters.sql.stores import AccessStore
from simreg.domain.access import Role
from simreg.domain.audit import verify_chain

# the test and its server processes use the PostgreSQL server (a fresh schema of
# service_support.fresh_postgres_schema, shared by the subprocesses)
pytestmark = pytest.mark.postgres

SERVERS = 4
REQUESTS = 20
QUOTA = 5
CHALLENGE = ["turn_left", "turn_right"]
SCRIPT = Path(__file__).resolve().parents[1] / "approving_server.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, url: str) -> None:
    for _ in range(240):  # bounded: at most about two minutes of polling
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
        try:
            if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} never became ready")


@pytest.fixture()
def cluster(tmp_path):
    url, drop = fresh_postgres_schema()
    Keyring.generate().save(tmp_path / "keyring.json")  # one keyring for every replica, as in a deployment
    env = {**checkout_env(), "SIMREG_DATABASE_URL": url, "SIMREG_KEYRING_FILE": str(tmp_path / "keyring.json"),
           "SIMREG_ENV": "development", "SIMREG_QUOTA_DEFAULT": str(QUOTA),
           # the stubbed analyses take no time; the bound is not what is under test here
           "SIMREG_MAX_ANALYSES_IN_FLIGHT": str(REQUESTS)}
    env.pop("SIMREG_KEYRING", None)
    procs, urls = [], []
    try:
        for _ in range(SERVERS):  # started together on the fresh schema
            port = _free_port()
            procs.append(subprocess.Popen([sys.executable, str(SCRIPT), str(port)], env=env, cwd=tmp_path,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
            urls.append(f"http://127.0.0.1:{port}")
        for proc, u in zip(procs, urls, strict=False):
            _wait_ready(proc, u)
        database = open_database(url)
        yield database, urls, procs
        database.dispose()
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        drop()


def _count(database, table, *where) -> int:
    with database.connect() as c:
        return c.execute(select(func.count()).select_from(table).where(*where)).scalar_one()


def test_twenty_concurrent_registrations_of_one_person_over_four_server_processes_grant_exactly_the_quota(cluster):
    database, urls, procs = cluster
    assert len({p.pid for p in procs}) == SERVERS and all(p.poll() is None for p in procs)

    access = AccessStore(database)
    tokens = []
    for i in range(SERVERS):  # one clerk at each of four outlets
        outlet = access.create_outlet(f"Counter {i + 1}")
        tokens.append(access.create_clerk(outlet.outlet_id, f"clerk {i + 1}", Role.CLERK)[1])
    admin = access.create_clerk(outlet.outlet_id, "admin one", Role.ADMIN)[1]
    r = httpx.post(urls[0] + "/v1/numbers", json={"numbers": [f"+86139001390{i:02d}" for i in range(25)]},
                   headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 201, r.text

    # request i goes to server i % 4, by clerk i % 4, with a session opened on another server
    sessions = []
    for i in range(REQUESTS):
        s = httpx.post(urls[(i + 1) % SERVERS] + "/v1/sessions", json={"challenge": CHALLENGE},
                       headers={"Authorization": f"Bearer {tokens[i % SERVERS]}"})
        assert s.status_code == 201, s.text
        sessions.append(s.json()["session_id"])
    barrier = threading.Barrier(REQUESTS)
    tiny = {"portrait": ("portrait.jpg", b"\xff\xd8not analysed", "image/jpeg"),
            "video": ("capture.mp4", b"not analysed", "video/mp4")}

    def register(i: int) -> httpx.Response:
        with httpx.Client(base_url=urls[i % SERVERS], timeout=120) as client:
            barrier.wait()
            return client.post("/v1/registrations", data=registration_form(sessions[i], id_number=RESIDENT_ID,
                                                                            consent=CONSENT),
                               files=tiny, headers={"Authorization": f"Bearer {tokens[i % SERVERS]}",
                                                    "Idempotency-Key": f"quota-{i}"})

    with ThreadPoolExecutor(REQUESTS) as pool:
        responses = list(pool.map(register, range(REQUESTS)))

    bodies = [(r.status_code, r.text[:200]) for r in responses]
    approved = [r for r in responses if r.status_code == 200]
    refused = [r for r in responses if r.status_code == 409]
    assert len(approved) == QUOTA, bodies
    assert all(r.json()["outcome"] == "approved" for r in approved), bodies
    assert len({r.json()["phone_number"] for r in approved}) == QUOTA, bodies  # five different numbers
    assert len(refused) == REQUESTS - QUOTA, bodies
    assert {r.json()["code"] for r in refused} == {"QUOTA.EXCEEDED"}, bodies
    assert all(p.poll() is None for p in procs)  # no server fell over

    # exactly the five, and nothing partial
    assert _count(database, registrations) == QUOTA
    assert _count(database, registrations, registrations.c.outcome == "approved") == QUOTA
    assert _count(database, numbers, numbers.c.state == "active") == QUOTA
    assert _count(database, numbers, numbers.c.state != "available") == QUOTA  # nothing reserved or held
    assert _count(database, persons) == 1
    assert _count(database, consents) == QUOTA
    assert _count(database, idempotency_keys, idempotency_keys.c.state != "done") == 0  # refused claims released
    assert verify_chain(audit_store.read_rows(database)).ok
