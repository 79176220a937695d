"""What both runtimes of the detector share, without importing torch.

A saved detector is a folder: `config.json` (architecture, temperature, metrics, the sha256 of
each weights file) beside `model.safetensors` (the weights, read by torch) and optionally
`model.onnx` (the same network exported for ONNX Runtime, see `opendfa.models.onnx_detector`),
`ood.safetensors` + `ood.json` (its out-of-distribution statistics, `opendfa.models.ood`) and
`operating_point.json` (where it calls a face fake, `opendfa.models.operating_point`).
This module names those files, parses the config, finds a folder from a model name, and holds
the one record of a loaded detector (`DetectorRuntime`, whichever runtime runs it) and the one
`predict_crops`: a runtime only computes the heads' raw outputs (and the pooled features),
everything after them (mirror averaging, temperature, softmax and sigmoid, the mask's
upsampling, the OOD score where the folder has statistics) is written once, here, in NumPy.
Which runtime loads a folder is `opendfa.models.runtime.load_for_inference`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from opendfa.faces.regions import MIRRORED_REGIONS, REGION_NAMES
from opendfa.models.configs import DEFAULT_MODEL
from opendfa.models.configs import DetectorConfig as DetectorConfig  # re-exported
from opendfa.models.ood import OodStats, load_ood
from opendfa.models.operating_point import DEFAULT_THRESHOLD, OperatingPoint, load_operating_point
from opendfa.safe_files import write_json_atomic
from opendfa.taxonomy import CATEGORIES

FORMAT = "opendfa.detector/1"
MODELS_DIR = Path(__file__).resolve().parent.parent / "assets" / "models"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
ONNX_FILE = "model.onnx"
# The ONNX output (and torch's dropout input) holding the globally pooled backbone features.
FEATURES = "features"


@dataclass
class CropPrediction:
    fake_probability: float  # calibrated: sigmoid(logit / temperature)
    logit: float
    category_probabilities: dict[str, float]
    mask: np.ndarray  # float32 (S, S) in [0, 1], the crop's size
    region_scores: dict[str, float]
    # The pooled backbone features (float32 (C,), mirror-averaged like the heads) when the
    # runtime gives them, and their out-of-distribution score when the folder has statistics.
    features: np.ndarray | None = field(default=None, repr=False)
    ood_score: float | None = None

    @property
    def category(self) -> str:
        return max(self.category_probabilities, key=self.category_probabilities.__getitem__)


_MIRRORED = list(MIRRORED_REGIONS)  # region i of a mirror image is region _MIRRORED[i]


@dataclass
class HeadLogits:
    """The raw head outputs predictions are made from, float32 arrays over a batch."""

    logit: np.ndarray  # (B,)
    category_logits: np.ndarray  # (B, len(CATEGORIES))
    mask_logits: np.ndarray  # (B, 1, mask_size, mask_size)
    region_logits: np.ndarray  # (B, len(REGION_NAMES))
    features: np.ndarray | None = None  # (B, C) pooled backbone features; None: not exported

    HEADS = ("logit", "category_logits", "mask_logits", "region_logits")  # as the ONNX graph

    def mirror_averaged(self, n: int) -> HeadLogits:
        """The first `n` rows averaged with the last `n`, those of the mirrored images: logits
        are averaged (a mean of log-odds), mirrored masks flipped back and mirrored region
        scores read with left and right swapped; pooled features are averaged."""
        features = self.features
        return HeadLogits(
            logit=(self.logit[:n] + self.logit[n:]) / 2,
            category_logits=(self.category_logits[:n] + self.category_logits[n:]) / 2,
            mask_logits=(self.mask_logits[:n] + self.mask_logits[n:, ..., ::-1]) / 2,
            region_logits=(self.region_logits[:n] + self.region_logits[n:][:, _MIRRORED]) / 2,
            features=None if features is None else (features[:n] + features[n:]) / 2,
        )


@dataclass(kw_only=True)
class DetectorRuntime(ABC):
    """A saved detector loaded for inference: what its folder says, and `run_heads` on one
    runtime (`detector.LoadedDetector` on torch, `onnx_detector.OnnxDetector` on ONNX
    Runtime). `predict_crops` takes either."""

    config: DetectorConfig
    temperature: float
    weights_sha256: str
    name: str  # `name@version`, as reports name the detector
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # the parsed config.json

    @abstractmethod
    def run_heads(self, images: np.ndarray) -> HeadLogits:
        """The network's head outputs for float32 images (B, 3, S, S) in [0, 1]."""

    @cached_property
    def ood(self) -> OodStats | None:
        """The folder's out-of-distribution statistics (`opendfa.models.ood`) when it has
        current ones (fitted on these weights), else None: then no crop gets an OOD score."""
        return load_ood(self.folder, self.weights_sha256)

    @cached_property
    def operating_point(self) -> OperatingPoint | None:
        """The folder's operating point (`opendfa.models.operating_point`) when it has one
        chosen for these weights, else None."""
        return load_operating_point(self.folder, self.weights_sha256)

    @property
    def decision_threshold(self) -> float:
        """The P(fake) at which a face is called fake: the operating point's, else 0.5."""
        point = self.operating_point
        return point.threshold if point is not None else DEFAULT_THRESHOLD


