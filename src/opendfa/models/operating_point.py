"""The detector's operating point: the P(fake) at which a face is called fake.

Temperature scaling makes P(fake) a calibrated probability; it does not say where to draw the
line. Calling a genuine photo fake (a false accusation) costs an analyst more than missing a
forgery that other checks may still catch, so the line is drawn where the detector accuses at
most a target share of genuine faces, measured on *validation* reals (never test) as they are
and after innocent processing (re-compression, resizing, sharpening, denoising, blur). It is
never drawn below 0.5: the operating point can only make the detector more cautious than its
probability.

The point lives beside the weights in `operating_point.json` with the sha256 of the weights it
was chosen for, how it was chosen and what it costs on validation; a folder without one, or
with one of other weights, uses `DEFAULT_THRESHOLD` (0.5). `scripts/fit_operating_point.py`
writes it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from opendfa.safe_files import write_json_atomic

OPERATING_FORMAT = "opendfa.operating_point/1"
OPERATING_FILE = "operating_point.json"
DEFAULT_THRESHOLD = 0.5  # as opendfa.evidence.report: the line of a calibrated probability


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold a detector's folder recommends, with the record of how it was chosen."""

    threshold: float
    info: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def choose_threshold(
    real_scores: np.ndarray, target_false_positive: float, *, floor: float = DEFAULT_THRESHOLD
) -> float:
    """The lowest threshold, not below `floor`, at which at most `target_false_positive` of
    `real_scores` (P(fake) of genuine faces) lie at or above it (a face is fake at p >= t)."""
    scores = np.sort(np.asarray(real_scores, dtype=np.float64).ravel())[::-1]
    if scores.size == 0:
        raise ValueError("need the scores of at least one genuine face")
    if not np.isfinite(scores).all():
        raise ValueError("real scores must be finite")
    if not 0.0 <= target_false_positive < 1.0:
        raise ValueError(f"target must be in [0, 1), got {target_false_positive}")
    allowed = math.floor(target_false_positive * scores.size + 1e-9)  # reals that may pass
    # Just above the highest score that must stay below the line.
    threshold = float(np.nextafter(scores[allowed], np.inf)) if allowed < scores.size else 0.0
    return float(min(max(threshold, floor), np.nextafter(1.0, 0.0)))


def save_operating_point(
    folder: Path, point: OperatingPoint, weights_sha256: str, info: dict[str, Any]
) -> Path:
    """Write `operating_point.json` for the weights `weights_sha256`; returns its path."""
    if not 0.0 < point.threshold < 1.0:
        raise ValueError(f"threshold must be between 0 and 1, got {point.threshold}")
    record = {
        "format": OPERATING_FORMAT,
        "threshold": float(point.threshold),
        "weights_sha256": weights_sha256,
        **info,
    }
    path = Path(folder) / OPERATING_FILE
    write_json_atomic(path, record)
    return path


def load_operating_point(folder: Path | None, weights_sha256: str | None) -> OperatingPoint | None:
    """The folder's operating point, or None when it has none, it does not parse, or it was
    chosen for other weights than `weights_sha256`."""
    if folder is None:
        return None
    path = Path(folder) / OPERATING_FILE
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if (
            not isinstance(info, dict)
            or info.get("format") != OPERATING_FORMAT
            or info.get("weights_sha256") != weights_sha256
        ):
            return None
        threshold = float(info["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not 0.0 < threshold < 1.0:
        return None
    return OperatingPoint(threshold=threshold, info=info)
