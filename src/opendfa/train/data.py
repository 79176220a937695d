"""Training and evaluation items for the detector: aligned crops, online SBI, flips, targets.

Crops come from `opendfa.data.FaceForgeryDataset` (aligned once and cached as .npz). Each
epoch has a plan: every sample once, plus, for each real with probability `sbi_prob`, an extra
self-blended fake of it (SBI adds fakes; it never removes reals), in a seeded random order.
Every random choice of an item is drawn from a generator seeded by (seed, epoch, position),
so an epoch is the same whatever the number of DataLoader workers and after a resume.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from opendfa.data.dataset import CropConfig, FaceForgeryDataset
from opendfa.data.manifest import Manifest, read_manifest
from opendfa.taxonomy import CATEGORIES, FACE_SWAP
from opendfa.train.augment import benign_process, crop_self_blend, flip_crop, native_scale
from opendfa.train.losses import DetectorTargets


def load_crops(
    manifest: str | Path | Manifest,
    split: str | None,
    *,
    size: int,
    margin: float,
    cache_dir: str | Path | None = None,
) -> FaceForgeryDataset:
    """Aligned crops of a manifest's samples (one split or all), cached as .npz files
    (by default in `crop-cache/` beside the manifest)."""
    manifest = manifest if isinstance(manifest, Manifest) else read_manifest(manifest)
    cache = Path(cache_dir) if cache_dir else manifest.root / "crop-cache"
    crops = FaceForgeryDataset(
        manifest, split=split, crop=CropConfig(size=size, margin=margin), cache_dir=cache
    )
    if len(crops) == 0:
        where = f" (split {split!r})" if split else ""
        raise ValueError(f"no samples in {manifest.root}{where}")
    return crops


def make_loader(
    items: Dataset, batch_size: int, num_workers: int = 0, *, train: bool = False
) -> DataLoader:
    """Batches in the items' own order (a training plan is already shuffled, seeded)."""
    return DataLoader(
        items,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        drop_last=train and len(items) > batch_size,
    )


def batch_targets(
    batch: dict[str, torch.Tensor], device: torch.device, class_weight: tuple[float, float]
) -> tuple[torch.Tensor, DetectorTargets]:
    """Float images in [0, 1] on `device` and the targets of a collated batch of items."""
    images = batch["image"].to(device).float() / 255.0
    label = batch["label"].to(device)
    targets = DetectorTargets(
        label=label,
        category=batch["category"].to(device),
        mask=batch["mask"].to(device).float() / 255.0,
        region=batch["region"].to(device),
        has_mask=batch["has_mask"].to(device),
        has_regions=batch["has_regions"].to(device),
        weight=torch.where(label > 0.5, class_weight[1], class_weight[0]),
        group=batch["group"].to(device) if "group" in batch else None,
    )
    return images, targets


def class_weights(labels: np.ndarray, balance: bool = True) -> tuple[float, float]:
    """(real, fake) BCE weights making both classes count equally (1, 1 without balancing)."""
    fakes = float(labels.sum())
    reals = float(len(labels) - fakes)
    if not balance or fakes == 0 or reals == 0:
        return 1.0, 1.0
    return len(labels) / (2 * reals), len(labels) / (2 * fakes)


