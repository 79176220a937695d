"""Tests for `opendfa.media.load_image`: formats, conversions, limits and hostile input."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from opendfa.media import DEFAULT_MAX_PIXELS, LoadedImage, MediaError, load_image

# ---------------------------------------------------------------------------- helpers


def _pattern(height: int = 24, width: int = 32, seed: int = 0) -> np.ndarray:
    """Random RGB uint8 pixels: any rotation, flip or channel mix-up changes them."""
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def _blocks(height: int = 48, width: int = 64) -> np.ndarray:
    """Flat 16x16 colour blocks: survives JPEG well but is still orientation-sensitive."""
    rng = np.random.default_rng(7)
    colours = rng.integers(0, 256, (height // 16, width // 16, 3), dtype=np.uint8)
    return np.repeat(np.repeat(colours, 16, axis=0), 16, axis=1)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for a huge RGB image, with almost no pixel data behind it."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _media_error(source: object, **options: object) -> MediaError:
    """Load `source`, insist on a MediaError with a one-line message, and return it."""
    with pytest.raises(MediaError) as info:
        load_image(source, **options)  # type: ignore[arg-type]
    assert type(info.value) is MediaError
    text = str(info.value)
    assert text.strip()
    assert len(text.splitlines()) == 1, text
    return info.value


def _check_loaded(result: LoadedImage) -> None:
    rgb = result.rgb
    assert isinstance(rgb, np.ndarray)
    assert rgb.dtype == np.uint8
    assert rgb.ndim == 3
    assert rgb.shape[2] == 3
    assert rgb.shape[0] >= 1
    assert rgb.shape[1] >= 1
    assert (result.height, result.width) == rgb.shape[:2]


PATTERN = _pattern()
PATTERN_IMAGE = Image.fromarray(PATTERN)

# Lossless encodings that must round-trip exactly.
LOSSLESS = {
    "PNG": ("png", {}),
    "BMP": ("bmp", {}),
    "TIFF": ("tiff", {}),
    "WEBP": ("webp", {"lossless": True}),
}


# ---------------------------------------------------------------------------- formats


@pytest.mark.parametrize("fmt", sorted(LOSSLESS))
@pytest.mark.parametrize("from_path", [False, True])
def test_lossless_formats_round_trip_exactly(fmt: str, from_path: bool, tmp_path: Path) -> None:
    suffix, options = LOSSLESS[fmt]
    data = _encode(PATTERN_IMAGE, fmt, **options)
    source: Path | bytes = data
    if from_path:
        source = tmp_path / f"picture.{suffix}"
        source.write_bytes(data)
    result = load_image(source)
    _check_loaded(result)
    assert result.format == fmt
    assert result.rgb.shape == (24, 32, 3)
    np.testing.assert_array_equal(result.rgb, PATTERN)
    assert result.source == (str(source) if from_path else "<bytes>")


@pytest.mark.parametrize("from_path", [False, True])
def test_jpeg_loads_close_to_original(from_path: bool, tmp_path: Path) -> None:
    original = _blocks()
    data = _encode(Image.fromarray(original), "JPEG", quality=95)
    source: Path | bytes = data
    if from_path:
        source = tmp_path / "photo.jpg"
        source.write_bytes(data)
    result = load_image(source)
    _check_loaded(result)
    assert result.format == "JPEG"
    assert result.rgb.shape == original.shape
    assert np.abs(result.rgb.astype(int) - original).mean() < 4


def test_lossy_webp_loads_close_to_original() -> None:
    original = _blocks()
    result = load_image(_encode(Image.fromarray(original), "WEBP", quality=95))
    assert result.format == "WEBP"
    assert result.rgb.shape == original.shape
    assert np.abs(result.rgb.astype(int) - original).mean() < 6


def test_gif_uses_the_first_frame_and_says_so() -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    frames = [Image.new("RGB", (10, 6), colour) for colour in colours]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)
    result = load_image(data)
    _check_loaded(result)
    assert result.format == "GIF"
    assert result.frame_count == 3
    assert result.rgb.shape == (6, 10, 3)
    assert (result.rgb == np.array([255, 0, 0], np.uint8)).all()
    assert any("3 frames" in note for note in result.warnings)


def test_single_frame_gif_has_no_frame_note() -> None:
    result = load_image(_encode(Image.new("RGB", (4, 4), (0, 0, 255)), "GIF"))
    assert result.frame_count == 1
    assert not any("frames" in note for note in result.warnings)
    assert (result.rgb == np.array([0, 0, 255], np.uint8)).all()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "TIFF", "GIF"])
def test_one_pixel_image_loads(fmt: str) -> None:
    result = load_image(_encode(Image.new("RGB", (1, 1), (200, 100, 50)), fmt))
    assert result.rgb.shape == (1, 1, 3)
    assert result.rgb.dtype == np.uint8
    tolerance = 0 if fmt in ("PNG", "BMP", "TIFF", "GIF") else 12
    assert np.abs(result.rgb[0, 0].astype(int) - [200, 100, 50]).max() <= tolerance


# ---------------------------------------------------------------------------- EXIF orientation

# What the file stores for each EXIF orientation, given the upright picture (EXIF 2.3, 4.6.4):
# the value says where the stored row 0 / column 0 lie in the upright picture.
STORED_FOR_ORIENTATION = {
    1: lambda up: up,
    2: lambda up: up[:, ::-1],  # row 0 at top, column 0 at right
    3: lambda up: up[::-1, ::-1],  # bottom, right
    4: lambda up: up[::-1, :],  # bottom, left
    5: lambda up: up.swapaxes(0, 1),  # left, top
    6: lambda up: np.rot90(up, 1),  # right, top: stored = upright turned 90° anticlockwise
    7: lambda up: up[::-1, ::-1].swapaxes(0, 1),  # right, bottom
    8: lambda up: np.rot90(up, -1),  # left, bottom
}


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("orientation", sorted(STORED_FOR_ORIENTATION))
def test_exif_orientation_is_applied_exactly_in_png(orientation: int) -> None:
    upright = _pattern(12, 20, seed=orientation)
    stored = np.ascontiguousarray(STORED_FOR_ORIENTATION[orientation](upright))
    data = _encode(Image.fromarray(stored), "PNG", exif=_exif(orientation))
    result = load_image(data)
    assert result.exif_orientation == orientation
    assert result.rgb.shape == upright.shape
    np.testing.assert_array_equal(result.rgb, upright)


def test_jpeg_stored_rotated_with_orientation_6_loads_upright(tmp_path: Path) -> None:
    upright = _blocks(48, 64)  # landscape
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # portrait on disk
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_encode(Image.fromarray(stored), "JPEG", quality=95, exif=_exif(6)))
    result = load_image(path)
    assert result.exif_orientation == 6
    assert result.format == "JPEG"
    assert result.rgb.shape == (48, 64, 3)
    error = np.abs(result.rgb.astype(int) - upright).mean()
    assert error < 4
    # Turning the wrong way would be far off: the check above can tell the difference.
    assert np.abs(np.rot90(result.rgb, 2).astype(int) - upright).mean() > 10 * max(error, 1)


def test_out_of_range_orientation_is_ignored() -> None:
    data = _encode(PATTERN_IMAGE, "PNG", exif=_exif(42))
    result = load_image(data)
    assert result.exif_orientation == 1
    np.testing.assert_array_equal(result.rgb, PATTERN)


# ---------------------------------------------------------------------------- colour modes


def test_grey_becomes_three_equal_channels() -> None:
    grey = np.arange(0, 240, dtype=np.uint8).reshape(12, 20)
    result = load_image(_encode(Image.fromarray(grey), "PNG"))
    assert result.original_mode == "L"
    for channel in range(3):
        np.testing.assert_array_equal(result.rgb[:, :, channel], grey)


def test_one_bit_image_is_black_and_white() -> None:
    bits = Image.new("1", (8, 2), 0)
    bits.putpixel((3, 1), 1)
    result = load_image(_encode(bits, "PNG"))
    assert result.rgb[1, 3].tolist() == [255, 255, 255]
    assert result.rgb[0, 0].tolist() == [0, 0, 0]


@pytest.mark.parametrize("fmt", ["PNG", "TIFF", "WEBP"])
def test_alpha_is_composited_on_white(fmt: str) -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red stays red
    rgba[0, 1] = [0, 0, 255, 0]  # fully transparent blue becomes white
    rgba[0, 2] = [0, 0, 0, 128]  # half-transparent black becomes mid grey
    rgba[1, :] = [0, 255, 0, 255]
    options = {"lossless": True} if fmt == "WEBP" else {}
    result = load_image(_encode(Image.fromarray(rgba, "RGBA"), fmt, **options))
    assert result.rgb[0, 0].tolist() == [255, 0, 0]
    assert result.rgb[0, 1].tolist() == [255, 255, 255]
    assert np.abs(result.rgb[0, 2].astype(int) - 127).max() <= 2
    assert result.rgb[1, 1].tolist() == [0, 255, 0]


def test_grey_with_alpha_is_composited_on_white() -> None:
    la = Image.fromarray(np.array([[[0, 0], [0, 255], [100, 255]]], np.uint8), "LA")
    result = load_image(_encode(la, "PNG"))
    assert result.original_mode == "LA"
    assert result.rgb[0].tolist() == [[255, 255, 255], [0, 0, 0], [100, 100, 100]]


def _palette_image(transparent_index: int | None) -> Image.Image:
    image = Image.new("P", (3, 1))
    image.putpalette([255, 0, 0, 0, 0, 0, 0, 0, 255] + [0] * (3 * 253))
    image.putdata([0, 1, 2])
    if transparent_index is not None:
        image.info["transparency"] = transparent_index
    return image


@pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP", "TIFF"])
def test_palette_image_is_expanded(fmt: str) -> None:
    result = load_image(_encode(_palette_image(None), fmt))
    assert result.rgb[0].tolist() == [[255, 0, 0], [0, 0, 0], [0, 0, 255]]


@pytest.mark.parametrize("fmt", ["PNG", "GIF"])
def test_transparent_palette_entry_becomes_white(fmt: str) -> None:
    image = _palette_image(1)
    result = load_image(_encode(image, fmt, transparency=1))
    assert result.rgb[0].tolist() == [[255, 0, 0], [255, 255, 255], [0, 0, 255]]


@pytest.mark.parametrize("fmt", ["JPEG", "TIFF"])
def test_cmyk_is_converted_to_rgb(fmt: str) -> None:
    cmyk = np.zeros((16, 32, 4), np.uint8)
    cmyk[:, :16] = [255, 0, 0, 0]  # cyan
    cmyk[:, 16:] = [0, 0, 0, 0]  # white paper
    data = _encode(Image.fromarray(cmyk, "CMYK"), fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    result = load_image(data)
    assert result.original_mode == "CMYK"
    assert result.rgb.shape == (16, 32, 3)
    assert np.abs(result.rgb[8, 4].astype(int) - [0, 255, 255]).max() <= 8
    assert np.abs(result.rgb[8, 28].astype(int) - [255, 255, 255]).max() <= 8


GREY16 = np.array([[0, 257, 1000, 32768, 65535]], dtype=np.uint16)
GREY16_EXPECTED = [0, 1, 3, 127, 255]  # scaled by 255/65535, not clipped at 255


@pytest.mark.parametrize("fmt", ["PNG", "TIFF"])
def test_sixteen_bit_grey_is_scaled_not_clipped(fmt: str) -> None:
    data = _encode(Image.fromarray(GREY16), fmt)
    result = load_image(data)
    assert result.original_mode.startswith("I;16")
    grey = result.rgb[0, :, 0].astype(int)
    assert np.abs(grey - GREY16_EXPECTED).max() <= 1, grey
    assert (result.rgb[:, :, 0] == result.rgb[:, :, 1]).all()
    assert (result.rgb[:, :, 0] == result.rgb[:, :, 2]).all()


def test_big_endian_sixteen_bit_tiff_is_scaled() -> None:
    image = Image.frombytes("I;16B", (5, 1), GREY16.astype(">u2").tobytes())
    result = load_image(_encode(image, "TIFF"))
    assert np.abs(result.rgb[0, :, 0].astype(int) - GREY16_EXPECTED).max() <= 1


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_sixteen_bit_rgb_is_scaled(ext: str) -> None:
    rgb16 = np.zeros((2, 3, 3), np.uint16)
    rgb16[0, 0] = [65535, 32768, 0]
    rgb16[1, 2] = [1000, 0, 65535]
    ok, encoded = cv2.imencode(ext, np.ascontiguousarray(rgb16[:, :, ::-1]))  # cv2 wants BGR
    assert ok
    result = load_image(encoded.tobytes())
    assert result.rgb.shape == (2, 3, 3)
    assert np.abs(result.rgb[0, 0].astype(int) - [255, 127, 0]).max() <= 1
    assert np.abs(result.rgb[1, 2].astype(int) - [4, 0, 255]).max() <= 1
    assert result.rgb[1, 0].tolist() == [0, 0, 0]


def test_float_tiff_in_unit_range_is_scaled() -> None:
    values = np.array([[0.0, 0.5, 1.0]], dtype=np.float32)
    result = load_image(_encode(Image.fromarray(values, "F"), "TIFF"))
    assert np.abs(result.rgb[0, :, 0].astype(int) - [0, 128, 255]).max() <= 1


# ---------------------------------------------------------------------------- hashing


def test_sha256_matches_hashlib_for_path_and_every_bytes_type(tmp_path: Path) -> None:
    data = _encode(PATTERN_IMAGE, "PNG")
    expected = hashlib.sha256(data).hexdigest()
    path = tmp_path / "p.png"
    path.write_bytes(data)
    for source in (path, str(path), data, bytearray(data), memoryview(data)):
        assert load_image(source).sha256 == expected
    other = _encode(Image.fromarray(_pattern(seed=1)), "PNG")
    assert load_image(other).sha256 == hashlib.sha256(other).hexdigest() != expected


# ---------------------------------------------------------------------------- pixel cap


def test_huge_dimensions_are_refused_from_the_header_alone() -> None:
    data = _png_claiming(20000, 20000)
    assert len(data) < 300
    error = _media_error(data)
    text = str(error)
    assert "too large" in text
    assert "400.0 MP" in text  # the size it claims
    assert "50.0 MP" in text  # the default limit
    assert "truncated" not in text  # refused before any decoding was tried


@pytest.mark.parametrize(("width", "height"), [(10000, 10000), (8000, 8000), (50001, 1000)])
def test_pixel_cap_names_the_dimensions(width: int, height: int) -> None:
    error = _media_error(_png_claiming(width, height))
    assert f"{width}x{height}" in str(error)
    assert "truncated" not in str(error)


def test_pixel_cap_comes_before_decoding() -> None:
    data = _png_claiming(8000, 8000)  # 64 MP: over the default cap, under Pillow's own limit
    assert "too large" in str(_media_error(data))
    # With a higher cap the same bytes reach the decoder, which finds the data missing.
    assert "truncated" in str(_media_error(data, max_pixels=100_000_000))


def test_max_pixels_is_configurable() -> None:
    assert DEFAULT_MAX_PIXELS == 50_000_000
    data = _encode(Image.new("RGB", (100, 100), (1, 2, 3)), "PNG")
    assert load_image(data, max_pixels=10_000).rgb.shape == (100, 100, 3)
    error = _media_error(data, max_pixels=9_999)
    assert "100x100" in str(error)


# ---------------------------------------------------------------------------- bad input


def _jpeg_bytes() -> bytes:
    return _encode(Image.fromarray(_pattern(64, 64, seed=3)), "JPEG", quality=90)


def test_truncated_jpeg_is_refused(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: int(len(data) * 0.3)])
    error = _media_error(path)
    assert "truncated" in str(error)
    assert str(path) in str(error)


def test_truncated_png_is_refused() -> None:
    data = _encode(PATTERN_IMAGE, "PNG")
    _media_error(data[: len(data) // 2])


def test_empty_inputs_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert "empty" in str(_media_error(empty))
    assert "empty" in str(_media_error(b""))
    assert "empty" in str(_media_error(bytearray()))


def test_text_renamed_png_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("just some text, not an image\n" * 10)
    assert "looks like text" in str(_media_error(path))


def _video_bytes(tmp_path: Path, suffix: str, fourcc: str) -> bytes:
    path = tmp_path / f"clip{suffix}"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10.0, (32, 32))
    if not writer.isOpened():
        pytest.skip(f"OpenCV cannot write {suffix} here")
    for i in range(3):
        writer.write(np.full((32, 32, 3), i * 60, np.uint8))
    writer.release()
    return path.read_bytes()


@pytest.mark.parametrize(
    ("suffix", "fourcc"), [(".mp4", "mp4v"), (".avi", "MJPG"), (".mkv", "MJPG")]
)
def test_video_renamed_jpg_is_refused(suffix: str, fourcc: str, tmp_path: Path) -> None:
    renamed = tmp_path / "frame.jpg"
    renamed.write_bytes(_video_bytes(tmp_path, suffix, fourcc))
    assert "looks like a video" in str(_media_error(renamed))


@pytest.mark.parametrize("source", [0, 42, None, 3.5, True, ["a.png"], object()])
def test_wrong_python_types_are_refused(source: object) -> None:
    assert "unsupported input type" in str(_media_error(source))


def test_missing_path_and_directory_are_refused(tmp_path: Path) -> None:
    assert "not found" in str(_media_error(tmp_path / "nope.png"))
    assert "not found" in str(_media_error(str(tmp_path / "nope.png")))
    assert "not a regular file" in str(_media_error(tmp_path))


def test_unusable_path_strings_are_refused(tmp_path: Path) -> None:
    _media_error("x" * 5000 + ".png")  # longer than any file name may be
    _media_error(str(tmp_path / "nul\x00byte.png"))


def test_newline_in_file_name_keeps_the_message_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "two\nlines.png"
    path.write_text("not an image")
    error = _media_error(path)
    assert "\\n" in str(error)
    assert error.path == str(path)  # the raw path is still available to code


def test_max_bytes_is_enforced_for_paths_and_bytes(tmp_path: Path) -> None:
    data = _encode(PATTERN_IMAGE, "PNG")
    path = tmp_path / "big.png"
    path.write_bytes(data)
    assert "too large" in str(_media_error(path, max_bytes=len(data) - 1))
    assert "too large" in str(_media_error(data, max_bytes=len(data) - 1))
    assert load_image(path, max_bytes=len(data)).rgb.shape == (24, 32, 3)


@pytest.mark.parametrize("fmt", ["ICO", "PPM", "TGA", "PCX"])
def test_formats_outside_the_list_are_refused(fmt: str) -> None:
    data = _encode(Image.new("RGB", (16, 16), (9, 9, 9)), fmt)
    assert "unsupported image format" in str(_media_error(data))


def test_pdf_is_described() -> None:
    assert "PDF" in str(_media_error(b"%PDF-1.4\n" + bytes(range(256)) * 4))


def test_corrupt_metadata_becomes_a_note_not_a_warning() -> None:
    exif = _exif(6)
    exif[0x010F] = "SomeCameraMaker"
    broken_exif = exif.tobytes()[:-8]  # the maker string now points past the end
    data = _encode(Image.new("RGB", (8, 6), (10, 200, 30)), "JPEG", exif=broken_exif)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = load_image(data)
    assert caught == []
    assert result.rgb.shape[2] == 3
    assert any(note.startswith("decoder warning") for note in result.warnings)


@pytest.mark.parametrize("cut", [3, 7, 10])
def test_corrupt_later_gif_frame_keeps_the_first_frame(cut: int) -> None:
    frames = [Image.new("RGB", (8, 8), colour) for colour in ("red", "green", "blue")]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    # Cut inside the second frame's image descriptor: the first frame is intact.
    second = data.index(b"\x2c", data.index(b"\x2c") + 1)
    result = load_image(data[: second + cut])
    assert (result.rgb == np.array([255, 0, 0], np.uint8)).all()
    assert result.frame_count == 1
    assert any("could not count frames" in note for note in result.warnings)


# ---------------------------------------------------------------------------- fuzzing


def _seed_files() -> dict[str, bytes]:
    base = Image.fromarray(_pattern(16, 20, seed=11))
    return {
        "jpeg": _encode(base, "JPEG", quality=80, exif=_exif(6)),
        "png": _encode(base, "PNG"),
        "gif": _encode(base, "GIF", save_all=True, append_images=[base.rotate(90)]),
        "tiff": _encode(base, "TIFF", save_all=True, append_images=[base.convert("L")]),
        "webp": _encode(base, "WEBP"),
        "bmp": _encode(base.convert("P"), "BMP"),
    }


SEEDS = _seed_files()
MAGICS = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _load_or_refuse(data: bytes) -> None:
    """The contract: a valid RGB uint8 image or one MediaError, nothing else."""
    try:
        result = load_image(data, max_pixels=2_000_000)
    except MediaError as err:
        assert len(str(err).splitlines()) == 1
        return
    _check_loaded(result)
    assert result.sha256 == hashlib.sha256(data).hexdigest()


@FUZZ
@given(data=st.binary(min_size=0, max_size=2048))
def test_fuzz_random_bytes(data: bytes) -> None:
    _load_or_refuse(data)


@FUZZ
@given(magic=st.sampled_from(MAGICS), tail=st.binary(max_size=1024))
def test_fuzz_random_bytes_behind_a_real_signature(magic: bytes, tail: bytes) -> None:
    _load_or_refuse(magic + tail)


@FUZZ
@given(
    name=st.sampled_from(sorted(SEEDS)),
    edits=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)), max_size=12),
    keep=st.floats(0.05, 1.0),
)
def test_fuzz_corrupted_and_truncated_real_files(
    name: str, edits: list[tuple[float, int]], keep: float
) -> None:
    data = bytearray(SEEDS[name])
    for where, value in edits:
        data[int(where * len(data))] = value
    _load_or_refuse(bytes(data[: max(1, int(len(data) * keep))]))
