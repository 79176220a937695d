"""The pixel-level forensic stream: a small fully convolutional network on the image's own grid.

Why a second network: the semantic detector reads one 224 px aligned crop, and that
resampling erases the interpolation and noise traces a local warp, a smoothing or a
recolouring leaves (issue 26). This one never resamples before its first layer: it reads the
face's pixels as they are (a large face is tiled, never shrunk), starts from fixed high-pass
residuals (SRM-style filters, which suppress the picture's content and keep its noise) plus a
constrained convolution that learns its own prediction-error filter (Bayar & Stamm 2018), and
predicts a manipulation map at the input's resolution. The face-level score pools the map's
most suspicious pixels, so a small edit counts as much as a large one.

Fully convolutional and small (about 37 k parameters), so it trains on patches on two CPU
cores and runs at any size. A saved model is a folder like the detector's: `config.json`
(with the weights' sha256) beside `model.safetensors`.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F

from opendfa.media.files import file_sha256
from opendfa.models.folder import write_json, write_weights

FORMAT = "opendfa.forensic/1"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


@dataclass
class ForensicConfig:
    width: int = 16  # channels of the full-resolution layers (twice that after the stride)
    depth: int = 3  # dilated layers at half resolution
    top_fraction: float = 0.02  # share of the face's pixels whose mean makes the face score
    tile: int = 512  # larger inputs are processed in tiles of this side (with overlap)
    # A second head predicts the backward displacement (dx, dy in px) a warp applied, trained
    # on the flows the forge records (Wang et al. 2019's local predictor): where it moved.
    flow_head: bool = False

    def __post_init__(self) -> None:
        if self.width < 4 or self.depth < 1 or not 0.0 < self.top_fraction <= 1.0:
            raise ValueError("width >= 4, depth >= 1 and top_fraction in (0, 1] required")
        if self.tile < 64:
            raise ValueError(f"tile must be at least 64 pixels, got {self.tile}")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ForensicConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def srm_kernels() -> torch.Tensor:
    """Three fixed 5x5 high-pass filters (first-order, second-order, 'KV' square), each
    normalised to unit gain; applied to every colour channel, they give 9 residual maps."""
    first = np.zeros((5, 5), np.float32)
    first[2, 1:4] = [1, -2, 1]
    first /= 2.0
    second = np.zeros((5, 5), np.float32)
    second[1:4, 1:4] = [[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]
    second /= 4.0
    square = np.array(
        [
            [-1, 2, -2, 2, -1],
            [2, -6, 8, -6, 2],
            [-2, 8, -12, 8, -2],
            [2, -6, 8, -6, 2],
            [-1, 2, -2, 2, -1],
        ],
        np.float32,
    )
    square /= 12.0
    kernels = np.stack([first, second, square])  # (3, 5, 5)
    weight = np.zeros((9, 3, 5, 5), np.float32)
    for k in range(3):
        for c in range(3):
            weight[k * 3 + c, c] = kernels[k]
    return torch.from_numpy(weight)


class ConstrainedConv(nn.Module):
    """A convolution whose kernels predict the centre pixel from its neighbours: the centre
    weight is -1 and the others sum to 1, so it can only learn prediction-error filters."""

    def __init__(self, in_channels: int, out_channels: int, size: int = 5) -> None:
        super().__init__()
        # Positive at the start, so each kernel's neighbour sum is far from zero.
        self.weight = nn.Parameter(torch.rand(out_channels, in_channels, size, size))
        self.size = size

    def constrained(self) -> torch.Tensor:
        centre = self.size // 2
        weight = self.weight.clone()
        weight[:, :, centre, centre] = 0.0
        total = weight.sum(dim=(2, 3), keepdim=True)
        total = torch.where(total.abs() < 1e-3, torch.full_like(total, 1e-3), total)
        weight = weight / total
        # Each (out, in) kernel: neighbours sum to 1, centre -1, so flat content gives 0.
        weight[:, :, centre, centre] = -1.0
        return weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.constrained(), padding=self.size // 2)


def _block(channels_in: int, channels_out: int, *, stride: int = 1, dilation: int = 1):
    return nn.Sequential(
        nn.Conv2d(
            channels_in,
            channels_out,
            3,
            stride=stride,
            padding=dilation,
            dilation=dilation,
            bias=False,
        ),
        # Batch norm: per-channel affine at inference, so a pixel's output depends only on its
        # neighbourhood, never on the size of the tile it was read in (group norm would).
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class ForensicNet(nn.Module):
    """RGB in [0, 255], (N, 3, H, W), any H and W; manipulation logits out, (N, 1, H, W)."""

    def __init__(self, config: ForensicConfig | None = None) -> None:
        super().__init__()
        self.config = config or ForensicConfig()
        width = self.config.width
        self.register_buffer("srm", srm_kernels(), persistent=False)
        self.constrained = ConstrainedConv(3, 3)
        self.stem = nn.Sequential(_block(12, width), _block(width, width))
        self.down = _block(width, 2 * width, stride=2)
        self.context = nn.Sequential(
            *[
                _block(2 * width, 2 * width, dilation=2 ** (i % 3 + 1))
                for i in range(self.config.depth)
            ]
        )
        self.head = nn.Conv2d(3 * width, 1, 1)
        self.flow = nn.Conv2d(3 * width, 2, 1) if self.config.flow_head else None

    def features(self, rgb: torch.Tensor) -> torch.Tensor:
        """The per-pixel features both heads read, (N, 3 * width, H, W)."""
        x = rgb / 255.0
        residual = torch.cat(
            [F.conv2d(x, self.srm, padding=2) * 8.0, self.constrained(x) * 8.0], dim=1
        )
        fine = self.stem(residual)
        coarse = self.context(self.down(fine))
        up = F.interpolate(coarse, size=fine.shape[-2:], mode="bilinear", align_corners=False)
        return torch.cat([fine, up], dim=1)

    def forward(self, rgb: torch.Tensor, with_flow: bool = False):
        """Manipulation logits (N, 1, H, W); with `with_flow`, the pair (logits, flow): the
        predicted backward displacement (N, 2, H, W) in px, None without the flow head. One
        entry point, so a DDP-wrapped model trains both heads."""
        shared = self.features(rgb)
        logits = self.head(shared)
        if not with_flow:
            return logits
        return logits, None if self.flow is None else self.flow(shared)

    def forward_both(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.forward(rgb, with_flow=True)


def face_score(logits: np.ndarray, region: np.ndarray | None, top_fraction: float) -> float:
    """The face-level logit: the mean of the top `top_fraction` of the map's logits inside
    `region` (a boolean mask of the face; the whole map if None or empty)."""
    values = logits[region] if region is not None and region.any() else logits.ravel()
    count = max(1, math.ceil(values.size * top_fraction))
    top = np.partition(values, values.size - count)[values.size - count :]
    return float(top.mean())


def _spans(size: int, tile: int, pad: int) -> list[tuple[int, int, int, int]]:
    """(core start, core end, read start, read end) along one axis: cores cover the axis,
    reads add `pad` pixels of context on each side."""
    if size <= tile:
        return [(0, size, 0, size)]
    step = tile - 2 * pad
    return [
        (start, min(size, start + step), max(0, start - pad), min(size, start + step + pad))
        for start in range(0, size, step)
    ]


@torch.no_grad()
def predict_map(model: ForensicNet, rgb: np.ndarray) -> np.ndarray:
    """Manipulation logits (H, W) float32 for an RGB uint8 image (H, W, 3), at its own size.

    Inputs larger than `config.tile` are cut into overlapping tiles (up to 64 px of context
    on each side, cropped away) so memory stays bounded; nothing is resized."""
    return _tiled(model, rgb, lambda patch: model(patch)[0].numpy())[..., 0]


@torch.no_grad()
def predict_outputs(model: ForensicNet, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """`predict_map` and `predict_flow` from one pass of the network (the analysis wants
    both and the shared features are most of the cost)."""
    if model.flow is None:
        return predict_map(model, rgb), None

    def run(patch: torch.Tensor) -> np.ndarray:
        logits, flow = model.forward_both(patch)
        return torch.cat([logits[0], flow[0]], dim=0).numpy()

    both = _tiled(model, rgb, run)
    return both[..., 0], both[..., 1:]


@torch.no_grad()
def predict_flow(model: ForensicNet, rgb: np.ndarray) -> np.ndarray | None:
    """The predicted backward displacement (H, W, 2) float32 in px, tiled as `predict_map`;
    None for a model without the flow head."""
    if model.flow is None:
        return None
    return _tiled(model, rgb, lambda patch: model.forward_both(patch)[1][0].numpy())


def _tiled(model: ForensicNet, rgb: np.ndarray, run) -> np.ndarray:
    """`run` (a (1, 3, h, w) tensor -> (C, h, w) array) over overlapping tiles, (H, W, C)."""
    model.eval()
    height, width = rgb.shape[:2]
    tile = model.config.tile
    pad = min(64, tile // 4)  # context on each side; the core of a tile is what remains
    out: np.ndarray | None = None
    for y0, y1, ya, yb in _spans(height, tile, pad):
        for x0, x1, xa, xb in _spans(width, tile, pad):
            patch = torch.from_numpy(np.ascontiguousarray(rgb[ya:yb, xa:xb])).float()
            values = run(patch.permute(2, 0, 1)[None])
            if out is None:
                out = np.zeros((height, width, values.shape[0]), np.float32)
            core = values[:, y0 - ya : y1 - ya, x0 - xa : x1 - xa]
            out[y0:y1, x0:x1] = np.moveaxis(core, 0, -1)
    assert out is not None
    return out


def save_forensic(
    model: ForensicNet,
    folder: str | Path,
    *,
    name: str | None = None,
    version: int = 1,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> Path:
    """Write `model.safetensors` and `config.json` (atomically) into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights = write_weights(model, folder / WEIGHTS_FILE, FORMAT)
    info = {
        "format": FORMAT,
        "name": name or folder.name,
        "version": version,
        "config": asdict(model.config),
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights_sha256": file_sha256(weights),
        "metrics": metrics or {},
        "training": training or {},
    }
    write_json(folder / CONFIG_FILE, info)
    return folder


def load_forensic(folder: str | Path) -> tuple[ForensicNet, dict[str, Any]]:
    """The model (eval mode, CPU) and its config.json; the weights' sha256 is checked."""
    folder = Path(folder)
    info = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    if info.get("format") != FORMAT:
        raise ValueError(f"not a forensic-stream folder ({folder}): format {info.get('format')}")
    weights = folder / WEIGHTS_FILE
    if file_sha256(weights) != info.get("weights_sha256"):
        raise ValueError(f"weights do not match their recorded sha256 ({weights})")
    model = ForensicNet(ForensicConfig.from_dict(info.get("config", {})))
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model, info
