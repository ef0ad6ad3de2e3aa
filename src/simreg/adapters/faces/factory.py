"""Builds the face engine from settings.  Called at app or CLI start-up, never at import.

Models are named in settings and built from one table (name -> builder), so
adding a model is one row here and a calibration in the policy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

from ...config import Settings
from ...domain.errors import InfraError
from ...domain.reasons import ReasonCode
from ...ports import FaceAnalyser
from . import model_files as mf
from .face_engine import FaceEngine


def _yunet(max_side: int, for_tracking: bool):
    from .opencv_zoo import YunetDetector

    # ID-chip portraits (102x126) are searched at twice their size.
    return YunetDetector(max_side=max_side, upsample_below=0 if for_tracking else 160, fast_resize=for_tracking)


def _mtcnn(max_side: int, for_tracking: bool):
    from .mtcnn import MtcnnDetector

    return MtcnnDetector(max_side=max_side)


def _hog(max_side: int, for_tracking: bool):
    from .dlib_models import HogDetector

    return HogDetector(max_side=max_side)


# name -> builder(max_side, for_tracking) of a FaceDetector.
DETECTORS: dict[str, Callable] = {
    "yunet": _yunet,
    "mtcnn": _mtcnn,
    "hog": _hog,
}


def _detector(name: str, max_side: int, for_tracking: bool = False):
    if name not in DETECTORS:
        raise InfraError(ReasonCode.ENGINE_UNAVAILABLE, f"unknown detector {name!r} ({', '.join(DETECTORS)})")
    return DETECTORS[name](max_side, for_tracking)


def _sface(flip: bool) -> Callable:
    def build(settings: Settings):
        from .opencv_zoo import SfaceEmbedder

        return SfaceEmbedder(flip=flip)
    return build


def _dlib(settings: Settings):
    from .dlib_models import DlibResnetEmbedder, DlibShapeLandmarker

    return DlibResnetEmbedder(DlibShapeLandmarker("dlib5"))


def _facenet(settings: Settings):
    from .facenet import FacenetEmbedder

    return FacenetEmbedder(flip=settings.facenet_flip)


# name -> builder(settings); the model ids are the embedders' own.
EMBEDDERS: dict[str, Callable] = {
    "sface": _sface(False),
    "sface+flip": _sface(True),
    "dlib": _dlib,
    "facenet": _facenet,
}


def _dlib68():
    from .dlib_models import DlibShapeLandmarker

    return DlibShapeLandmarker("ibug68")


def _mediapipe_mesh():
    from .mediapipe_mesh import MediapipeMeshLandmarker

    return MediapipeMeshLandmarker()


# name -> builder of a Landmarker with scheme "ibug68" (quality, pose, blinks).
LANDMARKERS: dict[str, Callable] = {
    "dlib68": _dlib68,
    "mediapipe": _mediapipe_mesh,
}


# The model files each named model loads (for /status and the policy's record).
MODEL_FILES: dict[str, tuple] = {
    "yunet": (mf.YUNET,), "mtcnn": (mf.MTCNN_PNET, mf.MTCNN_RNET, mf.MTCNN_ONET), "hog": (),
    "sface": (mf.SFACE,), "sface+flip": (mf.SFACE,), "dlib": (mf.DLIB_RESNET, mf.DLIB_SHAPE5),
    "facenet": (mf.FACENET,), "dlib68": (mf.DLIB_SHAPE68,),
}


def _mediapipe_files() -> tuple:
    from .mediapipe_mesh import FACE_MESH, IRIS

    return (FACE_MESH, IRIS)


# The models whose files their own module names (imported only when configured).
LAZY_MODEL_FILES: dict[str, Callable[[], tuple]] = {
    "mediapipe": _mediapipe_files,
}


def loaded_files(settings: Settings) -> list[dict]:
    """The pinned files of the models these settings load, each once."""
    names = [settings.detector, settings.landmarker, *settings.embedders]
    files = {f.model_id: f for n in names
             for f in (LAZY_MODEL_FILES[n]() if n in LAZY_MODEL_FILES else MODEL_FILES.get(n, ()))}
    return [f.describe() for f in files.values()]


def build_local_engine(settings: Settings) -> FaceEngine:
    """An engine in this process: every model loaded once, its file checked."""
    # Imported here so that importing simreg never loads a model runtime.
    from .measure import measure_quality
    from .texture_pad import TexturePadScorer

    unknown = [n for n in settings.embedders if n not in EMBEDDERS]
    if unknown or not settings.embedders:
        raise InfraError(ReasonCode.ENGINE_UNAVAILABLE,
                         f"unknown embedder(s) {unknown} (known: {', '.join(EMBEDDERS)})")
    detector = _detector(settings.detector, settings.detector_max_side)
    if settings.landmarker not in LANDMARKERS:
        raise InfraError(ReasonCode.ENGINE_UNAVAILABLE,
                         f"unknown landmarker {settings.landmarker!r} (known: {', '.join(LANDMARKERS)})")
    shape68 = LANDMARKERS[settings.landmarker]()
    embedders = [EMBEDDERS[name](settings) for name in settings.embedders]
    info = loaded_files(settings)
    # Video frames are tracked with a detector on a small copy: selfie faces are
    # large, and keyframe detection is a large part of the tracking cost.
    tracking_detector = _detector(settings.detector, settings.tracking_detector_max_side, for_tracking=True)
    from .minifasnet import SHARED as minifasnet

    minifasnet.load()  # the PAD model the tracker samples: checked at start, not at the first clip
    return FaceEngine(detector, shape68, embedders, measure_quality, info, tracking_detector=tracking_detector,
                      texture_scorer=TexturePadScorer(), template_frames=settings.live_template_frames)


def usable_cpus() -> int:
    """CPUs this process may really use: its affinity mask, capped by a cgroup v2
    (or v1) CPU quota when one is set; at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_quota()
    if quota is not None:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """The CPU quota in CPUs (quota / period), or None when unlimited or unknown."""
    try:
        text = (root / "cpu.max").read_text().split()
        if text and text[0] != "max":
            return int(text[0]) / int(text[1])
        return None
    except (OSError, ValueError, IndexError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 and period > 0 else None
    except (OSError, ValueError):
        return None


def default_workers(max_workers: int = 4) -> int:
    return min(max_workers, usable_cpus())


def build_face_engine(settings: Settings) -> FaceAnalyser:
    """``engine_workers`` worker processes (0: in this process; None: one per
    usable CPU, at most 4)."""
    workers = settings.engine_workers
    if workers is None:
        workers = default_workers()
    if workers <= 0:
        return build_local_engine(settings)
    from .pool import EnginePool

    return EnginePool(settings, workers)
