"""The suite's markers follow from what a test asks for (tests/tiers.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tiers import needs


def item(nodeid: str, fixtures=(), params=None):
    return SimpleNamespace(nodeid=nodeid, fixturenames=list(fixtures),
                           callspec=SimpleNamespace(params=params) if params is not None else None)


@pytest.mark.parametrize(("fixtures", "params", "expected"), [
    ((), None, set()),
    (("tmp_path", "monkeypatch"), None, set()),
    (("runtime",), None, {"models"}),
    (("face_models", "tmp_path"), None, {"models"}),
    (("database_url",), {"database_url": "sqlite"}, set()),
    (("database_url",), {"database_url": "postgresql"}, {"postgres"}),
    (("svc", "runtime"), {"svc": "postgresql"}, {"models", "postgres"}),  # a module's own backend parameter
    (("postgres_url",), None, {"postgres"}),
    (("browser", "live", "runtime", "data_dir"), None, {"browser", "models", "data"}),
    (("data_dir",), {"n": 3, "shape": (2, 2)}, {"data"}),
])
def test_markers_come_from_the_fixtures_and_parameters(fixtures, params, expected):
    assert needs(item("tests/adapters/test_x.py::test_y", fixtures, params)) == expected


def test_every_test_under_tests_data_needs_the_data_and_the_slow_ones_are_named():
    assert needs(item("tests/data/test_x.py::test_y")) == {"data"}
    assert "slow" in needs(item("tests/data/test_accuracy_regression.py::test_y[a]", ("runtime",)))
    assert "slow" in needs(item("tests/http/test_api_contract.py::test_schemathesis_finds_nothing_with_a_token[clerk]"))
    assert "slow" not in needs(item("tests/http/test_api_contract.py::test_the_checks_find_planted_defects"))


def test_the_markers_are_registered_under_strict_markers(pytestconfig):
    registered = {line.split(":")[0] for line in pytestconfig.getini("markers")}
    assert {"models", "postgres", "browser", "data", "slow"} <= registered
    assert pytestconfig.getoption("strict_markers")
