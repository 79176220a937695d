"""The multi-task deepfake detector: real/fake, forgery family, where, and a metric embedding.

One backbone (see `opendfa.models.backbones`) feeds five heads:

| output | shape | meaning |
| --- | --- | --- |
| `logit` | (B,) | real/fake; `sigmoid(logit / temperature)` is the calibrated P(fake) |
| `category_logits` | (B, 5) | over `taxonomy.CATEGORIES` (real first) |
| `mask_logits` | (B, 1, m, m) | low-resolution manipulation mask (stride-8 + stride-32 maps) |
| `region_logits` | (B, 12) | how much of each `REGION_NAMES` region was manipulated |
| `embedding` | (B, D) | L2-normalised, for contrastive metric learning |
| `boundary_logits` | (B, 1, m, m) or None | Face X-ray style blending boundary, 4·M·(1−M) |

Two options generalise beyond the forgeries seen in training (issue 14's recipe): the
boundary head (`boundary_head`), which asks *where two images were joined* rather than what a
given method's output looks like (Li et al., Face X-ray), and mirror test-time averaging
(`flip_tta`), which averages the crop and its mirror image (left/right regions swapped back).

Inputs are aligned crops (`opendfa.faces.align_face` with `crop_margin`) as float images in
[0, 1]; the backbone's normalisation happens inside, so training and inference cannot disagree.

A saved detector is a folder: `model.safetensors` (weights) and `config.json` (architecture,
temperature, metrics, training facts). Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from opendfa.faces.regions import REGION_NAMES
from opendfa.models.backbones import create_backbone
from opendfa.taxonomy import CATEGORIES

FORMAT = "opendfa.detector/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL = "opendfa-lite0"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class DetectorConfig:
    backbone: str = "efficientnet_lite0"
    input_size: int = 224
    crop_margin: float = 0.25  # the align_face margin of the crops it reads
    mask_size: int = 28
    embedding_dim: int = 128
    dropout: float = 0.2
    mask_channels: int = 64
    boundary_head: bool = False  # a second mask channel: the blending boundary 4·M·(1−M)
    flip_tta: bool = False  # average each crop's outputs with its mirror image's

    def __post_init__(self) -> None:
        if self.input_size < 32 or self.input_size % 32:
            raise ValueError(f"input_size must be a multiple of 32, at least 32: {self.input_size}")
        if not 0.0 <= self.crop_margin < 2.0:
            raise ValueError(f"crop_margin must be in [0, 2): {self.crop_margin}")
        if self.mask_size < 4 or self.embedding_dim < 2 or not 0.0 <= self.dropout < 1.0:
            raise ValueError("mask_size >= 4, embedding_dim >= 2 and dropout in [0, 1) required")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DetectorConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class DetectorOutputs:
    logit: torch.Tensor
    category_logits: torch.Tensor
    mask_logits: torch.Tensor
    region_logits: torch.Tensor
    embedding: torch.Tensor
    boundary_logits: torch.Tensor | None = None

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> DetectorOutputs:
        """The same outputs with `fn` applied to every tensor (None stays None)."""
        return DetectorOutputs(
            *(None if (value := getattr(self, f.name)) is None else fn(value) for f in fields(self))
        )


class MultiTaskDetector(nn.Module):
    """Backbone + heads; `forward(images in [0, 1]) -> DetectorOutputs`."""

    def __init__(self, config: DetectorConfig | None = None, *, pretrained: bool = True) -> None:
        super().__init__()
        self.config = config = config or DetectorConfig()
        self.backbone = create_backbone(config.backbone, pretrained=pretrained)
        channels, skip = self.backbone.out_channels, self.backbone.skip_channels
        mean = torch.tensor(self.backbone.mean).view(1, 3, 1, 1)
        std = torch.tensor(self.backbone.std).view(1, 3, 1, 1)
        self.register_buffer("mean", mean, persistent=False)
        self.register_buffer("std", std, persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.fake_head = nn.Linear(channels, 1)
        self.category_head = nn.Linear(channels, len(CATEGORIES))
        self.region_head = nn.Linear(channels, len(REGION_NAMES))
        self.embedding_head = nn.Sequential(
            nn.Linear(channels, 256), nn.ReLU(inplace=True), nn.Linear(256, config.embedding_dim)
        )
        width = config.mask_channels
        self.mask_top = nn.Conv2d(channels, width, 1)
        self.mask_skip = nn.Conv2d(skip, width, 1)
        self.mask_head = nn.Sequential(
            nn.Conv2d(width, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 if config.boundary_head else 1, 1),
        )

    def forward(self, images: torch.Tensor) -> DetectorOutputs:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected images (B, 3, S, S), got {tuple(images.shape)}")
        skip, top = self.backbone.features((images - self.mean) / self.std)
        pooled = self.dropout(top.mean((2, 3)))
        fused = self.mask_skip(skip) + F.interpolate(
            self.mask_top(top), size=skip.shape[-2:], mode="bilinear", align_corners=False
        )
        mask = self.mask_head(F.relu(fused))
        size = self.config.mask_size
        if mask.shape[-1] != size or mask.shape[-2] != size:
            mask = F.interpolate(mask, size=(size, size), mode="bilinear", align_corners=False)
        return DetectorOutputs(
            logit=self.fake_head(pooled).squeeze(1),
            category_logits=self.category_head(pooled),
            mask_logits=mask[:, :1],
            region_logits=self.region_head(pooled),
            embedding=F.normalize(self.embedding_head(pooled), dim=1),
            boundary_logits=mask[:, 1:] if self.config.boundary_head else None,
        )


# ----------------------------------------------------------------------------- save / load


class DetectorNotFoundError(FileNotFoundError):
    """No saved detector at the given name or folder."""


@dataclass
class LoadedDetector:
    model: MultiTaskDetector
    config: DetectorConfig
    temperature: float
    weights_sha256: str
    name: str
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def save_detector(
    model: MultiTaskDetector,
    folder: str | Path,
    *,
    temperature: float = 1.0,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    name: str | None = None,
    version: int = 1,
) -> Path:
    """Write `model.safetensors` and `config.json` into `folder` (created); returns the folder."""
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    weights = folder / WEIGHTS_FILE
    tmp = weights.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata={"format": FORMAT})
    tmp.replace(weights)
    info = {
        "format": FORMAT,
        "name": name or folder.name,
        "version": version,
        "config": asdict(model.config),
        "categories": list(CATEGORIES),
        "regions": list(REGION_NAMES),
        "temperature": float(temperature),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": file_sha256(weights),
        "metrics": metrics or {},
        "training": training or {},
    }
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, default=_json_default) + "\n")
    tmp.replace(folder / CONFIG_FILE)
    return folder


def resolve_detector(name_or_folder: str | Path = DEFAULT_MODEL) -> Path:
    """The folder of a bundled model name, a folder, or the folder of a `model.safetensors`."""
    path = Path(name_or_folder)
    if path.name == WEIGHTS_FILE:
        path = path.parent
    if not path.exists() and path.parent == Path("."):
        path = _bundled_folder(path.name) or path
    if not (path / WEIGHTS_FILE).exists() or not (path / CONFIG_FILE).exists():
        if str(name_or_folder) == DEFAULT_MODEL:
            raise DetectorNotFoundError(
                f"bundled detector {DEFAULT_MODEL!r} is not installed "
                f"({MODELS_DIR / DEFAULT_MODEL}); train one with `opendfa train detector` "
                "or pass a model folder"
            )
        raise DetectorNotFoundError(
            f"no detector at {name_or_folder} (expected {WEIGHTS_FILE} and {CONFIG_FILE})"
        )
    return path


def _bundled_folder(name: str) -> Path | None:
    """A bundled model by name (`opendfa-lite0`) or by name and version (`opendfa-lite0@1`):
    the default folder if its version matches, else the kept older one, `<name>-v<version>`."""
    base, _, version = name.partition("@")
    folder = MODELS_DIR / base
    if not version:
        return folder if folder.exists() else None
    try:
        current = json.loads((folder / CONFIG_FILE).read_text()).get("version", 1)
    except (OSError, ValueError):
        current = None
    if str(current) == version:
        return folder
    older = MODELS_DIR / f"{base}-v{version}"
    return older if older.exists() else None


def load_detector(
    name_or_folder: str | Path = DEFAULT_MODEL, *, device: str | torch.device = "cpu"
) -> LoadedDetector:
    """Load a saved detector in eval mode; checks the weights against the recorded sha256."""
    folder = resolve_detector(name_or_folder)
    try:
        info = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable detector config ({folder / CONFIG_FILE}): {err}") from None
    if info.get("format") != FORMAT:
        raise ValueError(f"not an OpenDFA detector config ({folder / CONFIG_FILE})")
    weights = folder / WEIGHTS_FILE
    digest = file_sha256(weights)
    if info.get("weights_sha256") not in (None, digest):
        raise ValueError(f"weights do not match the sha256 in {CONFIG_FILE} ({weights})")
    config = DetectorConfig.from_dict(info["config"])
    model = MultiTaskDetector(config, pretrained=False)
    model.load_state_dict(load_file(str(weights)), strict=True)
    model.to(device).eval()
    return LoadedDetector(
        model=model,
        config=config,
        temperature=float(info.get("temperature", 1.0)),
        weights_sha256=digest,
        name=f"{info.get('name', folder.name)}@{info.get('version', 1)}",
        folder=folder,
        metrics=info.get("metrics", {}),
        info=info,
    )


# ----------------------------------------------------------------------------- inference


@dataclass
class CropPrediction:
    fake_probability: float  # calibrated: sigmoid(logit / temperature)
    logit: float
    category_probabilities: dict[str, float]
    mask: np.ndarray  # float32 (S, S) in [0, 1], the crop's size
    region_scores: dict[str, float]

    @property
    def category(self) -> str:
        return max(self.category_probabilities, key=self.category_probabilities.__getitem__)


def predict_crops(
    loaded: LoadedDetector, crops: np.ndarray, *, batch_size: int = 32
) -> list[CropPrediction]:
    """Predictions for aligned uint8 RGB crops (N, S, S, 3) made with `config.crop_margin`."""
    crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[None]
    if crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"expected square RGB crops (N, S, S, 3), got {crops.shape}")
    if crops.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops, got {crops.dtype}")
    size, side = loaded.config.input_size, crops.shape[1]
    device = loaded.device
    results: list[CropPrediction] = []
    with torch.inference_mode():
        for start in range(0, len(crops), batch_size):
            chunk = crops[start : start + batch_size]
            if side != size:
                interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
                chunk = np.stack(
                    [cv2.resize(c, (size, size), interpolation=interpolation) for c in chunk]
                )
            x = torch.from_numpy(np.ascontiguousarray(chunk)).to(device)
            x = x.permute(0, 3, 1, 2).float() / 255.0
            out = _forward(loaded, x)
            probability = torch.sigmoid(out.logit.float() / loaded.temperature).cpu().numpy()
            categories = torch.softmax(out.category_logits.float(), 1).cpu().numpy()
            regions = torch.sigmoid(out.region_logits.float()).cpu().numpy()
            masks = F.interpolate(
                torch.sigmoid(out.mask_logits.float()),
                size=(side, side),
                mode="bilinear",
                align_corners=False,
            )
            masks = masks[:, 0].cpu().numpy().astype(np.float32)
            logits = out.logit.float().cpu().numpy()
            for i in range(len(chunk)):
                results.append(
                    CropPrediction(
                        fake_probability=float(probability[i]),
                        logit=float(logits[i]),
                        category_probabilities=dict(
                            zip(CATEGORIES, map(float, categories[i]), strict=True)
                        ),
                        mask=masks[i],
                        region_scores=dict(zip(REGION_NAMES, map(float, regions[i]), strict=True)),
                    )
                )
    return results


_MIRRORED_REGIONS = [
    REGION_NAMES.index(
        name.replace("left_", "@").replace("right_", "left_").replace("@", "right_")
    )
    for name in REGION_NAMES
]


def _forward(loaded: LoadedDetector, x: torch.Tensor) -> DetectorOutputs:
    """The model's outputs, averaged with its mirror image's when the config asks for it.
    Logits are averaged (a mean of log-odds), the mirrored mask is flipped back and the
    mirrored region scores are read with left and right swapped."""
    out = loaded.model(x)
    if not loaded.config.flip_tta:
        return out
    mirror = loaded.model(x.flip(3))
    return DetectorOutputs(
        logit=(out.logit + mirror.logit) / 2,
        category_logits=(out.category_logits + mirror.category_logits) / 2,
        mask_logits=(out.mask_logits + mirror.mask_logits.flip(3)) / 2,
        region_logits=(out.region_logits + mirror.region_logits[:, _MIRRORED_REGIONS]) / 2,
        embedding=F.normalize(out.embedding + mirror.embedding, dim=1),
        boundary_logits=None
        if out.boundary_logits is None
        else (out.boundary_logits + mirror.boundary_logits.flip(3)) / 2,
    )


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
