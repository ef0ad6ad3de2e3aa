"""1:1 compare on real photos from ../shared/data/faces, with the shipped policy."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from simreg.app.pipeline import compare_images
from simreg.domain.errors import InputError
from simreg.domain.reasons import MatchOutcome, ReasonCode


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _id_portrait(path, runtime) -> bytes:
    """A 102x126 ID-chip-like portrait: face about 55 % of the width, JPEG q60."""
    from simreg.adapters.media import decode_image
    from simreg.eval.faces import id_chip_portrait

    img = decode_image(path.read_bytes())
    (analysis,) = runtime.engine.analyse([img], runtime.policy)
    return id_chip_portrait(img, analysis.box)


def test_same_person_is_accepted(runtime, faces_dir):
    a = (faces_dir / "fr_Barack_Obama" / "1.jpg").read_bytes()
    b = (faces_dir / "fr_Barack_Obama" / "2.jpg").read_bytes()
    rep = compare_images(runtime.engine, runtime.policy, a, b)
    assert rep.match.outcome is MatchOutcome.MATCH
    assert rep.match.score >= rep.match.threshold
    assert rep.match.target_fmr == pytest.approx(runtime.policy.threshold_for(runtime.policy.matcher).target_fmr)


def test_different_people_are_rejected(runtime, faces_dir):
    a = (faces_dir / "fr_Barack_Obama" / "1.jpg").read_bytes()
    b = (faces_dir / "fr_Joe_Biden" / "1.jpg").read_bytes()
    rep = compare_images(runtime.engine, runtime.policy, a, b)
    assert rep.match.outcome is MatchOutcome.NO_MATCH
    assert ReasonCode.MATCH_BELOW_THRESHOLD.value in rep.reasons


def test_id_chip_portrait_of_102x126_matches_a_large_photo_of_the_same_person(runtime, faces_dir):
    portrait = _id_portrait(faces_dir / "fr_Barack_Obama" / "1.jpg", runtime)
    assert Image.open(io.BytesIO(portrait)).size == (102, 126)
    large = (faces_dir / "fr_Barack_Obama" / "2.jpg").read_bytes()
    assert max(Image.open(io.BytesIO(large)).size) >= 640
    rep = compare_images(runtime.engine, runtime.policy, portrait, large)
    assert rep.match.outcome is MatchOutcome.MATCH
    assert rep.match.band == "id-chip" and rep.match.threshold_key.endswith("@id-chip")
    biden = (faces_dir / "fr_Joe_Biden" / "1.jpg").read_bytes()
    other = compare_images(runtime.engine, runtime.policy, portrait, biden)
    assert other.match.outcome is MatchOutcome.NO_MATCH
    assert rep.a.image_size == (102, 126)


def test_grayscale_photos_are_compared(runtime, faces_dir):
    # The LFW copy is single-channel JPEG; the colour photo is converted to grey too.
    a = faces_dir / "lfw_Wen_Jiabao" / "1.jpg"
    assert Image.open(a).mode == "L"
    b = _jpeg(Image.open(faces_dir / "lfw_Wen_Jiabao" / "2.jpg").convert("L"))
    rep = compare_images(runtime.engine, runtime.policy, a.read_bytes(), b)
    assert rep.match.outcome is MatchOutcome.MATCH


def test_image_without_a_face_gives_face_not_found(runtime, faces_dir):
    img = Image.open(faces_dir / "fr_Barack_Obama" / "1.jpg")
    w, h = img.size
    corner = img.crop((0, 0, w // 5, h // 5)).resize((320, 320))  # background only
    with pytest.raises(InputError) as exc:
        compare_images(runtime.engine, runtime.policy, _jpeg(corner),
                       (faces_dir / "fr_Barack_Obama" / "2.jpg").read_bytes())
    assert exc.value.code is ReasonCode.FACE_NOT_FOUND


def test_two_faces_in_one_image_are_reported_not_ignored(runtime, faces_dir):
    a = Image.open(faces_dir / "fr_Barack_Obama" / "1.jpg").convert("RGB")
    b = Image.open(faces_dir / "fr_Joe_Biden" / "1.jpg").convert("RGB")
    h = 480
    a = a.resize((round(a.width * h / a.height), h))
    b = b.resize((round(b.width * h / b.height), h))
    both = Image.new("RGB", (a.width + b.width, h))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    rep = compare_images(runtime.engine, runtime.policy, _jpeg(both),
                         (faces_dir / "fr_Barack_Obama" / "2.jpg").read_bytes())
    assert rep.a.faces_found >= 2
    assert ReasonCode.FACE_MULTIPLE.value in rep.reasons


def test_corrupt_bytes_give_media_undecodable(runtime, faces_dir):
    data = bytearray((faces_dir / "fr_Barack_Obama" / "1.jpg").read_bytes())
    data[2:200] = bytes(198)  # wipe the JPEG headers
    with pytest.raises(InputError) as exc:
        compare_images(runtime.engine, runtime.policy, bytes(data), bytes(data))
    assert exc.value.code is ReasonCode.MEDIA_UNDECODABLE


def test_absurd_image_header_is_refused_without_decoding(runtime, faces_dir):
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
    with pytest.raises(InputError) as exc:
        compare_images(runtime.engine, runtime.policy, png, (faces_dir / "fr_Barack_Obama" / "1.jpg").read_bytes())
    assert exc.value.code is ReasonCode.MEDIA_DIMENSIONS


def test_quality_report_measures_the_face(runtime, faces_dir):
    a = (faces_dir / "fr_Barack_Obama" / "1.jpg").read_bytes()
    rep = compare_images(runtime.engine, runtime.policy, a, a)
    q = rep.a.quality.measures
    assert 40 < q.inter_eye_px < 400
    assert q.sharpness > 0 and 0 < q.brightness < 255 and q.contrast > 0
    assert abs(q.pose.yaw) < 30 and q.eye_openness > 0.15
    assert set(rep.timings_ms) >= {"decode", "analyse", "detect (a+b)", "quality (a+b)", "match", "total"}
