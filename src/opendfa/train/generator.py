"""Training of the face VAE (`opendfa.models.generator`) on aligned real-face crops.

The data are the photos gathered by `scripts/gather_real_faces.py`: each is detected once,
aligned with `opendfa.faces.align_face` and cached as one uint8 .npy, so later runs skip the
face detector. The loss is L1 plus a multi-scale gradient term and SSIM (both written here),
plus the KL divergence with a linear warm-up. Augmentation (flips, colour jitter, small affine)
runs on the batch with a seeded torch generator; every random stream is seeded and checkpointed,
so a run resumed from a checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from opendfa.models.generator import FaceVAE, GeneratorConfig, images_to_tensor
from opendfa.safe_files import replacing, write_json_atomic
from opendfa.train import checkpoint as train_state
from opendfa.train.configs import Augmentation, GeneratorTrainConfig
from opendfa.train.loop import Engine, lr_factor, seed_everything

TERMS = ("l1", "gradient", "ssim", "kl")  # loss terms logged per epoch

# ----------------------------------------------------------------------------- data


@dataclass
class FaceCrops:
    """Aligned face crops (uint8 RGB, N x S x S x 3) and what each one is.

    `valid` (uint8 N x S x S, 1 = real pixel) marks where a crop shows the photo; elsewhere
    (past the photo's border, e.g. around the tight LFW faces) align_face repeats edge pixels,
    and the losses ignore those pixels.
    """

    images: np.ndarray
    identities: list[str]
    qualities: list[str]
    sources: list[str]
    margin: float = 0.25
    valid: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.valid is None:
            self.valid = np.ones(self.images.shape[:3], dtype=np.uint8)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def size(self) -> int:
        return int(self.images.shape[1])


def prepare_crops(
    faces_dir: str | Path,
    size: int = 64,
    margin: float = 0.25,
    cache_dir: str | Path | None = None,
    detector=None,
    progress: bool = True,
) -> FaceCrops:
    """Aligned `size` crops of every photo indexed in `faces_dir/faces.json`, cached as .npy.

    The face kept in a photo is the largest one whose centre lies in the middle third (the
    gathered crops are centred on their face). Photos where no face is confirmed are skipped;
    tight crops (the LFW faces) are padded by replication so the detector sees some context.
    """
    faces_dir = Path(faces_dir)
    index_bytes = (faces_dir / "faces.json").read_bytes()
    index = json.loads(index_bytes)
    key = hashlib.sha256(index_bytes + f"{size}/{margin}".encode()).hexdigest()[:12]
    cache_dir = Path(cache_dir) if cache_dir else faces_dir.parent / "aligned-faces"
    stem = cache_dir / f"aligned-{size}-m{margin:g}-{key}"
    files = {name: Path(f"{stem}-{name}.npy") for name in ("images", "valid")}
    meta_path = stem.with_suffix(".json")
    if meta_path.exists() and all(f.exists() for f in files.values()):
        meta = json.loads(meta_path.read_text())
        return FaceCrops(
            images=np.load(files["images"]),
            identities=meta["identities"],
            qualities=meta["qualities"],
            sources=meta["sources"],
            margin=margin,
            valid=np.load(files["valid"]),
        )

    from opendfa.faces import FaceDetector, align_face
    from opendfa.media import load_image

    owned = detector is None
    detector = detector or FaceDetector()
    images, valid, identities, qualities, sources, skipped = [], [], [], [], [], []
    try:
        for entry in tqdm(index["faces"], desc="align", disable=not progress, leave=False):
            rgb = load_image(faces_dir / entry["path"]).rgb
            inside = np.ones(rgb.shape[:2], dtype=np.uint8)
            face = _central_face(detector, rgb)
            if face is None:
                pad = rgb.shape[0] // 2
                rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
                inside = cv2.copyMakeBorder(inside, pad, pad, pad, pad, cv2.BORDER_CONSTANT)
                face = _central_face(detector, rgb)
            if face is None:
                skipped.append(entry["identity"])
                continue
            aligned = align_face(rgb, face, size=size, margin=margin)
            inside = aligned.alignment.warp(inside * 255, border=cv2.BORDER_CONSTANT)
            images.append(aligned.crop)
            valid.append((inside > 250).astype(np.uint8))
            identities.append(entry["identity"])
            qualities.append(entry.get("quality", "unknown"))
            sources.append(entry.get("source", "unknown"))
    finally:
        if owned:
            detector.close()
    if not images:
        raise ValueError(f"no face could be aligned in {faces_dir}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    array, valid_array = np.stack(images).astype(np.uint8), np.stack(valid)
    for name, values in (("images", array), ("valid", valid_array)):
        with replacing(files[name]) as temporary:
            np.save(temporary, values)
    meta = {
        "identities": identities,
        "qualities": qualities,
        "sources": sources,
        "skipped": skipped,
        "size": size,
        "margin": margin,
    }
    write_json_atomic(meta_path, meta)  # last: the cache is complete once it exists
    return FaceCrops(array, identities, qualities, sources, margin, valid_array)


def _central_face(detector, rgb: np.ndarray):
    height, width = rgb.shape[:2]
    central = [
        face
        for face in detector.detect(rgb)
        if width / 3 <= (face.box[0] + face.box[2]) / 2 <= 2 * width / 3
        and height / 3 <= (face.box[1] + face.box[3]) / 2 <= 2 * height / 3
    ]
    return max(central, key=lambda f: f.area, default=None)


# ----------------------------------------------------------------------------- losses


def masked_l1(x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error over the pixels where `weight` (N, 1, H, W) is positive."""
    error = (x - y).abs()
    if weight is None:
        return error.mean()
    return (error * weight).sum() / (weight.sum() * x.shape[1]).clamp_min(1.0)


def gradient_loss(
    x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor | None = None, scales: int = 3
) -> torch.Tensor:
    """L1 between horizontal and vertical image gradients at `scales` octaves (edges, texture)."""
    if weight is None:
        weight = x.new_ones((x.shape[0], 1, *x.shape[2:]))
    total = x.new_zeros(())
    for level in range(scales):
        if level:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
            weight = -F.max_pool2d(-weight, 2)  # valid only if all four pixels are
        dx = (x[..., :, 1:] - x[..., :, :-1]) - (y[..., :, 1:] - y[..., :, :-1])
        dy = (x[..., 1:, :] - x[..., :-1, :]) - (y[..., 1:, :] - y[..., :-1, :])
        wx = weight[..., :, 1:] * weight[..., :, :-1]
        wy = weight[..., 1:, :] * weight[..., :-1, :]
        total = total + masked_l1(dx, 0 * dx, wx) + masked_l1(dy, 0 * dy, wy)
    return total / scales


def ssim(
    x: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor | None = None,
    window: int = 7,
    sigma: float = 1.5,
) -> torch.Tensor:
    """Mean structural similarity of images in [0, 1] (Gaussian window, per channel).

    With `weight`, only windows lying wholly on weighted pixels count.
    """
    coords = torch.arange(window, dtype=x.dtype, device=x.device) - (window - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    g = g / g.sum()
    channels = x.shape[1]
    kernel = (g[:, None] * g[None, :]).expand(channels, 1, window, window).contiguous()

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    value = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    )
    if weight is None:
        return value.mean()
    inside = -F.max_pool2d(-weight, window, stride=1)
    return (value * inside).sum() / (inside.sum() * channels).clamp_min(1.0)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(q(z|x) || N(0, I)) in nats, summed over latent dimensions, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(dim=1)).mean()


