"""Temperature scaling (Guo et al., 2017) and expected calibration error.

Pure functions on arrays, so the benchmark can import them as they are (they may move to
`opendfa.bench.metrics` later).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, n_bins: int = 15
) -> float:
    """ECE of binary P(fake) against labels (1 = fake), with equal-width confidence bins.

    Each prediction's confidence is max(p, 1 - p); it is correct when (p >= 0.5) equals the
    label. Bins split [0, 1] into `n_bins` equal, right-closed intervals (b/n, (b+1)/n], and
    ECE = sum over bins of |bin| / N * |accuracy(bin) - mean confidence(bin)|.
    """
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    y = np.asarray(labels).ravel().astype(bool)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} probabilities but {y.size} labels")
    if p.size == 0:
        raise ValueError("no predictions")
    if n_bins < 1:
        raise ValueError(f"n_bins must be positive, got {n_bins}")
    if np.any((p < 0) | (p > 1)) or not np.all(np.isfinite(p)):
        raise ValueError("probabilities must lie in [0, 1]")
    confidence = np.maximum(p, 1.0 - p)
    correct = (p >= 0.5) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        chosen = index == b
        if chosen.any():
            ece += chosen.mean() * abs(correct[chosen].mean() - confidence[chosen].mean())
    return float(ece)


def fit_temperature(
    logits: np.ndarray, labels: np.ndarray, *, bounds: tuple[float, float] = (0.05, 20.0)
) -> float:
    """The T > 0 minimising the NLL of sigmoid(logit / T) on held-out data (LBFGS on log T)."""
    x = torch.as_tensor(np.asarray(logits, dtype=np.float64)).ravel()
    y = torch.as_tensor(np.asarray(labels, dtype=np.float64)).ravel()
    if x.shape != y.shape or x.numel() == 0:
        raise ValueError(f"need as many labels as logits, got {x.numel()} and {y.numel()}")
    if bool(((y != 0) & (y != 1)).any()):
        raise ValueError("labels must be 0 or 1")
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.5, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x / log_t.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    temperature = float(log_t.detach().exp())
    if not math.isfinite(temperature):
        return 1.0
    return float(min(max(temperature, bounds[0]), bounds[1]))
