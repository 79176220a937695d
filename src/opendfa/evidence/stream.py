"""The forensic stream in the analysis: one face judged on the image's own pixel grid.

The semantic detector reads an aligned, resampled crop; this stream reads the face's pixels
where they are (`opendfa.models.forensic`): the face box, widened a little, cut out with
integer coordinates and never resized. Its map comes back in image coordinates, and its
face score is calibrated (a temperature fitted on validation data, stored with the model).

It says when it cannot judge: below the measured floors of face size and JPEG quality
(`benchmarks/forensic_limits.py`, chosen on validation faces) the pixel-level check is "not
made", with the reason, which is never evidence that a face is real.

A model with a warp-field head (Wang et al. 2019's local predictor) also says which regions
moved and by about how much: the predicted displacement's median and 95th percentile per
face region, listed where the percentile clears the model's motion floor (the displacement it
predicts on genuine validation faces, stored in its `limits`).
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
DEFAULT_MOTION_FLOOR_PX = 1.5  # until a model's val reals measure their own
MIN_REGION_PX = 20  # a region with fewer pixels in the box gets no motion figure
CONTEXT = 0.15  # the face box is widened by this share on each side


@dataclass(frozen=True)
class RegionMotion:
    """How far the flow head thinks one region's pixels were moved (px)."""

    region: str
    median_px: float
    peak_px: float  # 95th percentile of the displacement's length

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "median_px": round(self.median_px, 2),
            "peak_px": round(self.peak_px, 2),
        }


@dataclass
class StreamJudgement:
    """What the forensic stream says about one face."""

    made: bool
    probability: float | None = None  # calibrated P(manipulated) of the face
    logit: float | None = None
    reason: str | None = None  # why it was not made
    box: tuple[int, int, int, int] | None = None  # the map's pixel box in the image
    heat: np.ndarray | None = None  # float16 P(manipulated) per pixel of `box`
    flow: np.ndarray | None = None  # float16 (h, w, 2) displacement in px over `box`
    moved: list[RegionMotion] | None = None  # None: the model has no flow head
    motion_floor_px: float | None = None

    def to_json(self) -> dict[str, Any]:
        if not self.made:
            return {"made": False, "reason": self.reason}
        record: dict[str, Any] = {
            "made": True,
            "probability": round(float(self.probability or 0.0), 4),
            "logit": round(float(self.logit or 0.0), 4),
        }
        if self.moved is not None:
            record["moved"] = [motion.to_json() for motion in self.moved]
            record["motion_floor_px"] = round(float(self.motion_floor_px or 0.0), 2)
        return record


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
        self.min_jpeg_quality = int(limits.get("min_jpeg_quality", 0))  # 0: no floor known
        self.motion_floor_px = float(limits.get("motion_floor_px", DEFAULT_MOTION_FLOOR_PX))
        self.name = model_label(self.info, Path(folder))
        self.fusion = Fusion.from_json(self.info.get("fusion"))  # None: report both, fuse none

    def judge(
        self, rgb: np.ndarray, face: Face, *, jpeg_quality: int | None = None
    ) -> StreamJudgement:
        """Score one face of an RGB image (its own pixels, no resampling); `jpeg_quality` is
        the file's estimated JPEG quality, None for a file that is not a JPEG."""
        from opendfa.models.forensic import face_score, predict_outputs

        side = face_width(face)
        if side < self.min_face_px:
            return StreamJudgement(
                made=False,
                reason=f"the face is {side:.0f} px wide, below the {self.min_face_px} px the "
                "pixel-level check needs",
            )
        if jpeg_quality is not None and jpeg_quality < self.min_jpeg_quality:
            return StreamJudgement(
                made=False,
                reason=f"the file was saved as JPEG at about quality {jpeg_quality}, below the "
                f"{self.min_jpeg_quality} the pixel-level check needs",
            )
        box = _context_box(face, rgb.shape[:2])
        x0, y0, x1, y1 = box
        logits, flow = predict_outputs(self.model, rgb[y0:y1, x0:x1])
        region = _landmark_hull(face, box)
        raw = face_score(logits, region, self.model.config.top_fraction)
        logit = (raw - self.bias) / self.temperature
        heat = 1.0 / (1.0 + np.exp(-logits))
        judgement = StreamJudgement(
            made=True,
            probability=1.0 / (1.0 + math.exp(-logit)),
            logit=logit,
            box=box,
            heat=heat.astype(np.float16),
        )
        if flow is not None:
            judgement.flow = flow.astype(np.float16)
            judgement.moved = region_motion(flow, face, box, self.motion_floor_px)
            judgement.motion_floor_px = self.motion_floor_px
        return judgement


def region_motion(
    flow: np.ndarray, face: Face, box: tuple[int, int, int, int], floor_px: float
) -> list[RegionMotion]:
    """The regions whose predicted displacement (95th percentile of its length) clears
    `floor_px`, largest first; [] when nothing moved more than a genuine face does."""
    from opendfa.faces.regions import region_masks

    x0, y0, x1, y1 = box
    landmarks = np.asarray(face.landmarks, dtype=np.float64)
    if landmarks.ndim != 2 or landmarks.shape[0] == 0 or not np.isfinite(landmarks).all():
        return []
    try:
        masks = region_masks(landmarks[:, :2] - (x0, y0), (x1 - x0, y1 - y0))  # box frame
    except ValueError:  # not a full mesh: no regions to name
        return []
    length = np.hypot(flow[..., 0], flow[..., 1])
    found = []
    for name in masks.masks:
        if name in ("skin", "face_boundary"):
            continue  # the named parts say more; the whole skin repeats them
        inside = masks.full(name)
        if int(inside.sum()) < MIN_REGION_PX:
            continue
        values = length[inside]
        peak = float(np.percentile(values, 95))
        if peak >= floor_px:
            found.append(RegionMotion(name, float(np.median(values)), peak))
    return sorted(found, key=lambda motion: -motion.peak_px)


def face_width(face: Face) -> float:
    """The face's width as the floors were measured (`benchmarks/forensic_limits.py`): the
    extent of its landmarks across, or the smaller side of its box without them."""
    points = np.asarray(face.landmarks, dtype=np.float64)
    if points.ndim == 2 and points.shape[0] >= 2 and np.isfinite(points[:, 0]).all():
        return float(points[:, 0].max() - points[:, 0].min())
    return float(min(face.width, face.height))


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
    # Landmarks are in pixel-edge coordinates; integer polygon points are pixel centres.
    points = np.asarray(face.landmarks)[:, :2] - (x0 + 0.5, y0 + 0.5)
    if points.size == 0 or not np.isfinite(points).all():
        return np.ones_like(region, dtype=bool)
    hull = cv2.convexHull(np.round(points).astype(np.int32))
    cv2.fillConvexPoly(region, hull, 1)
    return region.astype(bool) if region.any() else np.ones_like(region, dtype=bool)