class DetectorItems(Dataset):
    """Items: image uint8 (3,S,S), mask uint8 (1,S,S), region coverage (12,), label,
    category, has_mask, has_regions. With `augment`, flips, the epoch's SBI extras and benign
    processing (`benign_prob`)."""

    def __init__(
        self,
        crops: FaceForgeryDataset,
        *,
        augment: bool = False,
        sbi_prob: float = 0.0,
        flip_prob: float = 0.5,
        benign_prob: float = 0.0,
        pair_origins: bool = False,
        seed: int = 0,
    ) -> None:
        self.crops = crops
        self.augment = augment
        self.sbi_prob = sbi_prob if augment else 0.0
        self.flip_prob = flip_prob if augment else 0.0
        self.benign_prob = benign_prob if augment else 0.0
        self.pair_origins = pair_origins and augment
        self.seed = seed
        self.labels = np.array([s.label == "fake" for s in crops.samples], dtype=bool)
        self.groups = source_groups(crops.samples)
        self.epoch = 0
        self.plan: list[tuple[int, bool]] = [(i, False) for i in range(len(crops))]

    def set_epoch(self, epoch: int) -> None:
        """Draw this epoch's plan (order and SBI extras)."""
        self.epoch = epoch
        if not self.augment:
            self.plan = [(i, False) for i in range(len(self.crops))]
            return
        rng = np.random.default_rng([self.seed, epoch, 0x5B1])
        plan = [(i, False) for i in range(len(self.crops))]
        reals = np.nonzero(~self.labels)[0]
        plan += [(int(i), True) for i in reals if rng.random() < self.sbi_prob]
        order = rng.permutation(len(plan))
        self.plan = [plan[k] for k in order]
        if self.pair_origins:
            self.plan = self._grouped(self.plan, rng)

    def _grouped(self, plan: list[tuple[int, bool]], rng: np.random.Generator):
        """The plan with each source photo's items side by side, the groups in random order
        (within a group, the plan's own random order)."""
        members: dict[int, list[tuple[int, bool]]] = {}
        for item in plan:
            members.setdefault(int(self.groups[item[0]]), []).append(item)
        keys = list(members)
        return [item for k in rng.permutation(len(keys)) for item in members[keys[k]]]

    def plan_labels(self) -> np.ndarray:
        """1 for a fake, 0 for a real, per position of the current plan."""
        return np.array([sbi or self.labels[i] for i, sbi in self.plan], dtype=np.float32)

    def __len__(self) -> int:
        return len(self.plan)

    def __getitem__(self, position: int) -> dict[str, torch.Tensor]:
        index, sbi = self.plan[position]
        sample = self.crops.samples[index]
        crop = self.crops.load_crop(sample)
        image, regions = crop.image, crop.regions
        mask = crop.mask.astype(np.float32) / 255.0
        label, category = float(sample.label == "fake"), CATEGORIES.index(sample.category)
        has_mask = sample.label == "real" or sample.mask_path is not None
        rng = np.random.default_rng([self.seed, self.epoch, position, index])
        if sbi:
            image, mask = crop_self_blend(image, regions, rng)
            label, category, has_mask = 1.0, CATEGORIES.index(FACE_SWAP), True
        if self.benign_prob and rng.random() < self.benign_prob:
            # Label and mask kept: innocent processing, at the face's own resolution.
            image = benign_process(image, rng, scale=crop_native_scale(sample, regions))
        if rng.random() < self.flip_prob:
            image, mask, regions = flip_crop(image, mask, regions)
        has_regions = not bool(regions.all())  # all-ones regions: the crop had no landmarks
        area = regions.reshape(len(regions), -1).sum(1).astype(np.float32)
        inside = (regions.reshape(len(regions), -1) * mask.reshape(1, -1)).sum(1)
        coverage = np.where(area > 0, inside / np.maximum(area, 1.0), 0.0).astype(np.float32)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1),
            "mask": torch.from_numpy(np.round(mask * 255).astype(np.uint8))[None],
            "region": torch.from_numpy(coverage),
            "label": torch.tensor(label, dtype=torch.float32),
            "category": torch.tensor(category, dtype=torch.long),
            "has_mask": torch.tensor(has_mask),
            "has_regions": torch.tensor(has_regions),
            "group": torch.tensor(int(self.groups[index]), dtype=torch.long),
        }


def face_width(sample) -> float | None:
    """The face's width in its source photo (`meta["face_box"]`, x0 y0 x1 y1), if recorded."""
    box = (sample.meta or {}).get("face_box")
    if not box or len(box) != 4:
        return None
    return float(box[2]) - float(box[0])


def crop_native_scale(sample, regions: np.ndarray) -> float:
    """Source pixels per crop pixel for this sample's crop (`augment.native_scale`)."""
    return native_scale(face_width(sample), regions)


def source_groups(samples) -> np.ndarray:
    """One integer per sample naming its source photo (`meta["origin"]`: a real and the
    forgeries made from it share one); a sample without an origin is a group of its own."""
    ids: dict[str, int] = {}
    groups = np.zeros(len(samples), dtype=np.int64)
    for i, sample in enumerate(samples):
        origin = (sample.meta or {}).get("origin") or f"sample:{sample.id}"
        groups[i] = ids.setdefault(str(origin), len(ids))
    return groups
