"""The forensic stream in the analysis: one face judged on the image's own pixel grid.

The semantic detector reads an aligned, resampled crop; this stream reads the face's pixels
where they are (`opendfa.models.forensic`): the face box, widened a little, cut out with
integer coordinates and never resized. Its map comes back in image coordinates, and its
face score is calibrated (a temperature fitted on validation data, stored with the model).

It says when it cannot judge: below the measured floor of face size the pixel-level check is
"not made", with the reason, which is never evidence that a face is real.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from opendfa.evidence.fusion import Fusion
from opendfa.faces import Face
from opendfa.models.detector_base import model_label

DEFAULT_MIN_FACE_PX = 64  # until a model's card measures its own floor
CONTEXT = 0.15  # the face box is widened by this share on each side


@dataclass
class StreamJudgement:
    """What the forensic stream says about one face."""

    made: bool
    probability: float | None = None  # calibrated P(manipulated) of the face
    logit: float | None = None
    reason: str | None = None  # why it was not made
    box: tuple[int, int, int, int] | None = None  # the map's pixel box in the image
    heat: np.ndarray | None = None  # float16 P(manipulated) per pixel of `box`

    def to_json(self) -> dict[str, Any]:
        if not self.made:
            return {"made": False, "reason": self.reason}
        return {
            "made": True,
            "probability": round(float(self.probability or 0.0), 4),
            "logit": round(float(self.logit or 0.0), 4),
        }


class ForensicStream:
    """A loaded forensic-stream model with its calibration and limits."""

    def __init__(self, folder: str | Path) -> None:
        from opendfa.models.forensic import load_forensic

        self.model, self.info = load_forensic(folder)
        calibration = self.info.get("calibration", {})
        self.temperature = float(calibration.get("temperature", 1.0))
        self.bias = float(calibration.get("bias", 0.0))
        limits = self.info.get("limits", {})
        self.min_face_px = int(limits.get("min_face_px", DEFAULT_MIN_FACE_PX))
        self.name = model_label(self.info, Path(folder))
        self.fusion = Fusion.from_json(self.info.get("fusion"))  # None: report both, fuse none

    def judge(self, rgb: np.ndarray, face: Face) -> StreamJudgement:
        """Score one face of an RGB image (its own pixels, no resampling)."""
        from opendfa.models.forensic import face_score, predict_map

        side = min(face.width, face.height)
        if side < self.min_face_px:
            return StreamJudgement(
                made=False,
                reason=f"the face is {side:.0f} px wide, below the {self.min_face_px} px the "
                "pixel-level check needs",
            )
        box = _context_box(face, rgb.shape[:2])
        x0, y0, x1, y1 = box
        logits = predict_map(self.model, rgb[y0:y1, x0:x1])
        region = _landmark_hull(face, box)
        raw = face_score(logits, region, self.model.config.top_fraction)
        logit = (raw - self.bias) / self.temperature
        heat = 1.0 / (1.0 + np.exp(-logits))
        return StreamJudgement(
            made=True,
            probability=1.0 / (1.0 + math.exp(-logit)),
            logit=logit,
            box=box,
            heat=heat.astype(np.float16),
        )


def _context_box(face: Face, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    height, width = shape
    fx0, fy0, fx1, fy1 = face.box
    pad_x, pad_y = CONTEXT * (fx1 - fx0), CONTEXT * (fy1 - fy0)
    x0, y0 = max(0, math.floor(fx0 - pad_x)), max(0, math.floor(fy0 - pad_y))
    x1, y1 = min(width, math.ceil(fx1 + pad_x)), min(height, math.ceil(fy1 + pad_y))
    return x0, y0, x1, y1


def _landmark_hull(face: Face, box: tuple[int, int, int, int]) -> np.ndarray:
    """The face (hull of its mesh) as a boolean mask of the box; the whole box without one."""
    x0, y0, x1, y1 = box
    region = np.zeros((y1 - y0, x1 - x0), np.uint8)
    points = np.asarray(face.landmarks)[:, :2] - (x0 - 0.5, y0 - 0.5)  # pixel edges to centres
    if points.size == 0 or not np.isfinite(points).all():
        return np.ones_like(region, dtype=bool)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(region, hull, 1)
    return region.astype(bool) if region.any() else np.ones_like(region, dtype=bool)
