"""Self-blended images (SBI, Shiohara & Yamasaki, CVPR 2022) for detector training.

A face is blended with a slightly recoloured, resharpened or blurred, and shifted copy of
itself inside a randomly deformed landmark-hull mask. The result carries only the generic
traces of blending (colour seams, boundary blur, landmark mismatch) and no identity change,
which is what makes detectors trained on it generalise to unseen swaps.

The resampling filter of the rescale and shift is drawn from `warp.RESAMPLING` and recorded
as `resample`; the technique name stays `opendfa.sbi`.

`create_forgery("self_blend", ..., quality=, resample=, blend_ratio=)` pins those choices
(None draws them). A pinned choice still consumes its random draw, so a seed's colour changes
stay the same whatever is pinned, and pinning `resample` or `blend_ratio` changes nothing else
(a `quality` other than the drawn one uses the stream differently from then on).
"""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces import mesh
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.warp import RESAMPLING, composite, hull_mask
from opendfa.taxonomy import FACE_SWAP

HULL_TYPES = ("full", "lower", "inner", "oval")
BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)
QUALITIES = ("downscale", "sharpen", "none")
_INNER = [i for i in range(468) if i not in set(mesh.FACE_OVAL)]


def sbi_mask(
    landmarks: np.ndarray,
    shape: tuple[int, int],
    rng: np.random.Generator,
    *,
    blend_ratio: float | None = None,
) -> tuple[np.ndarray, dict]:
    """A deformed, eroded or dilated, blurred hull of the face (the SBI mask recipe).

    `blend_ratio` (the mask's peak, in (0, 1]) is drawn from `BLEND_RATIOS` when None.
    """
    points = landmarks[:, :2].astype(np.float64)
    hull_type = str(rng.choice(HULL_TYPES))
    if hull_type == "lower":
        nose_y = points[mesh.NOSE_TIP, 1]
        chosen = points[points[:, 1] >= nose_y - 0.25 * np.ptp(points[:, 1])]
    elif hull_type == "inner":
        chosen = points[_INNER]
    elif hull_type == "oval":
        chosen = points[list(mesh.FACE_OVAL)]
    else:
        chosen = points[:468]
    mask = hull_mask(chosen, shape).astype(np.float32)
    mask = elastic_deform(mask, rng, alpha=float(rng.uniform(0.02, 0.06)) * np.ptp(points[:, 0]))
    size = max(3, int(np.ptp(points[:, 0]) * rng.uniform(0.02, 0.08)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    morph = str(rng.choice(["erode", "dilate", "none"]))
    if morph == "erode":
        mask = cv2.erode(mask, kernel)
    elif morph == "dilate":
        mask = cv2.dilate(mask, kernel)
    blur = float(np.ptp(points[:, 0]) * rng.uniform(0.01, 0.06))
    mask = cv2.GaussianBlur(mask, (0, 0), max(blur, 0.5))
    ratio = float(rng.choice(BLEND_RATIOS))
    if blend_ratio is not None:
        if not 0 < blend_ratio <= 1:
            raise ForgeryError(f"blend_ratio must be in (0, 1], got {blend_ratio!r}")
        ratio = float(blend_ratio)
    params = {
        "hull": hull_type,
        "morph": morph,
        "morph_px": size,
        "blur_px": round(blur, 3),
        "blend_ratio": ratio,
    }
    return np.clip(mask * ratio, 0, 1).astype(np.float32), params


def elastic_deform(mask: np.ndarray, rng: np.random.Generator, alpha: float) -> np.ndarray:
    """Smooth random displacement of the mask outline."""
    height, width = mask.shape
    step = max(height, width) // 8 + 1
    grid = rng.uniform(-1, 1, size=(2, height // step + 2, width // step + 2)).astype(np.float32)
    dx = cv2.resize(grid[0], (width, height), interpolation=cv2.INTER_CUBIC) * alpha
    dy = cv2.resize(grid[1], (width, height), interpolation=cv2.INTER_CUBIC) * alpha
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    map_x, map_y = (xs + dx).astype(np.float32), (ys + dy).astype(np.float32)
    return cv2.remap(mask, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def sbi_source(
    image: np.ndarray,
    rng: np.random.Generator,
    *,
    quality: str | None = None,
    resample: str | None = None,
) -> tuple[np.ndarray, dict]:
    """The pseudo-source: colour shift, contrast, blur or sharpen, then a small shift/scale.

    `quality` (one of `QUALITIES`) and `resample` (a `RESAMPLING` filter) are drawn when None.
    """
    for value, known in ((quality, QUALITIES), (resample, tuple(RESAMPLING))):
        if value is not None and value not in known:
            raise ForgeryError(f"unknown SBI option {value!r}; expected one of {', '.join(known)}")
    out = image.astype(np.float32)
    rgb_shift = rng.uniform(-20, 20, size=3)
    out += rgb_shift
    hsv = cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_RGB2HSV).astype(np.float32)
    hue, sat = rng.uniform(-5, 5), rng.uniform(0.85, 1.15)
    hsv[..., 0] = (hsv[..., 0] + hue) % 180
    hsv[..., 1] *= sat
    out = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB).astype(np.float32)
    contrast, brightness = rng.uniform(0.9, 1.1), rng.uniform(-0.1, 0.1) * 255
    out = (out - 127.5) * contrast + 127.5 + brightness
    out = np.clip(out, 0, 255).astype(np.uint8)
    drawn_quality = str(rng.choice(list(QUALITIES)))
    drawn_resample = str(rng.choice(list(RESAMPLING)))
    quality, resample = quality or drawn_quality, resample or drawn_resample
    if quality == "downscale":
        factor = rng.uniform(0.4, 0.8)
        small = cv2.resize(out, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        out = cv2.resize(
            small, (image.shape[1], image.shape[0]), interpolation=RESAMPLING[resample]
        )
    elif quality == "sharpen":
        blurred = cv2.GaussianBlur(out, (0, 0), 1.0)
        out = cv2.addWeighted(out, 1.5, blurred, -0.5, 0)
    scale = rng.uniform(0.95, 1.05)
    shift = rng.uniform(-0.03, 0.03, size=2) * np.array(image.shape[1::-1])
    centre = np.array(image.shape[1::-1]) / 2
    matrix = np.array(
        [
            [scale, 0, (1 - scale) * centre[0] + shift[0]],
            [0, scale, (1 - scale) * centre[1] + shift[1]],
        ]
    )
    out = cv2.warpAffine(
        out,
        matrix,
        (image.shape[1], image.shape[0]),
        flags=RESAMPLING[resample],
        borderMode=cv2.BORDER_REFLECT,
    )
    params = {
        "rgb_shift": [round(float(v), 2) for v in rgb_shift],
        "hue": round(float(hue), 3),
        "saturation": round(float(sat), 4),
        "contrast": round(float(contrast), 4),
        "brightness": round(float(brightness), 2),
        "quality": quality,
        "resample": resample,
        "scale": round(float(scale), 4),
        "shift_px": [round(float(v), 2) for v in shift],
    }
    return out, params


@register_forgery("self_blend", FACE_SWAP)
def self_blend(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    quality: str | None = None,
    resample: str | None = None,
    blend_ratio: float | None = None,
) -> Forgery:
    """An SBI sample of the target face (source is ignored: the face blends with itself).

    Each choice left as None is drawn at random (see `sbi_source` and `sbi_mask`).
    """
    if target.face.width < 24:
        raise ForgeryError("faces smaller than 24 px are too small for self-blending")
    pseudo_source, source_params = sbi_source(target.rgb, rng, quality=quality, resample=resample)
    mask, mask_params = sbi_mask(
        target.face.landmarks, target.rgb.shape[:2], rng, blend_ratio=blend_ratio
    )
    # SBI also sometimes alters the background copy instead; we always keep the original
    # outside the mask so the recorded mask stays the truth about what changed.
    image = composite(target.rgb, pseudo_source, mask)
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_SWAP,
        technique="opendfa.sbi",
        target_identity=target.identity,
        source_identity=target.identity,
        params={**source_params, **mask_params},
    )
