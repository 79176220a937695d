"""Which runtime runs a saved detector: ONNX Runtime where it can, else torch.

Both runtimes give a `detector_base.DetectorRuntime` that `detector_base.predict_crops` runs;
this module is the one place that picks between them, so neither runtime imports the other.
"""

from __future__ import annotations

from pathlib import Path

from opendfa.models.detector_base import DEFAULT_MODEL, DetectorRuntime
from opendfa.models.onnx_detector import OnnxUnavailable, load_onnx_detector

BACKENDS = ("auto", "onnx", "torch")


def load_for_inference(
    name_or_folder: str | Path = DEFAULT_MODEL, *, device: str = "cpu", backend: str = "auto"
) -> DetectorRuntime:
    """An `OnnxDetector` where one is usable (CPU, `backend` "auto" or "onnx"), else
    `detector.load_detector(name_or_folder, device=device)` (torch is imported only then).
    "onnx" insists (raises `OnnxUnavailable`), "torch" never tries ONNX."""
    if backend not in BACKENDS:
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
