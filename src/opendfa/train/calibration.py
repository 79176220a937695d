"""Temperature scaling (Guo et al., 2017) and expected calibration error.

ECE itself is a pure function on arrays and lives with the other metrics
(`opendfa.metrics.detection`); it is re-exported here for the training code.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from opendfa.metrics.detection import expected_calibration_error

__all__ = ["expected_calibration_error", "fit_temperature"]


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