# ----------------------------------------------------------------------------- augmentation


def augment(
    x: torch.Tensor, valid: torch.Tensor, aug: Augmentation, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Random flip, small rotation/scale/shift and colour jitter of a batch in [0, 1].

    `valid` (N, 1, H, W) follows the geometry; pixels brought in from outside the crop (filled
    by reflection) become invalid.
    """
    n = x.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    flip = (torch.rand(n, generator=generator) < aug.flip)[:, None, None, None]
    x, valid = torch.where(flip, x.flip(3), x), torch.where(flip, valid.flip(3), valid)
    angle = uniform(-aug.rotation_deg, aug.rotation_deg) * math.pi / 180
    scale = uniform(1 - aug.scale, 1 + aug.scale)
    shift = uniform(-aug.shift, aug.shift), uniform(-aug.shift, aug.shift)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin, 2 * shift[0]], dim=1),
            torch.stack([sin, cos, 2 * shift[1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    valid = F.grid_sample(valid, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    valid = (valid > 0.99).to(x.dtype)
    brightness = uniform(1 - aug.brightness, 1 + aug.brightness)[:, None, None, None]
    contrast = uniform(1 - aug.contrast, 1 + aug.contrast)[:, None, None, None]
    saturation = uniform(1 - aug.saturation, 1 + aug.saturation)[:, None, None, None]
    grey = (0.299 * x[:, :1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    x = grey + (x - grey) * saturation
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    return (x * brightness).clamp(0, 1), valid


# ----------------------------------------------------------------------------- training


@dataclass
class GeneratorTrainResult:
    model: FaceVAE
    history: list[dict[str, float]]
    seconds: float  # training time of all runs that led here, resumed ones included
    resumed_from: int = 0

    @property
    def final(self) -> dict[str, float]:
        return self.history[-1] if self.history else {}


def train_generator(
    crops: FaceCrops,
    config: GeneratorTrainConfig | None = None,
    model_config: GeneratorConfig | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    stop_after: int | None = None,
) -> GeneratorTrainResult:
    """Train a VAE on `crops`; with `checkpoint`, save there regularly and resume from it.

    `stop_after` ends this run after that many epochs in all (the schedule still spans
    `config.epochs`), checkpointing first, so a long training can run in time-boxed pieces.
    Runs on the one training engine (`opendfa.train.loop`): with several processes each takes
    its share of every batch.
    """
    config = config or GeneratorTrainConfig()
    model_config = model_config or GeneratorConfig(image_size=crops.size, margin=crops.margin)
    if model_config.image_size != crops.size:
        raise ValueError(
            f"crops are {crops.size} px but the model expects {model_config.image_size}"
        )
    if config.threads:
        torch.set_num_threads(config.threads)
    engine = Engine(device=config.device, progress=progress)
    seed_everything(config.seed)
    model = FaceVAE(model_config).to(engine.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    sampler = torch.Generator().manual_seed(config.seed + 1)
    data = images_to_tensor(crops.images)
    masks = torch.from_numpy(crops.valid).float()[:, None]
    weights = torch.tensor(
        [config.low_quality_weight if q == "low" else 1.0 for q in crops.qualities]
    )
    history: list[dict[str, float]] = []
    start_epoch = 0
    if checkpoint is not None and resume and train_state.exists(checkpoint):
        start_epoch, history = _resume(checkpoint, model, optimizer, sampler)
    trained = engine.prepare_model(model)

    # Each epoch draws round(sum(weights)) distinct crops, low-weight ones less often (drawing
    # with replacement instead repeats crops within a batch and trains markedly slower).
    epoch_size = max(1, min(len(data), round(float(weights.sum()))))
    steps_per_epoch = max(1, math.ceil(epoch_size / config.batch_size))
    started = time.perf_counter() - (history[-1].get("seconds", 0.0) if history else 0.0)
    end_epoch = config.epochs if stop_after is None else min(stop_after, config.epochs)
    bar = engine.bar(
        range(start_epoch, end_epoch), desc="generator", initial=start_epoch, total=config.epochs
    )
    schedule = {"min_lr_fraction": config.lr_final / config.lr}
    trained.train()
    for epoch in bar:
        lr = config.lr * lr_factor(epoch, config.epochs - 1, **schedule)
        for group in optimizer.param_groups:
            group["lr"] = lr
        beta = config.kl_weight * min(1.0, (epoch + 1) / max(1, config.kl_warmup_epochs))
        order = torch.multinomial(weights, epoch_size, replacement=False, generator=sampler)

        def one_batch(step: int, order: torch.Tensor = order, beta: float = beta) -> dict:
            chosen = order[step * config.batch_size : (step + 1) * config.batch_size]
            batch, valid = data[chosen], masks[chosen]
            if config.augmentation is not None:
                batch, valid = augment(batch, valid, config.augmentation, sampler)
            batch, valid = engine.shard(batch), engine.shard(valid)  # same draws everywhere
            terms = _loss_terms(trained, batch.to(engine.device), valid.to(engine.device))
            loss = (
                terms["l1"]
                + config.gradient_weight * terms["gradient"]
                + config.ssim_weight * (1 - terms["ssim"])
                + beta * terms["kl"] / batch[0].numel()
            )
            optimizer.zero_grad(set_to_none=True)
            engine.backward(loss)
            optimizer.step()
            return {"loss": loss.item(), **{name: terms[name].item() for name in TERMS}}

        means = engine.run_epoch(range(steps_per_epoch), one_batch, show="loss", desc="steps")
        record = {k: round(means[k], 6) for k in ("loss", *TERMS)}
        seconds = round(time.perf_counter() - started, 2)  # all runs so far
        record.update(epoch=epoch + 1, beta=round(beta, 6), lr=round(lr, 7), seconds=seconds)
        history.append(record)
        bar.set_postfix(l1=f"{record['l1']:.4f}", kl=f"{record['kl']:.1f}")
        last = epoch + 1 == end_epoch
        if checkpoint is not None and ((epoch + 1) % config.checkpoint_every == 0 or last):
            if engine.is_main:
                _save(checkpoint, model, optimizer, sampler, epoch + 1, history, config)
            engine.wait()
    model.eval()
    if len(history) == config.epochs and config.prior_copies > 0:
        fit_sampling_prior(model, crops, config, seed=config.seed + 2)
    return GeneratorTrainResult(model, history, time.perf_counter() - started, start_epoch)


@torch.no_grad()
def fit_sampling_prior(
    model: FaceVAE, crops: FaceCrops, config: GeneratorTrainConfig, seed: int = 0
) -> None:
    """Fit the model's sampling prior to the posterior means of the crops and augmented copies."""
    model.eval()
    data = images_to_tensor(crops.images)
    masks = torch.from_numpy(crops.valid).float()[:, None]
    generator = torch.Generator().manual_seed(seed)
    codes = [model.encode(data)[0]]
    for _ in range(config.prior_copies):
        augmented, _ = augment(data, masks, config.augmentation or Augmentation(), generator)
        codes.append(model.encode(augmented)[0])
    low = config.prior_low_quality_weight
    weights = torch.tensor(
        [low if q == "low" else 1.0 for q in crops.qualities], dtype=torch.float64
    )
    copies = len(codes)
    model.fit_prior(torch.cat(codes), weights.repeat(copies), shrinkage=config.prior_shrinkage)


def _loss_terms(
    model: FaceVAE, batch: torch.Tensor, valid: torch.Tensor
) -> dict[str, torch.Tensor]:
    recon, mu, logvar = model(batch)
    return {
        "l1": masked_l1(recon, batch, valid),
        "gradient": gradient_loss(recon, batch, valid),
        "ssim": ssim(recon, batch, valid),
        "kl": kl_divergence(mu, logvar),
    }


@torch.no_grad()
def evaluate_generator(
    model: FaceVAE, crops: FaceCrops, samples: int = 64, seed: int = 0
) -> dict[str, float]:
    """Reconstruction quality through the posterior mean, and how samples relate to the data.

    `sample_nearest_l1` is the mean L1 from each prior sample to its closest training crop and
    `data_nearest_l1` the same between distinct training crops: samples much closer to the
    data than the data are to each other would mean the model copies its training faces.
    """
    model.eval()
    data = images_to_tensor(crops.images)
    valid = torch.from_numpy(crops.valid).float()[:, None]
    recon = model.reconstruct(data)
    drawn = model.sample(samples, np.random.default_rng(seed))
    to_data = (drawn[:, None] - data[None]).abs().mean(dim=(2, 3, 4))
    between = (data[:, None] - data[None]).abs().mean(dim=(2, 3, 4))
    between.fill_diagonal_(float("inf"))
    spread = (drawn[:, None] - drawn[None]).abs().mean(dim=(2, 3, 4))
    pairs = samples * (samples - 1)
    mse = ((recon - data) ** 2 * valid).sum() / (valid.sum() * 3)
    return {
        "recon_l1": round(float(masked_l1(recon, data, valid)), 5),
        "recon_ssim": round(float(ssim(recon, data, valid)), 5),
        "recon_psnr_db": round(float(-10 * torch.log10(mse)), 3),
        "sample_nearest_l1": round(float(to_data.min(dim=1).values.mean()), 5),
        "data_nearest_l1": round(float(between.min(dim=1).values.mean()), 5),
        "sample_pairwise_l1": round(float(spread.sum() / max(1, pairs)), 5),
    }


# ----------------------------------------------------------------------------- checkpoints


def _save(
    path: str | Path,
    model: FaceVAE,
    optimizer: torch.optim.Optimizer,
    sampler: torch.Generator,
    epoch: int,
    history: list[dict[str, float]],
    config: GeneratorTrainConfig,
) -> Path:
    """Weights, Adam moments and RNG states in the one training state (`train.checkpoint`)."""
    info = {
        "epoch": epoch,
        "model_config": asdict(model.config),
        "train_config": asdict(config),
        "history": history,
    }
    rng = {"rng.torch": torch.get_rng_state(), "rng.sampler": sampler.get_state()}
    return train_state.save_state(path, model, optimizer, info, extra=rng)


def _resume(
    path: str | Path,
    model: FaceVAE,
    optimizer: torch.optim.Optimizer,
    sampler: torch.Generator,
) -> tuple[int, list[dict[str, Any]]]:
    """Restore what `_save` wrote; returns (epochs done, history)."""
    if train_state.read_info(path)["model_config"] != asdict(model.config):
        raise ValueError(f"checkpoint {path} is for another model config")
    info, extra = train_state.load_state(path, model, optimizer)
    torch.set_rng_state(extra["rng.torch"])
    sampler.set_state(extra["rng.sampler"])
    return int(info["epoch"]), list(info["history"])
