"""The unit tier runs without models, a database server, a browser or the
shared data set, in seconds: ``.venv/bin/python -m pytest tests/unit``.

Every test here is guarded: reading a face model file or opening a PostgreSQL
connection fails loudly, and a test whose fixtures would give it the
``models``, ``postgres``, ``browser`` or ``data`` marker (tests/tiers.py)
fails before it runs.  Such a test belongs in tests/adapters, tests/http or
tests/data.  (SQLite files in tmp_path are fine: they need no server.)"""

from __future__ import annotations

import pytest

NOT_HERE = ("models", "postgres", "browser", "data")


class UnitTierViolation(AssertionError):
    pass


def _refuse(what: str):
    def refuse(*args, **kwargs):
        raise UnitTierViolation(f"tests/unit must not {what}; move the test to tests/adapters, "
                                "tests/http or tests/data (see tests/unit/conftest.py)")

    return refuse


@pytest.fixture(autouse=True)
def _model_and_database_free(request, monkeypatch):
    marked = [m for m in NOT_HERE if request.node.get_closest_marker(m) is not None]
    if marked:
        pytest.fail(f"{request.node.nodeid} is marked {', '.join(marked)}: tests/unit runs without them; "
                    "move it to tests/adapters, tests/http or tests/data", pytrace=False)
    import sys

    import psycopg

    from simreg.adapters.faces import model_files

    read = _refuse("read a model file")
    # the function itself, and every module that imported it by name
    current = model_files.read_verified  # (tests/tiers.py watches it)
    known = (current, getattr(current, "__simreg_unguarded__", current))
    for name, module in list(sys.modules.items()):
        if name.startswith("simreg.") and any(getattr(module, "read_verified", None) is f for f in known):
            monkeypatch.setattr(module, "read_verified", read)
    monkeypatch.setattr(model_files.ModelFile, "verified_path", _refuse("read a model file"))
    connect = _refuse("open a PostgreSQL connection")
    monkeypatch.setattr(psycopg.Connection, "connect", classmethod(lambda cls, *a, **k: connect()))
    monkeypatch.setattr(psycopg, "connect", connect)
