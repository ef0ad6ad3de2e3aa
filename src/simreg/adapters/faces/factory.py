"""Builds the face engine from settings.  Called at app or CLI start-up, never at import."""

from __future__ import annotations

from ...config import Settings
from ...face_engine import FaceEngine
from .model_files import ALL_MODEL_FILES


def build_face_engine(settings: Settings) -> FaceEngine:
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
    embedders = [DlibResnetEmbedder(shape5), FacenetEmbedder(flip=True)]
    info = [m.describe() for m in ALL_MODEL_FILES]
    return FaceEngine(detector, shape68, shape5, embedders, measure_quality, info)
