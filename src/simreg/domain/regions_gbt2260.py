"""GB/T 2260 administrative-division codes, current **and abolished**.

The table is package data, ``regions_gbt2260.tsv`` beside this module, GENERATED
by ``scripts/gen_regions.py`` from python-stdnum's ``stdnum/cn/loc.dat`` (the
version is on the file's ``# source:`` line and in :data:`SOURCE`); do not edit
it by hand.  The file's comment lines describe its columns.

* :func:`divisions` (also ``DIVISIONS``) maps a 6-digit code to its periods
  ``(name, first_year, last_year)``, oldest first; ``None`` means open-ended (in
  use before records start / still in use).  A code whose last period has a
  ``last_year`` belongs to an abolished division; numbers issued with it stay
  valid.
* :func:`provinces` (also ``PROVINCES``) maps the first two digits to the
  province-level name.
* :func:`source` (also ``SOURCE``) names the package and version the table came
  from, e.g. ``"python-stdnum 2.2 (stdnum/cn/loc.dat)"``.

Purity: the domain does no I/O, with this one stated exception.  This module
reads a read-only file shipped *inside the package* with
:mod:`importlib.resources`: the same bytes wherever simreg is installed, no
configuration, no environment, no network.  It is read once, on first use
(importing the module reads nothing), under a lock, and the parsed tables are
read-only mappings, so the functions that use them stay deterministic.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import NamedTuple

DATA_FILE = "regions_gbt2260.tsv"
_HEADER = ["kind", "code", "from", "until", "name"]
_SOURCE_PREFIX = "# source: "

Period = tuple[str, int | None, int | None]  # (name, first_year, last_year)


class _Table(NamedTuple):
    source: str
    provinces: Mapping[str, str]
    divisions: Mapping[str, tuple[Period, ...]]


_table: _Table | None = None
_lock = threading.Lock()


def _year(cell: str) -> int | None:
    return int(cell) if cell else None


def parse(text: str) -> _Table:
    """Parse the data file's text (exposed for the tests and the generator's check)."""
    source = ""
    header: list[str] | None = None
    provinces: dict[str, str] = {}
    divisions: dict[str, list[Period]] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.startswith("#"):
            if line.startswith(_SOURCE_PREFIX):
                source = line[len(_SOURCE_PREFIX):].strip()
            continue
        if not line:
            continue
        cells = line.split("\t")
        if header is None:
            if cells != _HEADER:
                raise ValueError(f"{DATA_FILE}:{lineno}: header {cells!r}, expected {_HEADER!r}")
            header = cells
            continue
        if len(cells) != len(_HEADER):
            raise ValueError(f"{DATA_FILE}:{lineno}: {len(cells)} fields, expected {len(_HEADER)}")
        kind, code, first, last, name = cells
        if kind == "province":
            provinces[code] = name
        elif kind == "division":
            divisions.setdefault(code, []).append((name, _year(first), _year(last)))
        else:
            raise ValueError(f"{DATA_FILE}:{lineno}: unknown kind {kind!r}")
    if not source or header is None:
        raise ValueError(f"{DATA_FILE}: no '# source:' line or no header row")
    return _Table(
        source=source,
        provinces=MappingProxyType(provinces),
        divisions=MappingProxyType({code: tuple(periods) for code, periods in divisions.items()}),
    )


def _load() -> _Table:
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                text = resources.files("simreg.domain").joinpath(DATA_FILE).read_text(encoding="utf-8")
                _table = parse(text)
    return _table


def divisions() -> Mapping[str, tuple[Period, ...]]:
    """6-digit code -> its periods ``(name, first_year, last_year)``, oldest first."""
    return _load().divisions


def provinces() -> Mapping[str, str]:
    """First two digits -> province-level name."""
    return _load().provinces


def source() -> str:
    """The package, version and file the table was generated from."""
    return _load().source


def __getattr__(name: str) -> object:
    # The names this module had when the table was Python code; read on first use.
    if name == "DIVISIONS":
        return divisions()
    if name == "PROVINCES":
        return provinces()
    if name == "SOURCE":
        return source()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
