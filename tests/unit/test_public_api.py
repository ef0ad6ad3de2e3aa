"""The package's public names (``simreg.__all__``) are pinned: adding, removing
or renaming one is a deliberate change, made here too."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import simreg

REPO = Path(__file__).resolve().parents[2]

PUBLIC = [
    "InfraError",
    "InputError",
    "Outcome",
    "PolicyError",
    "ReasonCode",
    "Runtime",
    "Settings",
    "SimregError",
    "__version__",
    "build_runtime",
]


def test_the_public_names_are_the_pinned_ones():
    assert simreg.__all__ == PUBLIC, "a change to simreg.__all__ is a change of the public API: update PUBLIC here"


def test_every_public_name_is_what_its_module_defines():
    from simreg import config, runtime
    from simreg.domain import errors, reasons

    assert simreg.Settings is config.Settings
    assert simreg.Runtime is runtime.Runtime and simreg.build_runtime is runtime.build_runtime
    assert simreg.SimregError is errors.SimregError
    for cls in (simreg.InputError, simreg.PolicyError, simreg.InfraError):
        assert cls is getattr(errors, cls.__name__) and issubclass(cls, simreg.SimregError)
    assert simreg.ReasonCode is reasons.ReasonCode and simreg.Outcome is reasons.Outcome
    assert set(PUBLIC) <= set(dir(simreg))


def test_the_version_is_the_projects():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert simreg.__version__ == project["version"]


def test_an_unknown_name_is_an_attribute_error():
    try:
        simreg.NoSuchName  # noqa: B018
    except AttributeError as e:
        assert "NoSuchName" in str(e)
    else:
        raise AssertionError("simreg.NoSuchName resolved")


def test_importing_the_package_loads_no_framework_database_or_model_runtime():
    """The names are imported on first use: ``import simreg`` stays light."""
    code = ("import sys, simreg; print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('fastapi', 'sqlalchemy', 'cv2', 'dlib', 'av', 'numpy', 'pydantic') or m.startswith('simreg.')))")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH"))
                                                       if p)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
