"""Losses of the multi-task detector and the contrastive metric loss of the adversarial paper."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from opendfa.models.detector import DetectorOutputs
from opendfa.train.configs import LossWeights


@dataclass
class DetectorTargets:
    """What one batch should produce. `mask` is at the crop's resolution, in [0, 1].

    `has_mask` is False for fakes whose mask is unknown (imported datasets without masks):
    they are left out of the mask and region losses. Reals have all-zero masks.
    `has_regions` is False where the crop's region masks are unknown (pre-aligned inputs).
    `weight` balances real and fake in the BCE.
    """

    label: torch.Tensor  # (B,) float 0 real / 1 fake
    category: torch.Tensor  # (B,) long
    mask: torch.Tensor  # (B, 1, S, S) float
    region: torch.Tensor  # (B, 12) float coverage in [0, 1]
    has_mask: torch.Tensor  # (B,) bool
    has_regions: torch.Tensor  # (B,) bool
    weight: torch.Tensor  # (B,) float
    group: torch.Tensor | None = None  # (B,) long: the source photo, for the pair loss


def pair_loss(
    logit: torch.Tensor, label: torch.Tensor, group: torch.Tensor, margin: float
) -> torch.Tensor:
    """Mean hinge max(0, margin - (z_fake - z_real)) over the (forgery, real) pairs of a batch
    that share a source photo; an exact zero where the batch has none. A ranking loss: it
    asks only that each forgery score above its own real, which is what tells an edit from
    the face it was made from."""
    fake, real = label > 0.5, label < 0.5
    pairs = (group[:, None] == group[None, :]) & fake[:, None] & real[None, :]
    if not bool(pairs.any()):
        return logit.sum() * 0.0
    gap = logit[:, None] - logit[None, :]
    return F.relu(margin - gap[pairs]).mean()


def dice_loss(logits: torch.Tensor, target: torch.Tensor, eps: float = 1.0) -> torch.Tensor:
    """1 - soft Dice per sample (B,) for mask logits and targets of the same shape."""
    probability = torch.sigmoid(logits).flatten(1)
    target = target.flatten(1)
    overlap = (probability * target).sum(1)
    return 1.0 - (2.0 * overlap + eps) / (probability.sum(1) + target.sum(1) + eps)


def mask_loss(logits: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """BCE over samples with a known mask + Dice over those whose mask is not empty.

    The target is averaged down to the logits' resolution (area interpolation keeps blended
    edges fractional).
    """
    if not bool(known.any()):
        return logits.sum() * 0.0
    small = F.interpolate(target, size=logits.shape[-2:], mode="area")
    logits, small = logits[known], small[known]
    loss = F.binary_cross_entropy_with_logits(logits, small)
    marked = small.flatten(1).amax(1) > 0.05
    if bool(marked.any()):
        loss = loss + dice_loss(logits[marked], small[marked]).mean()
    return loss


def boundary_target(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Face X-ray's boundary 4·M·(1−M) of a soft mask, at the logits' resolution: 1 where the
    forged and the original image are mixed half and half, 0 inside either."""
    small = F.interpolate(mask, size=size, mode="area")
    return (4.0 * small * (1.0 - small)).clamp(0.0, 1.0)


def boundary_loss(logits: torch.Tensor, mask: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    if not bool(known.any()):
        return logits.sum() * 0.0
    target = boundary_target(mask[known], logits.shape[-2:])
    return F.binary_cross_entropy_with_logits(logits[known], target)


def multitask_loss(
    out: DetectorOutputs, targets: DetectorTargets, weights: LossWeights
) -> tuple[torch.Tensor, dict[str, float]]:
    """Weighted sum of the four supervised head losses and each part as a float."""
    fake = (
        F.binary_cross_entropy_with_logits(out.logit, targets.label, reduction="none")
        * targets.weight
    ).sum() / targets.weight.sum()
    category = F.cross_entropy(out.category_logits, targets.category)
    mask = mask_loss(out.mask_logits, targets.mask, targets.has_mask)
    known = targets.has_mask & targets.has_regions
    if bool(known.any()):
        region = F.binary_cross_entropy_with_logits(out.region_logits[known], targets.region[known])
    else:
        region = out.region_logits.sum() * 0.0
    total = (
        weights.fake * fake
        + weights.category * category
        + weights.mask * mask
        + weights.region * region
    )
    parts = {
        "fake": float(fake.detach()),
        "category": float(category.detach()),
        "mask": float(mask.detach()),
        "region": float(region.detach()),
    }
    if weights.pair > 0 and targets.group is not None:
        pair = pair_loss(out.logit, targets.label, targets.group, weights.pair_margin)
        total = total + weights.pair * pair
        parts["pair"] = float(pair.detach())
    if out.boundary_logits is not None:
        boundary = boundary_loss(out.boundary_logits, targets.mask, targets.has_mask)
        total = total + weights.boundary * boundary
        parts["boundary"] = float(boundary.detach())
    return total, parts


def contrastive_loss(
    first: torch.Tensor, second: torch.Tensor, same: torch.Tensor, margin: float
) -> torch.Tensor:
    """Eq. (3) of the paper (after Hadsell et al.): M^2 for same-class pairs and
    max(0, margin - M^2) for pairs of different classes, M the Euclidean distance between
    embeddings; mean over pairs. With L2-normalised embeddings M^2 lies in [0, 4].
    """
    squared = (first - second).pow(2).sum(1)
    same = same.to(squared.dtype)
    return (same * squared + (1.0 - same) * F.relu(margin - squared)).mean()
