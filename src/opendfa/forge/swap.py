"""Face swap: the source identity's face, mesh-warped onto the target's landmarks.

Recipe (the classic FaceSwap / DeepFakes compositing stage, without a learned generator):
piecewise-affine warp of the source face onto the target geometry, Reinhard colour transfer
inside the mask, then one of three blends, with mask shapes from the tight inner face to
the full face oval.
"""

from __future__ import annotations

import numpy as np

from opendfa.faces import mesh
from opendfa.forge.blend import BLENDS, blend
from opendfa.forge.color import reinhard_transfer
from opendfa.forge.core import FaceImage, Forgery, ForgeryError, register_forgery
from opendfa.forge.warp import hull_mask, mesh_warp, polygon_mask
from opendfa.taxonomy import FACE_SWAP

MASK_SHAPES = ("inner", "mid", "oval")
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
    color_transfer: bool | None = None,
) -> Forgery:
    assert source is not None
    if source.identity == target.identity:
        raise ForgeryError("a swap needs two different identities")
    if min(target.face.width, source.face.width) < 24:
        raise ForgeryError("faces smaller than 24 px cannot be swapped convincingly")
    blend_method = blend_method or str(rng.choice(BLENDS))
    mask_shape = mask_shape or str(rng.choice(MASK_SHAPES))
    color_transfer = bool(rng.random() < 0.9) if color_transfer is None else color_transfer
    feather_px = float(rng.uniform(0.04, 0.10) * target.face.width)

    shape = target.rgb.shape[:2]
    warped, covered = mesh_warp(source.rgb, source.face.landmarks, target.face.landmarks, shape)
    # The target's mouth opening (teeth, tongue) stays: a closed source mouth stretched over
    # it would leave a smeared dark hole.
    mouth_opening = polygon_mask(target.face.landmarks[list(mesh.LIPS_INNER)], shape)
    region = swap_region(target.face.landmarks, shape, mask_shape) & covered & ~mouth_opening
    if region.sum() < 64:
        raise ForgeryError("the warped source face does not cover the target face")
    if color_transfer:
        warped = reinhard_transfer(warped, target.rgb, region)
    image, mask = blend(target.rgb, warped, region, blend_method, feather_px)
    return Forgery(
        image=image,
        mask=mask,
        category=FACE_SWAP,
        technique=f"opendfa.swap.{blend_method}",
        target_identity=target.identity,
        source_identity=source.identity,
        params={
            "blend": blend_method,
            "mask_shape": mask_shape,
            "color_transfer": color_transfer,
            "feather_px": round(feather_px, 3),
        },
    )
