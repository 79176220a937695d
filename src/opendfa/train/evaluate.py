"""Validation of the detector: real/fake AUC and accuracy, category accuracy, mask IoU."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from opendfa.models.detector import MultiTaskDetector
from opendfa.train.data import DetectorItems, batch_targets, make_loader


def autocast(device: torch.device) -> torch.autocast:
    """bfloat16 autocast on CUDA (tensor cores run it at full speed); plain float32 on the CPU."""
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
    )


@torch.no_grad()
def evaluate_detector(
    model: MultiTaskDetector, items: DetectorItems, batch_size: int = 32, num_workers: int = 0
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Metrics, raw logits and labels (1 = fake) on un-augmented items, in eval mode.

    `auc` needs both classes; `mask_iou` (mask logit > 0 against target > 0.5, at the mask
    head's resolution) is the mean over fakes whose mask is known.
    """
    device = next(model.parameters()).device
    model.eval()
    logits, labels, categories, predicted, ious = [], [], [], [], []
    for batch in make_loader(items, batch_size, num_workers):
        images, targets = batch_targets(batch, device, (1.0, 1.0))
        with autocast(device):
            out = model(images)
        logits.append(out.logit.float().cpu())
        labels.append(targets.label.cpu())
        categories.append(targets.category.cpu())
        predicted.append(out.category_logits.argmax(1).cpu())
        fake_known = (targets.label > 0.5) & targets.has_mask
        if bool(fake_known.any()):
            small = F.interpolate(targets.mask, size=out.mask_logits.shape[-2:], mode="area")
            ious.append(_iou(out.mask_logits[fake_known] > 0, small[fake_known] > 0.5).cpu())
    x = torch.cat(logits).numpy().astype(np.float64)
    y = torch.cat(labels).numpy().astype(np.int64)
    metrics: dict[str, float] = {"n": len(y), "n_fake": int(y.sum())}
    if 0 < y.sum() < len(y):
        metrics["auc"] = float(roc_auc_score(y, x))
    metrics["accuracy"] = float(((x > 0) == (y == 1)).mean())
    metrics["category_accuracy"] = float(
        (torch.cat(predicted) == torch.cat(categories)).float().mean()
    )
    if ious:
        metrics["mask_iou"] = float(torch.cat(ious).mean())
    return metrics, x, y


def _iou(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    inter = (predicted & target).flatten(1).sum(1).float()
    union = (predicted | target).flatten(1).sum(1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(inter))
