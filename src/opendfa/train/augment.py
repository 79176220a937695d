"""Augmentations of aligned training crops: mirror flips and online self-blending (SBI).

`opendfa.forge.self_blend` needs the face's 478 landmarks, which the crop cache does not keep
(it stores the crop, its mask and the 12 region masks). Online SBI here therefore builds the
blending mask from the crop's region masks, which the dataset derives from those landmarks:

- `full`: the `skin` region (the whole face inside the mesh outline),
- `lower`: the skin from the top of the nose down,
- `inner`: the skin without the `face_boundary` band,
- `oval`: the convex hull of the skin.

Then, as in the SBI recipe (`opendfa.forge.selfblend.sbi_mask`), the mask is elastically
deformed, eroded or dilated, blurred and scaled by a blend ratio, and the crop is blended with
`sbi_source(crop)`: a recoloured, resharpened or blurred, slightly shifted copy of itself.
Crops without region masks (pre-aligned inputs, whose regions are all-ones) use an ellipse
around the canonical face position instead. The result is a `face_swap`-category fake whose
mask is exactly the blending weight.
"""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces.regions import MIRRORED_REGIONS, REGION_NAMES
from opendfa.forge.selfblend import BLEND_RATIOS, elastic_deform, sbi_source
from opendfa.forge.warp import composite

_INDEX = {name: i for i, name in enumerate(REGION_NAMES)}
HULL_TYPES = ("full", "lower", "inner", "oval")


def flip_crop(
    image: np.ndarray, mask: np.ndarray, regions: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mirror a crop (S,S,3), its mask (S,S) and regions (12,S,S); left and right swap names."""
    return (
        np.ascontiguousarray(image[:, ::-1]),
        np.ascontiguousarray(mask[:, ::-1]),
        np.ascontiguousarray(regions[list(MIRRORED_REGIONS)][:, :, ::-1]),
    )


def face_hull(regions: np.ndarray, hull: str) -> np.ndarray:
    """uint8 {0,1} mask of the face area to blend, from the crop's region masks."""
    size = regions.shape[-1]
    skin = regions[_INDEX["skin"]].astype(bool)
    if not skin.any() or skin.mean() > 0.9:  # no usable regions: canonical ellipse
        out = np.zeros((size, size), np.uint8)
        centre = (size // 2, int(size * 0.53))
        cv2.ellipse(out, centre, (int(size * 0.27), int(size * 0.34)), 0, 0, 360, 1, -1)
        return out
    if hull == "lower":
        nose_rows = np.nonzero(regions[_INDEX["nose"]].any(1))[0]
        top = int(nose_rows.min()) if nose_rows.size else size // 2
        chosen = skin.copy()
        chosen[:top] = False
        return chosen.astype(np.uint8)
    if hull == "inner":
        inner = skin & ~regions[_INDEX["face_boundary"]].astype(bool)
        return (inner if inner.any() else skin).astype(np.uint8)
    if hull == "oval":
        points = cv2.findNonZero(skin.astype(np.uint8))
        out = np.zeros((size, size), np.uint8)
        cv2.fillConvexPoly(out, cv2.convexHull(points), 1)
        return out
    return skin.astype(np.uint8)


def crop_sbi_mask(regions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A deformed, eroded or dilated, blurred face-hull blending mask, float32 in [0, 1]."""
    size = regions.shape[-1]
    mask = face_hull(regions, str(rng.choice(HULL_TYPES))).astype(np.float32)
    xs = np.nonzero(mask)[1]
    width = float(np.ptp(xs)) if xs.size else size * 0.5
    mask = elastic_deform(mask, rng, alpha=float(rng.uniform(0.02, 0.06)) * width)
    kernel_size = max(3, int(width * rng.uniform(0.02, 0.08)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    morph = str(rng.choice(["erode", "dilate", "none"]))
    if morph == "erode":
        mask = cv2.erode(mask, kernel)
    elif morph == "dilate":
        mask = cv2.dilate(mask, kernel)
    blur = max(width * float(rng.uniform(0.01, 0.06)), 0.5)
    mask = cv2.GaussianBlur(mask, (0, 0), blur)
    return np.clip(mask * float(rng.choice(BLEND_RATIOS)), 0.0, 1.0).astype(np.float32)


def crop_self_blend(
    image: np.ndarray, regions: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """An SBI fake of an aligned real crop: (uint8 image, float32 mask in [0, 1])."""
    source, _ = sbi_source(image, rng)
    mask = crop_sbi_mask(regions, rng)
    return composite(image, source, mask), mask
