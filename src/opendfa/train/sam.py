"""Sharpness-Aware Minimization (Foret et al., ICLR 2021) around any torch optimizer.

Two steps per batch: `first_step` climbs to the worst point within an L2 ball of radius rho
(w + e(w), e(w) = rho * g / ||g||), the loss is computed and back-propagated again there, and
`second_step` returns to w and lets the base optimizer step with that sharpness-aware gradient.

    loss(model(x)).backward(); sam.first_step()
    loss(model(x)).backward(); sam.second_step()
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import contextmanager

import torch
from torch import nn


class SAM:
    """Wraps `base` (e.g. AdamW over the same parameters); `adaptive` gives ASAM's scaling."""

    def __init__(self, base: torch.optim.Optimizer, rho: float = 0.05, adaptive: bool = False):
        if rho <= 0:
            raise ValueError(f"rho must be positive, got {rho}")
        self.base = base
        self.rho = rho
        self.adaptive = adaptive
        self._perturbations: dict[torch.Tensor, torch.Tensor] = {}

    @property
    def param_groups(self) -> list[dict]:
        return self.base.param_groups

    def _params(self) -> Iterable[torch.Tensor]:
        for group in self.base.param_groups:
            for param in group["params"]:
                if param.grad is not None:
                    yield param

    @torch.no_grad()
    def first_step(self, zero_grad: bool = True) -> None:
        params = list(self._params())
        if not params:
            return
        scaled = [(p.abs() * p.grad if self.adaptive else p.grad) for p in params]
        norm = torch.norm(torch.stack([s.norm(2) for s in scaled]), 2)
        factor = self.rho / (norm + 1e-12)
        for param in params:
            step = (param.pow(2) if self.adaptive else 1.0) * param.grad * factor
            param.add_(step)
            self._perturbations[param] = step
        if zero_grad:
            self.zero_grad()

    @torch.no_grad()
    def second_step(self, zero_grad: bool = True) -> None:
        for param, step in self._perturbations.items():
            param.sub_(step)
        self._perturbations.clear()
        self.base.step()
        if zero_grad:
            self.zero_grad()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return self.base.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.base.load_state_dict(state)


@contextmanager
def frozen_batchnorm_stats(model: nn.Module):
    """Keep BatchNorm running statistics unchanged (SAM's second forward pass sees the same
    batch at perturbed weights; counting it twice would skew the statistics)."""
    saved = []
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            saved.append((module, module.momentum))
            module.momentum = 0.0
    try:
        yield
    finally:
        for module, momentum in saved:
            module.momentum = momentum
