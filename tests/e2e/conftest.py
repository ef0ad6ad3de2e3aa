"""Fixtures of the browser tests (see browser_support.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def e2e_tmp(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("e2e")
    yield d
    shutil.rmtree(d, ignore_errors=True)  # the y4m is large: never leave it behind
