"""SAM: the update uses the gradient at the perturbed weights and returns to w before stepping."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from opendfa.train.sam import SAM, frozen_batchnorm_stats


def _quadratic(w: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    return 0.5 * w @ a @ w


def test_sam_step_uses_the_gradient_at_the_worst_nearby_point():
    a = torch.tensor([[3.0, 0.5], [0.5, 1.0]])
    w = nn.Parameter(torch.tensor([1.0, -2.0]))
    rho, lr = 0.1, 0.05
    sam = SAM(torch.optim.SGD([w], lr=lr), rho=rho)
    start = w.detach().clone()
    _quadratic(w, a).backward()
    gradient = a @ start
    sam.first_step()
    assert torch.allclose(w.detach(), start + rho * gradient / gradient.norm(), atol=1e-6)
    _quadratic(w, a).backward()
    sam.second_step()
    expected = start - lr * (a @ (start + rho * gradient / gradient.norm()))
    assert torch.allclose(w.detach(), expected, atol=1e-6)


def test_with_a_zero_learning_rate_sam_returns_exactly_to_the_weights():
    w = nn.Parameter(torch.tensor([0.3, 0.7, -1.1]))
    start = w.detach().clone()
    sam = SAM(torch.optim.SGD([w], lr=0.0), rho=0.5)
    (w**2).sum().backward()
    sam.first_step()
    assert not torch.equal(w.detach(), start)
    (w**2).sum().backward()
    sam.second_step()
    assert torch.equal(w.detach(), start)


def test_sam_changes_weights_differently_from_its_base_optimizer():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    plain = [p.detach().clone() for p in model.parameters()]
    results = []
    for use_sam in (False, True):
        with torch.no_grad():
            for param, value in zip(model.parameters(), plain, strict=True):
                param.copy_(value)
        base = torch.optim.AdamW(model.parameters(), lr=0.01)
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        if use_sam:
            sam = SAM(base, rho=0.05)
            sam.first_step()
            nn.functional.mse_loss(model(x), y).backward()
            sam.second_step()
        else:
            base.step()
        results.append([p.detach().clone() for p in model.parameters()])
    for adamw, sam_result, start in zip(*results, plain, strict=True):
        assert not torch.equal(adamw, start) and not torch.equal(sam_result, start)
    assert any(not torch.allclose(a, s) for a, s in zip(*results, strict=True))


def test_rho_must_be_positive():
    with pytest.raises(ValueError, match="rho"):
        SAM(torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.1), rho=0.0)


def test_frozen_batchnorm_stats_leave_running_statistics_alone():
    bn = nn.BatchNorm1d(3).train()
    bn(torch.randn(8, 3) + 5.0)
    mean = bn.running_mean.clone()
    with frozen_batchnorm_stats(bn):
        bn(torch.randn(8, 3) - 5.0)
    assert torch.equal(bn.running_mean, mean) and bn.momentum == 0.1
