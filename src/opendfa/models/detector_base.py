"""What both runtimes of the detector share, without importing torch.

A saved detector is a folder: `config.json` (architecture, temperature, metrics, the sha256 of
each weights file) beside `model.safetensors` (the weights, read by torch) and optionally
`model.onnx` (the same network exported for ONNX Runtime, see `opendfa.models.onnx_detector`).
This module names those files, parses the config, finds a folder from a model name, and holds
the per-crop prediction record that both `predict_crops` return.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

FORMAT = "opendfa.detector/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL = "opendfa-lite0"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ONNX_FILE = "model.onnx"


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
class CropPrediction:
    fake_probability: float  # calibrated: sigmoid(logit / temperature)
    logit: float
    category_probabilities: dict[str, float]
    mask: np.ndarray  # float32 (S, S) in [0, 1], the crop's size
    region_scores: dict[str, float]

    @property
    def category(self) -> str:
        return max(self.category_probabilities, key=self.category_probabilities.__getitem__)


def crop_batch(crops: np.ndarray) -> np.ndarray:
    """Crops as a (N, S, S, 3) uint8 array (one crop may come without the N axis)."""
    crops = np.asarray(crops)
    if crops.ndim == 3:
        crops = crops[None]
    if crops.ndim != 4 or crops.shape[3] != 3 or crops.shape[1] != crops.shape[2]:
        raise ValueError(f"expected square RGB crops (N, S, S, 3), got {crops.shape}")
    if crops.dtype != np.uint8:
        raise ValueError(f"expected uint8 crops, got {crops.dtype}")
    return crops


def resize_crops(crops: np.ndarray, size: int) -> np.ndarray:
    """Crops at the detector's input size: area-averaged down, bilinear up."""
    side = crops.shape[1]
    if side == size:
        return crops
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return np.stack([cv2.resize(c, (size, size), interpolation=interpolation) for c in crops])


class DetectorNotFoundError(FileNotFoundError):
    """No saved detector at the given name or folder."""


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


def read_detector_info(folder: Path) -> dict[str, Any]:
    """The parsed `config.json` of a detector folder; ValueError if it is not one."""
    try:
        info = json.loads((folder / CONFIG_FILE).read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"unreadable detector config ({folder / CONFIG_FILE}): {err}") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise ValueError(f"not an OpenDFA detector config ({folder / CONFIG_FILE})")
    return info


def write_detector_info(folder: Path, info: dict[str, Any], default: Any = None) -> None:
    """Replace `config.json` atomically."""
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(info, indent=1, default=default) + "\n")
    tmp.replace(folder / CONFIG_FILE)


def model_label(info: dict[str, Any], folder: Path) -> str:
    """`name@version`, as reports name the detector."""
    return f"{info.get('name', folder.name)}@{info.get('version', 1)}"
