"""Shared fixtures.  The real dataset lives beside the checkout in ../shared/data
(override with SIMREG_DATA_DIR).  When it is missing, data tests skip with a
clear message, except under CI=true, where a missing dataset fails.

The suite's tiers (markers models, postgres, browser, data, slow, given from the
fixtures a test uses and checked at run time) are in tiers.py; its hooks are
installed here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tiers import (  # noqa: F401  (hooks: pytest finds them here)
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_fixture_setup,
    pytest_runtest_call,
    pytest_runtest_makereport,
    pytest_runtest_protocol,
)

REPO = Path(__file__).resolve().parents[1]


def _data_dir() -> Path:
    from simreg.config import Settings

    return Settings().shared_data_dir()


@pytest.fixture(scope="session")
def data_dir() -> Path:
    d = _data_dir()
    if not (d / "faces" / "pairs.tsv").is_file():
        msg = f"shared dataset not found at {d} (set SIMREG_DATA_DIR to its path)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + "; under CI=true a missing dataset is a failure")
        pytest.skip(msg)
    return d


@pytest.fixture(scope="session")
def faces_dir(data_dir: Path) -> Path:
    return data_dir / "faces"


@pytest.fixture(scope="session")
def face_models():
    """Say that a test (or fixture) loads the face model files itself: it gets
    the ``models`` marker.  The model files' module."""
    from simreg.adapters.faces import model_files

    return model_files


@pytest.fixture(scope="session")
def runtime():
    """The real runtime: real models, the shipped policy."""
    from simreg.config import Settings
    from simreg.runtime import build_runtime

    rt = build_runtime(Settings())
    yield rt
    rt.engine.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database on each backend: a SQLite file, and a new schema on
    the PostgreSQL server (127.0.0.1:5432; skipped only when no server answers,
    and a failure under CI=true)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'simreg.sqlite3'}"
        return
    from service_support import fresh_postgres_schema

    url, drop = fresh_postgres_schema()
    try:
        yield url
    finally:
        drop()


@pytest.fixture()
def postgres_url():
    """A fresh, empty schema on the PostgreSQL server (as ``database_url``'s
    postgresql case), dropped after the test."""
    from service_support import fresh_postgres_schema

    url, drop = fresh_postgres_schema()
    try:
        yield url
    finally:
        drop()
