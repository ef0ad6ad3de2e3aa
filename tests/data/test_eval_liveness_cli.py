"""`simreg eval liveness` end to end on a small folder cut from ../shared/data:
a bona fide clip, a real replay video and a printed photo."""

from __future__ import annotations

import json
import shutil

from simreg.cli import main


def test_eval_liveness_reports_per_sample_results_and_the_rates(data_dir, tmp_path, capsys, face_models):
    events = json.loads((data_dir / "videos" / "events.json").read_text())
    keep = {"liveportrait_d0.mp4", "../spoof/replay/pad_tranvanluyt_fake_replay.mp4"}
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "events.json").write_text(json.dumps([e for e in events if e["file"] in keep]))
    shutil.copy(data_dir / "videos" / "liveportrait_d0.mp4", tmp_path / "videos")
    for sub, name in (("replay", "pad_tranvanluyt_fake_replay.mp4"), ("print", "nuaa_0001_1.jpg")):
        (tmp_path / "spoof" / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy(data_dir / "spoof" / sub / name, tmp_path / "spoof" / sub)
    assert main(["eval", "liveness", "--root", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    by = {(s["file"], s["kind"]): s for s in out["samples"]}
    assert by[("videos/liveportrait_d0.mp4", "bona-fide")]["accepted"] is True
    assert by[("videos/liveportrait_d0.mp4", "wrong-challenge")]["accepted"] is False
    assert by[("spoof/replay/pad_tranvanluyt_fake_replay.mp4", "attack")]["accepted"] is False
    assert by[("spoof/print/nuaa_0001_1.jpg", "attack")]["accepted"] is False
    s = out["summary"]
    assert s["bpcer"]["rate"] == 0.0 and s["apcer_all_attacks"]["rate"] == 0.0
    assert set(s["apcer"]) == {"replay-video", "print-still"}
