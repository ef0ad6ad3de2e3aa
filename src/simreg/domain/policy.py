"""The decision policy: thresholds keyed by model id, quality limits, detection
rules, the liveness challenge's rules, how faces are tracked, the passive PAD
decision.  Loaded from a versioned JSON file; its sha256 identifies it in every
report and, later, every audit entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import PolicyError
from .liveness import LivenessParams
from .pad import PadParams
from .reasons import ReasonCode


@dataclass(frozen=True)
class ThresholdEntry:
    """Accept a pair when ``score >= threshold``; ``target_fmr`` is the false-match
    rate the threshold was calibrated for, on ``calibrated_on``."""

    threshold: float
    target_fmr: float
    calibrated_on: str = ""
    n_genuine: int = 0
    n_impostor: int = 0
    fnmr_at_calibration: float | None = None
    # Support by the rule of three: with n impostor pairs and none above the
    # threshold, FMR < 3/n at 95 % confidence, so a target FMR needs n >= 3/FMR.
    min_impostors: int = 0
    supported: bool | None = None
    rule: str = ""                       # how the threshold was chosen from the impostor scores
    fmr_at_calibration: float | None = None


@dataclass(frozen=True)
class FusionComponent:
    """z-normalisation of one model's similarity: ``(s - mean) / std``, with the
    impostor mean and std measured at calibration, weighted by ``weight``."""

    model_id: str
    mean: float
    std: float
    weight: float = 1.0


@dataclass(frozen=True)
class QualityLimits:
    min_inter_eye_px: float = 20.0
    min_sharpness: float = 15.0
    min_brightness: float = 40.0
    max_brightness: float = 225.0
    min_contrast: float = 15.0
    max_abs_yaw: float = 35.0
    max_abs_pitch: float = 30.0
    max_abs_roll: float = 30.0
    min_eye_openness: float = 0.12


@dataclass(frozen=True)
class DetectionRules:
    """A second face counts (``FACE.MULTIPLE``) when its detector confidence is at
    least ``multiple_min_score`` and its width at least ``multiple_min_relative_width``
    of the subject's.  Faces under ``min_score`` are not faces."""

    min_score: float = 0.90
    multiple_min_score: float = 0.95
    multiple_min_relative_width: float = 0.5


@dataclass(frozen=True)
class TrackingParams:
    """How the face is followed through a video (adapters/faces/tracking.py): the
    policy's ``tracking`` section, so that an audit entry's policy hash pins it."""
    # frames between detector runs while tracking holds.  Between them the landmarks are
    # placed in the last detection's box (one frame old at 2), never in a box predicted
    # from the previous landmarks: those drifted and jumped back at each detection, and
    # the jumps read as blinks and turns (a printed photo "blinked" during its turn)
    detect_every: int = 2
    max_fps: float = 30.0          # frames closer than 1/max_fps to the last one are skipped
    embed_every_s: float = 1.5     # keyframe embeddings for identity continuity
    max_scale_change: float = 0.35  # relative change of inter-eye distance that means "lost"
    texture_every_s: float = 0.6   # face crops scored by the texture PAD model ...
    texture_max_samples: int = 8   # ... at most this many per video
    texture_min_score: float = 0.8  # detector confidence a crop needs
    screen_cues: bool = True       # screen/print cues (adapters/faces/screen_pad.py) on the same frames
    minifasnet: bool = True        # MiniFASNet (adapters/faces/minifasnet.py) on the same frames, ~3-6 ms each
    skin_trace: bool = True        # mean skin colour of every tracked frame (rPPG, domain/pad.py), ~0.05 ms each


ID_CHIP_BAND = "id-chip"


@dataclass(frozen=True)
class ResolutionRules:
    """A comparison falls in the ``id-chip`` band when either image's shorter side
    is at most ``id_chip_max_short_side`` px (a Chinese ID chip photo is 102x126);
    its threshold is then the one calibrated on ID-chip portraits, if the policy has one."""

    id_chip_max_short_side: int = 159


