"""The one error table (http/errors.py): every code of the one enum family has a
status or is a decision reason or the CLI's; only the HTTP layer chooses a
status; the envelope and Retry-After come from one helper; the README's
reference is generated from the table.  No models, no database."""

from __future__ import annotations

import ast
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import DataError, OperationalError

from fake_engine import fake_runtime
from simreg.adapters.crypto import KeyringError
from simreg.domain.errors import Busy, InfraError, InputError, PolicyError, Throttled
from simreg.domain.id_document import IdDocumentError
from simreg.domain.reasons import CliCode, Code, IdReason, KeyCode, ReasonCode, family
from simreg.http.app import create_app
from simreg.http.errors import (
    _TABLE,
    DECISION_REASONS,
    DEFAULT_RETRY_AFTER_S,
    REFINED,
    STATUS,
    all_codes,
    install_error_handlers,
    status_of,
)

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "simreg"
ENVELOPE = {"code", "message", "request_id"}


# ------------------------------------------------------------------------------ the family and the table

def test_every_code_of_the_family_has_a_status_or_is_a_decision_reason_or_the_clis():
    for code in all_codes():
        assert isinstance(code, Code)
        assert code in STATUS or code in DECISION_REASONS or isinstance(code, CliCode), code
    assert not any(isinstance(code, CliCode) for code in STATUS)


def test_a_stage_s_findings_are_decision_reasons_never_errors():
    from simreg.http.errors import DECISION_NAMESPACES

    for code in ReasonCode:
        if code.value.startswith(DECISION_NAMESPACES):
            assert code in DECISION_REASONS and code not in STATUS, code


def test_a_code_is_one_value_in_the_family_and_has_one_status_in_the_table():
    values = [code.value for code in all_codes()]
    assert len(values) == len(set(values))
    listed = [code for codes in _TABLE.values() for code in codes]
    assert len(listed) == len(set(listed)) == len(STATUS)
    assert set(family()) == {ReasonCode, IdReason, KeyCode, CliCode}


def test_the_keyring_errors_constants_are_the_codes_of_the_family():
    for name in ("MISSING", "UNREADABLE", "PERMISSIONS", "WRITE_FAILED", "UNKNOWN_KEY", "BAD_ENVELOPE",
                 "DECRYPT_FAILED", "INVALID_ARGUMENT", "INVALID_OPERATION"):
        assert getattr(KeyringError, name) == KeyCode[name].value
    assert ReasonCode.KEYS_MISMATCH.value == KeyringError.MISMATCH


def test_every_code_shaped_string_in_the_source_is_a_code_of_the_family():
    """Bare strings ("INPUT.FILE", "KEYS.EXISTS", ...) are allowed only when the
    family has them, so the README's reference is complete."""
    shape = re.compile(r"^[A-Z][A-Z0-9]*\.[A-Z][A-Z0-9_]*$")
    known = {code.value for code in all_codes()}
    strays = []
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Constant) and isinstance(node.value, str) and shape.match(node.value)
                    and node.value not in known):
                strays.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value}")
    assert strays == []


def test_only_the_http_layer_gives_an_error_a_status():
    """Domain, adapter and use-case errors carry codes; the table gives statuses.
    A third positional argument (or ``http_status=``) to InputError, PolicyError,
    InfraError or IdDocumentError outside ``http/`` would choose one."""
    classes = {"InputError", "PolicyError", "InfraError", "IdDocumentError", "SimregError"}
    offenders = []
    for path in SRC.rglob("*.py"):
        if path.parent.name == "http":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name in classes and (len(node.args) > 2 or any(k.arg == "http_status" for k in node.keywords)):
                    offenders.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_the_readme_reference_of_codes_is_current():
    run = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_error_codes.py"), "--check"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "| `ID.CHECKSUM` | 422 | error |" in readme
    assert "| `LIVENESS.NO_BLINK` | 200 | decision reason |" in readme


# ------------------------------------------------------------------------------ statuses and pickling

@pytest.mark.parametrize("err, status", [
    (InputError(ReasonCode.SESSION_EXPIRED, "m"), 410),
    (InputError(ReasonCode.SESSION_REPLAYED, "m"), 409),
    (IdDocumentError(IdReason.UNDERAGE, "m"), 422),
    (PolicyError(ReasonCode.QUOTA_EXCEEDED, "m"), 409),
    (Throttled(ReasonCode.LOCKOUT_CLERK, "m", 60), 429),
    (InfraError(ReasonCode.MODEL_MISSING, "m"), 503),
    (Busy(ReasonCode.ENGINE_BUSY, "m", 2), 503),
    (InputError(ReasonCode.MEDIA_EMPTY, "m"), 400),
    (InputError(ReasonCode.MEDIA_EMPTY, "m", 422), 422),  # the HTTP layer's refinement
])
def test_the_status_is_the_codes_and_survives_pickling(err, status):
    assert status_of(err) == err.http_status == status
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is type(err) and again.code is err.code and again.message == err.message
    assert status_of(again) == status


