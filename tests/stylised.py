"""Restyled faces for the out-of-distribution tests (the same cartoon as
`benchmarks/ood_sets.py`, which keeps its own copy: benchmarks do not import tests)."""

from __future__ import annotations

import cv2
import numpy as np


def cartoon(rgb: np.ndarray) -> np.ndarray:
    """Bilateral smoothing, colours posterised to 4 levels a channel, dark edge lines."""
    smooth = rgb
    for _ in range(5):
        smooth = cv2.bilateralFilter(smooth, 9, 75, 75)
    flat = (smooth // 64) * 64 + 32
    grey = cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7)
    edges = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 2)
    return cv2.bitwise_and(flat, flat, mask=edges).astype(np.uint8)
