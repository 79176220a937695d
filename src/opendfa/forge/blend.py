"""Blending a forged face into its target, five ways (`BLENDS`):

* `alpha`: a near-hard edge (feather 0 to 3 % of the face width);
* `feathered`: a wide Gaussian feather (4 to 10 % of the face width);
* `poisson_normal`, `poisson_mixed`: gradient-domain cloning (`cv2.seamlessClone`, NORMAL or
  MIXED gradients), then a narrow feather; mixed gradients keep the target's stronger edges,
  so its identity change is partial (a ghosted mix of both faces);
* `laplacian`: multi-band blending over 2 to 6 pyramid levels with a random mask width.

`random_blend_params` draws each blend's widths; every blend ends with one composite through
the returned float mask, so pixels where the mask is 0 are exactly the target's (also after
`seamlessClone`, which changes its whole bounding box): the recorded mask is the truth.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from opendfa.forge.warp import composite, feather

BLENDS = ("alpha", "feathered", "poisson_normal", "poisson_mixed", "laplacian")
_FEATHER = {  # feather width range, as a fraction of the face width
    "alpha": (0.0, 0.03),
    "feathered": (0.04, 0.10),
    "poisson_normal": (0.01, 0.06),
    "poisson_mixed": (0.01, 0.06),
    "laplacian": (0.02, 0.12),
}


def random_blend_params(method: str, face_width: float, rng: np.random.Generator) -> dict:
    """Random widths for `method`: feather_px, and pyramid levels for `laplacian`."""
    if method not in BLENDS:
        raise ValueError(f"unknown blend {method!r}; expected one of {', '.join(BLENDS)}")
    params = {"feather_px": round(float(rng.uniform(*_FEATHER[method]) * face_width), 3)}
    if method == "laplacian":
        params["levels"] = int(rng.integers(2, 7))
    return params


def blend(
    target: np.ndarray,
    forged: np.ndarray,
    region: np.ndarray,
    method: str,
    feather_px: float,
    *,
    levels: int = 4,
) -> tuple[np.ndarray, np.ndarray]:
    """Blend `forged` into `target` inside bool `region`; returns (image, float mask)."""
    if method in ("alpha", "feathered"):
        alpha = feather(region, feather_px)
        return composite(target, forged, alpha), alpha
    if method in ("poisson_normal", "poisson_mixed"):
        flag = cv2.NORMAL_CLONE if method == "poisson_normal" else cv2.MIXED_CLONE
        return _poisson(target, forged, region, feather_px, flag)
    if method == "laplacian":
        return _laplacian(target, forged, region, feather_px, levels)
    raise ValueError(f"unknown blend {method!r}; expected one of {', '.join(BLENDS)}")


def _poisson(
    target: np.ndarray, forged: np.ndarray, region: np.ndarray, feather_px: float, flag: int
):
    ys, xs = np.nonzero(region)
    if xs.size < 16:
        return target.copy(), np.zeros(region.shape, np.float32)
    # OpenCV wants the mask strictly inside the image; its centre is the mask box centre.
    inner = region.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    ys, xs = np.nonzero(inner)
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    cloned = cv2.seamlessClone(forged, target, inner.astype(np.uint8) * 255, center, flag)
    # seamlessClone alters its whole bounding box, not only the mask: keep only the masked area.
    alpha = feather(inner, max(feather_px, 1.0))
    return composite(target, cloned, alpha), alpha


def _laplacian(
    target: np.ndarray, forged: np.ndarray, region: np.ndarray, feather_px: float, levels: int = 4
):
    weight = feather(region, max(feather_px / 2.0, 1.0))
    height, width = region.shape
    size = 2**levels
    pad_h, pad_w = (-height) % size, (-width) % size

    def pad(array: np.ndarray) -> np.ndarray:
        spec = ((0, pad_h), (0, pad_w)) + ((0, 0),) * (array.ndim - 2)
        return np.pad(array, spec, mode="edge")

    a = _laplacian_pyramid(pad(target.astype(np.float32)), levels)
    b = _laplacian_pyramid(pad(forged.astype(np.float32)), levels)
    masks = _gaussian_pyramid(pad(weight), levels)
    mixed = [
        m[..., None] * lb + (1 - m[..., None]) * la for la, lb, m in zip(a, b, masks, strict=True)
    ]
    result = mixed[-1]
    for level in reversed(mixed[:-1]):
        result = cv2.pyrUp(result, dstsize=(level.shape[1], level.shape[0])) + level
    result = np.clip(result[:height, :width], 0, 255).astype(np.uint8)
    # Low pyramid levels spread a little past the mask: confine the change to a slightly
    # grown, soft mask and record that one.
    grown = cv2.dilate(
        region.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=max(1, int(feather_px // 3))
    )
    alpha = feather(grown.astype(bool), feather_px / 2.0)
    return composite(target, result, alpha), alpha


def _gaussian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    pyramid = [image]
    for _ in range(levels):
        pyramid.append(cv2.pyrDown(pyramid[-1]))
    return pyramid


def _laplacian_pyramid(image: np.ndarray, levels: int) -> list[np.ndarray]:
    gaussian = _gaussian_pyramid(image, levels)
    pyramid = []
    for fine, coarse in itertools.pairwise(gaussian):
        pyramid.append(fine - cv2.pyrUp(coarse, dstsize=(fine.shape[1], fine.shape[0])))
    pyramid.append(gaussian[-1])
    return pyramid