def predict_crops(
    loaded: DetectorRuntime, crops: np.ndarray, *, batch_size: int = 32
) -> list[CropPrediction]:
    """Predictions for aligned uint8 RGB crops (N, S, S, 3) made with `config.crop_margin`,
    on either runtime: crops are resized to the input size (`resize_crops`), scaled to [0, 1],
    run with their mirror images when `config.flip_tta` asks for it, and the mask is
    upsampled back to the crop's size. Where the runtime gives the pooled features and the
    folder has OOD statistics, each prediction carries its `ood_score` (a projection of those
    features: no second network run)."""
    crops = crop_batch(crops)
    size, side = loaded.config.input_size, crops.shape[1]
    upsample = _bilinear_matrix(loaded.config.mask_size, side)
    results: list[CropPrediction] = []
    for start in range(0, len(crops), batch_size):
        chunk = resize_crops(crops[start : start + batch_size], size)
        images = np.ascontiguousarray(chunk.transpose(0, 3, 1, 2)).astype(np.float32) / 255.0
        heads = _run(loaded, images)
        predictions = _predictions(heads, np.float32(loaded.temperature), upsample)
        _add_ood_scores(loaded, heads, predictions)
        results.extend(predictions)
    return results


def _run(loaded: DetectorRuntime, images: np.ndarray) -> HeadLogits:
    """The heads' outputs, averaged with the mirror images' (one run on both) under
    `flip_tta`."""
    if not loaded.config.flip_tta:
        return loaded.run_heads(images)
    both = np.concatenate([images, images[..., ::-1]])
    return loaded.run_heads(both).mirror_averaged(len(images))


def _predictions(
    heads: HeadLogits, temperature: np.float32, upsample: np.ndarray
) -> list[CropPrediction]:
    probability = _sigmoid(heads.logit / temperature)
    categories = _softmax(heads.category_logits)
    regions = _sigmoid(heads.region_logits)
    masks = upsample @ _sigmoid(heads.mask_logits[:, 0]) @ upsample.T
    return [
        CropPrediction(
            fake_probability=float(probability[i]),
            logit=float(heads.logit[i]),
            category_probabilities=dict(zip(CATEGORIES, map(float, categories[i]), strict=True)),
            mask=masks[i].astype(np.float32, copy=False),
            region_scores=dict(zip(REGION_NAMES, map(float, regions[i]), strict=True)),
        )
        for i in range(len(probability))
    ]


def _add_ood_scores(
    loaded: DetectorRuntime, heads: HeadLogits, predictions: list[CropPrediction]
) -> None:
    """Each prediction's pooled features, and their OOD score where the folder has statistics."""
    if heads.features is None:
        return
    ood = loaded.ood
    scores = ood.score(heads.features) if ood is not None else None
    for i, prediction in enumerate(predictions):
        prediction.features = heads.features[i].astype(np.float32, copy=False)
        if scores is not None:
            prediction.ood_score = float(scores[i])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(-x) may overflow to inf: 1 / inf is the right 0
        return 1 / (1 + np.exp(-np.asarray(x, np.float32)))


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@lru_cache(maxsize=16)
def _bilinear_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) weights of 1-D bilinear resampling as torch's `F.interpolate(...,
    mode="bilinear", align_corners=False)` does it: half-pixel centres, sources below 0
    clamped to 0, the last pixel repeated; `W @ image @ W.T` resizes a square image."""
    scale = np.float32(size_in / size_out)
    source = np.maximum((np.arange(size_out, dtype=np.float32) + 0.5) * scale - 0.5, 0)
    low = np.minimum(source.astype(np.int64), size_in - 1)
    high = np.minimum(low + 1, size_in - 1)
    weight = np.clip(source - low, 0, 1).astype(np.float32)
    matrix = np.zeros((size_out, size_in), np.float32)
    rows = np.arange(size_out)
    np.add.at(matrix, (rows, low), 1 - weight)
    np.add.at(matrix, (rows, high), weight)
    matrix.setflags(write=False)
    return matrix


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
    write_json_atomic(folder / CONFIG_FILE, info, default=default)


def model_label(info: dict[str, Any], folder: Path) -> str:
    """`name@version`, as reports name the detector."""
    return f"{info.get('name', folder.name)}@{info.get('version', 1)}"
