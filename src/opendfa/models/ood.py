"""How unlike the detector's training faces a crop is: its out-of-distribution (OOD) score.

A detector answers every input, even a cartoon, a drawing or a patch of wall; on such inputs
its P(fake) means nothing. The score measures how far the crop's globally pooled backbone
features (the `features` output of the ONNX export, the input of the heads' dropout on torch)
lie from those of in-distribution aligned face crops: the features (optionally L2-normalised)
minus their training mean are projected on the `k` leading principal directions and whitened
with a shrinkage (Ledoit-Wolf) covariance shared by the classes, and the score is the
Mahalanobis distance to the nearest class mean (Lee et al., 2018: real and each forgery
family, or a single mean), plus the weighted energy the projection leaves out. Fitting needs
scikit-learn (`scripts/fit_ood.py`); scoring is two small matrix products in NumPy, so it
costs nothing next to the network.

The statistics live beside the detector's weights: `ood.safetensors` (arrays) and `ood.json`
(threshold, how it was chosen, the data, validation figures, the sha256 of the arrays and of
the weights they were fitted on). A folder without them, or with statistics of other weights,
gets no score: `load_ood` returns None.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.safe_files import replacing, write_json_atomic

OOD_FORMAT = "opendfa.ood/1"
OOD_FILE = "ood.safetensors"
OOD_INFO = "ood.json"
_ARRAYS = ("mean", "basis", "whiten", "centres")


@dataclass(frozen=True)
class OodStats:
    """The fitted statistics of one detector's in-distribution features and the threshold
    above which a crop counts as outside them."""

    mean: np.ndarray  # (C,) feature mean
    basis: np.ndarray  # (C, k) orthonormal principal directions
    whiten: np.ndarray  # (k, k): projected features @ whiten have identity covariance
    centres: np.ndarray  # (classes, k) class means in whitened space
    threshold: float
    classes: tuple[str, ...] = ("all",)
    normalise: bool = False  # L2-normalise the features first
    residual_weight: float = 0.0  # weight of the squared energy off the k directions
    info: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def score(self, features: np.ndarray) -> np.ndarray:
        """(N,) OOD scores of float features (N, C): higher is further from training faces."""
        x = np.asarray(features, dtype=np.float32)
        if self.normalise:
            x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        centred = x - self.mean
        projected = centred @ self.basis
        white = projected @ self.whiten
        # ||w - c||² = ||w||² - 2 w·c + ||c||², for every class at once.
        squared = (
            (white * white).sum(1, keepdims=True)
            - 2 * white @ self.centres.T
            + (self.centres * self.centres).sum(1)
        )
        distance = np.maximum(squared.min(axis=1), 0)
        if self.residual_weight:
            left = (centred * centred).sum(1) - (projected * projected).sum(1)
            distance = distance + self.residual_weight * np.maximum(left, 0)
        return np.sqrt(distance)

    def outside(self, score: float) -> bool:
        return score > self.threshold


def save_ood(folder: Path, stats: OodStats, weights_sha256: str, info: dict[str, Any]) -> None:
    """Write `ood.safetensors`, then `ood.json` recording its sha256, the weights' and `info`."""
    from safetensors.numpy import save_file

    arrays = {name: np.ascontiguousarray(getattr(stats, name), np.float32) for name in _ARRAYS}
    with replacing(folder / OOD_FILE) as temporary:
        save_file(arrays, str(temporary), metadata={"format": OOD_FORMAT})
    record = {
        "format": OOD_FORMAT,
        "file": OOD_FILE,
        "sha256": hashlib.sha256((folder / OOD_FILE).read_bytes()).hexdigest(),
        "weights_sha256": weights_sha256,
        "threshold": float(stats.threshold),
        "classes": list(stats.classes),
        "normalise": stats.normalise,
        "residual_weight": float(stats.residual_weight),
        **info,
    }
    write_json_atomic(folder / OOD_INFO, record)


def load_ood(folder: Path | None, weights_sha256: str | None) -> OodStats | None:
    """The folder's OOD statistics, or None when it has none, they do not parse, or they were
    fitted on other weights than `weights_sha256` or edited since."""
    if folder is None:
        return None
    path, arrays_path = Path(folder) / OOD_INFO, Path(folder) / OOD_FILE
    if not path.is_file() or not arrays_path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        data = arrays_path.read_bytes()
        if (
            not isinstance(info, dict)
            or info.get("format") != OOD_FORMAT
            or info.get("weights_sha256") != weights_sha256
            or hashlib.sha256(data).hexdigest() != info.get("sha256")
        ):
            return None
        from safetensors.numpy import load

        arrays = load(data)
        return OodStats(
            **{name: arrays[name] for name in _ARRAYS},
            threshold=float(info["threshold"]),
            classes=tuple(info.get("classes", ("all",))),
            normalise=bool(info.get("normalise", False)),
            residual_weight=float(info.get("residual_weight", 0.0)),
            info=info,
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
