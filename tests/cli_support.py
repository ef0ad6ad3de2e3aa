"""Running the command line in a subprocess on the code under test: this
checkout's ``src/`` first on the path (``PYTHONPATH``), whatever copy of simreg
the interpreter has installed (tests/cli/test_cli.py proves it)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def checkout_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's environment) with ``src/`` first on PYTHONPATH."""
    out = dict(os.environ if env is None else env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), out.get("PYTHONPATH", "")) if p)
    return out


def simreg_command(*args: str) -> list[str]:
    """``simreg ARGS`` as this interpreter runs it: ``python -m simreg.cli ARGS``."""
    return [sys.executable, "-m", "simreg.cli", *args]


def run_simreg(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300,
               **kwargs) -> subprocess.CompletedProcess:
    """``simreg ARGS`` run to completion, output captured as text."""
    return subprocess.run(simreg_command(*args), capture_output=True, text=True, env=checkout_env(env),
                          timeout=timeout, **kwargs)


def start_simreg(*args: str, env: Mapping[str, str] | None = None, **kwargs) -> subprocess.Popen:
    """``simreg ARGS`` started in the background (``serve``, ``audit sequencer``)."""
    return subprocess.Popen(simreg_command(*args), env=checkout_env(env), **kwargs)
