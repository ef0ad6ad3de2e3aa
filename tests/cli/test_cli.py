"""The console script, run as a user would run it: in a subprocess, on this
checkout's code (tests/cli_support.py), which the first two tests prove."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cli_support import SRC, checkout_env, run_simreg

run = run_simreg


def test_the_subprocess_imports_simreg_from_this_checkouts_src():
    code = "import simreg, simreg.cli; print(simreg.__file__); print(simreg.cli.__file__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=checkout_env(),
                         cwd="/", timeout=60)
    assert out.returncode == 0, out.stderr
    assert [Path(line) for line in out.stdout.split()] == [SRC / "simreg" / "__init__.py", SRC / "simreg" / "cli.py"]


def test_the_command_runs_this_checkout_even_with_another_simreg_first_on_the_path(tmp_path):
    """An installed copy (here a decoy package ahead on PYTHONPATH, as site-packages
    would be behind it) is never the one run."""
    decoy = tmp_path / "site" / "simreg"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    (decoy / "cli.py").write_text("import sys\nprint('the installed copy ran')\nsys.exit(3)\n")
    p = run("--help", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "site")}, cwd=tmp_path, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "installed copy" not in p.stdout and "usage: simreg" in p.stdout


@pytest.mark.models  # the subprocess loads them
def test_compare_json_gives_decision_threshold_fmr_quality_and_timings(faces_dir):
    p = run("compare", str(faces_dir / "fr_Joe_Biden" / "1.jpg"), str(faces_dir / "fr_Joe_Biden" / "2.jpg"), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["decision"] == "match"
    assert out["score"] >= out["threshold"] and out["target_fmr"] == 1e-4  # the shipped operating point
    assert out["a"]["quality"]["inter_eye_px"] > 0 and "yaw" in out["b"]["quality"]
    assert out["timings_ms"]["total"] > 0 and "model_load" in out["timings_ms"]


@pytest.mark.models
def test_compare_of_a_corrupt_file_exits_2_with_a_reason_code(tmp_path, faces_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    p = run("compare", str(bad), str(faces_dir / "fr_Joe_Biden" / "1.jpg"))
    assert p.returncode == 2
    assert "MEDIA.UNDECODABLE" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.models
def test_eval_faces_writes_scores_and_plots(tmp_path, faces_dir):
    # A small labelled folder (3 identities) keeps this quick; the full set runs in the accuracy test.
    root = tmp_path / "faces"
    for ident in ("fr_Joe_Biden", "fr_Barack_Obama", "lfw_Wen_Jiabao"):
        (root / ident).mkdir(parents=True)
        for f in sorted((faces_dir / ident).glob("*.jpg"))[:2]:
            (root / ident / f.name).write_bytes(f.read_bytes())
    pairs = root / "pairs.tsv"
    pairs.write_text("img_a\timg_b\tsame\nfr_Joe_Biden/1.jpg\tfr_Joe_Biden/2.jpg\t1\n"
                     "lfw_Wen_Jiabao/1.jpg\tlfw_Wen_Jiabao/2.jpg\t1\n")
    scores = tmp_path / "scores.tsv"
    p = run("eval", "faces", "--root", str(root), "--pairs", str(pairs), "--json", "--all-pairs",
            "--scores-out", str(scores), "--plots", str(tmp_path / "plots"), "--no-progress")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["n_genuine"] == 3 and out["n_impostor"] == 12  # 6 images: 15 pairs, 3 same-identity
    assert all(not op["supported"] for op in out["operating_points"])  # 12 pairs back no rate
    lines = scores.read_text().splitlines()
    assert lines[0] == "img_a\timg_b\tsame\tscore" and len(lines) == 16
    gen = [float(row.split("\t")[3]) for row in lines[1:] if row.split("\t")[2] == "1"]
    imp = [float(row.split("\t")[3]) for row in lines[1:] if row.split("\t")[2] == "0"]
    assert min(gen) > max(imp)  # higher is more similar
    assert (tmp_path / "plots" / "det.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "histograms.png").stat().st_size > 1000
