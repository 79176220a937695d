"""Train-and-test runs of the detector on identity-disjoint splits, as the ablation needs them.

One run trains on a manifest's `train` split, early-stops and calibrates on `val`, and is
scored on `test`, whose identities it never saw. A leave-one-family-out run drops one forgery
category from train and val and is scored on the test reals against that category's fakes
only: how well the detector finds a kind of forgery it was never shown.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.data.manifest import Manifest, read_manifest
from opendfa.metrics.detection import detection_metrics
from opendfa.models.detector import load_detector
from opendfa.taxonomy import REAL
from opendfa.train.calibration import expected_calibration_error
from opendfa.train.data import DetectorItems, load_crops
from opendfa.train.detector import DetectorTrainConfig, train_detector
from opendfa.train.evaluate import evaluate_detector


@dataclass
class RunResult:
    name: str
    holdout: str | None
    test: dict[str, Any]
    val_auc: float | None
    temperature: float
    epochs_run: int
    seconds: float
    per_category_auc: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holdout": self.holdout,
            "test": self.test,
            "val_auc": self.val_auc,
            "temperature": self.temperature,
            "epochs_run": self.epochs_run,
            "seconds": round(self.seconds, 1),
            "per_category_auc": self.per_category_auc,
        }


def subset(
    manifest: Manifest,
    split: str,
    *,
    exclude: tuple[str, ...] = (),
    only: tuple[str, ...] | None = None,
) -> Manifest:
    """The samples of one split, without the categories in `exclude` (or with only `only`)."""
    samples = [
        s
        for s in manifest.samples
        if s.split == split and s.category not in exclude and (only is None or s.category in only)
    ]
    return Manifest(samples=samples, root=manifest.root)


def score_split(
    model_folder: str | Path,
    manifest: Manifest,
    *,
    batch_size: int = 32,
    cache_dir: str | Path | None = None,
    threshold: float = 0.5,
) -> tuple[dict[str, Any], dict[str, float]]:
    """Test metrics of a saved detector on `manifest`: DF-D metrics of the calibrated P(fake)
    judged fake at `threshold`,
    category accuracy, mask IoU on fakes, ECE before/after the saved temperature, and the AUC
    of each fake category against all reals."""
    loaded = load_detector(model_folder)
    config = loaded.config
    crops = load_crops(
        manifest, None, size=config.input_size, margin=config.crop_margin, cache_dir=cache_dir
    )
    items = DetectorItems(crops)
    metrics, logits, labels = evaluate_detector(loaded.model, items, batch_size)
    calibrated = _sigmoid(logits / loaded.temperature)
    result: dict[str, Any] = detection_metrics(calibrated, labels, threshold).to_json()
    result["category_accuracy"] = metrics["category_accuracy"]
    result["mask_iou"] = metrics.get("mask_iou")
    result["ece_before"] = expected_calibration_error(_sigmoid(logits), labels)
    result["ece_after"] = expected_calibration_error(calibrated, labels)
    categories = np.array([s.category for s in crops.samples])
    per_category = {}
    for category in sorted(set(categories) - {REAL}):
        chosen = (categories == category) | (categories == REAL)
        if (categories == REAL).any():
            per_category[category] = detection_metrics(calibrated[chosen], labels[chosen]).auc
    return result, per_category


def run(
    name: str,
    manifest: str | Path | Manifest,
    out_folder: str | Path,
    config: DetectorTrainConfig,
    *,
    holdout: str | None = None,
) -> RunResult:
    """Train on train (minus `holdout`), calibrate on val, score on test; saves result.json."""
    started = time.time()
    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    cache = manifest.root / "crop-cache"
    exclude = (holdout,) if holdout else ()
    train = subset(manifest, "train", exclude=exclude)
    val = subset(manifest, "val", exclude=exclude)
    config.cache_dir = str(cache)
    config.train_split = config.val_split = None
    trained = train_detector(train, val, out_folder, config)
    only = (REAL, holdout) if holdout else None
    test, per_category = score_split(
        out_folder, subset(manifest, "test", only=only), cache_dir=cache
    )
    result = RunResult(
        name=name,
        holdout=holdout,
        test=test,
        val_auc=trained.best_auc,
        temperature=trained.temperature,
        epochs_run=len(trained.history),
        seconds=time.time() - started,
        per_category_auc=per_category,
    )
    Path(out_folder, "result.json").write_text(json.dumps(result.to_json(), indent=2) + "\n")
    return result


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
