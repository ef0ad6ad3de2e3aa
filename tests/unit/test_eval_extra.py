"""matplotlib and tqdm are the ``eval`` extra: without them the offline commands
name the extra and exit 2, never a traceback (no models, no database)."""

from __future__ import annotations

import sys

import pytest

from simreg import cli


@pytest.mark.parametrize("argv, missing", [
    (["eval", "faces", "--root", "{root}"], "tqdm"),
    (["eval", "faces", "--root", "{root}", "--plots", "{root}/plots"], "matplotlib"),
    (["calibrate", "--root", "{root}"], "tqdm"),
])
def test_an_offline_command_without_the_eval_extra_names_it(argv, missing, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, missing, None)  # makes `import <missing>` raise ImportError
    code = cli.main([a.format(root=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert "CONFIG.EXTRA_MISSING" in err and f"{missing} not installed" in err
    assert "pip install 'simreg[eval]'" in err and "Traceback" not in err
    assert not (tmp_path / "plots").exists()


def test_the_service_dependencies_leave_the_eval_extra_out():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "matplotlib" not in runtime and "tqdm" not in runtime
    assert set(project["optional-dependencies"]["eval"]) <= set(project["optional-dependencies"]["test"])
