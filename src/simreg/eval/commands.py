"""The bodies of the offline commands (``simreg eval faces``, ``simreg eval
liveness``, ``simreg calibrate``): they print their results and return the exit
code.  :mod:`simreg.cli` parses the arguments, checks the ``eval`` extra and
imports this module inside those commands only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..config import Settings


def _fail(code: str, message: str) -> int:
    """As the CLI reports a refusal: the reason code on stderr, exit code 2."""
    print(f"error: {code}: {message}", file=sys.stderr)
    return 2


def _eval_scores(args, settings: Settings):
    import shutil
    import tempfile

    from ..domain.policy import ID_CHIP_BAND
    from ..runtime import build_runtime
    from .faces import (
        build_id_chip_protocol,
        build_pairs,
        embed_dataset,
        identity_of,
        in_subset,
        list_images,
        parse_subset,
        read_pairs,
        score_pairs,
    )

    root = Path(args.root)
    if not root.is_dir():
        raise FileNotFoundError(f"no such directory: {root}")
    subset = parse_subset(getattr(args, "subset", None))
    images = [p for p in list_images(root) if in_subset(identity_of(p), subset)]
    with build_runtime(settings) as rt:
        if args.protocol == ID_CHIP_BAND:
            workdir = Path(tempfile.mkdtemp(prefix="simreg-id-chip-"))
            try:
                p_images, pairs = build_id_chip_protocol(root, images, workdir, rt.limits)
                data = embed_dataset(rt.engine, rt.policy, workdir, p_images, rt.limits, progress=not args.no_progress)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
        else:
            kept = set(images)
            pairs_tsv = [r for r in (read_pairs(Path(args.pairs)) if args.pairs else [])
                         if r[0] in kept and r[1] in kept]
            pairs = build_pairs(images, pairs_tsv, args.all_pairs)
            data = embed_dataset(rt.engine, rt.policy, root, images, rt.limits, progress=not args.no_progress)
    return rt, images, data, score_pairs(data, pairs)


def eval_faces(args, settings: Settings) -> int:
    """``simreg eval faces``: FMR/FNMR of the configured engine and policy on a folder."""
    from ..domain.policy import matcher_of, policy_from_dict
    from .faces import (
        decision_scores,
        evaluate,
        format_rates,
        impostor_normalisation,
        rates_to_dict,
        write_plots,
        write_scores_tsv,
    )

    try:
        rt, images, data, scores = _eval_scores(args, settings)
    except (FileNotFoundError, OSError, ValueError) as exc:
        return _fail("INPUT.FILE", str(exc))
    fta = len(data.failures) / max(len(images), 1)
    policy = rt.policy
    if not policy.computable_from(scores.per_model):
        # a policy calibrated for other models: measure this engine's own score (one
        # model), or the fusion of its models normalised on this data
        matcher, fusion = matcher_of(impostor_normalisation(scores))
        policy = policy_from_dict({"version": policy.version, "matcher": matcher,
                                   "fusion": [c.__dict__ for c in fusion]})
    model_id, s = decision_scores(scores, policy)
    rates = evaluate(s, scores.pairs)
    components = {mid: evaluate(v, scores.pairs) for mid, v in scores.per_model.items()}
    if args.scores_out:
        write_scores_tsv(Path(args.scores_out), scores.pairs, s, scores.acquired)
    plots = write_plots(Path(args.plots), s, scores.pairs, model_id) if args.plots else []
    if args.json:
        print(json.dumps({"model_id": model_id, "images": len(images), "failure_to_acquire": fta,
                          "failures": data.failures, **rates_to_dict(rates),
                          "components": {k: rates_to_dict(v) for k, v in components.items()},
                          "policy": {"version": rt.policy.version, "sha256": rt.policy.sha256},
                          "plots": [str(p) for p in plots]}, indent=2))
    else:
        print(format_rates(rates, fta, len(images), model_id))
        for mid, r in components.items():
            print(f"  component {mid}: EER {r.eer * 100:.2f} %, "
                  + ", ".join(f"FNMR@{p.target_fmr:g} {p.fnmr * 100:.2f} %" for p in r.points))
        if data.failures:
            print("not acquired: " + ", ".join(f"{k} ({v})" for k, v in sorted(data.failures.items())))
        for p in plots:
            print(f"wrote {p}")
    return 0


def eval_liveness(args, settings: Settings, run_job) -> int:
    """``simreg eval liveness``: BPCER, APCER per attack type and wrong-challenge
    APCER on a labelled folder.  ``run_job`` is the CLI's (runtime built, input
    refusals printed as reason codes)."""
    from .liveness import as_dicts, evaluate

    root = Path(args.root)
    if not (root / "videos" / "events.json").is_file():
        return _fail("INPUT.FILE", f"{root}/videos/events.json not found")

    attacks = Path(args.attacks) if args.attacks else None
    if attacks is not None and not (attacks / "manifest.json").is_file():
        return _fail("INPUT.FILE", f"{attacks}/manifest.json not found")

    def show(s):
        if not args.json:
            verdict = ("REVIEW" if s.review else "ACCEPT") if s.accepted else "reject"
            print(f"{s.kind:15s} {verdict:6s} {s.file:55s} {','.join(s.challenge):30s} "
                  f"{' '.join(s.reasons)}", flush=True)

    def job(rt):
        return evaluate(rt.engine, rt.policy, root, progress=show, attacks=attacks)

    res, _rt, _load_ms, refused = run_job(settings, args, job)
    if refused is not None:
        return refused
    samples, summary = res
    if args.json:
        print(json.dumps({"summary": summary, "samples": as_dicts(samples)}, indent=1))
        return 0

    def pct(r):
        review = f", {r['review']} to review" if r.get("review") else ""
        return "n/a" if r["rate"] is None else f"{r['rate'] * 100:.1f} % ({r['errors']}/{r['n']}{review})"

    print(f"\nBPCER (bona fide, own actions): {pct(summary['bpcer'])}")
    print("Attacks challenged as the service draws challenges:")
    for t, r in summary["apcer"].items():
        print(f"APCER {t:20s} {pct(r)}")
    print(f"APCER all attacks           {pct(summary['apcer_all_attacks'])}")
    print("Attacks challenged with exactly the actions they imitate (adaptive attacker):")
    for t, r in summary["apcer_imitated"].items():
        print(f"APCER {t:20s} {pct(r)}")
    print(f"APCER all imitating attacks {pct(summary['apcer_imitated_all'])}")
    print(f"APCER wrong challenge       {pct(summary['apcer_wrong_challenge'])}")
    print(f"APCER wrong order (prompts) {pct(summary['apcer_wrong_order'])}")
    return 0


def calibrate(args, settings: Settings) -> int:
    """``simreg calibrate``: the threshold for a target FMR, written into the policy file."""
    from .calibration import calibrate_policy

    try:
        _rt, images, _data, scores = _eval_scores(args, settings)
    except (FileNotFoundError, OSError, ValueError) as exc:
        return _fail("INPUT.FILE", str(exc))
    policy_path = Path(args.policy) if args.policy else settings.policy_path
    n_ids = len({Path(p).parts[0] for p in images})
    dataset = args.dataset_name or f"{Path(args.root).name}: {len(images)} images, {n_ids} identities"
    band = None if args.protocol == "photos" else args.protocol
    if band:
        dataset += f", {band} protocol"
    doc = calibrate_policy(policy_path, scores, args.fmr, dataset, band, review=args.review)
    key = doc["matcher"] + (f"@{band}" if band else "") + ("@review" if args.review else "")
    entry = doc["thresholds"][key]
    print(f"wrote {policy_path} version {doc['version']}: {key} threshold {entry['threshold']:.4f} "
          f"at FMR {args.fmr:g} (FNMR {entry['fnmr_at_calibration'] * 100:.2f} % on {dataset})")
    return 0
