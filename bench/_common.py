"""Helpers shared by the bench scripts: where the data is, and stamping results
with the model and policy hashes they were measured with."""

from __future__ import annotations

import os
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Settings().data_dir (SIMREG_DATA_DIR, default ../shared/data), relative to the checkout."""
    from simreg.config import Settings

    d = Settings().shared_data_dir()
    if not (d / "faces" / "pairs.tsv").is_file():
        raise SystemExit(f"shared dataset not found at {d} (set SIMREG_DATA_DIR)")
    return d


def stamp(runtime) -> dict:
    return {
        "policy_version": runtime.policy.version,
        "policy_sha256": runtime.policy.sha256,
        "models": {f["model_id"]: f["sha256"][:16] for f in runtime.engine.describe()["files"]},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
