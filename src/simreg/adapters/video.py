"""Video decoding with hard limits (PyAV / FFmpeg).

Bytes in, frames out, one at a time: frames are scaled down to a working size
while decoding, so the whole video is never in memory.  Timestamps come from the
stream (variable frame rate is handled by time, not by frame counts); rotation
metadata is applied.  Every refusal is an :class:`InputError` with its own code.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ..domain.errors import InputError
from ..domain.media import VideoLimits
from ..domain.reasons import ReasonCode

ACCEPTED_CONTAINERS = ("mov", "mp4", "matroska", "webm")  # FFmpeg demuxer names
ACCEPTED_CODECS = frozenset({"h264", "vp8", "vp9", "hevc", "av1", "mpeg4"})


@dataclass(frozen=True)
class VideoInfo:
    container: str
    codec: str
    width: int          # as stored in the stream (frames are delivered upright, so
    height: int         # a rotated recording's frames have these swapped), before scaling
    duration_s: float
    declared_frames: int


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: ``t`` seconds from the first frame, RGB uint8 ``image``."""

    index: int
    t: float
    image: np.ndarray


def _fail(code: ReasonCode, message: str) -> InputError:
    return InputError(code, message)


class DecodedVideo:
    """An open video: :attr:`info` is known after opening; iterate :meth:`frames`
    once.  Use as a context manager (or call :meth:`close`)."""

    def __init__(self, data: bytes, limits: VideoLimits = VideoLimits()):
        import av

        if not data:
            raise _fail(ReasonCode.MEDIA_EMPTY, "the video is empty")
        if len(data) > limits.max_bytes:
            raise _fail(ReasonCode.MEDIA_TOO_LARGE, f"the video is {len(data)} bytes; the limit is {limits.max_bytes}")
        self.limits = limits
        try:
            self._container = av.open(io.BytesIO(data), mode="r", metadata_errors="ignore")
        except (av.FFmpegError, ValueError, OSError, UnicodeDecodeError):
            raise _fail(ReasonCode.MEDIA_UNDECODABLE, "the bytes are not a readable video") from None
        try:
            self.info = self._inspect()
        except Exception:
            self.close()
            raise

    def _inspect(self) -> VideoInfo:
        c = self._container
        fmt = c.format.name
        if not any(name in ACCEPTED_CONTAINERS for name in fmt.split(",")):
            raise _fail(ReasonCode.MEDIA_UNSUPPORTED_FORMAT, f"container {fmt!r} is not accepted (mp4, mov or webm)")
        if not c.streams.video:
            raise _fail(ReasonCode.MEDIA_NO_VIDEO, "the file has no video stream")
        stream = c.streams.video[0]
        if stream.codec_context is None:  # FFmpeg has no decoder for it
            raise _fail(ReasonCode.MEDIA_UNSUPPORTED_CODEC, "the video's codec cannot be decoded")
        codec = stream.codec_context.name
        if codec not in ACCEPTED_CODECS:
            raise _fail(ReasonCode.MEDIA_UNSUPPORTED_CODEC, f"codec {codec!r} is not accepted")
        w, h = stream.codec_context.width, stream.codec_context.height
        if w <= 0 or h <= 0:
            raise _fail(ReasonCode.MEDIA_UNDECODABLE, "the video has no picture size")
        if max(w, h) > self.limits.max_side:
            raise _fail(ReasonCode.MEDIA_RESOLUTION, f"the video is {w}x{h}; the limit is {self.limits.max_side} px")
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif c.duration is not None:
            duration = c.duration / 1_000_000
        if duration > self.limits.max_duration_s:
            raise _fail(ReasonCode.MEDIA_TOO_LONG,
                        f"the video lasts {duration:.1f} s; the limit is {self.limits.max_duration_s:g} s")
        declared = int(stream.frames or 0)
        if declared > self.limits.max_frames:
            raise _fail(ReasonCode.MEDIA_TOO_MANY_FRAMES,
                        f"the video declares {declared} frames; the limit is {self.limits.max_frames}")
        stream.thread_type = "AUTO"
        self._stream = stream
        return VideoInfo(fmt, codec, w, h, duration, declared)

    def frames(self) -> Iterator[VideoFrame]:
        """Decoded frames in presentation order, upright, scaled to the working size.

        Limits are enforced on what is actually decoded too (a header may lie).
        """
        import av

        lim = self.limits
        t0 = None
        n = 0
        try:
            for frame in self._container.decode(self._stream):
                if frame.time is None:
                    continue
                if t0 is None:
                    t0 = frame.time
                t = frame.time - t0
                if n >= lim.max_frames:
                    raise _fail(ReasonCode.MEDIA_TOO_MANY_FRAMES, f"the video has more than {lim.max_frames} frames")
                if t > lim.max_duration_s:
                    raise _fail(ReasonCode.MEDIA_TOO_LONG, f"the video lasts more than {lim.max_duration_s:g} s")
                if max(frame.width, frame.height) > lim.max_side:
                    raise _fail(ReasonCode.MEDIA_RESOLUTION, "a frame exceeds the resolution limit")
                scale = min(1.0, lim.work_side / max(frame.width, frame.height))
                w = max(2, round(frame.width * scale) // 2 * 2)
                h = max(2, round(frame.height * scale) // 2 * 2)
                image: np.ndarray = frame.to_ndarray(width=w, height=h, format="rgb24")
                rotation = int(getattr(frame, "rotation", 0) or 0) % 360
                if rotation:
                    # FFmpeg's rotation is counter-clockwise degrees to display upright.
                    image = np.ascontiguousarray(np.rot90(image, k=rotation // 90))
                yield VideoFrame(n, float(t), image)
                n += 1
        except InputError:
            raise
        except (av.FFmpegError, ValueError, OSError, MemoryError):
            if n == 0:
                raise _fail(ReasonCode.MEDIA_UNDECODABLE, "the video data is corrupt") from None
            # A truncated tail: keep what decoded, the liveness checks judge whether it is enough.
        if n < lim.min_frames:
            raise _fail(ReasonCode.MEDIA_TOO_SHORT,
                        f"the video has {n} decodable frames; at least {lim.min_frames} are needed")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # closing a half-open container must never mask the real error
            self._container.close()

    def __enter__(self) -> DecodedVideo:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def encode_h264(frames, fps: int) -> bytes:
    """An MP4 (H.264, yuv420p) of RGB frames (numpy arrays of one even size)."""
    import av

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as dst:
        st = None
        for frame in frames:
            if st is None:
                st = dst.add_stream("libx264", rate=fps)
                st.height, st.width = frame.shape[:2]
                st.pix_fmt = "yuv420p"
            for pkt in st.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                dst.mux(pkt)
        if st is not None:
            for pkt in st.encode():
                dst.mux(pkt)
    return out.getvalue()


def still_clip(image: bytes, seconds: float = 3.0, fps: int = 15, max_side: int = 640) -> bytes:
    """An MP4 showing one still image for ``seconds``: how a photo is presented to
    the liveness check in evaluations (a still cannot act)."""
    from .media import ImageLimits, decode_image

    img = decode_image(image, ImageLimits())
    f = min(1.0, max_side / max(img.shape[:2]))
    if f < 1.0:
        import cv2

        img = cv2.resize(img, (round(img.shape[1] * f), round(img.shape[0] * f)), interpolation=cv2.INTER_AREA)
    frame = img[: img.shape[0] // 2 * 2, : img.shape[1] // 2 * 2]
    return encode_h264((frame for _ in range(int(seconds * fps))), fps)
