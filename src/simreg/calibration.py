"""Writing calibrated thresholds into the versioned policy file."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .domain.metrics import operating_point
from .domain.policy import fusion_model_id, parse_policy
from .evaluation import PairScores, decision_scores, impostor_normalisation, split


def calibrate_policy(policy_path: Path, scores: PairScores, target_fmr: float, dataset: str) -> dict:
    """Set the fusion normalisation and, for every model and the fusion, the
    threshold that reaches ``target_fmr`` on ``scores``; bump the version."""
    doc = json.loads(policy_path.read_text(encoding="utf-8"))
    components = impostor_normalisation(scores)
    doc["fusion"] = [{"model_id": c.model_id, "mean": c.mean, "std": c.std, "weight": c.weight} for c in components]
    doc["matcher"] = fusion_model_id(components)
    policy = parse_policy(json.dumps(doc))
    model_scores = dict(scores.per_model)
    model_scores[policy.matcher] = decision_scores(scores, policy)[1]
    thresholds = dict(doc.get("thresholds", {}))
    for mid, s in model_scores.items():
        gen, imp = split(s, scores.pairs)
        op = operating_point(gen, imp, target_fmr)
        thresholds[mid] = {"threshold": op.threshold, "target_fmr": target_fmr, "calibrated_on": dataset,
                           "n_genuine": int(gen.size), "n_impostor": int(imp.size),
                           "fnmr_at_calibration": round(float(op.fnmr), 6)}
    doc["thresholds"] = thresholds
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    old = str(doc.get("version", "0"))
    n = int(old.rsplit(".", 1)[1]) + 1 if old.startswith(stamp + ".") else 1
    doc["version"] = f"{stamp}.{n}"
    policy_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return doc