@pytest.mark.parametrize("err", [
    Busy(ReasonCode.ENGINE_BUSY, "m", 7),
    Throttled(ReasonCode.LOCKOUT_ID, "m", 3600),
    InfraError(ReasonCode.ENGINE_UNAVAILABLE, "m", retry_after_s=11),
])
def test_retry_after_crosses_a_process_boundary(err):
    """Errors come back from the engine's worker processes pickled; the seconds
    to wait must come with them."""
    assert pickle.loads(pickle.dumps(err)).retry_after_s == err.retry_after_s


def test_the_refinements_are_the_http_layers_only():
    assert set(REFINED) == {ReasonCode.REGISTRATION_FIELD, ReasonCode.MEDIA_EMPTY}
    for code, (status, where) in REFINED.items():
        assert status != STATUS[code] and where.startswith("http/")


# ------------------------------------------------------------------------------ the one helper

def _app() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    raising = {
        "infra": InfraError(ReasonCode.MODEL_MISSING, "the model is missing"),
        "infra-knows": InfraError(ReasonCode.ENGINE_UNAVAILABLE, "restarting", retry_after_s=11),
        "busy": Busy(ReasonCode.ENGINE_BUSY, "busy", 2),
        "lockout": Throttled(ReasonCode.LOCKOUT_ID, "locked", 900),
        "quota": PolicyError(ReasonCode.QUOTA_EXCEEDED, "five numbers already"),
        "id": IdDocumentError(IdReason.CHECKSUM, "check character does not match"),
        "keys": KeyringError(KeyringError.UNKNOWN_KEY, "no key k9 in this keyring"),
        "db-down": OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
        "db-value": DataError("INSERT", {}, Exception("invalid byte sequence")),
    }
    for name, exc in raising.items():
        def route(exc=exc):
            raise exc
        app.add_api_route(f"/{name}", route)
    return TestClient(app)


@pytest.mark.parametrize("path, status, code, retry_after", [
    ("/infra", 503, "MODEL.MISSING", str(DEFAULT_RETRY_AFTER_S)),
    ("/infra-knows", 503, "ENGINE.UNAVAILABLE", "11"),
    ("/busy", 503, "ENGINE.BUSY", "2"),
    ("/lockout", 429, "LOCKOUT.ID", "900"),
    ("/quota", 409, "QUOTA.EXCEEDED", None),
    ("/id", 422, "ID.CHECKSUM", None),
    ("/keys", 503, "KEYS.UNAVAILABLE", str(DEFAULT_RETRY_AFTER_S)),
    ("/db-down", 503, "STORAGE.UNAVAILABLE", str(DEFAULT_RETRY_AFTER_S)),
    ("/db-value", 422, "REQUEST.INVALID", None),
    ("/no-such-route", 404, "ROUTE.NOT_FOUND", None),
])
def test_each_class_of_error_becomes_the_envelope_with_its_status(path, status, code, retry_after):
    r = _app().get(path)
    assert r.status_code == status and set(r.json()) == ENVELOPE and r.json()["code"] == code
    assert r.headers.get("retry-after") == retry_after
    # the operator's detail stays in the log
    assert "k9" not in r.text and "server closed" not in r.text and "byte sequence" not in r.text


def test_an_unexpected_exception_is_a_500_in_the_envelope_without_a_traceback():
    app = create_app(runtime=fake_runtime())

    def boom():
        raise RuntimeError("secret detail /etc/passwd")

    app.add_api_route("/boom", boom)
    r = TestClient(app, raise_server_exceptions=False).get("/boom", headers={"x-request-id": "req-500"})
    assert r.status_code == 500 and r.json() == {"code": "INTERNAL", "message": "internal error",
                                                 "request_id": "req-500"}
    assert "secret" not in r.text and "Traceback" not in r.text


def test_the_envelope_is_built_in_one_place():
    """No module of the HTTP layer but errors.py builds an error body by hand."""
    for path in (SRC / "http").glob("*.py"):
        if path.name == "errors.py":
            continue
        text = path.read_text(encoding="utf-8")
        assert "JSONResponse(" not in text, path.name
