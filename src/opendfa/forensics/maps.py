"""Pixel maps a person can look at: error-level analysis (ELA) and the noise residual.

ELA re-saves the image as JPEG at a fixed quality and shows how much each pixel changes.
Regions that were saved fewer times (or at another quality) than the rest of the picture,
such as a pasted-in face, often change by a different amount. The noise residual is what a
3x3 median filter removes (sensor noise, fine texture, compression noise), as its local
standard deviation: a region brought in from elsewhere, smoothed or generated often has a
noise level unlike its surroundings.

Both maps are float32 in [0, 1] at the analysed resolution: the image itself, or, above
`MAX_PIXELS`, the image downscaled to about that many pixels (which also weakens JPEG traces,
so ELA of a downscaled image says less). Edges and fine texture are bright in both maps in
any photo: they are for comparing like with like (one cheek with the other), not proof.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

MAX_PIXELS = 2_000_000
ELA_QUALITY = 90
ELA_FULL_SCALE = 12.0  # grey levels of change shown as 1.0
NOISE_WINDOW = 15  # pixels, side of the local standard deviation's window
NOISE_FULL_SCALE = 12.0  # grey levels of residual standard deviation shown as 1.0
THRESHOLD = 0.5
_MIN_SIDE = 8


@dataclass(frozen=True)
class MapSummary:
    """A map in a few numbers: mean, 99th percentile, maximum and the fraction above
    `threshold`."""

    mean: float
    p99: float
    max: float
    fraction_above: float
    threshold: float = THRESHOLD

    @classmethod
    def of(cls, values: np.ndarray, threshold: float = THRESHOLD) -> MapSummary:
        """Summary of a float32 map in [0, 1] (the percentile to 1/255)."""
        if values.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, threshold)
        values = np.ascontiguousarray(values, dtype=np.float32)
        levels = cv2.convertScaleAbs(values, alpha=255)
        counts = cv2.calcHist([levels], [0], None, [256], [0, 256]).ravel()
        share = np.cumsum(counts) / values.size
        above = int(np.count_nonzero(values > threshold))
        return cls(
            mean=round(float(cv2.mean(values)[0]), 4),
            p99=round(float(np.searchsorted(share, 0.99)) / 255.0, 4),
            max=round(float(cv2.minMaxLoc(values)[1]), 4),
            fraction_above=round(above / values.size, 4),
            threshold=threshold,
        )

    def to_dict(self) -> dict:
        return {
            "mean": self.mean,
            "p99": self.p99,
            "max": self.max,
            "fraction_above": self.fraction_above,
            "threshold": self.threshold,
        }


@dataclass(frozen=True, eq=False)
class ForensicMaps:
    """ELA and noise-residual maps; `scale` is analysed size / image size (1 or less)."""

    ela: np.ndarray
    noise: np.ndarray
    ela_summary: MapSummary
    noise_summary: MapSummary
    scale: float = 1.0
    ela_quality: int = ELA_QUALITY

    def to_dict(self) -> dict:
        """The summaries only (the maps themselves are images, not JSON)."""
        height, width = self.ela.shape
        return {
            "width": width,
            "height": height,
            "scale": round(self.scale, 4),
            "ela_quality": self.ela_quality,
            "ela": self.ela_summary.to_dict(),
            "noise": self.noise_summary.to_dict(),
        }


def analysed_image(rgb: np.ndarray, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, float]:
    """The image at most `max_pixels` large (area-downscaled) and the scale used."""
    height, width = rgb.shape[:2]
    if height * width <= max_pixels:
        return rgb, 1.0
    scale = math.sqrt(max_pixels / (height * width))
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def ela_map(rgb: np.ndarray, quality: int = ELA_QUALITY) -> np.ndarray:
    """Largest per-channel change when the image is re-saved as JPEG at `quality`, scaled so
    that ELA_FULL_SCALE grey levels are 1."""
    bgr = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any non-empty uint8 image
        raise ValueError("cannot encode the image as JPEG")
    resaved = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    blue, green, red = cv2.split(cv2.absdiff(bgr, resaved))
    difference = cv2.max(cv2.max(blue, green), red)
    capped = cv2.threshold(difference, ELA_FULL_SCALE, 255, cv2.THRESH_TRUNC)[1]
    return cv2.multiply(capped, 1.0 / ELA_FULL_SCALE, dtype=cv2.CV_32F)


def noise_map(rgb: np.ndarray) -> np.ndarray:
    """Local RMS of the 3x3 median-filter residual of the grey image (its local mean is about
    zero, so this is its local standard deviation), scaled so that NOISE_FULL_SCALE grey
    levels are 1."""
    grey = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)
    residual = cv2.subtract(grey, cv2.medianBlur(grey, 3), dtype=cv2.CV_32F)
    window = (NOISE_WINDOW, NOISE_WINDOW)
    square = cv2.sqrBoxFilter(residual, cv2.CV_32F, window, borderType=cv2.BORDER_REFLECT)
    return _clip_to_one(cv2.sqrt(cv2.multiply(square, 1.0 / NOISE_FULL_SCALE**2)))


def forensic_maps(rgb: np.ndarray, max_pixels: int = MAX_PIXELS) -> ForensicMaps:
    """Both maps of an RGB uint8 image (grey or RGBA are converted first)."""
    rgb = _as_rgb(rgb)
    small, scale = analysed_image(rgb, max_pixels)
    height, width = small.shape[:2]
    if min(height, width) < _MIN_SIDE:  # OpenCV's bindings read 1x1 or 4x1 arrays as scalars
        bottom, right = max(0, _MIN_SIDE - height), max(0, _MIN_SIDE - width)
        small = cv2.copyMakeBorder(small, 0, bottom, 0, right, cv2.BORDER_REPLICATE)
    ela = ela_map(small)[:height, :width]
    noise = noise_map(small)[:height, :width]
    return ForensicMaps(
        ela=ela,
        noise=noise,
        ela_summary=MapSummary.of(ela),
        noise_summary=MapSummary.of(noise),
        scale=scale,
    )


def colourize(values: np.ndarray) -> np.ndarray:
    """A map as an RGB uint8 image (OpenCV's inferno colour map), for reports."""
    grey = (np.clip(values, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


def _clip_to_one(values: np.ndarray) -> np.ndarray:
    """Values above 1 set to 1 (OpenCV's truncating threshold: far faster than cv2.min with a
    scalar here)."""
    return cv2.threshold(values, 1.0, 1.0, cv2.THRESH_TRUNC)[1]


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 4:
        return np.ascontiguousarray(image[:, :, :3])
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    raise ValueError(f"expected an RGB image, got shape {image.shape}")
