"""Builds the face engine from settings.  Called at app or CLI start-up, never at import."""

from __future__ import annotations

import os

from ...config import Settings
from ...face_engine import FaceAnalyser, FaceEngine
from .model_files import ALL_MODEL_FILES


def build_local_engine(settings: Settings) -> FaceEngine:
    """An engine in this process."""
    # Imported here so that importing simreg never loads a model runtime.
    from .dlib_models import DlibResnetEmbedder, DlibShapeLandmarker, HogDetector
    from .facenet import FacenetEmbedder
    from .measure import measure_quality
    from .mtcnn import MtcnnDetector

    if settings.detector == "hog":
        detector = HogDetector(max_side=settings.detector_max_side)
    else:
        detector = MtcnnDetector(max_side=settings.detector_max_side)
    shape5 = DlibShapeLandmarker("dlib5")
    shape68 = DlibShapeLandmarker("ibug68")
    embedders = [DlibResnetEmbedder(shape5), FacenetEmbedder(flip=settings.facenet_flip)]
    info = [m.describe() for m in ALL_MODEL_FILES]
    # Video frames are tracked with a detector on a 320 px copy: selfie faces are
    # large, and keyframe detection is most of the tracking cost.
    tracking_detector = MtcnnDetector(max_side=settings.tracking_detector_max_side)
    from .texture_pad import TexturePadScorer

    return FaceEngine(detector, shape68, shape5, embedders, measure_quality, info,
                      tracking_detector=tracking_detector, texture_scorer=TexturePadScorer())


def build_face_engine(settings: Settings) -> FaceAnalyser:
    """``engine_workers`` worker processes (0: in this process; default: one per core, at most 2)."""
    workers = settings.engine_workers
    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    if workers <= 0:
        return build_local_engine(settings)
    from .pool import EnginePool

    return EnginePool(settings, workers)
