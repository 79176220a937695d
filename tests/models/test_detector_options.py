"""Detector options of the generalization recipe: boundary head, mirror averaging, frozen layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from opendfa.models.detector import (
    load_detector,
    predict_crops,
    save_detector,
)
from opendfa.train.losses import DetectorTargets, LossWeights, boundary_target, multitask_loss
from tiny_models import random_detector


def test_boundary_target_is_one_on_half_mixed_pixels_and_zero_inside():
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., 2:6, 2:6] = 1.0
    mask[..., 2:6, 1] = 0.5  # a half-blended column
    target = boundary_target(mask, (8, 8))
    assert target[0, 0, 3, 1] == pytest.approx(1.0)
    assert target[0, 0, 3, 3] == 0.0 and target[0, 0, 0, 0] == 0.0


def test_boundary_head_adds_an_output_and_a_loss_term():
    plain, boundary = random_detector(), random_detector(boundary_head=True)
    images = torch.rand(2, 3, 64, 64)
    assert plain(images).boundary_logits is None
    out = boundary(images)
    assert out.boundary_logits.shape == out.mask_logits.shape == (2, 1, 8, 8)
    mask = torch.zeros(2, 1, 64, 64)
    mask[1, :, 16:48, 16:48] = 1.0
    targets = DetectorTargets(
        label=torch.tensor([0.0, 1.0]),
        category=torch.tensor([0, 1]),
        mask=mask,
        region=torch.zeros(2, 12),
        has_mask=torch.tensor([True, True]),
        has_regions=torch.tensor([False, False]),
        weight=torch.ones(2),
    )
    _, parts_plain = multitask_loss(plain(images), targets, LossWeights())
    total, parts = multitask_loss(out, targets, LossWeights())
    assert "boundary" not in parts_plain and parts["boundary"] > 0
    total.backward()
    assert boundary.mask_head[-1].weight.grad[1].abs().sum() > 0  # the boundary channel learns


def test_flip_tta_makes_predictions_mirror_invariant(tmp_path):
    model = random_detector(flip_tta=True)
    with torch.no_grad():  # make the untrained model clearly asymmetric
        model.fake_head.weight.normal_(0, 1)
    loaded = load_detector(save_detector(model, tmp_path / "tta"))
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    crop[:, :20] = 255  # a bright left side, so the mirror differs
    mirrored = np.ascontiguousarray(crop[:, ::-1])
    first, second = predict_crops(loaded, np.stack([crop, mirrored]))
    assert first.fake_probability == pytest.approx(second.fake_probability, abs=1e-5)
    assert first.region_scores["left_eye"] == pytest.approx(
        second.region_scores["right_eye"], abs=1e-5
    )
    np.testing.assert_allclose(first.mask, second.mask[:, ::-1], atol=1e-5)
    loaded.config.flip_tta = False
    plain_first, plain_second = predict_crops(loaded, np.stack([crop, mirrored]))
    assert first.logit == pytest.approx((plain_first.logit + plain_second.logit) / 2, abs=1e-5)


def test_frozen_early_layers_get_no_updates_and_keep_their_statistics():
    from opendfa.train.detector import freeze_early_layers, train_mode

    model = random_detector()
    freeze_early_layers(model, 3)
    frozen = model.backbone.early_layers(3)
    stem_before = model.backbone._conv_stem.weight.clone()
    stats_before = model.backbone._bn0.running_mean.clone()
    late_before = model.backbone._blocks[5]._project_conv.weight.clone()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    train_mode(model)
    assert not model.backbone._bn0.training and model.backbone._blocks[5].training
    model(torch.rand(4, 3, 64, 64)).logit.sum().backward()
    optimizer.step()
    assert all(not p.requires_grad for layer in frozen for p in layer.parameters())
    assert torch.equal(model.backbone._conv_stem.weight, stem_before)
    assert torch.equal(model.backbone._bn0.running_mean, stats_before)
    assert not torch.equal(model.backbone._blocks[5]._project_conv.weight, late_before)
