"""Face editing: local attribute changes, each confined to a feathered region mask.

Operations (one to three per sample): eye size, smile (mouth corners), lip colour, skin
smoothing, aging texture, eyebrow shape and nose width. Geometric edits (`GEOMETRIC_EDITS`)
move landmarks and warp the face with one implementation per sample, drawn from
`warp.WARPS` (mesh, thin-plate spline, moving least squares affine/similarity), or a local
bulge/pinch when every geometric edit of the sample is radial (eye size, nose width), and one
resampling filter from `warp.RESAMPLING`; appearance edits recolour or retexture pixels
inside a region. Strengths are drawn log-uniformly, from barely visible to strong. The mask
is the union of what each operation changed.

Technique name: `opendfa.edit.<warp>.<op>+<op>` when a geometric edit is present (e.g.
`opendfa.edit.tps.eye_size+lip_colour`), else `opendfa.edit.<op>+<op>`; operations sorted and
last, where `instruct.describe.operations` reads them. The params hold `edits` (each
operation's own values), `warp` and `resample`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from opendfa.faces import mesh
from opendfa.faces.regions import region_masks
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.geometry import FaceFrame, gaussian_weights, log_uniform
from opendfa.forge.warp import (
    LOCAL_WARPS,
    RESAMPLING,
    WARPS,
    anchor_ring,
    bulge_in_place,
    composite,
    feather,
    polygon_mask,
    warp_in_place,
)
from opendfa.taxonomy import FACE_EDITING

EditResult = tuple[np.ndarray, np.ndarray, dict]  # image, float mask, parameters
GEOMETRIC_EDITS = ("eye_size", "smile", "eyebrow_shape", "nose_width")
RADIAL_EDITS = ("eye_size", "nose_width")  # these can also be made with a bulge/pinch


@dataclass(frozen=True)
class WarpStyle:
    """How a sample's geometric edits resample the face: implementation and filter."""

    method: str = "mesh"
    resample: str = "linear"


def _geometric(
    image: np.ndarray, landmarks: np.ndarray, moved: np.ndarray, style: WarpStyle
) -> tuple[np.ndarray, np.ndarray]:
    warped, displacement = warp_in_place(
        image,
        landmarks,
        moved,
        anchor_ring(landmarks, image.shape[:2]),
        method=style.method,
        interpolation=style.resample,
    )
    return warped, _displacement_mask(displacement)


def _displacement_mask(displacement: np.ndarray) -> np.ndarray:
    return np.clip(displacement / 0.75, 0, 1).astype(np.float32)


