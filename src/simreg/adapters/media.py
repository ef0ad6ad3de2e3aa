"""Image decoding with hard limits.

Accepts bytes only (never paths or URLs from clients).  Every failure is an
:class:`InputError` with its own reason code; memory stays bounded because the
header is checked before any pixel is decoded, and JPEGs are decoded straight
to a reduced size with libjpeg's DCT scaling (``Image.draft``).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..domain.errors import InputError
from ..domain.media import ImageLimits
from ..domain.reasons import ReasonCode

# Formats a counter terminal or a chip reader may send.  Anything else Pillow can
# open (PSD, EPS, ...) is refused rather than parsed.
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF", "MPO", "JPEG2000"})


def _to_rgb8(im: Image.Image) -> np.ndarray:
    """Any Pillow mode -> RGB uint8 array. 16-bit and float images are rescaled,
    not clipped; transparency is composited on white."""
    mode = im.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        arr = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        else:
            lo, hi = float(np.min(arr)), float(np.max(arr))
            if mode == "F" and lo >= 0.0 and hi <= 1.0:
                arr = arr * 255.0  # float images in [0, 1]
            elif hi <= 255.0 and lo >= 0.0:
                pass
            elif hi > lo:
                arr = (arr - lo) * (255.0 / (hi - lo))
            else:
                arr = np.zeros_like(arr)
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([gray] * 3, axis=-1))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV ...
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def decode_image(data: bytes, limits: ImageLimits = ImageLimits()) -> np.ndarray:
    """Decode image bytes to an RGB uint8 array ``(h, w, 3)``, EXIF orientation applied.

    Raises :class:`InputError` with ``MEDIA.EMPTY``, ``MEDIA.TOO_LARGE``,
    ``MEDIA.UNSUPPORTED_FORMAT``, ``MEDIA.DIMENSIONS`` or ``MEDIA.UNDECODABLE``.
    """
    if not data:
        raise InputError(ReasonCode.MEDIA_EMPTY, "the image is empty")
    if len(data) > limits.max_bytes:
        raise InputError(ReasonCode.MEDIA_TOO_LARGE,
                         f"the image is {len(data)} bytes; the limit is {limits.max_bytes}")
    # Pillow itself raises DecompressionBombError past twice its MAX_IMAGE_PIXELS;
    # below that our own max_pixels check refuses before any pixel is decoded.
    try:
        im: Image.Image = Image.open(io.BytesIO(data))
        fmt = im.format
        w, h = im.size
    except Image.DecompressionBombError:
        raise InputError(ReasonCode.MEDIA_DIMENSIONS, "the image header declares too many pixels") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InputError(ReasonCode.MEDIA_UNDECODABLE, "the bytes are not a readable image") from None
    if fmt not in ACCEPTED_FORMATS:
        raise InputError(ReasonCode.MEDIA_UNSUPPORTED_FORMAT, f"image format {fmt!r} is not accepted")
    if w <= 0 or h <= 0:
        raise InputError(ReasonCode.MEDIA_DIMENSIONS, "the image has zero size")
    if w * h > limits.max_pixels:
        raise InputError(ReasonCode.MEDIA_DIMENSIONS,
                         f"the image is {w}x{h}; the limit is {limits.max_pixels} pixels")
    try:
        if fmt == "JPEG" and max(w, h) > limits.max_side:
            im.draft("RGB", (limits.max_side, limits.max_side))
        im.load()
        im = ImageOps.exif_transpose(im)
        if max(im.size) > limits.max_side:
            scale = limits.max_side / max(im.size)
            new_size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
            smooth = im.mode in ("RGB", "L", "RGBA")
            im = im.resize(new_size, Image.Resampling.LANCZOS if smooth else Image.Resampling.NEAREST)
        return _to_rgb8(im)
    except Image.DecompressionBombError:
        raise InputError(ReasonCode.MEDIA_DIMENSIONS, "the image declares too many pixels") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError, TypeError):
        raise InputError(ReasonCode.MEDIA_UNDECODABLE, "the image data is corrupt or truncated") from None
