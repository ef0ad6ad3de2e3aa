"""The tiers of the suite: markers given from the fixtures a test uses, and
kept honest at run time.  tests/conftest.py installs the hooks below.

A test's markers are read from the fixtures it uses (directly or through other
fixtures), so a new test is classified by what it asks for:

* ``models``: the face models; the fixtures ``runtime`` (the real engine) and
  ``face_models`` (ask for it when a test or fixture loads a model file itself).
* ``postgres``: the PostgreSQL server; the fixture ``postgres_url``, or a
  backend parameter ``"postgresql"`` (``database_url``, or a module's own).
* ``browser``: chromium; the fixture ``browser``.
* ``data``: ../shared/data; the fixture ``data_dir`` (and all of tests/data).
* ``slow``: the few tests named in ``SLOW`` below, with what makes them slow.

The markers are kept honest at run time: a test not marked ``models`` that
reads a model file (``model_files.read_verified`` / ``ModelFile.verified_path``),
or one not marked ``postgres`` that opens a PostgreSQL connection, fails and is
told which fixture to ask for.  Work done in a subprocess is not seen: a test
whose subprocess needs models or PostgreSQL carries the marker itself.
``tests/unit`` is stricter still (tests/unit/conftest.py).
"""

from __future__ import annotations

import functools

import pytest

MODEL_FIXTURES = {"runtime", "face_models"}
POSTGRES_FIXTURES = {"postgres_url"}
POSTGRES_PARAM = "postgresql"
BROWSER_FIXTURES = {"browser"}
DATA_FIXTURES = {"data_dir"}
# node id prefix (a file, or file::test) -> why it is slow: more than about 10 s
# on 2 shared cores, measured (api contract: 6-12 s per role) or by construction
# (the whole shared data set through the engine).  `-m "not slow"` leaves them out.
# Measured and not slow: simreg serve --workers 2 (5 s), the quota over four
# server processes (7 s), simreg eval faces on a small folder (3 s).
SLOW = {
    "tests/data/test_accuracy_regression.py": "embeds every image of the shared face set and held-out LFW",
    "tests/data/test_liveness_videos.py": "tracks every bona fide and attack video of the shared set",
    "tests/data/test_leak_scan.py::test_the_scanner": "spawns its own engine workers",
    "tests/data/test_leak_scan.py::test_full_registrations": "spawns its own engine workers, whole registrations",
    "tests/e2e/test_counter_browser.py": "a real chromium on a fake camera",
    "tests/http/test_api_contract.py::test_schemathesis_finds_nothing": "schemathesis drives every operation, per role",
}


def needs(item: pytest.Item) -> set[str]:
    """The markers a collected test gets from its fixtures, parameters and path."""
    fixtures = set(getattr(item, "fixturenames", ()))
    callspec = getattr(item, "callspec", None)
    params = callspec.params.values() if callspec is not None else ()
    node = item.nodeid  # relative to the checkout: tests/<tier>/test_x.py::test_y[...]
    out = set()
    if fixtures & MODEL_FIXTURES:
        out.add("models")
    if fixtures & POSTGRES_FIXTURES or any(isinstance(p, str) and p == POSTGRES_PARAM for p in params):
        out.add("postgres")
    if fixtures & BROWSER_FIXTURES:
        out.add("browser")
    if fixtures & DATA_FIXTURES or node.startswith("tests/data/"):
        out.add("data")
    if any(node.startswith(prefix) for prefix in SLOW):
        out.add("slow")
    return out


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in sorted(needs(item)):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)


# --------------------------------------------------------------- honest markers

_running: list = [None]  # the test being set up, run or torn down
# > 0 while a fixture is set up or the test runs; teardown is not watched (it undoes
# what a marked test set up, and a finalizer of a wider fixture may run in another
# test's setup when a parameter changes)
_watching: list = [0]


class TierViolation(AssertionError):
    pass


def _violation(item, marker: str, what: str) -> str:
    ask = {"models": "ask for the `face_models` fixture (or `runtime`)",
           "postgres": "ask for the `postgres_url` fixture (or a `postgresql` backend parameter)"}[marker]
    return (f"{item.nodeid} {what} but is not marked `{marker}`: {ask}, "
            f"or mark it @pytest.mark.{marker} when a subprocess does it")


def _guarded(marker: str, what: str, fn, *, once_done: bool = False):
    """``fn``, refused to a running test not marked ``marker``: before it runs, or
    (``once_done``) only when it succeeds (a connection to a port where no server
    listens needs no server)."""
    def refuse(item, result=None):
        message = _violation(item, marker, what)
        item.stash.setdefault(_VIOLATIONS, []).append(message)  # failed even when the error is swallowed
        if result is not None:
            result.close()
        raise TierViolation(message)

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        item = _running[0]
        unmarked = item is not None and _watching[0] > 0 and item.get_closest_marker(marker) is None
        if unmarked and not once_done:
            refuse(item)
        result = fn(*args, **kwargs)
        if unmarked:
            refuse(item, result)
        return result

    guarded.__simreg_unguarded__ = fn
    return guarded


_VIOLATIONS = pytest.StashKey[list]()


def _install_guards() -> None:
    import sys

    import psycopg

    from simreg.adapters.faces import model_files

    if hasattr(model_files.read_verified, "__simreg_unguarded__"):
        return
    original = model_files.read_verified
    read = _guarded("models", "read a model file", original)
    for module in list(sys.modules.values()):  # modules that imported it by name
        if getattr(module, "read_verified", None) is original:
            module.read_verified = read
    model_files.ModelFile.verified_path = _guarded("models", "read a model file",
                                                   model_files.ModelFile.verified_path)
    connect = _guarded("postgres", "opened a PostgreSQL connection", psycopg.Connection.connect.__func__,
                       once_done=True)
    psycopg.Connection.connect = classmethod(connect)
    psycopg.connect = psycopg.Connection.connect


def pytest_configure(config):
    _install_guards()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _running[0] = item
    try:
        return (yield)
    finally:
        _running[0] = None


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    _watching[0] += 1
    try:
        return (yield)
    finally:
        _watching[0] -= 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    _watching[0] += 1
    try:
        return (yield)
    finally:
        _watching[0] -= 1


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    found = item.stash.get(_VIOLATIONS, None)
    if found and report.when in ("setup", "call") and not report.failed:
        report.outcome = "failed"
        report.longrepr = "\n".join(found)
    return report
