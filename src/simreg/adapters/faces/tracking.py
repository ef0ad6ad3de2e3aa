"""Following the subject's face through a video.

Detect on keyframes (every ``detect_every`` frames, by default every second
frame, and whenever the track is lost or looks wrong), and between them place
the landmarks in the last detection's box.  The output is a per-frame track: box,
68 landmarks, yaw/pitch/roll, eye openness, and the number of confident faces
on detection frames, plus embeddings every ``embed_every_s`` seconds for the
identity-continuity check.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from ...domain.face_geometry import reconciled_yaw
from ...domain.policy import DetectionRules, TrackingParams
from ...domain.types import TRACK_BOX, FaceBox, FaceTrack, Landmarks, TrackPoint


def box_from_landmarks(lm: Landmarks) -> FaceBox:
    """A square, HOG-style box (brows to chin) around 68 landmarks."""
    pts = lm.points
    x1, y1 = pts[:, 0].min(), pts[17:27, 1].min()
    x2, y2 = pts[:, 0].max(), pts[:, 1].max()
    side = max(x2 - x1, y2 - y1) * 1.05
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    return FaceBox(float(cx - side / 2), float(cy - side / 2), float(side), float(side), 1.0, TRACK_BOX)


def skin_mean(image: np.ndarray, lm: Landmarks) -> tuple[float, float, float] | None:
    """Mean colour of three skin patches (under each eye, and the forehead) placed
    from the 68 landmarks; ``None`` when they fall outside the frame."""
    p = lm.points
    iod = float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))
    if iod < 8:
        return None
    h, w = image.shape[:2]
    top = min(p[19, 1], p[24, 1])
    boxes = ((p[36, 0], p[29, 1], p[39, 0], p[33, 1]), (p[42, 0], p[29, 1], p[45, 0], p[33, 1]),
             (p[19, 0], top - 0.45 * iod, p[24, 0], top - 0.12 * iod))
    sums, n = np.zeros(3), 0
    for x1, y1, x2, y2 in boxes:
        x1, y1, x2, y2 = (round(v) for v in (x1, y1, x2, y2))
        x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if x2 - x1 < 2 or y2 - y1 < 2:
            continue
        patch = image[y1:y2, x1:x2].reshape(-1, image.shape[2])[:, :3]
        sums += patch.sum(axis=0)
        n += len(patch)
    if n == 0:
        return None
    r, g, b = (sums / n).tolist()
    return r, g, b


def _inter_eye(lm: Landmarks) -> float:
    p = lm.points
    return float(np.linalg.norm(p[36:42].mean(0) - p[42:48].mean(0)))


def _pick(boxes, previous: FaceBox | None, rules: DetectionRules) -> tuple[FaceBox | None, int]:
    faces = [b for b in boxes if b.score >= rules.min_score]
    if not faces:
        return None, 0
    confident = [b for b in faces if b.score >= rules.multiple_min_score
                 and b.w >= rules.multiple_min_relative_width * faces[0].w]
    if previous is None:
        return faces[0], max(1, len(confident))
    best = max(faces, key=lambda b: (b.iou(previous), b.score))
    return (best if best.iou(previous) > 0.1 else faces[0]), max(1, len(confident))


def track_faces(engine, frames: Iterable, rules: DetectionRules, params: TrackingParams = TrackingParams(),
                detector=None, embedder=None, texture=None, pad_model=None) -> tuple[FaceTrack, dict]:
    """Track through ``frames`` (objects with ``t`` and ``image``).  ``engine`` gives
    the landmarkers; ``detector`` and ``embedder`` default to the engine's;
    ``texture`` (a texture PAD scorer with ``score_frame(image, box)``) scores a
    few detected face crops spread through the clip; the screen/print cues are
    computed on the same sampled frames (``params.screen_cues``), and so is
    MiniFASNet (``pad_model``, by default the process's shared scorer when
    ``params.minifasnet``) on the full frame with the detector's box."""
    from .measure import eye_aspect_ratio, head_pose
    from .screen_pad import screen_cues

    detector = detector or engine.detector
    embedder = embedder or next(iter(engine.embedders.values()))
    points: list[TrackPoint] = []
    embeddings = []
    timings = {"decode": 0.0, "detect": 0.0, "landmarks": 0.0, "embed": 0.0, "texture": 0.0, "screen": 0.0, "skin": 0.0,
               "minifasnet": 0.0}
    if pad_model is None and params.minifasnet:
        from .minifasnet import SHARED as pad_model
    texture_scores: list[float] = []
    minifasnet_scores: list[float] = []
    screen: list[dict] = []
    skin: list[tuple[float, float, float, float]] = []
    n_samples = 0
    last_texture_t = -1e9
    last_t, last_embed_t = None, -1e9
    prev_lm: Landmarks | None = None
    since_detect = params.detect_every
    last_detection: FaceBox | None = None
    frame_size = (0, 0)
    n_decoded = 0
    t_wait = time.perf_counter()
    for frame in frames:
        timings["decode"] += (time.perf_counter() - t_wait) * 1e3
        n_decoded += 1
        if last_t is not None and frame.t - last_t < 1.0 / params.max_fps - 1e-3:
            t_wait = time.perf_counter()
            continue
        last_t = frame.t
        image = frame.image
        frame_size = (image.shape[1], image.shape[0])
        detected, faces, box = False, 0, None
        t0 = time.perf_counter()
        if prev_lm is None or since_detect >= params.detect_every:
            boxes = detector.detect(image)
            box, faces = _pick(boxes, box_from_landmarks(prev_lm) if prev_lm is not None else None, rules)
            detected, since_detect = True, 0
            last_detection = box
        elif last_detection is not None:  # the last detection's box: one box style, no drift
            box = last_detection
        else:
            box = box_from_landmarks(prev_lm)
        t1 = time.perf_counter()
        timings["detect"] += (t1 - t0) * 1e3
        lm = pose = ear = None
        if box is not None:
            lm = engine.landmarker68.landmarks(image, box)

            if prev_lm is not None and not detected:
                change = abs(_inter_eye(lm) - _inter_eye(prev_lm)) / max(_inter_eye(prev_lm), 1e-6)
                if change > params.max_scale_change:  # the prediction slipped: search again
                    boxes = detector.detect(image)
                    box, faces = _pick(boxes, None, rules)
                    detected = True
                    last_detection = box
                    lm = engine.landmarker68.landmarks(image, box) if box is not None else None

            if lm is not None:
                pose = head_pose(lm, frame_size)
                if box is not None and box.keypoints is not None:  # near profile the keypoints know better
                    pose = replace(pose, yaw=reconciled_yaw(pose.yaw, box.keypoints))
                ear = eye_aspect_ratio(lm)
                if params.skin_trace:
                    t_skin = time.perf_counter()
                    colour = skin_mean(image, lm)
                    if colour is not None:
                        skin.append((frame.t, *colour))
                    timings["skin"] += (time.perf_counter() - t_skin) * 1e3
        timings["landmarks"] += (time.perf_counter() - t1) * 1e3
        since_detect += 1
        points.append(TrackPoint(frame.t, box, lm, pose, ear, detected, faces))
        prev_lm = lm
        if box is not None and frame.t - last_embed_t >= params.embed_every_s and detected:
            t2 = time.perf_counter()
            embeddings.append((frame.t, embedder.embed(image, box, lm)))
            timings["embed"] += (time.perf_counter() - t2) * 1e3
            last_embed_t = frame.t
        if ((texture is not None or params.screen_cues or pad_model is not None) and detected and box is not None
                and box.score >= params.texture_min_score
                and frame.t - last_texture_t >= params.texture_every_s
                and n_samples < params.texture_max_samples):
            t3 = time.perf_counter()
            sampled = False
            if texture is not None:
                score = texture.score_frame(image, box)
                if score is not None:
                    texture_scores.append(float(score))
                    sampled = True
            t4 = time.perf_counter()
            timings["texture"] += (t4 - t3) * 1e3
            if params.screen_cues:
                cues = screen_cues(image, box)
                if cues is not None:
                    screen.append(cues)
                    sampled = True
                timings["screen"] += (time.perf_counter() - t4) * 1e3
            if pad_model is not None:
                t5 = time.perf_counter()
                score = pad_model.score_frame(image, box)
                if score is not None:
                    minifasnet_scores.append(float(score))
                    sampled = True
                timings["minifasnet"] += (time.perf_counter() - t5) * 1e3
            if sampled:
                last_texture_t = frame.t
                n_samples += 1
        t_wait = time.perf_counter()
    duration = points[-1].t if points else 0.0
    return FaceTrack(tuple(points), tuple(embeddings), frame_size, duration, n_decoded,
                     tuple(texture_scores), tuple(screen), tuple(minifasnet_scores), tuple(skin)), timings
