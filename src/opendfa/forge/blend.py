"""Blending a forged face into its target: feathered alpha, Poisson and Laplacian pyramid.

Every blend ends with one composite through the returned float mask, so pixels where the
mask is 0 are exactly the target's: the recorded mask is the truth about what changed.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

from opendfa.forge.warp import composite, feather

BLENDS = ("alpha", "poisson", "laplacian")


def blend(
    target: np.ndarray, forged: np.ndarray, region: np.ndarray, method: str, feather_px: float
) -> tuple[np.ndarray, np.ndarray]:
    """Blend `forged` into `target` inside bool `region`; returns (image, float mask)."""
    if method == "alpha":
        alpha = feather(region, feather_px)
        return composite(target, forged, alpha), alpha
    if method == "poisson":
        return _poisson(target, forged, region, feather_px)
    if method == "laplacian":
        return _laplacian(target, forged, region, feather_px)
    raise ValueError(f"unknown blend {method!r}; expected one of {', '.join(BLENDS)}")


def _poisson(target: np.ndarray, forged: np.ndarray, region: np.ndarray, feather_px: float):
    ys, xs = np.nonzero(region)
    if xs.size < 16:
        return target.copy(), np.zeros(region.shape, np.float32)
    # OpenCV wants the mask strictly inside the image; its centre is the mask box centre.
    inner = region.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    ys, xs = np.nonzero(inner)
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    cloned = cv2.seamlessClone(
        forged, target, inner.astype(np.uint8) * 255, center, cv2.NORMAL_CLONE
    )
    # seamlessClone alters its whole bounding box: keep only the masked area (STACK.md pitfall).
    alpha = feather(inner, max(feather_px / 3.0, 1.0))
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