def eye_size(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Enlarge or shrink both eyes about their centres (the 'big eyes' beauty filter)."""
    if rng.random() < 0.6:
        factor = 1.0 + log_uniform(rng, 0.03, 0.35)
    else:
        factor = 1.0 - log_uniform(rng, 0.02, 0.22)
    moved = landmarks[:, :2].astype(np.float64).copy()
    eyes = ((mesh.LEFT_EYE, range(473, 478)), (mesh.RIGHT_EYE, range(468, 473)))
    if style.method == "bulge":
        warped, displacement = image, np.zeros(image.shape[:2], np.float32)
        for contour, iris in eyes:
            idx = list(contour) + list(iris)
            centre = moved[idx].mean(axis=0)
            radius = 1.6 * float(np.linalg.norm(moved[idx] - centre, axis=1).max())
            warped, moved_by = bulge_in_place(
                warped, centre, radius, 1.0 - 1.0 / factor, interpolation=style.resample
            )
            displacement = np.maximum(displacement, moved_by)
        return warped, _displacement_mask(displacement), {"factor": round(factor, 4)}
    for contour, iris in eyes:
        idx = list(contour) + list(iris)
        centre = moved[idx].mean(axis=0)
        moved[idx] = centre + factor * (moved[idx] - centre)
    warped, mask = _geometric(image, landmarks, moved, style)
    return warped, mask, {"factor": round(factor, 4)}


def smile(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Lift the mouth corners."""
    frame = FaceFrame.of(landmarks)
    local = frame.to_local(landmarks)
    amount = log_uniform(rng, 0.015, 0.16)
    moved = landmarks[:, :2].astype(np.float64).copy()
    for corner, side in ((mesh.MOUTH_RIGHT_CORNER, -1.0), (mesh.MOUTH_LEFT_CORNER, 1.0)):
        weight = gaussian_weights(local, tuple(local[corner]), 0.2)
        moved += frame.shift(side * 0.4 * amount * weight, -amount * weight)
    warped, mask = _geometric(image, landmarks, moved, style)
    return warped, mask, {"amount": round(amount, 4)}


def eyebrow_shape(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Raise or lower the eyebrows, more at the outer ends (arching) or evenly."""
    frame = FaceFrame.of(landmarks)
    lift = log_uniform(rng, 0.015, 0.16) * float(rng.choice([-1.0, 1.0]))
    arch = float(rng.uniform(0.0, 1.0))
    moved = landmarks[:, :2].astype(np.float64).copy()
    local = frame.to_local(landmarks)
    for brow in (mesh.LEFT_EYEBROW, mesh.RIGHT_EYEBROW):
        idx = list(brow)
        outward = np.abs(local[idx, 0]) / max(np.abs(local[idx, 0]).max(), 1e-6)
        moved[idx] += frame.shift(np.zeros(len(idx)), -lift * ((1 - arch) + arch * outward))
    warped, mask = _geometric(image, landmarks, moved, style)
    return warped, mask, {"lift": round(lift, 4), "arch": round(arch, 4)}


def nose_width(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Widen or narrow the nose about its midline."""
    frame = FaceFrame.of(landmarks)
    if rng.random() < 0.5:
        factor = 1.0 + log_uniform(rng, 0.03, 0.3)
    else:
        factor = 1.0 - log_uniform(rng, 0.03, 0.22)
    idx = list(mesh.NOSE)
    local = frame.to_local(landmarks)
    centre_x = local[mesh.NOSE_TIP, 0]
    if style.method == "bulge":
        points = landmarks[idx, :2].astype(np.float64)
        centre = points.mean(axis=0)
        radius = 1.3 * float(np.linalg.norm(points - centre, axis=1).max())
        warped, displacement = bulge_in_place(
            image,
            centre,
            radius,
            1.0 - 1.0 / factor,
            axis=frame.x_axis,
            interpolation=style.resample,
        )
        return warped, _displacement_mask(displacement), {"factor": round(factor, 4)}
    new_local = local.copy()
    new_local[idx, 0] = centre_x + factor * (local[idx, 0] - centre_x)
    moved = landmarks[:, :2].astype(np.float64).copy()
    moved[idx] = frame.to_image(new_local[idx])
    warped, mask = _geometric(image, landmarks, moved, style)
    return warped, mask, {"factor": round(factor, 4)}


def lip_colour(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Recolour the lips (lipstick): shift a*/b* and darken or lighten L* inside the lips."""
    shape = image.shape[:2]
    lips = polygon_mask(landmarks[list(mesh.LIPS_OUTER)], shape) & ~polygon_mask(
        landmarks[list(mesh.LIPS_INNER)], shape
    )
    strength = log_uniform(rng, 0.15, 1.3)
    shift_a, shift_b = float(rng.uniform(8, 25)) * strength, float(rng.uniform(-15, 10)) * strength
    shift_l = float(rng.uniform(-15, 8)) * strength
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] += shift_l
    lab[..., 1] += shift_a
    lab[..., 2] += shift_b
    recoloured = cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
    mask = feather(lips, 1.5)
    params = {
        "strength": round(strength, 4),
        "shift_l": round(shift_l, 2),
        "shift_a": round(shift_a, 2),
        "shift_b": round(shift_b, 2),
    }
    return composite(image, recoloured, mask), mask, params


def _skin_without_features(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    regions = region_masks(landmarks, (image.shape[1], image.shape[0]))
    skin = regions.full("skin")
    for name in ("left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "mouth"):
        skin &= ~cv2.dilate(regions.full(name).astype(np.uint8), np.ones((5, 5), np.uint8)).astype(
            bool
        )
    return skin


def skin_smoothing(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Beautify: edge-preserving smoothing of the skin, eyes, brows and lips untouched."""
    face = FaceFrame.of(landmarks).unit
    diameter = int(np.clip(face * 0.12, 5, 25)) | 1
    sigma = float(rng.uniform(30, 70))
    smooth = cv2.bilateralFilter(image, diameter, sigma, diameter / 2)
    strength = log_uniform(rng, 0.15, 1.0)
    mask = feather(_skin_without_features(image, landmarks), face * 0.08) * strength
    return (
        composite(image, smooth, mask),
        mask,
        {"diameter": diameter, "sigma": round(sigma, 2), "strength": round(strength, 3)},
    )


def aging(
    image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, style: WarpStyle
) -> EditResult:
    """Add wrinkle texture (forehead lines, crow's feet, nasolabial shading) and dull the skin."""
    frame = FaceFrame.of(landmarks)
    height, width = image.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    local_x = (
        (xs - frame.origin[0]) * frame.x_axis[0] + (ys - frame.origin[1]) * frame.x_axis[1]
    ) / frame.unit
    local_y = (
        (xs - frame.origin[0]) * frame.y_axis[0] + (ys - frame.origin[1]) * frame.y_axis[1]
    ) / frame.unit
    period = float(rng.uniform(0.09, 0.14))
    wobble = 0.015 * np.sin(local_x * rng.uniform(5, 9) + rng.uniform(0, 6.28))
    lines = np.cos(2 * np.pi * (local_y + wobble) / period) ** 8
    forehead = ((local_y < -0.35) & (local_y > -1.1)).astype(np.float32)
    crows = np.exp(-(((np.abs(local_x) - 0.85) / 0.12) ** 2 + ((local_y - 0.02) / 0.18) ** 2))
    crow_lines = np.cos(2 * np.pi * (np.arctan2(local_y, np.abs(local_x) - 0.6)) * 6) ** 8 * crows
    depth = log_uniform(rng, 0.05, 0.4)
    darken = 1 - depth * np.clip(lines * forehead + crow_lines, 0, 1)
    skin = _skin_without_features(image, landmarks)
    aged = image.astype(np.float32) * darken[..., None]
    grey = aged.mean(axis=2, keepdims=True)
    aged = 0.85 * aged + 0.15 * grey  # older skin looks less saturated
    mask = feather(skin, frame.unit * 0.08)
    params = {"period": round(period, 4), "depth": round(depth, 4)}
    return composite(image, np.clip(aged, 0, 255), mask), mask, params


EditFunction = Callable[[np.ndarray, np.ndarray, np.random.Generator, WarpStyle], EditResult]
EDITS: dict[str, EditFunction] = {
    "eye_size": eye_size,
    "smile": smile,
    "lip_colour": lip_colour,
    "skin_smoothing": skin_smoothing,
    "aging": aging,
    "eyebrow_shape": eyebrow_shape,
    "nose_width": nose_width,
}


@register_forgery("face_editing", FACE_EDITING)
def face_editing(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    edits: list[str] | None = None,
    warp: str | None = None,
    resample: str | None = None,
) -> Forgery:
    """Apply `edits` in order (default: one to three chosen at random).

    `warp` (one of `warp.WARPS`, or "bulge" when every geometric edit is radial) and
    `resample` (a `warp.RESAMPLING` filter) are drawn at random when left as None.
    """
    if target.face.width < 32:
        raise ForgeryError("faces smaller than 32 px cannot be edited convincingly")
    if edits is None:
        count = int(rng.choice([1, 1, 2, 2, 3]))
        edits = [str(name) for name in rng.choice(sorted(EDITS), size=count, replace=False)]
    unknown = [name for name in edits if name not in EDITS]
    if unknown:
        raise ForgeryError(
            f"unknown edit(s) {', '.join(unknown)}; known: {', '.join(sorted(EDITS))}"
        )
    geometric = [name for name in edits if name in GEOMETRIC_EDITS]
    choices = WARPS + (LOCAL_WARPS if all(n in RADIAL_EDITS for n in geometric) else ())
    warp = warp or str(rng.choice(choices))
    resample = resample or str(rng.choice(list(RESAMPLING)))
    if warp not in choices:
        raise ForgeryError(f"warp {warp!r} cannot make {', '.join(geometric)}")
    if resample not in RESAMPLING:
        raise ForgeryError(f"unknown resampling filter {resample!r}")
    style = WarpStyle(warp, resample)
    image = target.rgb.copy()
    mask = np.zeros(image.shape[:2], dtype=np.float32)
    applied: dict[str, dict] = {}
    for name in edits:
        image, changed, params = EDITS[name](image, target.face.landmarks, rng, style)
        mask = np.maximum(mask, changed)
        applied[name] = params
    params: dict = {"edits": applied}
    technique = "opendfa.edit."
    if geometric:
        params.update(warp=warp, resample=resample)
        technique += f"{warp}."
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_EDITING,
        technique=technique + "+".join(sorted(edits)),
        target_identity=target.identity,
        params=params,
    )
