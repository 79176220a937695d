"""Colour transfer between face regions (Reinhard et al. 2001, in CIE L*a*b*)."""

from __future__ import annotations

import cv2
import numpy as np


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
