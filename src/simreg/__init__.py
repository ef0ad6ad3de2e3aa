"""simreg: real-name SIM registration with face portrait matching.

The public names are the ones in ``__all__`` (pinned by tests/unit/test_public_api.py):
the version, the settings and the composition root that wires the adapters
into the use cases, the error tree, and the codes and outcomes a caller reads.
Everything else is reached by its module (``simreg.domain.quality``, ...).

Importing this package loads no model and no framework: the names below are
imported on first use.  Models are built by
:func:`simreg.adapters.faces.factory.build_face_engine`, through
:func:`build_runtime`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# configuration and the composition root (Settings, Runtime, build_runtime), the
# error tree (every error carries a code) and what a caller reads: the reason
# codes and a registration's outcome.  Sorted, as ruff's RUF022 asks.
__all__ = [
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

# name -> the module that defines it (imported when the name is first used)
_WHERE = {
    "Settings": "simreg.config",
    "Runtime": "simreg.runtime",
    "build_runtime": "simreg.runtime",
    "SimregError": "simreg.domain.errors",
    "InputError": "simreg.domain.errors",
    "PolicyError": "simreg.domain.errors",
    "InfraError": "simreg.domain.errors",
    "ReasonCode": "simreg.domain.reasons",
    "Outcome": "simreg.domain.reasons",
}

if TYPE_CHECKING:
    from .config import Settings
    from .domain.errors import InfraError, InputError, PolicyError, SimregError
    from .domain.reasons import Outcome, ReasonCode
    from .runtime import Runtime, build_runtime


def __getattr__(name: str):
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module 'simreg' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
