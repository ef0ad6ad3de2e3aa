"""Shared fixtures.  The real dataset lives beside the checkout in ../shared/data
(override with SIMREG_DATA_DIR).  When it is missing, data tests skip with a
clear message, except under CI=true, where a missing dataset fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
def runtime():
    """The real runtime: real models, the shipped policy."""
    from simreg.config import Settings
    from simreg.runtime import build_runtime

    rt = build_runtime(Settings())
    yield rt
    rt.engine.close()
