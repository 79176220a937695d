"""Colour transfer between face regions, one of `COLOR_TRANSFERS` per forgery:

* `reinhard`: L*a*b* mean and spread matched inside the mask (Reinhard et al. 2001);
* `histogram`: each RGB channel's histogram inside the mask matched to the target's
  (quantile mapping, as `skimage.exposure.match_histograms` does, restricted to a mask);
* `none`: the source keeps its own colours.
"""

from __future__ import annotations

import cv2
import numpy as np

COLOR_TRANSFERS = ("reinhard", "histogram", "none")


def transfer_colour(
    method: str, source: np.ndarray, target: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Recolour `source` towards `target` inside `mask` with one of `COLOR_TRANSFERS`."""
    if method == "reinhard":
        return reinhard_transfer(source, target, mask)
    if method == "histogram":
        return histogram_transfer(source, target, mask)
    if method == "none":
        return source.copy()
    raise ValueError(
        f"unknown colour transfer {method!r}; expected one of {', '.join(COLOR_TRANSFERS)}"
    )


def reinhard_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Recolour `source` so its L*a*b* mean and spread inside `mask` match `target`'s there."""
    region = mask.astype(bool)
    if region.sum() < 16:
        return source.copy()
    src_lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    dst_lab = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).astype(np.float32)
    src_mean, src_std = src_lab[region].mean(0), src_lab[region].std(0) + 1e-3
    dst_mean, dst_std = dst_lab[region].mean(0), dst_lab[region].std(0) + 1e-3
    scale = np.clip(dst_std / src_std, 0.5, 2.0)  # guard against near-flat regions
    moved = (src_lab - src_mean) * scale + dst_mean
    return cv2.cvtColor(np.clip(moved, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def histogram_transfer(source: np.ndarray, target: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Map each channel of `source` so its histogram inside `mask` becomes `target`'s there."""
    region = mask.astype(bool)
    if region.sum() < 16:
        return source.copy()
    out = np.empty_like(source)
    levels = np.arange(256)
    for channel in range(source.shape[2]):
        src_cdf, _ = _cdf(source[..., channel][region])
        dst_cdf, present = _cdf(target[..., channel][region])
        # Each source level goes to the target level at the same quantile.
        lut = np.interp(src_cdf, dst_cdf[present], levels[present])
        out[..., channel] = np.round(lut).astype(np.uint8)[source[..., channel]]
    return out


def _cdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative share of each level 0..255, and which levels occur."""
    counts = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    cdf = np.cumsum(counts)
    return cdf / cdf[-1], counts > 0
