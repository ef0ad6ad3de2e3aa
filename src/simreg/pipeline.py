"""The order of the stages, in one place.

compare (1:1, e.g. ID-chip portrait vs live photo):
    media.decode -> face engine, both faces at once: detect -> landmarks -> quality -> embed
                 -> matching.match

The registration pipeline of the service (document -> quota -> media -> quality
-> liveness/PAD -> match -> decision -> registry) will extend this file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from .adapters.media import ImageLimits, decode_image
from .domain.matching import MatchResult, match
from .domain.policy import Policy
from .domain.types import FaceAnalysis
from .face_engine import FaceAnalyser, compare_analyses


@dataclass(frozen=True)
class CompareReport:
    match: MatchResult
    a: FaceAnalysis
    b: FaceAnalysis
    reasons: tuple[str, ...]
    timings_ms: dict[str, float] = field(default_factory=dict)


def compare_images(engine: FaceAnalyser, policy: Policy, image_a: bytes, image_b: bytes,
                   limits: ImageLimits = ImageLimits()) -> CompareReport:
    """Decode, analyse and match two images.  Raises ``InputError`` for bad
    media or a missing face; everything else is in the report."""
    t = {}
    t0 = time.perf_counter()
    img_a, img_b = decode_image(image_a, limits), decode_image(image_b, limits)
    t["decode"] = (time.perf_counter() - t0) * 1e3
    t0 = time.perf_counter()
    a, b = engine.analyse([img_a, img_b], policy)  # in parallel with a worker pool
    t["analyse"] = (time.perf_counter() - t0) * 1e3
    for name in a.timings_ms:  # CPU-side stage times of both faces, summed
        t[f"{name} (a+b)"] = a.timings_ms[name] + b.timings_ms.get(name, 0.0)
    t0 = time.perf_counter()
    band = policy.band_of([a.image_size, b.image_size])
    result = match(compare_analyses(a, b), policy, band)
    t["match"] = (time.perf_counter() - t0) * 1e3
    t["total"] = t["decode"] + t["analyse"] + t["match"]
    reasons = tuple(dict.fromkeys([*result.reasons, *a.reasons, *b.reasons]))
    return CompareReport(result, a, b, reasons, t)
