"""The detector on ONNX Runtime: the same predictions as `detector.predict_crops`, no torch.

Importing torch costs a one-image `opendfa analyze` more than a second, so CPU inference runs
the folder's `model.onnx` (written by `opendfa.models.detector.export_onnx`) when it is there
and current: its sha256 must match the one recorded under `"onnx"` in `config.json`, and it
must have been exported from the weights the config names. Otherwise `load_for_inference`
quietly loads the torch model instead; CUDA and anything needing gradients stay on torch.

`predict_crops` here repeats the torch one step by step in NumPy: the resize rule, /255, mirror
averaging with left and right regions swapped back (`flip_tta`), the temperature, softmax and
sigmoid, and the mask's bilinear upsampling with `align_corners=False` semantics.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.faces.regions import MIRRORED_REGIONS, REGION_NAMES
from opendfa.media.files import file_sha256
from opendfa.models.detector_base import (
    DEFAULT_MODEL,
    ONNX_FILE,
    WEIGHTS_FILE,
    CropPrediction,
    DetectorConfig,
    crop_batch,
    model_label,
    read_detector_info,
    resize_crops,
    resolve_detector,
)
from opendfa.taxonomy import CATEGORIES


class OnnxUnavailable(RuntimeError):
    """The folder has no usable ONNX export (missing, stale, or no ONNX Runtime)."""


@dataclass
class OnnxDetector:
    """A loaded ONNX export; the same fields as `detector.LoadedDetector` except `model`."""

    session: Any  # onnxruntime.InferenceSession
    config: DetectorConfig
    temperature: float
    weights_sha256: str
    name: str
    folder: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"


def load_onnx_detector(
    name_or_folder: str | Path = DEFAULT_MODEL, *, check_weights: bool = True
) -> OnnxDetector:
    """The folder's `model.onnx` on ONNX Runtime's CPU provider; `OnnxUnavailable` if the
    file is missing or does not match `config.json` (or, with `check_weights`, the weights
    file is not the one it was exported from), or ONNX Runtime is not installed."""
    folder = resolve_detector(name_or_folder)
    info = read_detector_info(folder)
    record = info.get("onnx")
    path = folder / ONNX_FILE
    if not isinstance(record, dict) or not path.exists():
        raise OnnxUnavailable(f"no ONNX export recorded in {folder}")
    if record.get("weights_sha256") != info.get("weights_sha256"):
        raise OnnxUnavailable(f"the ONNX export is of other weights than {folder}'s config")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != record.get("sha256"):
        raise OnnxUnavailable(f"{path} does not match the sha256 in its config")
    if check_weights and file_sha256(folder / WEIGHTS_FILE) != info.get("weights_sha256"):
        raise OnnxUnavailable(f"{folder / WEIGHTS_FILE} is not the weights {path} came from")
    try:
        import onnxruntime
    except ImportError as err:
        raise OnnxUnavailable(f"ONNX Runtime is not installed: {err}") from None
    session = onnxruntime.InferenceSession(
        data, _session_options(onnxruntime), providers=["CPUExecutionProvider"]
    )
    config = DetectorConfig.from_dict(info["config"])
    outputs = [o.name for o in session.get_outputs()]
    if ("boundary_logits" in outputs) != config.boundary_head:
        raise OnnxUnavailable(f"{path}'s outputs {outputs} do not fit its config")
    return OnnxDetector(
        session=session,
        config=config,
        temperature=float(info.get("temperature", 1.0)),
        weights_sha256=str(info["weights_sha256"]),
        name=model_label(info, folder),
        folder=folder,
        metrics=info.get("metrics", {}),
        info=info,
    )


def load_for_inference(
    name_or_folder: str | Path = DEFAULT_MODEL, *, device: str = "cpu", backend: str = "auto"
) -> Any:
    """An `OnnxDetector` where one is usable (CPU, `backend` "auto" or "onnx"), else
    `detector.load_detector(name_or_folder, device=device)`. "onnx" insists (raises
    `OnnxUnavailable`), "torch" never tries ONNX."""
    if backend not in ("auto", "onnx", "torch"):
        raise ValueError(f"backend must be auto, onnx or torch, got {backend!r}")
    if backend != "torch" and str(device) == "cpu":
        try:
            return load_onnx_detector(name_or_folder)
        except OnnxUnavailable:
            if backend == "onnx":
                raise
    elif backend == "onnx":
        raise OnnxUnavailable(f"ONNX inference runs on the CPU only, not {device}")
    from opendfa.models.detector import load_detector

    return load_detector(name_or_folder, device=device)


def predictor(loaded: Any) -> Any:
    """The `predict_crops` that runs `loaded`: this module's for an `OnnxDetector`, else
    torch's (imported only then)."""
    if isinstance(loaded, OnnxDetector):
        return predict_crops
    from opendfa.models.detector import predict_crops as predict_torch

    return predict_torch


def predict_crops(
    loaded: OnnxDetector, crops: np.ndarray, *, batch_size: int = 32
) -> list[CropPrediction]:
    """Predictions for aligned uint8 RGB crops (N, S, S, 3) made with `config.crop_margin`;
    the contract and the numbers of `opendfa.models.detector.predict_crops`."""
    crops = crop_batch(crops)
    size, side = loaded.config.input_size, crops.shape[1]
    upsample = _bilinear_matrix(loaded.config.mask_size, side)
    results: list[CropPrediction] = []
    for start in range(0, len(crops), batch_size):
        chunk = resize_crops(crops[start : start + batch_size], size)
        x = np.ascontiguousarray(chunk.transpose(0, 3, 1, 2)).astype(np.float32) / 255.0
        logit, category_logits, mask_logits, region_logits = _forward(loaded, x)
        probability = _sigmoid(logit / np.float32(loaded.temperature))
        categories = _softmax(category_logits)
        regions = _sigmoid(region_logits)
        masks = upsample @ _sigmoid(mask_logits[:, 0]) @ upsample.T
        for i in range(len(chunk)):
            results.append(
                CropPrediction(
                    fake_probability=float(probability[i]),
                    logit=float(logit[i]),
                    category_probabilities=dict(
                        zip(CATEGORIES, map(float, categories[i]), strict=True)
                    ),
                    mask=masks[i].astype(np.float32, copy=False),
                    region_scores=dict(zip(REGION_NAMES, map(float, regions[i]), strict=True)),
                )
            )
    return results


def _forward(loaded: OnnxDetector, x: np.ndarray) -> tuple[np.ndarray, ...]:
    """logit, category, mask and region logits, averaged with the mirror image's when the
    config asks for it (one run on the crops and their mirrors together)."""
    names = ["logit", "category_logits", "mask_logits", "region_logits"]
    if not loaded.config.flip_tta:
        return tuple(loaded.session.run(names, {"images": x}))
    n = len(x)
    both = np.concatenate([x, x[..., ::-1]])
    logit, category, mask, region = loaded.session.run(names, {"images": both})
    return (
        (logit[:n] + logit[n:]) / 2,
        (category[:n] + category[n:]) / 2,
        (mask[:n] + mask[n:, ..., ::-1]) / 2,
        (region[:n] + region[n:][:, list(MIRRORED_REGIONS)]) / 2,
    )


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


def _session_options(onnxruntime: Any) -> Any:
    """One session thread per core allowed by OMP_NUM_THREADS (as torch reads it), no spinning
    threads (the CPU is often shared), all graph optimisations."""
    options = onnxruntime.SessionOptions()
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options
