"""Image loading that never decodes more than it allows and always returns RGB uint8.

Pillow parses only the header on `Image.open`, so the pixel cap is checked before any pixel
data is decoded. Every failure becomes a `MediaError` with a one-line reason.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from opendfa.media.errors import MediaError
from opendfa.media.files import file_problem

DEFAULT_MAX_PIXELS = 50_000_000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif"}
)
# Pillow format names we accept; MPO is what many cameras write for JPEG.
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "BMP", "DIB", "TIFF", "GIF"})
_ORIENTATION_TAG = 0x0112

ImageSource = str | Path | bytes | bytearray | memoryview


@dataclass
class LoadedImage:
    """A decoded image as RGB uint8 (H, W, 3) plus what was learned while loading it."""

    rgb: np.ndarray
    source: str
    sha256: str
    format: str
    original_mode: str
    exif_orientation: int = 1
    frame_count: int = 1
    warnings: list[str] = field(default_factory=list)
    data: bytes = field(default=b"", repr=False)  # the file's bytes, for checks that read them

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> LoadedImage:
    """Load an image from a path or bytes as RGB uint8 with EXIF orientation applied.

    Raises `MediaError` for missing, empty, oversized, truncated, corrupt or non-image input.
    """
    data, label = _read_bytes(source, max_bytes)
    sha256 = hashlib.sha256(data).hexdigest()
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        # Pillow warns about corrupt metadata: keep that in `notes` instead of printing it
        # (or raising it, under -W error). Our own cap replaces its decompression-bomb warning.
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _open(data, label, max_pixels)
        _check_pixels(image, max_pixels, label)
        try:
            # GIF and TIFF walk every frame header here; a corrupt later frame must not escape.
            frame_count = int(getattr(image, "n_frames", 1) or 1)
        except Exception as err:
            notes.append(f"could not count frames: {_short(err)}")
            frame_count = 1
            image = _open(data, label, max_pixels)  # the failed walk may leave it mid-seek
        _decode(image, label)
        orientation = _exif_orientation(image)
        image = _apply_orientation(image, orientation, notes)
        try:
            rgb = to_rgb_uint8(image)
        except Exception as err:  # e.g. a mode Pillow cannot convert
            raise MediaError(f"cannot convert image to RGB: {_short(err)}", label) from None
    for message in dict.fromkeys(_short(w.message) for w in caught):
        notes.append(f"decoder warning: {message}")
    if frame_count > 1:
        notes.append(f"{frame_count} frames in the file; the first one was used")
    return LoadedImage(
        rgb=rgb,
        source=label,
        sha256=sha256,
        format=str(image.format or "unknown"),
        original_mode=image.mode,
        exif_orientation=orientation,
        frame_count=frame_count,
        warnings=notes,
        data=data,
    )


def _read_bytes(source: ImageSource, max_bytes: int) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = "<bytes>"
    elif isinstance(source, str | Path):
        path = Path(source)
        label = str(path)
        try:  # stat itself fails on names too long, NUL bytes, unreadable parents, ...
            problem = file_problem(path)
            if problem:
                raise MediaError(problem, label)
            size = path.stat().st_size
            if size > max_bytes:
                raise MediaError(f"file too large: {size} bytes, limit {max_bytes}", label)
            data = path.read_bytes()
        except MediaError:
            raise
        except (OSError, ValueError) as err:
            reason = getattr(err, "strerror", None) or _short(err)
            raise MediaError(f"cannot read file: {reason}", label) from None
    else:
        raise MediaError(f"unsupported input type {type(source).__name__}")
    if not data:
        raise MediaError("empty file", label)
    if len(data) > max_bytes:
        raise MediaError(f"input too large: {len(data)} bytes, limit {max_bytes}", label)
    return data, label


def _open(data: bytes, label: str, max_pixels: int) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise MediaError(f"not a supported image ({_describe_content(data)})", label) from None
    except Image.DecompressionBombError as err:
        # Pillow's own hard limit fired before our check could see the size; keep the size.
        found = re.search(r"\((\d+) pixels\)", str(err))
        if found is None:
            raise MediaError(f"image too large: {_short(err)}", label) from None
        pixels = int(found.group(1))
        limit = min(max_pixels, 2 * (Image.MAX_IMAGE_PIXELS or pixels))
        raise MediaError(
            f"image too large: {pixels / 1e6:.1f} MP exceeds the {limit / 1e6:.1f} MP limit",
            label,
        ) from None
    except Exception as err:  # Pillow plugins raise many types on malformed headers.
        raise MediaError(f"unreadable image header: {_short(err)}", label) from None
    if image.format not in ACCEPTED_FORMATS:
        raise MediaError(f"unsupported image format {image.format}", label)
    return image


def _check_pixels(image: Image.Image, max_pixels: int, label: str) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise MediaError(f"image has no pixels ({width}x{height})", label)
    if width * height > max_pixels:
        raise MediaError(
            f"image too large: {width}x{height} = {width * height / 1e6:.1f} MP exceeds the "
            f"{max_pixels / 1e6:.1f} MP limit",
            label,
        )


def _decode(image: Image.Image, label: str) -> None:
    try:
        image.seek(0)
        image.load()
    except Image.DecompressionBombError:
        raise MediaError("image dimensions too large", label) from None
    except OSError as err:
        text = str(err).lower()
        if "truncated" in text or "broken data stream" in text or "premature end" in text:
            raise MediaError("truncated image data", label) from None
        raise MediaError(f"corrupt image data: {_short(err)}", label) from None
    except Exception as err:  # decoders raise SyntaxError, ValueError, struct.error, ...
        raise MediaError(f"corrupt image data: {_short(err)}", label) from None


def _exif_orientation(image: Image.Image) -> int:
    try:
        value = int(image.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # malformed EXIF must not make a good image unreadable
        return 1
    return value if 1 <= value <= 8 else 1


def _apply_orientation(image: Image.Image, orientation: int, notes: list[str]) -> Image.Image:
    if orientation == 1:
        return image
    try:
        rotated = ImageOps.exif_transpose(image)
    except Exception as err:
        notes.append(f"EXIF orientation {orientation} could not be applied: {_short(err)}")
        return image
    rotated.format = image.format
    return rotated


def to_rgb_uint8(image: Image.Image) -> np.ndarray:
    """Convert any Pillow mode to RGB uint8; transparent pixels are composited on white."""
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        grey = _high_depth_to_uint8(np.asarray(image), mode)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    has_alpha = "A" in mode or "a" in mode or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        canvas.alpha_composite(rgba)
        return np.asarray(canvas.convert("RGB"), dtype=np.uint8).copy()
    return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def _high_depth_to_uint8(values: np.ndarray, mode: str) -> np.ndarray:
    """16-bit and 32-bit grey to 8 bits by scaling the full range, not clipping it."""
    if mode == "F":
        values = values.astype(np.float64)
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size else 1.0
        scale = 255.0 if top <= 1.0 else 1.0
        return np.clip(np.nan_to_num(values) * scale, 0, 255).round().astype(np.uint8)
    values = values.astype(np.int64)
    if mode.startswith("I;16") or values.max(initial=0) > 255:
        return np.clip(values, 0, 65535).__floordiv__(257).astype(np.uint8)
    return np.clip(values, 0, 255).astype(np.uint8)


def _describe_content(data: bytes) -> str:
    """A short guess of what the bytes are, for error messages."""
    head = data[:16]
    if head.startswith(b"\xff\xd8"):
        return "JPEG signature but unreadable"
    if head.startswith(b"\x89PNG"):
        return "PNG signature but unreadable"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "looks like a video"
    if head.startswith(b"\x1aE\xdf\xa3") or (head.startswith(b"RIFF") and b"AVI" in head):
        return "looks like a video"
    if head.startswith(b"%PDF"):
        return "looks like a PDF"
    sample = data[:512]
    if sample and all(32 <= b < 127 or b in (9, 10, 13) for b in sample):
        return "looks like text"
    return "unknown content"


def _short(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return text[:120]
