"""Latent PGD hard fakes (Algorithm 1), the contrastive loss (eq. 3) and the loss schedules."""

from __future__ import annotations

import math

import pytest
import torch

from opendfa.models.detector import DetectorConfig, DetectorOutputs, MultiTaskDetector
from opendfa.models.generator import FaceVAE, GeneratorConfig
from opendfa.train.adversarial import (
    AdversarialConfig,
    adversarial_loss,
    mine_hard_fakes,
    project_l2,
)
from opendfa.train.losses import contrastive_loss

TINY_VAE = GeneratorConfig(image_size=32, latent_dim=16, base_channels=8, max_channels=16, groups=4)


@pytest.fixture(scope="module")
def parts():
    torch.manual_seed(0)
    generator = FaceVAE(TINY_VAE).eval().requires_grad_(False)
    # ImageNet features, random heads: a random backbone in eval mode gives flat logits
    detector = MultiTaskDetector(DetectorConfig(input_size=64, mask_size=8, embedding_dim=8))
    return generator, detector


def test_projection_keeps_rows_inside_the_ball():
    delta = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    projected = project_l2(delta, 1.0)
    assert torch.allclose(projected[0], torch.tensor([0.6, 0.8]))
    assert torch.equal(projected[1], delta[1])


@pytest.mark.slow
def test_pgd_stays_in_the_epsilon_ball_and_raises_the_real_score(parts):
    generator, detector = parts
    detector.train()
    reals = torch.rand(4, 3, 64, 64)
    before = [p.detach().clone() for p in detector.parameters()]
    hard = mine_hard_fakes(
        detector, generator, reals, epsilon=2.0, steps=5, rng=torch.Generator().manual_seed(1)
    )
    assert hard.images.shape == hard.reconstructions.shape == (4, 3, 64, 64)
    assert float(hard.images.min()) >= 0.0 and float(hard.images.max()) <= 1.0
    distance = (hard.perturbed - hard.latents).norm(dim=1)
    assert bool((distance <= 2.0 + 1e-5).all())
    assert float(distance.min()) > 1.0  # 5 steps of eta = 2 / sqrt(5) reach the boundary
    detector.eval()
    with torch.no_grad():
        adversarial = detector(hard.images).logit
        plain = detector(hard.reconstructions).logit
    assert bool((adversarial < plain).all())  # lower fake logit = higher "real" score
    assert all(p.grad is None for p in detector.parameters())
    assert all(torch.equal(p, b) for p, b in zip(detector.parameters(), before, strict=True))


def test_pgd_restores_the_training_mode(parts):
    generator, detector = parts
    detector.train()
    mine_hard_fakes(detector, generator, torch.rand(2, 3, 64, 64), epsilon=1.0, steps=1)
    assert detector.training


def test_contrastive_loss_follows_equation_three():
    first = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    second = torch.tensor([[0.0, 1.0], [0.0, 1.0]])  # squared distance 2 for both pairs
    same = torch.tensor([True, False])
    # same pair: M^2 = 2; different pair: max(0, 3 - 2) = 1; mean 1.5
    assert float(contrastive_loss(first, second, same, margin=3.0)) == pytest.approx(1.5)
    # margin below the distance: the different pair costs nothing
    assert float(contrastive_loss(first, second, same, margin=1.0)) == pytest.approx(1.0)


def _outputs(logit: list[float], embedding: list[list[float]]) -> DetectorOutputs:
    n = len(logit)
    return DetectorOutputs(
        logit=torch.tensor(logit),
        category_logits=torch.zeros(n, 5),
        mask_logits=torch.zeros(n, 1, 4, 4),
        region_logits=torch.zeros(n, 12),
        embedding=torch.tensor(embedding),
    )


def test_adversarial_loss_mixes_ce_and_metric_by_lambda_or_by_phase():
    real = _outputs([0.0], [[1.0, 0.0]])
    fake = _outputs([0.0], [[1.0, 0.0]])  # identical embeddings: metric = margin
    config = AdversarialConfig(schedule="constant", lambda_=0.9, margin=1.0)
    ce = 2 * math.log(2.0)  # both logits 0: BCE log 2 each
    joint, parts = adversarial_loss(real, fake, config, "joint")
    assert parts["adv_ce"] == pytest.approx(ce) and parts["adv_metric"] == pytest.approx(1.0)
    assert float(joint) == pytest.approx(0.9 * ce + 0.1 * 1.0)
    assert float(adversarial_loss(real, fake, config, "ce")[0]) == pytest.approx(ce)
    assert float(adversarial_loss(real, fake, config, "metric")[0]) == pytest.approx(1.0)


def test_alternating_schedule_switches_phases_as_configured():
    by_epoch = AdversarialConfig(schedule="alternating", unit="epoch", ce_length=2, metric_length=1)
    phases = [by_epoch.phase(epoch, step=0) for epoch in range(6)]
    assert phases == ["ce", "ce", "metric", "ce", "ce", "metric"]
    by_step = AdversarialConfig(schedule="alternating", unit="step", ce_length=1, metric_length=3)
    assert [by_step.phase(0, step) for step in range(5)] == [
        "ce",
        "metric",
        "metric",
        "metric",
        "ce",
    ]
    constant = AdversarialConfig(schedule="constant")
    assert {constant.phase(e, s) for e in range(3) for s in range(3)} == {"joint"}


def test_adversarial_config_validates_its_values():
    with pytest.raises(ValueError, match="schedule"):
        AdversarialConfig(schedule="sometimes")
    with pytest.raises(ValueError, match="lambda"):
        AdversarialConfig(lambda_=1.5)
    with pytest.raises(ValueError, match="epsilon"):
        AdversarialConfig(epsilon=0.0)
