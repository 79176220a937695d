"""Face swap: the source identity's face, warped onto the target's landmarks.

Recipe (the classic FaceSwap / DeepFakes compositing stage, without a learned generator):
warp the source face onto the target geometry (piecewise-affine mesh or thin-plate spline,
with a random resampling filter of `warp.WARP_RESAMPLING`: OpenCV, scikit-image or SciPy),
transfer colour inside the mask (Reinhard, histogram matching or none), then blend with one
of `blend.BLENDS` at random widths, with mask shapes from the tight inner face to the full
face oval.

Technique name: `opendfa.swap.<warp>.<colour>.<blend>`, e.g. `opendfa.swap.tps.histogram.
poisson_mixed` (the blend stays last, where `instruct.describe.operations` reads it); the
params hold every choice, including `resample` and the blend's widths.
"""

from __future__ import annotations

import numpy as np

from opendfa.faces import mesh
from opendfa.forge.blend import BLENDS, blend, random_blend_params
from opendfa.forge.color import COLOR_TRANSFERS, transfer_colour
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.warp import WARP_RESAMPLING, hull_mask, mesh_warp, polygon_mask
from opendfa.taxonomy import FACE_SWAP

MASK_SHAPES = ("inner", "mid", "oval")
SWAP_WARPS = ("mesh", "tps")
_OVAL = np.array(mesh.FACE_OVAL)
_INNER = np.array(sorted(set(range(468)) - set(mesh.FACE_OVAL)))


def swap_region(landmarks: np.ndarray, shape: tuple[int, int], mask_shape: str) -> np.ndarray:
    """The replaced area: the inner-face hull, the full oval, or halfway between them."""
    points = landmarks[:, :2].astype(np.float64)
    if mask_shape == "oval":
        return hull_mask(points[_OVAL], shape)
    inner = points[_INNER]
    if mask_shape == "inner":
        return hull_mask(inner, shape)
    if mask_shape == "mid":
        centre = inner.mean(axis=0)
        oval = points[_OVAL]
        halfway = centre + 0.85 * (oval - centre)
        return hull_mask(np.vstack([inner, halfway]), shape)
    raise ValueError(f"unknown mask shape {mask_shape!r}; expected one of {', '.join(MASK_SHAPES)}")


@register_forgery("face_swap", FACE_SWAP, needs_source=True)
def face_swap(
    target: FaceImage,
    source: FaceImage | None,
    rng: np.random.Generator,
    *,
    blend_method: str | None = None,
    mask_shape: str | None = None,
    color_transfer: str | bool | None = None,
    warp: str | None = None,
    resample: str | None = None,
) -> Forgery:
    """Each choice left as None is drawn at random (`color_transfer` True means Reinhard)."""
    assert source is not None
    if source.identity == target.identity:
        raise ForgeryError("a swap needs two different identities")
    if min(target.face.width, source.face.width) < 24:
        raise ForgeryError("faces smaller than 24 px cannot be swapped convincingly")
    blend_method = blend_method or str(rng.choice(BLENDS))
    mask_shape = mask_shape or str(rng.choice(MASK_SHAPES))
    if color_transfer is None or color_transfer is True:
        drawn = str(rng.choice(COLOR_TRANSFERS))
        color_transfer = drawn if color_transfer is None else "reinhard"
    elif color_transfer is False:
        color_transfer = "none"
    warp = warp or str(rng.choice(SWAP_WARPS))
    resample = resample or str(rng.choice(WARP_RESAMPLING))
    for value, known in (
        (blend_method, BLENDS),
        (color_transfer, COLOR_TRANSFERS),
        (warp, SWAP_WARPS),
        (mask_shape, MASK_SHAPES),
        (resample, WARP_RESAMPLING),
    ):
        if value not in known:
            raise ForgeryError(f"unknown swap option {value!r}; expected one of {', '.join(known)}")
    blend_params = random_blend_params(blend_method, target.face.width, rng)

    shape = target.rgb.shape[:2]
    warped, covered = mesh_warp(
        source.rgb,
        source.face.landmarks,
        target.face.landmarks,
        shape,
        method=warp,
        interpolation=resample,
    )
    # The target's mouth opening (teeth, tongue) stays: a closed source mouth stretched over
    # it would leave a smeared dark hole.
    mouth_opening = polygon_mask(target.face.landmarks[list(mesh.LIPS_INNER)], shape)
    region = swap_region(target.face.landmarks, shape, mask_shape) & covered & ~mouth_opening
    if region.sum() < 64:
        raise ForgeryError("the warped source face does not cover the target face")
    warped = transfer_colour(color_transfer, warped, target.rgb, region)
    image, mask = blend(target.rgb, warped, region, blend_method, **blend_params)
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_SWAP,
        technique=f"opendfa.swap.{warp}.{color_transfer}.{blend_method}",
        target_identity=target.identity,
        source_identity=source.identity,
        params={
            "blend": blend_method,
            "mask_shape": mask_shape,
            "color_transfer": color_transfer,
            "warp": warp,
            "resample": resample,
            **blend_params,
        },
    )
