"""Tests of simreg.adapters.media.decode_image.

Every image is generated in memory with Pillow/numpy (or crafted byte by byte);
nothing is read from disk or the network.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import zlib

import numpy as np
import pytest
from PIL import Image, ImageFile

from simreg.adapters.media import ImageLimits, decode_image
from simreg.domain.errors import InputError
from simreg.domain.reasons import ReasonCode

# --- helpers -----------------------------------------------------------------


def encode(im: Image.Image, fmt: str, **save_kwargs) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **save_kwargs)
    return buf.getvalue()


def gradient(height: int, width: int) -> np.ndarray:
    """RGB pattern: red rises left->right, green top->bottom, blue along the diagonal."""
    yy, xx = np.mgrid[0:height, 0:width]
    return np.dstack(
        [
            xx * 255 // max(width - 1, 1),
            yy * 255 // max(height - 1, 1),
            (xx + yy) * 255 // max(width + height - 2, 1),
        ]
    ).astype(np.uint8)


def gray16(values: np.ndarray) -> Image.Image:
    """A 16-bit grayscale ('I;16') image holding ``values``."""
    height, width = values.shape
    return Image.frombytes("I;16", (width, height), values.astype("<u2").tobytes())


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def crafted_png(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares ``width`` x ``height`` 8-bit RGB, with valid CRCs
    and a tiny IDAT (far too little data for the declared size)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def decode_error(data: bytes, limits: ImageLimits = ImageLimits()) -> InputError:
    with pytest.raises(InputError) as info:
        decode_image(data, limits)
    return info.value


def assert_rgb8(arr: np.ndarray, height: int, width: int) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.uint8
    assert arr.shape == (height, width, 3)


# --- accepted formats --------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "save_kwargs", "max_mean_error"),
    [
        ("PNG", {}, 0.0),
        ("BMP", {}, 0.0),
        ("TIFF", {}, 0.0),
        ("WEBP", {"lossless": True}, 0.0),
        ("WEBP", {"quality": 90}, 4.0),
        ("JPEG", {"quality": 95}, 3.0),
        ("GIF", {}, 8.0),
    ],
    ids=["png", "bmp", "tiff", "webp-lossless", "webp-lossy", "jpeg", "gif"],
)
def test_each_accepted_format_decodes_to_rgb_uint8_with_the_original_size_and_content(fmt, save_kwargs, max_mean_error):
    original = gradient(48, 64)

    arr = decode_image(encode(Image.fromarray(original), fmt, **save_kwargs))

    assert_rgb8(arr, 48, 64)
    assert arr.flags["C_CONTIGUOUS"]
    error = np.abs(arr.astype(np.int16) - original.astype(np.int16)).mean()
    assert error <= max_mean_error


def test_a_grayscale_image_decodes_to_three_identical_channels_holding_the_gray_values():
    gray = np.tile(np.arange(256, dtype=np.uint8), (4, 1))

    arr = decode_image(encode(Image.fromarray(gray, "L"), "PNG"))

    assert_rgb8(arr, 4, 256)
    for channel in range(3):
        np.testing.assert_array_equal(arr[..., channel], gray)


@pytest.mark.parametrize(
    ("fmt", "save_kwargs"),
    [("PNG", {}), ("WEBP", {"lossless": True}), ("TIFF", {})],
    ids=["png", "webp", "tiff"],
)
def test_transparent_pixels_are_composited_on_white(fmt, save_kwargs):
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[...] = (255, 0, 0, 255)  # opaque red
    rgba[0, 0] = (255, 0, 0, 0)  # fully transparent red
    rgba[1, 1] = (255, 0, 0, 128)  # half transparent red

    arr = decode_image(encode(Image.fromarray(rgba, "RGBA"), fmt, **save_kwargs))

    assert_rgb8(arr, 10, 10)
    assert tuple(arr[0, 0]) == (255, 255, 255)
    assert tuple(arr[5, 5]) == (255, 0, 0)
    # Half red over white: G and B about 255 * (1 - 128/255) = 127.
    assert arr[1, 1, 0] == 255
    assert 120 <= arr[1, 1, 1] <= 135 and 120 <= arr[1, 1, 2] <= 135


def test_a_palette_image_with_a_transparent_index_composites_that_index_on_white():
    palette_image = Image.new("P", (8, 8), 0)
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    palette_image.putpixel((0, 0), 1)  # index 1 (blue) is declared transparent

    arr = decode_image(encode(palette_image, "GIF", transparency=1))

    assert_rgb8(arr, 8, 8)
    assert tuple(arr[0, 0]) == (255, 255, 255)
    assert tuple(arr[4, 4]) == (255, 0, 0)


def test_a_cmyk_jpeg_decodes_to_the_matching_rgb_colours():
    cmyk = Image.new("CMYK", (16, 8))
    cmyk.paste((0, 255, 255, 0), (0, 0, 8, 8))  # magenta + yellow = red
    cmyk.paste((255, 255, 0, 0), (8, 0, 16, 8))  # cyan + magenta = blue

    arr = decode_image(encode(cmyk, "JPEG", quality=95))

    assert_rgb8(arr, 8, 16)
    np.testing.assert_allclose(arr[4, 2].astype(int), (255, 0, 0), atol=12)
    np.testing.assert_allclose(arr[4, 13].astype(int), (0, 0, 255), atol=12)


def test_a_16_bit_grayscale_png_is_rescaled_to_8_bits_not_clipped():
    values = np.array([[0, 257, 32896, 65280, 65535]], dtype=np.uint16)
    data = encode(gray16(values), "PNG")

    arr = decode_image(data)

    assert_rgb8(arr, 1, 5)
    # 65535 -> 255, 32896 = 128 * 257 -> 128: a scale of 1/257, where clipping
    # would have turned everything above 255 into 255.
    np.testing.assert_array_equal(arr[0, :, 0], [0, 1, 128, 254, 255])
    np.testing.assert_array_equal(arr[..., 0], arr[..., 1])
    np.testing.assert_array_equal(arr[..., 0], arr[..., 2])


def test_a_16_bit_image_larger_than_max_side_is_scaled_down_and_rescaled():
    ramp = np.tile(np.linspace(0, 65535, 400).astype(np.uint16), (300, 1))
    data = encode(gray16(ramp), "PNG")

    arr = decode_image(data, ImageLimits(max_side=100))

    assert_rgb8(arr, 75, 100)
    assert arr[:, 0, 0].max() <= 5  # left edge stays dark
    assert arr[:, -1, 0].min() >= 250  # right edge stays bright: rescaled, not clipped
    assert abs(int(arr[0, 50, 0]) - 128) <= 3


# --- orientation and size ----------------------------------------------------


def _jpeg_with_orientation(pixels: np.ndarray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(Image.fromarray(pixels), "JPEG", quality=95, exif=exif.tobytes())


def _is_red(block: np.ndarray) -> bool:
    mean = block.reshape(-1, 3).mean(axis=0)
    return mean[0] > 200 and mean[1] < 60 and mean[2] < 60


@pytest.mark.parametrize(
    ("orientation", "red_corner"),
    [
        # 6: rotate 90 degrees clockwise to display -> stored top-left goes top-right.
        (6, (slice(0, 4), slice(-4, None))),
        # 8: rotate 90 degrees counter-clockwise -> stored top-left goes bottom-left.
        (8, (slice(-4, None), slice(0, 4))),
    ],
)
def test_an_exif_rotated_jpeg_is_turned_upright(orientation, red_corner):
    stored = np.full((20, 40, 3), 128, np.uint8)  # 40 wide, 20 high, grey
    stored[:6, :6] = (255, 0, 0)  # red mark in the stored top-left corner

    arr = decode_image(_jpeg_with_orientation(stored, orientation))

    assert_rgb8(arr, 40, 20)  # now 20 wide, 40 high
    assert _is_red(arr[red_corner])
    corners = [
        (slice(0, 4), slice(0, 4)),
        (slice(0, 4), slice(-4, None)),
        (slice(-4, None), slice(0, 4)),
        (slice(-4, None), slice(-4, None)),
    ]
    assert sum(_is_red(arr[c]) for c in corners) == 1


@pytest.mark.parametrize(
    ("fmt", "height", "width", "expected_shape"),
    [
        ("JPEG", 600, 900, (133, 200, 3)),
        ("JPEG", 900, 600, (200, 133, 3)),
        ("JPEG", 800, 800, (200, 200, 3)),
        ("PNG", 600, 900, (133, 200, 3)),
        ("WEBP", 900, 600, (200, 133, 3)),
    ],
)
def test_a_large_image_is_scaled_down_to_max_side_on_its_longer_side(fmt, height, width, expected_shape):
    data = encode(Image.fromarray(gradient(height, width)), fmt)

    arr = decode_image(data, ImageLimits(max_side=200))

    assert arr.dtype == np.uint8
    assert arr.shape == expected_shape
    # Scaled, not cropped: the red ramp still runs from dark to bright across the width.
    assert arr[:, :3, 0].mean() < 20
    assert arr[:, -3:, 0].mean() > 235


def test_a_large_jpeg_is_scaled_down_to_the_default_max_side():
    data = encode(Image.fromarray(gradient(1800, 2400)), "JPEG")

    arr = decode_image(data)

    assert arr.shape == (1200, 1600, 3)
    assert max(arr.shape[:2]) == ImageLimits().max_side


def test_an_exif_rotated_large_jpeg_is_rotated_and_then_scaled_down():
    data = _jpeg_with_orientation(gradient(1000, 2000), 6)

    arr = decode_image(data, ImageLimits(max_side=500))

    assert arr.shape == (500, 250, 3)


def test_an_image_exactly_at_max_side_keeps_its_size():
    original = gradient(100, 200)

    arr = decode_image(encode(Image.fromarray(original), "PNG"), ImageLimits(max_side=200))

    np.testing.assert_array_equal(arr, original)


# --- refusals ----------------------------------------------------------------


def test_empty_bytes_are_refused_as_media_empty_with_status_400():
    error = decode_error(b"")

    assert error.code is ReasonCode.MEDIA_EMPTY
    assert error.http_status == 400


def test_bytes_over_max_bytes_are_refused_as_media_too_large_with_status_413():
    data = encode(Image.fromarray(gradient(16, 16)), "PNG")

    error = decode_error(data, ImageLimits(max_bytes=len(data) - 1))

    assert error.code is ReasonCode.MEDIA_TOO_LARGE
    assert error.http_status == 413


def test_an_image_of_exactly_max_bytes_is_accepted():
    data = encode(Image.fromarray(gradient(16, 16)), "PNG")

    arr = decode_image(data, ImageLimits(max_bytes=len(data)))

    assert_rgb8(arr, 16, 16)


@pytest.mark.parametrize(
    "data",
    [
        np.random.default_rng(0).bytes(4096),
        b"this is not an image at all",
        b"\x89PNG\r\n\x1a\n",  # a PNG signature and nothing else
    ],
    ids=["random-bytes", "text", "bare-png-signature"],
)
def test_garbage_bytes_are_refused_as_media_undecodable(data):
    error = decode_error(data)

    assert error.code is ReasonCode.MEDIA_UNDECODABLE
    assert error.http_status == 422


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP"])
def test_a_truncated_image_is_either_refused_as_undecodable_or_decoded_never_anything_else(fmt):
    noise = np.random.default_rng(3).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), fmt)

    try:
        arr = decode_image(data[: len(data) // 2])
    except InputError as error:  # any other exception type fails the test
        assert error.code is ReasonCode.MEDIA_UNDECODABLE
        assert error.http_status == 422
    else:
        assert_rgb8(arr, 120, 160)


def test_a_jpeg_cut_in_half_is_refused_as_media_undecodable():
    # What the current Pillow does for a half JPEG; pinned so a change is noticed.
    noise = np.random.default_rng(4).integers(0, 256, (120, 160, 3), dtype=np.uint8)
    data = encode(Image.fromarray(noise), "JPEG")

    assert decode_error(data[: len(data) // 2]).code is ReasonCode.MEDIA_UNDECODABLE


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", "GIF", "BMP"])
def test_a_corrupted_image_raises_nothing_but_input_error(fmt):
    base = encode(Image.fromarray(gradient(24, 32)), fmt)
    rng = np.random.default_rng(sum(fmt.encode()))
    for _ in range(150):
        data = bytearray(base)
        for position in rng.integers(0, len(data), size=int(rng.integers(1, 6))):
            data[position] = int(rng.integers(0, 256))
        try:
            arr = decode_image(bytes(data))
        except InputError:
            continue
        assert arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3


def _decode_with_spy(monkeypatch, data: bytes, limits: ImageLimits = ImageLimits()):
    """Decode while recording whether Pillow was asked to decode pixels, the
    Python-heap peak and the wall time."""
    loads = []
    real_load = ImageFile.ImageFile.load

    def spying_load(self):
        loads.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spying_load)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(InputError) as info:
            decode_image(data, limits)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return info.value, loads, peak, elapsed


def test_a_png_header_declaring_50000_by_50000_is_refused_quickly_without_decoding(monkeypatch):
    data = crafted_png(50_000, 50_000)
    assert len(data) < 200

    error, loads, peak, elapsed = _decode_with_spy(monkeypatch, data)

    assert error.code is ReasonCode.MEDIA_DIMENSIONS
    assert error.http_status == 422
    assert loads == []  # no pixel buffer was ever requested
    assert peak < 50 * 1024 * 1024
    assert elapsed < 2.0


def test_a_header_over_max_pixels_but_under_pillows_own_bomb_limit_is_refused_without_decoding(monkeypatch):
    # 10000 x 7000 = 70 M pixels: above the default max_pixels (60 M) but below
    # Pillow's MAX_IMAGE_PIXELS, so only simreg's own check can stop it.
    assert ImageLimits().max_pixels < 70_000_000 <= Image.MAX_IMAGE_PIXELS
    data = crafted_png(10_000, 7_000)

    error, loads, peak, elapsed = _decode_with_spy(monkeypatch, data)

    assert error.code is ReasonCode.MEDIA_DIMENSIONS
    assert loads == []
    assert peak < 50 * 1024 * 1024
    assert elapsed < 2.0


@pytest.mark.parametrize(("width", "height"), [(0, 20), (20, 0), (0, 0)])
def test_a_png_header_with_a_zero_side_is_refused(width, height):
    error = decode_error(crafted_png(width, height))

    assert error.code in (ReasonCode.MEDIA_DIMENSIONS, ReasonCode.MEDIA_UNDECODABLE)
    assert error.http_status == 422


def test_an_image_over_max_pixels_is_refused_as_media_dimensions():
    data = encode(Image.new("RGB", (3000, 3000)), "PNG")

    error = decode_error(data, ImageLimits(max_pixels=1_000_000))

    assert error.code is ReasonCode.MEDIA_DIMENSIONS
    assert error.http_status == 422


def test_max_pixels_is_an_inclusive_limit():
    data_at_limit = encode(Image.new("RGB", (100, 100)), "PNG")
    data_over_limit = encode(Image.new("RGB", (101, 100)), "PNG")
    limits = ImageLimits(max_pixels=10_000)

    assert_rgb8(decode_image(data_at_limit, limits), 100, 100)
    assert decode_error(data_over_limit, limits).code is ReasonCode.MEDIA_DIMENSIONS


@pytest.mark.parametrize("fmt", ["ICO", "PPM", "PCX", "TGA"])
def test_a_format_pillow_reads_but_simreg_does_not_accept_is_refused_with_415(fmt):
    data = encode(Image.fromarray(gradient(32, 32)), fmt)
    # Precondition: Pillow itself can read these bytes, so the refusal is policy.
    assert Image.open(io.BytesIO(data)).format == fmt

    error = decode_error(data)

    assert error.code is ReasonCode.MEDIA_UNSUPPORTED_FORMAT
    assert error.http_status == 415


def test_a_float_image_in_the_unit_range_is_rescaled_to_8_bits():
    import io

    import numpy as np
    from PIL import Image

    from simreg.adapters.media import decode_image

    buf = io.BytesIO()
    Image.fromarray(np.tile(np.linspace(0, 1, 50, dtype=np.float32), (10, 1))).save(buf, "TIFF")
    out = decode_image(buf.getvalue())
    assert out.max() == 255 and out.min() == 0
