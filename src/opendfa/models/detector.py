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
temperature, metrics, training facts), and after `export_onnx` also `model.onnx`, the same
network for ONNX Runtime (`opendfa.models.onnx_detector`: CPU inference without importing
torch), whose last output is the pooled backbone features the out-of-distribution score reads
(`forward_with_features`, `opendfa.models.ood`). Nothing is pickled. The torch-free parts
(config, folder names, the loaded-detector record, `predict_crops` and everything after the
network) live in `opendfa.models.detector_base` and are importable from here too.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn

from opendfa.faces.regions import REGION_NAMES
from opendfa.media.files import file_sha256
from opendfa.models.backbones import create_backbone
from opendfa.models.detector_base import (  # noqa: F401  (names importable from here too)
    CONFIG_FILE,
    DEFAULT_MODEL,
    FEATURES,
    FORMAT,
    MODELS_DIR,
    ONNX_FILE,
    WEIGHTS_FILE,
    CropPrediction,
    DetectorConfig,
    DetectorNotFoundError,
    DetectorRuntime,
    HeadLogits,
    _bundled_folder,
    crop_batch,
    model_label,
    predict_crops,
    read_detector_info,
    resize_crops,
    resolve_detector,
    write_detector_info,
)
from opendfa.models.folder import write_weights
from opendfa.safe_files import replacing
from opendfa.taxonomy import CATEGORIES


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


@dataclass(kw_only=True)
class LoadedDetector(DetectorRuntime):
    """A saved detector on torch (any device; what training and export use)."""

    model: MultiTaskDetector

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def run_heads(self, images: np.ndarray) -> HeadLogits:
        x = torch.from_numpy(images).to(self.device)
        with torch.inference_mode():
            out, features = forward_with_features(self.model, x)
        heads = (getattr(out, name) for name in HeadLogits.HEADS)
        return HeadLogits(
            *(value.float().cpu().numpy() for value in heads),
            features=features.float().cpu().numpy(),
        )


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
    weights = write_weights(model, folder / WEIGHTS_FILE, FORMAT)
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
    write_detector_info(folder, info, default=_json_default)
    (folder / ONNX_FILE).unlink(missing_ok=True)  # exported from other weights: `export_onnx`
    return folder


def load_detector(
    name_or_folder: str | Path = DEFAULT_MODEL, *, device: str | torch.device = "cpu"
) -> LoadedDetector:
    """Load a saved detector in eval mode; checks the weights against the recorded sha256."""
    folder = resolve_detector(name_or_folder)
    info = read_detector_info(folder)
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
        name=model_label(info, folder),
        folder=folder,
        metrics=info.get("metrics", {}),
        info=info,
    )


# ----------------------------------------------------------------------------- ONNX export

ONNX_OPSET = 17
ONNX_OUTPUTS = ("logit", "category_logits", "mask_logits", "region_logits", "embedding")


def forward_with_features(
    model: MultiTaskDetector, images: torch.Tensor
) -> tuple[DetectorOutputs, torch.Tensor]:
    """`model(images)` and its globally pooled backbone features (B, C), the dropout's input:
    what `opendfa.models.ood` scores. Read through a hook, so the forward pass stays the one
    training runs."""
    pooled: list[torch.Tensor] = []
    hook = model.dropout.register_forward_hook(lambda _m, inputs, _o: pooled.append(inputs[0]))
    try:
        out = model(images)
    finally:
        hook.remove()
    return out, pooled[0]


class _OnnxGraph(nn.Module):
    """The detector's forward pass with its outputs as a tuple (what the exporter traces): the
    heads' outputs, then the pooled features."""

    def __init__(self, model: MultiTaskDetector) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out, features = forward_with_features(self.model, images)
        heads = (v for f in fields(out) if (v := getattr(out, f.name)) is not None)
        return (*heads, features)


def export_onnx(name_or_folder: str | Path = DEFAULT_MODEL, *, check: bool = True) -> Path:
    """Export a saved detector to `model.onnx` in its folder and record the file's sha256 (and
    the weights it came from) under `"onnx"` in `config.json`; returns the ONNX file's path.

    The graph is the network alone on float images (B, 3, S, S) in [0, 1], any batch size:
    flip averaging, temperature and the mask's upsampling stay outside it, read from the
    config at prediction time (`opendfa.models.detector_base.predict_crops`). Its outputs are
    the heads' and, last, the pooled backbone features (`FEATURES`, for the OOD score). With
    `check` (and ONNX Runtime installed) the exported graph must reproduce torch's outputs
    within 1e-4."""
    if importlib.util.find_spec("onnx") is None:
        raise RuntimeError("export_onnx needs the onnx package: pip install 'opendfa[dev]'")
    loaded = load_detector(name_or_folder)
    folder, config = loaded.folder, loaded.config
    names = [*ONNX_OUTPUTS, *(["boundary_logits"] if config.boundary_head else []), FEATURES]
    graph = _OnnxGraph(loaded.model).eval()
    generator = torch.Generator().manual_seed(0)
    example = torch.rand(2, 3, config.input_size, config.input_size, generator=generator)
    target = folder / ONNX_FILE
    with replacing(target) as tmp, torch.no_grad(), warnings.catch_warnings():
        # The TorchScript exporter (the dynamo one would need onnxscript too) warns that it is
        # legacy, and the tracer that shapes are constants: they are, for one input size.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            graph,
            (example,),
            str(tmp),
            dynamo=False,
            opset_version=ONNX_OPSET,
            input_names=["images"],
            output_names=names,
            dynamic_axes={name: {0: "batch"} for name in ["images", *names]},
            do_constant_folding=True,
        )
        expected = [value.numpy() for value in graph(example)]
        if check:
            _check_onnx(tmp, example.numpy(), dict(zip(names, expected, strict=True)))
    info = read_detector_info(folder)
    info["onnx"] = {
        "file": ONNX_FILE,
        "sha256": file_sha256(target),
        "weights_sha256": loaded.weights_sha256,
        "opset": ONNX_OPSET,
        "outputs": names,
        "exporter": f"torch {torch.__version__} (TorchScript exporter)",
    }
    write_detector_info(folder, info, default=_json_default)
    return target


def _check_onnx(path: Path, images: np.ndarray, expected: dict[str, np.ndarray]) -> None:
    try:
        import onnxruntime
    except ImportError:
        return
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(list(expected), {"images": images})
    for (name, want), value in zip(expected.items(), got, strict=True):
        error = float(np.abs(value - want).max())
        if value.shape != want.shape or error > 1e-4:
            path.unlink(missing_ok=True)
            raise RuntimeError(f"ONNX export of {name} differs from torch by {error:.2g}")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray | torch.Tensor):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
