"""The detector on ONNX Runtime: the same predictions as on torch, without importing torch.

Importing torch costs a one-image `opendfa analyze` more than a second, so CPU inference runs
the folder's `model.onnx` (written by `opendfa.models.detector.export_onnx`) when it is there
and current: its sha256 must match the one recorded under `"onnx"` in `config.json`, and it
must have been exported from the weights the config names. Otherwise
`opendfa.models.runtime.load_for_inference` quietly loads the torch model instead; CUDA and
anything needing gradients stay on torch.

The graph is the network alone: what comes after it (mirror averaging, temperature, the mask's
upsampling, the OOD score of the pooled features the graph also outputs) is
`opendfa.models.detector_base.predict_crops`, shared with torch. An export made before the
features were an output still runs; its crops just get no OOD score.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.media.files import file_sha256
from opendfa.models.detector_base import (
    DEFAULT_MODEL,
    FEATURES,
    ONNX_FILE,
    WEIGHTS_FILE,
    DetectorConfig,
    DetectorRuntime,
    HeadLogits,
    model_label,
    read_detector_info,
    resolve_detector,
)
from opendfa.models.onnx_cache import cached_session


class OnnxUnavailable(RuntimeError):
    """The folder has no usable ONNX export (missing, stale, or no ONNX Runtime)."""


@dataclass(kw_only=True)
class OnnxDetector(DetectorRuntime):
    """A saved detector's ONNX export on ONNX Runtime's CPU provider."""

    session: Any  # onnxruntime.InferenceSession
    device: str = "cpu"

    def run_heads(self, images: np.ndarray) -> HeadLogits:
        heads = list(HeadLogits.HEADS)
        names = heads + ([FEATURES] if self.has_features else [])
        outputs = self.session.run(names, {"images": images})
        features = outputs[len(heads)] if self.has_features else None
        return HeadLogits(*outputs[: len(heads)], features=features)

    @cached_property
    def has_features(self) -> bool:
        """Whether the graph outputs the pooled features (exports since the OOD score)."""
        return FEATURES in {output.name for output in self.session.get_outputs()}


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
    session = cached_session(
        onnxruntime, data, record["sha256"], _session_options(onnxruntime), ["CPUExecutionProvider"]
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


def _session_options(onnxruntime: Any) -> Any:
    """One session thread per core allowed by OMP_NUM_THREADS (as torch reads it), no spinning
    threads (the CPU is often shared), all graph optimisations (`onnx_cache` keeps their
    result per machine)."""
    options = onnxruntime.SessionOptions()
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return options
