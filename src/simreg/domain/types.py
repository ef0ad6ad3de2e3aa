"""Value types shared by every stage.

Conventions, stated once:

* Images are ``numpy.ndarray`` of shape ``(height, width, 3)``, ``uint8``, RGB order.
* Pixel boxes are ``(x, y, w, h)`` with ``(x, y)`` the top-left corner, in the
  pixel grid of the image they were found in.
* Points are ``(x, y)`` pixels.  "Left"/"right" in landmark names are the
  *subject's own* left/right unless the name says ``image_left``.
* Head pose angles are degrees.  Yaw is positive when the subject turns toward
  **their own left**, pitch positive when looking up, roll positive when the
  head tilts toward the subject's left shoulder.
* Similarity scores are **higher for more similar**.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

# Detector name of boxes predicted from the previous frame's landmarks while
# tracking; like dlib HOG boxes they are square, brows to chin.
TRACK_BOX = "landmark-track"


@dataclass(frozen=True)
class FaceBox:
    """A detected face: pixel box, detector confidence and optional 5 keypoints.

    ``keypoints`` (when the detector gives them) are, in order: eye on the image
    left, eye on the image right, nose tip, mouth corner on the image left,
    mouth corner on the image right.
    """

    x: float
    y: float
    w: float
    h: float
    score: float
    detector: str
    keypoints: tuple[tuple[float, float], ...] | None = None

    @property
    def area(self) -> float:
        return max(self.w, 0.0) * max(self.h, 0.0)

    def scaled(self, factor: float) -> FaceBox:
        kp = None
        if self.keypoints is not None:
            kp = tuple((px * factor, py * factor) for px, py in self.keypoints)
        return FaceBox(self.x * factor, self.y * factor, self.w * factor, self.h * factor,
                       self.score, self.detector, kp)

    def iou(self, other: FaceBox) -> float:
        x1, y1 = max(self.x, other.x), max(self.y, other.y)
        x2 = min(self.x + self.w, other.x + other.w)
        y2 = min(self.y + self.h, other.y + other.h)
        inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True)
class Landmarks:
    """Facial landmark points, ``points`` of shape ``(n, 2)`` as ``(x, y)`` pixels.

    ``scheme`` names the point layout: ``"ibug68"`` (iBUG 300-W 68 points) or
    ``"dlib5"`` (dlib's 5-point layout).
    """

    scheme: str
    points: np.ndarray

    def __post_init__(self) -> None:
        self.points.setflags(write=False)


@dataclass(frozen=True)
class HeadPose:
    """Degrees; see the module docstring for the sign convention."""

    yaw: float
    pitch: float
    roll: float


@dataclass(frozen=True)
class Embedding:
    """A face descriptor from one model.

    ``metric`` names how two descriptors of that model are compared
    (:func:`simreg.domain.matching.similarity_matrix`): ``"cosine"`` or
    ``"one_minus_l2"``.
    """

    model_id: str
    vector: np.ndarray
    metric: str

    def __post_init__(self) -> None:
        self.vector.setflags(write=False)


@dataclass(frozen=True)
class QualityMeasures:
    """Raw quality measurements of one face.

    ``inter_eye_px``: distance between eye centres in pixels of the decoded image.
    ``sharpness``: variance of the Laplacian of the face crop resampled to a fixed
    size (unitless, higher is sharper).  ``brightness``: mean grey level of the face
    crop, 0..255.  ``contrast``: standard deviation of the grey level, 0..255.
    ``eye_openness``: mean eye aspect ratio (height/width of the eye contour).
    """

    inter_eye_px: float
    sharpness: float
    brightness: float
    contrast: float
    pose: HeadPose
    eye_openness: float


@dataclass(frozen=True)
class QualityReport:
    measures: QualityMeasures
    reasons: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.reasons


@dataclass(frozen=True)
class FaceAnalysis:
    """Everything the engine learned about the subject face of one image."""

    box: FaceBox
    landmarks: Landmarks
    quality: QualityReport
    embeddings: Mapping[str, Embedding]
    faces_found: int
    image_size: tuple[int, int]  # (width, height) of the decoded image
    reasons: tuple[str, ...] = ()  # face-level findings, e.g. FACE.MULTIPLE
    timings_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackPoint:
    """The subject face in one video frame.

    ``t`` is seconds from the first frame.  ``box``/``landmarks`` are ``None``
    when the face was not found.  ``faces`` counts confident faces when the frame
    was searched by the detector (``detected``), else 0.  ``eye_openness`` is the
    eye aspect ratio (see :class:`QualityMeasures`).  Pose follows the module's
    sign convention for the image *as recorded* (mirroring is undone later).
    """

    t: float
    box: FaceBox | None
    landmarks: Landmarks | None
    pose: HeadPose | None
    eye_openness: float | None
    detected: bool
    faces: int = 0


@dataclass(frozen=True)
class FaceTrack:
    """The subject's track through a video, with embeddings at keyframes."""

    points: tuple[TrackPoint, ...]
    embeddings: tuple[tuple[float, Embedding], ...]
    frame_size: tuple[int, int]      # (width, height) of the analysed frames
    duration_s: float
    frames_decoded: int
    texture_scores: tuple[float, ...] = ()  # passive texture PAD score of sampled face crops (higher = attack)
    # screen/print cues of the same sampled frames (adapters/faces/screen_pad.py), one dict per
    # frame with the keys ``frame``, ``moire`` and ``glare`` (higher = attack)
    screen_cues: tuple[dict, ...] = ()
    # MiniFASNet (adapters/faces/minifasnet.py) on the same sampled frames, full frame and
    # detector box: 1 - P(real), higher = attack
    minifasnet_scores: tuple[float, ...] = ()
    # mean (R, G, B) of the skin below the eyes and on the forehead in every tracked
    # frame, with its time: the raw trace of the remote photoplethysmogram (domain/pad.py)
    skin_rgb: tuple[tuple[float, float, float, float], ...] = ()
