"""The console script, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simreg.cli", *args], capture_output=True, text=True, timeout=300)


def test_compare_json_gives_decision_threshold_fmr_quality_and_timings(faces_dir):
    p = run("compare", str(faces_dir / "fr_Joe_Biden" / "1.jpg"), str(faces_dir / "fr_Joe_Biden" / "2.jpg"), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["decision"] == "match"
    assert out["score"] >= out["threshold"] and out["target_fmr"] == 1e-4  # the shipped operating point
    assert out["a"]["quality"]["inter_eye_px"] > 0 and "yaw" in out["b"]["quality"]
    assert out["timings_ms"]["total"] > 0 and "model_load" in out["timings_ms"]


def test_compare_of_a_corrupt_file_exits_2_with_a_reason_code(tmp_path, faces_dir):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    p = run("compare", str(bad), str(faces_dir / "fr_Joe_Biden" / "1.jpg"))
    assert p.returncode == 2
    assert "MEDIA.UNDECODABLE" in p.stderr and "Traceback" not in p.stderr


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
