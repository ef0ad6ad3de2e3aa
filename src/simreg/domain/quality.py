"""Quality assessment: measurements + policy limits -> a report with reason codes."""

from __future__ import annotations

from .policy import QualityLimits
from .reasons import ReasonCode
from .types import QualityMeasures, QualityReport


def assess_quality(m: QualityMeasures, limits: QualityLimits) -> QualityReport:
    reasons: list[str] = []
    if m.inter_eye_px < limits.min_inter_eye_px:
        reasons.append(ReasonCode.QUALITY_FACE_TOO_SMALL.value)
    if m.sharpness < limits.min_sharpness:
        reasons.append(ReasonCode.QUALITY_BLUR.value)
    if m.brightness < limits.min_brightness:
        reasons.append(ReasonCode.QUALITY_UNDEREXPOSED.value)
    elif m.brightness > limits.max_brightness:
        reasons.append(ReasonCode.QUALITY_OVEREXPOSED.value)
    if m.contrast < limits.min_contrast:
        reasons.append(ReasonCode.QUALITY_LOW_CONTRAST.value)
    p = m.pose
    if abs(p.yaw) > limits.max_abs_yaw or abs(p.pitch) > limits.max_abs_pitch or abs(p.roll) > limits.max_abs_roll:
        reasons.append(ReasonCode.QUALITY_POSE.value)
    if m.eye_openness < limits.min_eye_openness:
        reasons.append(ReasonCode.QUALITY_EYES_CLOSED.value)
    return QualityReport(m, tuple(reasons))