@dataclass(frozen=True)
class Policy:
    version: str
    matcher: str                                   # model id of the score the decision uses
    fusion: tuple[FusionComponent, ...]
    thresholds: Mapping[str, ThresholdEntry]
    quality: QualityLimits = field(default_factory=QualityLimits)
    detection: DetectionRules = field(default_factory=DetectionRules)
    resolution: ResolutionRules = field(default_factory=ResolutionRules)
    liveness: LivenessParams = field(default_factory=LivenessParams)  # the challenge's rules
    tracking: TrackingParams = field(default_factory=TrackingParams)  # how the face is followed
    pad: PadParams = field(default_factory=PadParams)   # passive PAD thresholds and the fused decision
    sha256: str = ""

    @property
    def uses_fusion(self) -> bool:
        """The matcher is the fusion of ``fusion``'s components (not one model)."""
        return bool(self.fusion) and self.matcher == fusion_model_id(self.fusion)

    def matcher_models(self) -> tuple[str, ...]:
        """The model ids whose similarities the matcher's score is computed from."""
        return tuple(c.model_id for c in self.fusion) if self.uses_fusion else (self.matcher,)

    def computable_from(self, model_ids) -> bool:
        """Whether the matcher's score can be computed from these models' scores."""
        return all(m in model_ids for m in self.matcher_models())

    def band_of(self, image_sizes: Sequence[tuple[int, int]]) -> str | None:
        """The resolution band of a comparison of images of these (width, height)."""
        if any(min(w, h) <= self.resolution.id_chip_max_short_side for w, h in image_sizes):
            return ID_CHIP_BAND
        return None

    def threshold_entry(self, model_id: str, band: str | None = None) -> tuple[str, ThresholdEntry]:
        """(key, entry): the threshold calibrated for ``model_id`` in ``band``,
        else the model's general one."""
        for key in ([threshold_key(model_id, band)] if band else []) + [model_id]:
            if key in self.thresholds:
                return key, self.thresholds[key]
        raise PolicyError(ReasonCode.POLICY_NOT_CALIBRATED,
                          f"the policy has no calibrated threshold for model {model_id!r}; run `simreg calibrate`")

    def threshold_for(self, model_id: str, band: str | None = None) -> ThresholdEntry:
        return self.threshold_entry(model_id, band)[1]

    def review_entry(self, model_id: str, band: str | None = None) -> ThresholdEntry | None:
        """The lower edge of the grey zone (calibrated at a looser FMR, ``simreg
        calibrate --review``): scores from it up to the match threshold go to a
        supervisor instead of being rejected.  ``None``: no grey zone."""
        for key in ([review_key(model_id, band)] if band else []) + [review_key(model_id, None)]:
            if key in self.thresholds:
                return self.thresholds[key]
        return None


REVIEW_SUFFIX = "review"


def threshold_key(model_id: str, band: str | None) -> str:
    return f"{model_id}@{band}" if band else model_id


def review_key(model_id: str, band: str | None) -> str:
    return threshold_key(model_id, band) + "@" + REVIEW_SUFFIX


def fusion_model_id(components: tuple[FusionComponent, ...]) -> str:
    return "fusion(" + ",".join(c.model_id for c in components) + ")"


def matcher_of(components: tuple[FusionComponent, ...]) -> tuple[str, tuple[FusionComponent, ...]]:
    """(matcher id, fusion components) for a calibration of these models: one
    model is matched on its own score (no fusion), several on their fusion."""
    if len(components) == 1:
        return components[0].model_id, ()
    return fusion_model_id(components), tuple(components)


def policy_from_dict(doc: Mapping[str, Any], sha256: str = "") -> Policy:
    try:
        fusion = tuple(FusionComponent(**c) for c in doc.get("fusion", []))
        thresholds = {k: ThresholdEntry(**v) for k, v in doc.get("thresholds", {}).items()}
        return Policy(
            version=str(doc["version"]),
            matcher=str(doc["matcher"]),
            fusion=fusion,
            thresholds=thresholds,
            quality=QualityLimits(**doc.get("quality", {})),
            detection=DetectionRules(**doc.get("detection", {})),
            resolution=ResolutionRules(**doc.get("resolution", {})),
            liveness=LivenessParams(**doc.get("liveness", {})),
            tracking=TrackingParams(**doc.get("tracking", {})),
            pad=PadParams.from_policy(doc.get("pad", {})),
            sha256=sha256,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise PolicyError(ReasonCode.POLICY_INVALID, f"the policy file is invalid: {type(exc).__name__}") from None


def canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_policy(text: str) -> Policy:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        raise PolicyError(ReasonCode.POLICY_INVALID, "the policy file is not valid JSON") from None
    return policy_from_dict(doc, hashlib.sha256(canonical_bytes(doc)).hexdigest())
