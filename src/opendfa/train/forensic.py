"""Training the pixel-level forensic stream (`opendfa.models.forensic`) on patches.

One forged face gives hundreds of patches, each labelled pixel by pixel by the forge's honest
mask; real faces give patches labelled zero everywhere. That is what makes a network that
sees local edits trainable on two CPU cores. Patches are cut on the stored image's own pixel
grid (no resize: resampling is what erases the traces); the only augmentations are a mirror
and, for robustness to innocent processing, a JPEG re-save of the whole patch that leaves the
label as it is (a re-saved real must stay real).

Resumable: the state (weights, optimizer, step, the patch sampler's seed) is saved every
`save_every` steps under `out/state`, and a rerun with the same `out` continues from it.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from opendfa.data.manifest import Manifest, read_manifest
from opendfa.data.sample import Sample, load_flow
from opendfa.models.forensic import ForensicConfig, ForensicNet, save_forensic
from opendfa.train import checkpoint
from opendfa.train.loop import Engine, lr_factor, seed_everything


@dataclass
class ForensicTrainConfig:
    manifest: str = ""
    out: str = "runs/forensic"
    steps: int = 6000
    batch_size: int = 32
    patch: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 100
    positive_share: float = 0.5  # of fake patches, centred on a manipulated pixel
    jpeg_probability: float = 0.3  # a patch is re-saved as JPEG (quality 70-98), label kept
    # A patch goes through innocent processing (blur, down-and-up resize, denoise), label
    # kept, on reals and fakes alike, so that lost texture is not a cue of "real" (the first
    # model, trained without it, scored blurred fakes below reals: forensic_stream.md).
    benign_probability: float = 0.0
    # Weight of the flow head's loss (smooth L1, px) where the flow is known: reals (zero),
    # and forgeries whose warp the forge recorded; 0 leaves the head untrained.
    flow_weight: float = 1.0
    categories: tuple[str, ...] = ("face_editing", "face_reenactment", "face_swap")
    max_images: int = 4000  # images held in memory (uint8)
    save_every: int = 200
    seed: int = 0
    model: ForensicConfig = field(default_factory=ForensicConfig)


@dataclass
class PatchPool:
    """Training images and their masks in memory, and where their manipulated pixels are."""

    images: list[np.ndarray]
    masks: list[np.ndarray]  # uint8 0-255, same size as the image
    positives: list[np.ndarray]  # (K, 2) row/col of pixels with mask >= 128
    fake: np.ndarray  # bool per image
    # Backward flow (H, W, 2) float16 in px where known: zeros for reals, the forge's record
    # for warped forgeries, None where unknown (e.g. a swap: no displacement of the target).
    flows: list[np.ndarray | None] = field(default_factory=list)

    @classmethod
    def from_samples(
        cls, samples: list[Sample], manifest: Manifest, categories: tuple[str, ...], limit: int
    ) -> PatchPool:
        images, masks, positives, fake, flows = [], [], [], [], []
        for sample in samples[:limit]:
            if sample.label == "fake" and sample.category not in categories:
                continue
            loaded = _read_pair(sample, manifest)
            if loaded is None:
                continue
            rgb, mask = loaded
            if sample.label == "fake" and mask.max() < 128:
                continue  # a fake whose mask marks nothing teaches nothing pixel-wise
            images.append(rgb)
            masks.append(mask)
            rows, cols = np.nonzero(mask >= 128)
            step = max(1, rows.size // 2000)  # a thinned list is enough to draw centres
            positives.append(np.stack([rows[::step], cols[::step]], axis=1))
            fake.append(sample.label == "fake")
            flows.append(_flow_of(sample, manifest, rgb.shape[:2]))
        if not images or not any(fake) or all(fake):
            raise ValueError("training needs both real and fake images with masks")
        return cls(images, masks, positives, np.array(fake), flows)

    def draw(
        self, rng: np.random.Generator, count: int, config: ForensicTrainConfig
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch: half real, half fake images; patches (N, 3, P, P) and labels (N, 1, P, P)."""
        pixels, labels, _, _ = self.draw_with_flow(rng, count, config)
        return pixels, labels

    def draw_with_flow(
        self, rng: np.random.Generator, count: int, config: ForensicTrainConfig
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """`draw`, plus each patch's flow target (N, 2, P, P) in px and whether it is known
        (N,) float: a mirrored patch's dx changes sign; innocent processing keeps geometry."""
        side = config.patch
        reals, fakes = np.nonzero(~self.fake)[0], np.nonzero(self.fake)[0]
        pixels = np.zeros((count, side, side, 3), np.uint8)
        labels = np.zeros((count, side, side), np.float32)
        targets = np.zeros((count, side, side, 2), np.float32)
        known = np.zeros(count, np.float32)
        for i in range(count):
            index = int(rng.choice(fakes if i % 2 else reals))
            image, mask = self.images[index], self.masks[index]
            height, width = mask.shape
            if self.fake[index] and rng.random() < config.positive_share:
                row, col = self.positives[index][rng.integers(len(self.positives[index]))]
                y0 = int(
                    np.clip(
                        row - side // 2 + rng.integers(-side // 4, side // 4 + 1), 0, height - side
                    )
                )
                x0 = int(
                    np.clip(
                        col - side // 2 + rng.integers(-side // 4, side // 4 + 1), 0, width - side
                    )
                )
            else:
                y0, x0 = (
                    int(rng.integers(0, height - side + 1)),
                    int(rng.integers(0, width - side + 1)),
                )
            patch = image[y0 : y0 + side, x0 : x0 + side]
            label = mask[y0 : y0 + side, x0 : x0 + side].astype(np.float32) / 255.0
            flow = self._flow_patch(index, y0, x0, side)
            if rng.random() < 0.5:
                patch, label = patch[:, ::-1], label[:, ::-1]
                if flow is not None:
                    flow = flow[:, ::-1] * np.array([-1.0, 1.0], np.float32)
            if rng.random() < config.benign_probability:
                patch = benign(patch, rng)
            if rng.random() < config.jpeg_probability:
                patch = _jpeg(patch, int(rng.integers(70, 99)))
            pixels[i], labels[i] = patch, label
            if flow is not None:
                targets[i], known[i] = flow, 1.0
        return (
            torch.from_numpy(pixels).permute(0, 3, 1, 2).float(),
            torch.from_numpy(labels)[:, None],
            torch.from_numpy(targets).permute(0, 3, 1, 2).contiguous(),
            torch.from_numpy(known),
        )

    def _flow_patch(self, index: int, y0: int, x0: int, side: int) -> np.ndarray | None:
        flows = self.flows[index] if index < len(self.flows) else None
        if flows is None:
            return None
        return flows[y0 : y0 + side, x0 : x0 + side].astype(np.float32)


BENIGN = ("blur", "resize", "denoise")


def benign(rgb: np.ndarray, rng: np.random.Generator, name: str | None = None) -> np.ndarray:
    """One innocent operation on a patch, at its own size: a mild Gaussian blur, a downscale
    and upscale back (scale 0.5-0.9), or a median denoise."""
    name = name or str(rng.choice(BENIGN))
    rgb = np.ascontiguousarray(rgb)
    if name == "blur":
        return cv2.GaussianBlur(rgb, (0, 0), float(rng.uniform(0.4, 1.2)))
    if name == "resize":
        height, width = rgb.shape[:2]
        scale = float(rng.uniform(0.5, 0.9))
        small = (max(1, round(width * scale)), max(1, round(height * scale)))
        down = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
        return cv2.resize(down, (width, height), interpolation=cv2.INTER_LINEAR)
    if name == "denoise":
        return cv2.medianBlur(rgb, 3)
    raise ValueError(f"unknown benign operation {name!r}")


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else rgb


def _flow_of(sample: Sample, manifest: Manifest, shape: tuple[int, int]) -> np.ndarray | None:
    """The flow target of a sample: zeros for a real (nothing moved), the recorded flow of a
    warped forgery, None otherwise (unknown: a swap's or a synthesis' pixels are not the
    target's moved)."""
    if sample.label == "real":
        return np.zeros((*shape, 2), np.float16)
    try:
        flow = load_flow(sample, manifest.root)
    except (OSError, ValueError):
        return None
    if flow is None or flow.shape[:2] != shape:
        return None
    return flow.astype(np.float16)


def _read_pair(sample: Sample, manifest: Manifest) -> tuple[np.ndarray, np.ndarray] | None:
    """RGB uint8 and mask uint8 of a sample at the image's own size; None if unreadable."""
    bgr = cv2.imread(str(manifest.resolve(sample.path)), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    mask = np.zeros(rgb.shape[:2], np.uint8)
    if sample.label == "fake":
        if not sample.mask_path:
            return None
        read = cv2.imread(str(manifest.resolve(sample.mask_path)), cv2.IMREAD_GRAYSCALE)
        if read is None or read.shape != mask.shape:
            return None
        mask = read
    return rgb, mask


def train_forensic(config: ForensicTrainConfig, *, progress: bool = True) -> Path:
    """Train (or resume) and write the model folder `out/model`; returns it."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(config.seed)
    manifest = read_manifest(config.manifest)
    samples = [s for s in manifest.samples if s.split == "train"]
    rng = np.random.default_rng(config.seed)
    rng.shuffle(samples)
    pool = PatchPool.from_samples(samples, manifest, config.categories, config.max_images)
    engine = Engine(log_path=out / "log.jsonl", progress=progress)
    model = ForensicNet(config.model)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    start = _resume(out / "state", model, optimizer)
    rng = np.random.default_rng([config.seed, start])  # the same draws after a resume
    model = engine.prepare_model(model)
    model.train()
    mark, seen = time.perf_counter(), 0
    for step in range(start, config.steps):
        for group in optimizer.param_groups:
            group["lr"] = config.lr * lr_factor(
                step, config.steps, warmup_steps=config.warmup, min_lr_fraction=0.05
            )
        pixels, labels, flow_targets, known = pool.draw_with_flow(rng, config.batch_size, config)
        logits, flow = model(pixels, with_flow=True)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        if flow is not None and config.flow_weight > 0 and known.any():
            loss = loss + config.flow_weight * flow_loss(flow, flow_targets, known)
        optimizer.zero_grad(set_to_none=True)
        engine.backward(loss)
        optimizer.step()
        seen += len(pixels)
        if (step + 1) % 20 == 0:
            rate = seen / (time.perf_counter() - mark)
            engine.log(
                {
                    "step": step + 1,
                    "loss": round(float(loss.detach()), 5),
                    "patches_per_s": round(rate, 1),
                }
            )
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            _save(out / "state", engine.unwrap(model), optimizer, step + 1, config)
    final = engine.unwrap(model)
    training = {**_plain(asdict(config)), "images": len(pool.images), "fakes": int(pool.fake.sum())}
    return save_forensic(final, out / "model", name="opendfa-forensic0", training=training)


def flow_loss(predicted: torch.Tensor, target: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Smooth L1 (px) between predicted and recorded flows, over the patches whose flow is
    known (`known` (N,) of 0/1)."""
    per_pixel = F.smooth_l1_loss(predicted, target, reduction="none", beta=0.5).mean(dim=(1, 2, 3))
    return (per_pixel * known).sum() / known.sum().clamp(min=1.0)


def end_point_error(predicted: np.ndarray, target: np.ndarray, where: np.ndarray) -> float:
    """Mean Euclidean distance (px) between two (H, W, 2) flows over the pixels of `where`."""
    distance = np.linalg.norm(predicted.astype(np.float32) - target.astype(np.float32), axis=2)
    return float(distance[where].mean()) if where.any() else 0.0


def _resume(stem: Path, model: ForensicNet, optimizer: torch.optim.Optimizer) -> int:
    if not checkpoint.exists(stem):
        return 0
    info, _ = checkpoint.load_state(stem, model, optimizer)
    return int(info.get("step", 0))


def _save(stem: Path, model: ForensicNet, optimizer: Any, step: int, config: ForensicTrainConfig):
    checkpoint.save_state(stem, model, optimizer, {"step": step, "config": _plain(asdict(config))})


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
