"""The real capture used by the service's data tests: a bona fide phone selfie
(pad_tranvanluyt_real.mp4: turns to his left at ~2 s and right at ~7.5 s,
videos/events.json) cut to its first 12 s without re-encoding (both turns are
over by 10.6 s; the service's default 15 s limit then applies), a chip-sized
portrait of the same young man from a separate still (spoof/real), and a
chip-sized portrait of someone else."""

from __future__ import annotations

import pytest

from service_support import VIDEO
from simreg.eval.faces import centre_chip_portrait

CUT_S = 12.0


def first_seconds(mp4: bytes, seconds: float) -> bytes:
    """The video's packets up to ``seconds``, remuxed into a new MP4 (no re-encoding)."""
    import io

    import av

    out_buf = io.BytesIO()
    with av.open(io.BytesIO(mp4)) as inp, av.open(out_buf, "w", format="mp4") as out:
        src = inp.streams.video[0]
        dst = out.add_stream_from_template(src)
        for pkt in inp.demux(src):
            if pkt.dts is None or (pkt.pts is not None and float(pkt.pts * src.time_base) >= seconds):
                continue
            pkt.stream = dst
            out.mux(pkt)
    return out_buf.getvalue()


@pytest.fixture(scope="session")
def video(data_dir) -> bytes:
    return first_seconds((data_dir / "videos" / VIDEO).read_bytes(), CUT_S)


@pytest.fixture(scope="session")
def same_person_portrait(data_dir) -> bytes:
    return centre_chip_portrait(data_dir / "spoof" / "real" / "tranvanluyt_frame_1.jpg")


@pytest.fixture(scope="session")
def other_person_portrait(data_dir) -> bytes:
    return centre_chip_portrait(data_dir / "faces" / "deepface_Angelina_Jolie" / "1.jpg")
