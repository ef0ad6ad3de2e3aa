"""The unit tier stays model- and database-free: its guard (tests/unit/conftest.py)
refuses a model file read and a PostgreSQL connection, loudly."""

from __future__ import annotations

import pytest

# tests/unit/conftest.py's UnitTierViolation (an AssertionError): conftest modules are not imported by name
UnitTierViolation = AssertionError


def test_reading_a_model_file_fails_loudly():
    from simreg.adapters.faces import minifasnet, model_files

    for read in (model_files.read_verified, minifasnet.read_verified):  # also where imported by name
        with pytest.raises(UnitTierViolation, match="must not read a model file"):
            read(minifasnet.MODEL_PATH, minifasnet.MODEL_SHA256, minifasnet.MODEL_ID)
    with pytest.raises(UnitTierViolation, match="must not read a model file"):
        model_files.DLIB_SHAPE5.verified_path()
    with pytest.raises(UnitTierViolation):
        minifasnet.MiniFasNetScorer()


def test_opening_a_postgresql_connection_fails_loudly():
    import psycopg
    from sqlalchemy import create_engine, text

    with pytest.raises(UnitTierViolation, match="must not open a PostgreSQL connection"):
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test")
    engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/test")
    try:
        with pytest.raises(UnitTierViolation), engine.connect() as c:
            c.execute(text("SELECT 1"))
    finally:
        engine.dispose()


def test_sqlite_is_still_allowed(tmp_path):
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as c:
        assert c.execute(text("SELECT 1")).scalar_one() == 1
    engine.dispose()
