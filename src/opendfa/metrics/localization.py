"""Forgery localization: pixel IoU / F1 of masks and pixel-level AUC."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score


def pixel_iou_f1(predicted: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """IoU and F1 of two boolean masks; both empty counts as a perfect (1.0, 1.0) match."""
    p = np.asarray(predicted, dtype=bool)
    t = np.asarray(target, dtype=bool)
    if p.shape != t.shape:
        raise ValueError(f"mask shapes differ: {p.shape} and {t.shape}")
    inter = int((p & t).sum())
    union = int((p | t).sum())
    total = int(p.sum() + t.sum())
    if union == 0:
        return 1.0, 1.0
    return inter / union, 2 * inter / total


def pixel_auc(scores: np.ndarray, target: np.ndarray) -> float | None:
    """AUC of per-pixel scores against a boolean mask (None when the mask is all one value)."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    t = np.asarray(target, dtype=bool).ravel()
    if s.shape != t.shape:
        raise ValueError(f"{s.size} scores but {t.size} mask pixels")
    if t.all() or not t.any():
        return None
    return float(roc_auc_score(t, s))
