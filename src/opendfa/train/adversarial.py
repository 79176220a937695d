"""Adversarial hard fakes mined in a generator's latent space, and the paper's loss schedule.

After Ohtake, Fukuhara, Kubotani and Morishima, "Deepfake detection with adversarial
optimisation and metric learning" (Algorithm 1): a real face x is encoded, z = E(x); PGD in
latent space under an L2 bound,

    z(0) = P(z + zeta),  z(j+1) = P(z(j) + eta * g / ||g||),  g = grad_z L(f(G(z(j))), fake),

with s steps, eta = epsilon / sqrt(s) and P the projection onto the L2 ball of radius epsilon
around z, ascends the detector's loss for "fake", i.e. raises its "real" score; x' = G(z(s)) is
a fake the detector finds harder than the plain reconstruction G(z). The loss is

    lambda * [CE(x, real) + CE(x', fake)] + (1 - lambda) * L_M(x, x')

with L_M the contrastive loss of eq. (3) on the detector's embedding (x and x' are of
different classes, so only the margin term acts). The paper found lambda = 0.9 worse than
lambda = 1 because L_M was optimised first and CE lagged, and proposed optimising the two
terms alternately: the `alternating` schedule does that in CE phases and metric phases
(lengths in epochs or steps).

The generator is anything with `encode(x) -> z` (or `(mu, logvar)`, as `FaceVAE`) and
`decode(z) -> x` on images in [0, 1]; crops are resized to its `image_size` and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from opendfa.models.detector import DetectorOutputs
from opendfa.train.configs import PHASE_CE, PHASE_METRIC, AdversarialConfig
from opendfa.train.configs import PHASE_JOINT as PHASE_JOINT  # re-exported
from opendfa.train.configs import SCHEDULES as SCHEDULES  # re-exported
from opendfa.train.losses import contrastive_loss


class LatentGenerator(Protocol):
    def encode(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...


@dataclass
class HardFakes:
    images: torch.Tensor  # x' = G(z'), at the detector's input size, detached
    reconstructions: torch.Tensor  # G(z), the unperturbed decoding
    latents: torch.Tensor  # z = E(x)
    perturbed: torch.Tensor  # z'


def _encode(generator: LatentGenerator, x: torch.Tensor) -> torch.Tensor:
    encoded = generator.encode(x)
    return encoded[0] if isinstance(encoded, tuple | list) else encoded


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    if x.shape[-1] == size and x.shape[-2] == size:
        return x
    return F.interpolate(
        x, size=(size, size), mode="bilinear", align_corners=False, antialias=size < x.shape[-1]
    )


def project_l2(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Each row of delta scaled back onto the L2 ball of radius epsilon if it left it."""
    norm = delta.flatten(1).norm(dim=1).clamp(min=1e-12)
    factor = torch.clamp(epsilon / norm, max=1.0)
    return delta * factor.view(-1, *([1] * (delta.ndim - 1)))


def mine_hard_fakes(
    detector: nn.Module,
    generator: LatentGenerator,
    reals: torch.Tensor,
    *,
    epsilon: float,
    steps: int,
    random_start: float = 0.1,
    rng: torch.Generator | None = None,
) -> HardFakes:
    """PGD in latent space (Algorithm 1) on a batch of real crops (B, 3, S, S) in [0, 1].

    The detector runs in eval mode during the attack (BatchNorm statistics untouched) and
    only the latent gets gradients; its mode is restored afterwards.
    """
    side = reals.shape[-1]
    size = int(getattr(generator, "image_size", side))
    with torch.no_grad():
        z = _encode(generator, _resize(reals, size)).detach()
    eta = epsilon / math.sqrt(steps)
    noise = torch.randn(z.shape, generator=rng, device="cpu").to(z.device, z.dtype)
    delta = project_l2(
        noise
        / noise.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1)
        * (random_start * epsilon),
        epsilon,
    )
    target = torch.ones(len(z), device=z.device)
    was_training = detector.training
    detector.eval()
    try:
        for _ in range(steps):
            delta.requires_grad_(True)
            images = _resize(generator.decode(z + delta), side)
            logit = detector(images).logit
            loss = F.binary_cross_entropy_with_logits(logit, target, reduction="sum")
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                norm = grad.flatten(1).norm(dim=1).clamp(min=1e-12).view(-1, 1)
                delta = project_l2(delta + eta * grad / norm, epsilon)
    finally:
        detector.train(was_training)
    with torch.no_grad():
        perturbed = z + delta
        images = _resize(generator.decode(perturbed), side).clamp(0, 1)
        reconstructions = _resize(generator.decode(z), side).clamp(0, 1)
    return HardFakes(
        images=images, reconstructions=reconstructions, latents=z, perturbed=perturbed.detach()
    )


def adversarial_loss(
    real_out: DetectorOutputs,
    fake_out: DetectorOutputs,
    config: AdversarialConfig,
    phase: str,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's loss for reals x and their hard fakes x' (paired by position).

    `joint`: lambda * [CE(x, real) + CE(x', fake)] + (1 - lambda) * L_M(x, x');
    `ce`: the CE terms alone; `metric`: L_M alone.
    """
    ce = F.binary_cross_entropy_with_logits(
        real_out.logit, torch.zeros_like(real_out.logit)
    ) + F.binary_cross_entropy_with_logits(fake_out.logit, torch.ones_like(fake_out.logit))
    different = torch.zeros(
        len(real_out.embedding), dtype=torch.bool, device=real_out.embedding.device
    )
    metric = contrastive_loss(real_out.embedding, fake_out.embedding, different, config.margin)
    if phase == PHASE_CE:
        total = ce
    elif phase == PHASE_METRIC:
        total = metric
    else:
        total = config.lambda_ * ce + (1.0 - config.lambda_) * metric
    return total, {"adv_ce": float(ce.detach()), "adv_metric": float(metric.detach())}
