"""Capture sessions over real HTTP, and their one-time use in the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from cli_support import run_simreg
from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.stores import AccessStore, SessionStore
from simreg.config import Settings
from simreg.domain.access import Role
from simreg.domain.challenge import Action, draw_challenge
from simreg.domain.errors import InputError
from simreg.domain.reasons import ReasonCode
from simreg.http.app import create_app


@pytest.fixture()
def db_url(tmp_path):
    return f"sqlite:///{tmp_path / 'simreg.sqlite3'}"


def _client(runtime, db_url, env="production"):

    from simreg.runtime import Runtime

    db = open_database(db_url)
    upgrade_to_head(db)
    rt = Runtime(Settings(database_url=db_url, env=env), runtime.policy, runtime.engine, runtime.limits, db)
    return TestClient(create_app(runtime=rt)), AccessStore(db)


def _clerk(access, role=Role.CLERK):
    outlet = access.create_outlet("Counter 7")
    return access.create_clerk(outlet.outlet_id, "Wang Fang", role)


def test_a_clerk_opens_a_session_with_a_random_challenge(runtime, db_url):
    client, access = _client(runtime, db_url)
    _clerk_id, token = _clerk(access)
    with client:
        r = client.post("/v1/sessions", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.text
    body = r.json()
    actions = [Action(a) for a in body["challenge"]]
    assert 2 <= len(actions) <= 4 and Action.BLINK in actions and any(a.is_turn for a in actions)
    assert body["session_id"].startswith("ses_") and len(body["nonce"]) >= 22
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(seconds=100) < expires - datetime.now(UTC) <= timedelta(seconds=120)


def test_sessions_need_a_valid_bearer_token(runtime, db_url):
    client, _access = _client(runtime, db_url)
    with client:
        missing = client.post("/v1/sessions")
        wrong = client.post("/v1/sessions", headers={"Authorization": "Bearer not-a-token"})
    assert missing.status_code == 401 and missing.json()["code"] == "AUTH.MISSING"
    assert wrong.status_code == 401 and wrong.json()["code"] == "AUTH.INVALID"
    assert set(wrong.json()) == {"code", "message", "request_id"}


def test_naming_the_challenge_is_refused_outside_development(runtime, db_url):
    client, access = _client(runtime, db_url)
    _, token = _clerk(access)
    with client:
        r = client.post("/v1/sessions", json={"challenge": ["blink", "turn_left"]},
                        headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.json()["code"] == "CHALLENGE.NOT_ALLOWED"


def test_development_mode_may_name_the_challenge_but_not_an_unknown_action(runtime, db_url):
    client, access = _client(runtime, db_url, env="development")
    _, token = _clerk(access)
    auth = {"Authorization": f"Bearer {token}"}
    with client:
        ok = client.post("/v1/sessions", json={"challenge": ["blink", "turn_left"]}, headers=auth)
        bad = client.post("/v1/sessions", json={"challenge": ["wink"]}, headers=auth)
        extra = client.post("/v1/sessions", json={"challenge": None, "debug": True}, headers=auth)
    assert ok.status_code == 201 and ok.json()["challenge"] == ["blink", "turn_left"]
    assert bad.status_code == 422 and bad.json()["code"] == "CHALLENGE.INVALID"
    assert extra.status_code == 422 and extra.json()["code"] == "REQUEST.INVALID"


def test_a_session_is_used_once_by_its_own_clerk_before_it_expires(db_url):
    db = open_database(db_url)
    upgrade_to_head(db)
    access, sessions = AccessStore(db), SessionStore(db)
    outlet = access.create_outlet("Counter 1")
    alice, _ = access.create_clerk(outlet.outlet_id, "Alice", Role.CLERK)
    bob, _ = access.create_clerk(outlet.outlet_id, "Bob", Role.CLERK)
    now = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    challenge = draw_challenge(now, ttl_s=120)
    sid = sessions.create(challenge, alice)

    with pytest.raises(InputError) as other:
        sessions.consume(sid, bob, now)
    assert other.value.code is ReasonCode.SESSION_UNKNOWN
    assert sessions.consume(sid, alice, now + timedelta(seconds=5)).actions == challenge.actions
    with pytest.raises(InputError) as again:
        sessions.consume(sid, alice, now + timedelta(seconds=6))
    assert again.value.code is ReasonCode.SESSION_REPLAYED and again.value.http_status == 409

    late = sessions.create(draw_challenge(now, ttl_s=120), alice)
    with pytest.raises(InputError) as expired:
        sessions.consume(late, alice, now + timedelta(seconds=121))
    assert expired.value.code is ReasonCode.SESSION_EXPIRED and expired.value.http_status == 410
    with pytest.raises(InputError) as unknown:
        sessions.consume("ses_nope", alice, now)
    assert unknown.value.code is ReasonCode.SESSION_UNKNOWN


def test_admin_commands_print_json_and_store_only_the_token_hash(tmp_path):
    db = tmp_path / "admin.sqlite3"
    env = {"SIMREG_DATABASE_URL": f"sqlite:///{db}", "PATH": "/usr/bin:/bin"}

    def run(*args):
        p = run_simreg("admin", *args, "--json", env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    outlet = run("create-outlet", "Counter 9")
    clerk = run("create-clerk", "--outlet", outlet["outlet_id"], "--name", "张伟", "--role", "supervisor")
    assert clerk["clerk_id"].startswith("clk_") and len(clerk["token"]) >= 40
    stored = b"".join(f.read_bytes() for f in tmp_path.glob("admin.sqlite3*"))  # the file and its WAL
    assert clerk["token"].encode() not in stored and clerk["clerk_id"].encode() in stored
    found = AccessStore(open_database(f"sqlite:///{db}")).clerk_for_token(clerk["token"])
    assert found is not None and found.role is Role.SUPERVISOR and found.name == "张伟"
