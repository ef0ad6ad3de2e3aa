"""Evaluating liveness on a labelled data folder (``simreg eval liveness``).

The protocol, in ISO/IEC 30107-3 terms, over ``ROOT`` laid out as ../shared/data:

* **bona fide**: every single-face video of ``videos/`` whose events were checked
  by eye (``videos/events.json``), challenged with the distinct actions it really
  contains, in order of first appearance (at most 3).  A refusal counts toward BPCER.
* **attacks**, per attack type, each challenged as the service draws challenges
  (a turn and a blink), built from the actions the attack imitates:
  ``spoof/replay/*.mp4`` (replay video), ``spoof/simulated/{print,replay,cutout}``
  (generated, ``manifest.json``), and every still of ``spoof/print`` and
  ``spoof/replay`` presented as a 3 s video of the still.  An acceptance counts
  toward APCER of its type.
* **wrong challenge**: each bona fide video against an action it never performs.
* **wrong order, with prompt times**: each bona fide video with two kinds of
  action, challenged in the reverse order with the prompts timed so that the
  second prompt appears after the person has done that action for the last time.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .adapters.video import VideoLimits
from .domain.challenge import Action
from .domain.errors import InputError

ACTIONS = ("turn_left", "turn_right", "blink")


@dataclass
class Sample:
    file: str
    kind: str                    # bona-fide | attack | wrong-challenge | wrong-order
    attack_type: str | None
    challenge: list[str]
    prompt_times: list[float] | None = None
    accepted: bool | None = None
    reasons: list[str] = field(default_factory=list)
    pad: dict = field(default_factory=dict)


def own_actions(blinks: Sequence[float], turns: Sequence[dict]) -> list[str]:
    """The distinct actions of a labelled clip, in order of first appearance (≤3)."""
    events = [(t, "blink") for t in blinks] + [(t["start"], t["direction"]) for t in turns]
    out: list[str] = []
    for _, a in sorted(events):
        if a not in out:
            out.append(a)
    return out[:3]


def as_drawn(imitated: list[str]) -> list[str]:
    """The challenge the service could draw around what an attack imitates: a turn and a blink."""
    full = list(imitated)
    if "blink" not in full:
        full.append("blink")
    if not any(a.startswith("turn") for a in full):
        full.insert(0, "turn_left")
    return full


def _times(entry: dict, action: str) -> list[tuple[float, float]]:
    if action == "blink":
        return [(t, t) for t in entry["blinks"]]
    return [(t["start"], t["end"]) for t in entry["turns"] if t["direction"] == action]


def protocol(root: Path) -> Iterator[Sample]:
    """Every sample to judge, with its challenge."""
    events = json.loads((root / "videos" / "events.json").read_text(encoding="utf-8"))
    for e in events:
        if not e.get("verified_by_eye") or not e.get("single_face") or not e.get("bona_fide", True):
            continue
        own = own_actions(e["blinks"], e["turns"])
        if not own:
            continue
        rel = f"videos/{e['file']}"
        yield Sample(rel, "bona-fide", None, own)
        missing = [a for a in ACTIONS if a not in own]
        if missing:
            yield Sample(rel, "wrong-challenge", None, own + [missing[0]])
        if len(own) >= 2:
            first, second = own[0], own[1]
            t_second = min(s for s, _ in _times(e, second))
            last_first = max(s for s, _ in _times(e, first))
            if last_first < t_second + 0.5:  # the person never does `first` again after `second`
                yield Sample(rel, "wrong-order", None, [second, first], [0.0, round(t_second + 0.5, 2)])
    for p in sorted((root / "spoof" / "replay").glob("*.mp4")):
        entry = next((x for x in events if Path(x["file"]).name == p.name), None)
        imitated = own_actions(entry["blinks"], entry["turns"]) if entry else []
        yield Sample(f"spoof/replay/{p.name}", "attack", "replay-video", as_drawn(imitated))
    manifest = root / "spoof" / "simulated" / "manifest.json"
    if manifest.is_file():
        for it in json.loads(manifest.read_text(encoding="utf-8"))["items"]:
            im = it["imitates"]
            turns = im.get("turns") or ([im["turn"]] if isinstance(im.get("turn"), dict) else [])
            yield Sample(f"spoof/simulated/{it['file']}", "attack", f"simulated-{it['attack_type']}",
                         as_drawn(own_actions(im.get("blink_times", []), turns)))
    for kind in ("print", "replay"):
        for p in sorted((root / "spoof" / kind).glob("*.jpg")):
            yield Sample(f"spoof/{kind}/{p.name}", "attack", f"{kind}-still", ["turn_left", "blink"])


def run(samples: Sequence[Sample], root: Path, judge: Callable[[Sample, bytes], tuple],
        progress: Callable[[Sample], None] | None = None) -> list[Sample]:
    """Judge every sample: ``judge(sample, video bytes)`` returns (accepted, reasons,
    pad scores); a still is presented as a 3 s video of itself."""
    from .adapters.video import still_clip

    for s in samples:
        try:
            path = root / s.file
            data = still_clip(path.read_bytes()) if path.suffix.lower() == ".jpg" else path.read_bytes()
            s.accepted, reasons, s.pad = judge(s, data)
            s.reasons = list(reasons)
        except InputError as exc:
            s.accepted, s.reasons = False, [exc.code.value]
        if progress is not None:
            progress(s)
    return list(samples)


def summarise(samples: Sequence[Sample]) -> dict:
    """BPCER, APCER per attack type, and APCER of the wrong challenges, with the files behind each error."""
    def rate(sel, error):
        bad = [s.file for s in sel if error(s)]
        return {"n": len(sel), "errors": len(bad), "rate": (len(bad) / len(sel)) if sel else None, "files": bad}

    out = {"bpcer": rate([s for s in samples if s.kind == "bona-fide"], lambda s: not s.accepted)}
    types = sorted({s.attack_type for s in samples if s.kind == "attack"})
    out["apcer"] = {t: rate([s for s in samples if s.attack_type == t], lambda s: s.accepted) for t in types}
    out["apcer_all_attacks"] = rate([s for s in samples if s.kind == "attack"], lambda s: s.accepted)
    for k in ("wrong-challenge", "wrong-order"):
        out[f"apcer_{k.replace('-', '_')}"] = rate([s for s in samples if s.kind == k], lambda s: s.accepted)
    return out


def evaluate(engine, policy, root: Path, limits: VideoLimits = VideoLimits(max_duration_s=30.0, max_frames=2000),
             progress: Callable[[Sample], None] | None = None) -> tuple[list[Sample], dict]:
    """The whole protocol with the real pipeline: each file decoded and tracked
    once (``FaceAnalyser.track_video``), then judged against each of its challenges
    (``pipeline.judge_liveness``, as ``check_liveness`` does)."""
    from .pipeline import judge_liveness

    last: dict[str, object] = {}  # the track of the file judged last: samples of one file come together

    def judge(sample: Sample, video: bytes):
        if sample.file not in last:
            last.clear()
            last[sample.file] = engine.track_video(video, limits, policy.detection)
        res = judge_liveness(last[sample.file], [Action(a) for a in sample.challenge],
                             prompt_times=sample.prompt_times)
        return res.report.passed, res.report.reasons, dict(res.pad_scores)

    samples = run(list(protocol(root)), root, judge, progress)
    return samples, summarise(samples)


def as_dicts(samples: Sequence[Sample]) -> list[dict]:
    return [asdict(s) for s in samples]
