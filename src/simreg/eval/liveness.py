"""Evaluating liveness on a labelled data folder (``simreg eval liveness``).

The protocol, in ISO/IEC 30107-3 terms, over ``ROOT`` laid out as ../shared/data:

* **bona fide**: every single-face video of ``videos/`` whose events were checked
  by eye (``videos/events.json``), challenged with the distinct actions it really
  contains, in order of first appearance (at most 3).  A refusal counts toward BPCER.
* **attacks**, per attack type, under two protocols:

  - *drawn*: challenged as the service draws challenges (a turn and a blink),
    built from the actions the attack imitates;
  - *imitated* (the adaptive attacker): challenged with exactly the actions the
    attack performs, so that only the passive signals can refuse it (video
    attacks that imitate at least one action);

  over ``spoof/replay/*.mp4`` (replay video), ``spoof/simulated/{print,replay,cutout}``
  (generated, ``manifest.json``), the attacks of ``--attacks DIR`` (a
  ``manifest.json`` in the same layout, e.g. from ``bench/gen_attacks.py``; types
  ``generated-<kind>``), and every still of ``spoof/print`` and ``spoof/replay``
  presented as a 3 s video of the still (drawn only: a still performs nothing).
  An acceptance counts toward APCER of its type; a clip sent to review is not an
  acceptance (a supervisor decides), and is counted apart.
* **wrong challenge**: each bona fide video against an action it never performs.
* **wrong order, with prompt times**: each bona fide video with two kinds of
  action, challenged in the reverse order with the prompts timed so that the
  second prompt appears after the person has done that action for the last time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..adapters.video import VideoLimits
from ..domain.challenge import Action
from ..domain.errors import InputError

ACTIONS = ("turn_left", "turn_right", "blink")


@dataclass
class Sample:
    file: str
    kind: str                    # bona-fide | attack | attack-imitated | wrong-challenge | wrong-order
    attack_type: str | None
    challenge: list[str]
    prompt_times: list[float] | None = None
    accepted: bool | None = None
    review: bool = False         # passed, but the PAD score sends it to a supervisor
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


def _attack(file: str, attack_type: str, imitated: list[str]) -> Iterator[Sample]:
    """An attack under both protocols: as drawn, and (when it imitates anything) with exactly what it imitates."""
    yield Sample(file, "attack", attack_type, as_drawn(imitated))
    if imitated:
        yield Sample(file, "attack-imitated", attack_type, list(imitated))


def _manifest_attacks(manifest: Path, prefix: str, type_prefix: str) -> Iterator[Sample]:
    for it in json.loads(manifest.read_text(encoding="utf-8"))["items"]:
        im = it["imitates"]
        turns = im.get("turns") or ([im["turn"]] if isinstance(im.get("turn"), dict) else [])
        yield from _attack(f"{prefix}{it['file']}", f"{type_prefix}{it['attack_type']}",
                           own_actions(im.get("blink_times", []), turns))


def protocol(root: Path, attacks: Path | None = None) -> Iterator[Sample]:
    """Every sample to judge, with its challenge (``attacks``: a folder of more
    attacks with a ``manifest.json``; their files are named relative to ``root``
    when inside it, else absolute)."""
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
            yield Sample(rel, "wrong-challenge", None, [*own, missing[0]])
        if len(own) >= 2:
            first, second = own[0], own[1]
            t_second = min(s for s, _ in _times(e, second))
            last_first = max(s for s, _ in _times(e, first))
            if last_first < t_second + 0.5:  # the person never does `first` again after `second`
                yield Sample(rel, "wrong-order", None, [second, first], [0.0, round(t_second + 0.5, 2)])
    for p in sorted((root / "spoof" / "replay").glob("*.mp4")):
        entry = next((x for x in events if Path(x["file"]).name == p.name), None)
        imitated = own_actions(entry["blinks"], entry["turns"]) if entry else []
        yield from _attack(f"spoof/replay/{p.name}", "replay-video", imitated)
    manifest = root / "spoof" / "simulated" / "manifest.json"
    if manifest.is_file():
        yield from _manifest_attacks(manifest, "spoof/simulated/", "simulated-")
    if attacks is not None:
        prefix = str(attacks.resolve()) + "/"
        if attacks.resolve().is_relative_to(root.resolve()):
            prefix = str(attacks.resolve().relative_to(root.resolve())) + "/"
        yield from _manifest_attacks(attacks / "manifest.json", prefix, "generated-")
    for kind in ("print", "replay"):
        for p in sorted((root / "spoof" / kind).glob("*.jpg")):
            yield Sample(f"spoof/{kind}/{p.name}", "attack", f"{kind}-still", ["turn_left", "blink"])


def run(samples: Sequence[Sample], root: Path, judge: Callable[[Sample, bytes], tuple],
        progress: Callable[[Sample], None] | None = None) -> list[Sample]:
    """Judge every sample: ``judge(sample, video bytes)`` returns (accepted, reasons,
    pad scores, sent to review); a still is presented as a 3 s video of itself."""
    from ..adapters.video import still_clip

    for s in samples:
        try:
            path = root / s.file
            data = still_clip(path.read_bytes()) if path.suffix.lower() == ".jpg" else path.read_bytes()
            s.accepted, reasons, s.pad, s.review = judge(s, data)
            s.reasons = list(reasons)
        except InputError as exc:
            s.accepted, s.reasons = False, [exc.code.value]
        if progress is not None:
            progress(s)
    return list(samples)


def summarise(samples: Sequence[Sample]) -> dict:
    """BPCER, APCER per attack type under both protocols, and APCER of the wrong
    challenges, with the files behind each error.  An acceptance is a pass that
    is not sent to review; ``review`` counts the clips sent to review."""
    def rate(sel, error):
        bad = [s.file for s in sel if error(s)]
        return {"n": len(sel), "errors": len(bad), "rate": (len(bad) / len(sel)) if sel else None, "files": bad,
                "review": sum(bool(s.accepted and s.review) for s in sel)}

    def accepted(s):
        return bool(s.accepted) and not s.review

    out = {"bpcer": rate([s for s in samples if s.kind == "bona-fide"], lambda s: not s.accepted)}
    for key, kind in (("apcer", "attack"), ("apcer_imitated", "attack-imitated")):
        types = sorted({s.attack_type for s in samples if s.kind == kind}, key=str)  # an attack has a type
        out[key] = {t: rate([s for s in samples if s.kind == kind and s.attack_type == t], accepted) for t in types}
    out["apcer_all_attacks"] = rate([s for s in samples if s.kind == "attack"], accepted)
    out["apcer_imitated_all"] = rate([s for s in samples if s.kind == "attack-imitated"], accepted)
    for k in ("wrong-challenge", "wrong-order"):
        out[f"apcer_{k.replace('-', '_')}"] = rate([s for s in samples if s.kind == k], accepted)
    return out


def evaluate(engine, policy, root: Path, limits: VideoLimits = VideoLimits(max_duration_s=30.0, max_frames=2000),
             progress: Callable[[Sample], None] | None = None,
             attacks: Path | None = None) -> tuple[list[Sample], dict]:
    """The whole protocol with the real pipeline: each file decoded and tracked
    once (``FaceAnalyser.track_video``), then judged against each of its challenges
    (``pipeline.judge_liveness``, as ``check_liveness`` does)."""
    from ..app.pipeline import judge_liveness

    last: dict[str, object] = {}  # the track of the file judged last: samples of one file come together

    def judge(sample: Sample, video: bytes):
        if sample.file not in last:
            last.clear()
            last[sample.file] = engine.track_video(video, limits, policy.detection, tracking=policy.tracking)
        res = judge_liveness(last[sample.file], [Action(a) for a in sample.challenge],
                             prompt_times=sample.prompt_times, params=policy.liveness, pad_params=policy.pad)
        return res.report.passed, res.report.reasons + res.pad_review, dict(res.pad_scores), bool(res.pad_review)

    samples = run(list(protocol(root, attacks)), root, judge, progress)
    return samples, summarise(samples)


def as_dicts(samples: Sequence[Sample]) -> list[dict]:
    return [asdict(s) for s in samples]
