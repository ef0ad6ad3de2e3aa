from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from simreg.http.app import create_app


@pytest.fixture(scope="module")
def client(runtime):
    with TestClient(create_app(runtime=runtime)) as c:
        yield c


def test_healthz_answers_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["x-request-id"]


def test_status_reports_model_ids_file_hashes_and_policy_hash(client, runtime):
    body = client.get("/status").json()
    assert body["policy"]["sha256"] == runtime.policy.sha256 and len(body["policy"]["sha256"]) == 64
    assert body["models"]["detector"] == "yunet-2023mar-int8bq"
    assert body["models"]["embedders"] == ["sface-2021dec-int8bq+flip"]
    assert body["policy"]["matcher"] == "sface-2021dec-int8bq+flip"
    files = {f["model_id"]: f for f in body["models"]["files"]}
    # only the files of the loaded models, each with its pinned hash and licence
    assert set(files) == {"yunet-2023mar-int8bq", "sface-2021dec-int8bq", "dlib-shape68-ibug"}
    assert files["sface-2021dec-int8bq"]["sha256"] == (
        "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee")
    assert files["sface-2021dec-int8bq"]["licence"].startswith("Apache-2.0")
    assert files["dlib-shape68-ibug"]["licence"].startswith("trained on iBUG 300-W")


def test_openapi_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/healthz" in paths and "/status" in paths


def test_the_service_opens_its_embedded_sqlite_database_and_reports_it(tmp_path, face_models):
    from simreg.config import Settings

    db = tmp_path / "var" / "simreg.sqlite3"
    settings = Settings(database_url=f"sqlite:///{db}", engine_workers=0)
    with TestClient(create_app(settings)) as c:
        status = c.get("/status").json()
    assert status["database"]["backend"] == "sqlite" and status["database"]["ok"] is True
    assert db.is_file()


def test_errors_are_json_with_a_code_and_request_id_never_a_traceback(client):
    r = client.get("/no-such-endpoint", headers={"x-request-id": "req-123"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "req-123"
    assert "Traceback" not in r.text
