"""Measurements of a face for quality and liveness: head pose from
``cv2.solvePnP`` on 68 landmarks, sharpness, exposure, contrast, eye openness."""

from __future__ import annotations

import cv2
import numpy as np

from ...domain import face_geometry
from ...domain.types import FaceBox, HeadPose, Landmarks, QualityMeasures

# A generic 3D face in millimetres, x to the subject's left, y up, z toward the
# camera, nose tip at the origin.  Indices are iBUG-68 (0-based).
_MODEL_POINTS = np.array([
    (0.0, 0.0, 0.0),          # 30 nose tip
    (0.0, -63.6, -12.5),      # 8 chin
    (-43.3, 32.7, -26.0),     # 36 outer corner of the eye on the image left (subject's right)
    (43.3, 32.7, -26.0),      # 45 outer corner of the eye on the image right (subject's left)
    (-28.9, -28.9, -24.1),    # 48 mouth corner, image left
    (28.9, -28.9, -24.1),     # 54 mouth corner, image right
    (0.0, 35.0, -20.0),       # 27 nose bridge between the eyes
], dtype=np.float64)
_IMAGE_IDX = [30, 8, 36, 45, 48, 54, 27]


def head_pose(landmarks: Landmarks, image_size: tuple[int, int]) -> HeadPose:
    """Yaw/pitch/roll in degrees (sign convention in :mod:`simreg.domain.types`)
    for an unmirrored image, from a pinhole camera with focal length = image width."""
    if landmarks.scheme != "ibug68":
        raise ValueError("head pose needs ibug68 landmarks")
    w, h = image_size
    pts = landmarks.points[_IMAGE_IDX].astype(np.float64)
    # Image y grows downward and x to the image right (the subject's left in an
    # unmirrored image): flip y so the model's axes and the camera's agree.
    cam = np.array([[w, 0, w / 2.0], [0, w, h / 2.0], [0, 0, 1]], dtype=np.float64)
    # SQPnP finds the global optimum; the default iterative solver flipped between
    # mirror solutions on frontal faces (yaw spread of +/-25 degrees on still clips).
    ok, rvec, _tvec = cv2.solvePnP(_MODEL_POINTS * np.array([1, -1, -1]), pts, cam, None,
                                   flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return HeadPose(0.0, 0.0, 0.0)
    rot, _ = cv2.Rodrigues(rvec)
    # Rotation of the head in the camera frame (x right, y down, z forward).
    # Only pitch is taken from the fit; yaw comes from the landmarks' geometry (below).
    pitch = float(np.degrees(np.arctan2(rot[2, 1], rot[2, 2])))
    # Normalise pitch to [-90, 90] (the solution may be flipped by 180 degrees).
    if pitch > 90:
        pitch -= 180
    elif pitch < -90:
        pitch += 180
    # Roll from the eye line, which has no such ambiguity: positive when the eye
    # on the image right (the subject's left, unmirrored) is lower.
    left, right = eye_centres(landmarks)
    roll = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    # Looking up is a negative rotation about the camera's x axis.
    return HeadPose(yaw=face_geometry.geometric_yaw(landmarks.points), pitch=-pitch, roll=roll)


def eye_aspect_ratio(landmarks: Landmarks) -> float:
    return face_geometry.eye_aspect_ratio(landmarks.points)


def eye_centres(landmarks: Landmarks) -> tuple[np.ndarray, np.ndarray]:
    return face_geometry.eye_centres(landmarks.points)


def measure_quality(image: np.ndarray, box: FaceBox, landmarks: Landmarks) -> QualityMeasures:
    """Measurements on the inner face region (the landmarks' hull box), resampled
    to 128 px wide so sharpness is comparable across resolutions."""
    left, right = eye_centres(landmarks)
    inter_eye = float(np.linalg.norm(right - left))
    pts = landmarks.points
    h_img, w_img = image.shape[:2]
    x1, y1 = np.clip(np.floor(pts.min(axis=0)).astype(int), 0, [w_img - 1, h_img - 1])
    x2, y2 = np.clip(np.ceil(pts.max(axis=0)).astype(int), 1, [w_img, h_img])
    if x2 - x1 < 4 or y2 - y1 < 4:
        x1, y1 = int(max(box.x, 0)), int(max(box.y, 0))
        x2, y2 = int(min(box.x + box.w, w_img)), int(min(box.y + box.h, h_img))
    crop = image[y1:y2, x1:x2]
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY) if crop.size else np.zeros((8, 8), np.uint8)
    scale = 128.0 / max(gray.shape[1], 1)
    norm = cv2.resize(gray, (128, max(1, round(gray.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    sharp = float(cv2.Laplacian(norm, cv2.CV_64F).var())
    return QualityMeasures(
        inter_eye_px=inter_eye,
        sharpness=sharp,
        brightness=float(gray.mean()),
        contrast=float(gray.std()),
        pose=head_pose(landmarks, (w_img, h_img)),
        eye_openness=eye_aspect_ratio(landmarks),
    )
