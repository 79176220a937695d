"""Retouching filters for the appearance edits: skin smoothing, lip recolouring, sharpening.

Each family has several implementations with different pixel-level traces, drawn per sample
and recorded in its params, so a detector cannot learn one filter's fingerprint:

* smoothing (`SMOOTHING_FILTERS`): bilateral, guided (He et al. 2010, self-guided per
  channel), median, Gaussian, non-local means (`cv2.fastNlMeansDenoisingColored`), and
  frequency separation (the low band blurred further, the high band kept at a fraction);
* recolouring (`RECOLOURS`): a CIE L*a*b* shift, an HSV hue/saturation/value shift, an alpha
  tint towards a lipstick colour, and a multiply blend with it at some opacity;
* sharpening: an unsharp mask.

`*_params(name, rng, ...)` draws a filter's values (strengths from barely visible upward) and
`smooth` / `recolour` apply them, so a recorded sample can be redone from its params.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from opendfa.forge.geometry import log_uniform

SMOOTHING_FILTERS = (
    "bilateral",
    "guided",
    "median",
    "gaussian",
    "nl_means",
    "frequency_separation",
)
RECOLOURS = ("lab", "hsv", "alpha_tint", "multiply")
LIPSTICKS = (  # RGB: red, pink, berry, coral, nude, plum
    (200, 30, 50),
    (220, 100, 140),
    (130, 30, 70),
    (240, 110, 90),
    (190, 120, 110),
    (110, 40, 70),
)


def guided_filter(image: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of each channel guided by itself (values in [0, 1]).

    Per window: q = a I + b with a = var / (var + eps), b = (1 - a) mean; a and b averaged.
    """
    source = image.astype(np.float32) / 255.0
    size = (2 * radius + 1, 2 * radius + 1)

    def box(values: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(values, -1, size, borderType=cv2.BORDER_REFLECT)

    mean = box(source)
    variance = np.maximum(box(source * source) - mean * mean, 0.0)
    a = variance / (variance + eps)
    b = (1.0 - a) * mean
    smoothed = box(a) * source + box(b)
    return np.clip(np.round(smoothed * 255.0), 0, 255).astype(np.uint8)


def frequency_separation(image: np.ndarray, sigma: float, low_blur: float, keep: float):
    """Split at `sigma` into low and high bands, blur the low band by `low_blur` more, and
    add back `keep` of the high band (the texture)."""
    source = image.astype(np.float32)
    low = cv2.GaussianBlur(source, (0, 0), sigma)
    smoothed = cv2.GaussianBlur(low, (0, 0), sigma * low_blur) + keep * (source - low)
    return np.clip(np.round(smoothed), 0, 255).astype(np.uint8)


def smoothing_params(name: str, rng: np.random.Generator, face: float) -> dict[str, Any]:
    """Random values for smoothing filter `name` on a face whose eyes are `face` px apart."""
    if name == "bilateral":
        diameter = int(np.clip(face * 0.12, 5, 25)) | 1
        return {"diameter": diameter, "sigma": round(float(rng.uniform(30, 70)), 2)}
    if name == "guided":
        radius = int(np.clip(round(face * rng.uniform(0.04, 0.1)), 2, 12))
        return {"radius": radius, "eps": round(float(rng.uniform(0.02, 0.08)) ** 2, 5)}
    if name == "median":
        return {"ksize": int(np.clip(round(face * rng.uniform(0.03, 0.08)), 3, 11)) | 1}
    if name == "gaussian":
        return {"sigma": round(face * float(rng.uniform(0.015, 0.04)), 3)}
    if name == "nl_means":
        return {"h": round(float(rng.uniform(4, 14)), 2)}
    if name == "frequency_separation":
        return {
            "sigma": round(face * float(rng.uniform(0.03, 0.08)), 3),
            "low_blur": round(float(rng.uniform(1.5, 3.0)), 3),
            "keep": round(float(rng.uniform(0.3, 0.8)), 3),
        }
    raise ValueError(f"unknown smoothing filter {name!r}; expected one of {SMOOTHING_FILTERS}")


def smooth(image: np.ndarray, name: str, params: dict[str, Any]) -> np.ndarray:
    """`image` (uint8 RGB) through smoothing filter `name` with its `smoothing_params`."""
    if name == "bilateral":
        diameter = params["diameter"]
        return cv2.bilateralFilter(image, diameter, params["sigma"], diameter / 2)
    if name == "guided":
        return guided_filter(image, params["radius"], params["eps"])
    if name == "median":
        return cv2.medianBlur(image, params["ksize"])
    if name == "gaussian":
        return cv2.GaussianBlur(image, (0, 0), params["sigma"])
    if name == "nl_means":
        h = params["h"]
        return cv2.fastNlMeansDenoisingColored(np.ascontiguousarray(image), None, h, h, 7, 21)
    if name == "frequency_separation":
        return frequency_separation(image, params["sigma"], params["low_blur"], params["keep"])
    raise ValueError(f"unknown smoothing filter {name!r}; expected one of {SMOOTHING_FILTERS}")


def recolour_params(name: str, rng: np.random.Generator, strength: float) -> dict[str, Any]:
    """Random values for recolouring method `name` at `strength` (about 0.15 to 1.3)."""
    if name == "lab":
        shift_a = float(rng.uniform(8, 25)) * strength
        shift_b = float(rng.uniform(-15, 10)) * strength
        shift_l = float(rng.uniform(-15, 8)) * strength
        return {
            "shift_l": round(shift_l, 2),
            "shift_a": round(shift_a, 2),
            "shift_b": round(shift_b, 2),
        }
    if name == "hsv":
        return {
            "hue": round(float(rng.uniform(-12, 12)) * strength, 2),  # OpenCV units: 180 a turn
            "saturation": round(float(np.exp(rng.uniform(-0.3, 0.5) * strength)), 4),
            "value": round(float(np.exp(rng.uniform(-0.2, 0.05) * strength)), 4),
        }
    if name in ("alpha_tint", "multiply"):
        base = np.array(LIPSTICKS[int(rng.integers(len(LIPSTICKS)))], dtype=np.float64)
        colour = np.clip(base + rng.uniform(-15, 15, 3), 0, 255).round().astype(int)
        scale, ceiling = (0.35, 0.6) if name == "alpha_tint" else (0.45, 0.7)
        opacity = float(np.clip(scale * strength, 0.04, ceiling))
        return {"colour": [int(c) for c in colour], "opacity": round(opacity, 4)}
    raise ValueError(f"unknown recolouring {name!r}; expected one of {', '.join(RECOLOURS)}")


def recolour(image: np.ndarray, name: str, params: dict[str, Any]) -> np.ndarray:
    """`image` (uint8 RGB) recoloured everywhere; the caller confines it to a mask."""
    if name == "lab":
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
        lab[..., 0] += params["shift_l"]
        lab[..., 1] += params["shift_a"]
        lab[..., 2] += params["shift_b"]
        return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    if name == "hsv":
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV).astype(np.float32)
        hsv[..., 0] = np.mod(np.round(hsv[..., 0] + params["hue"]), 180.0)
        hsv[..., 1] = np.clip(np.round(hsv[..., 1] * params["saturation"]), 0, 255)
        hsv[..., 2] = np.clip(np.round(hsv[..., 2] * params["value"]), 0, 255)
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    if name in ("alpha_tint", "multiply"):
        source = image.astype(np.float32)
        colour = np.asarray(params["colour"], dtype=np.float32)
        layer = colour if name == "alpha_tint" else source * colour / 255.0
        mixed = source + params["opacity"] * (layer - source)
        return np.clip(np.round(mixed), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown recolouring {name!r}; expected one of {', '.join(RECOLOURS)}")


def sharpen_params(rng: np.random.Generator) -> dict[str, Any]:
    """Unsharp-mask values: radius 0.7-2.5 px, amount from faint (0.15) to strong (1.5)."""
    return {
        "sigma": round(float(rng.uniform(0.7, 2.5)), 3),
        "amount": round(log_uniform(rng, 0.15, 1.5), 4),
    }


def unsharp_mask(image: np.ndarray, sigma: float, amount: float) -> np.ndarray:
    """image + amount (image - blurred): crisper edges, haloes when strong."""
    source = image.astype(np.float32)
    blurred = cv2.GaussianBlur(source, (0, 0), sigma)
    return np.clip(np.round(source + amount * (source - blurred)), 0, 255).astype(np.uint8)
