"""Drawing faces, landmarks and region outlines on an image for a person to check."""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces.regions import REGION_NAMES, RegionMasks, region_masks
from opendfa.faces.types import Face

# One RGB colour per region, chosen to stay distinct on skin tones.
REGION_COLORS: dict[str, tuple[int, int, int]] = {
    "forehead": (255, 215, 0),
    "left_eyebrow": (255, 120, 0),
    "right_eyebrow": (255, 120, 0),
    "left_eye": (0, 200, 255),
    "right_eye": (0, 120, 255),
    "nose": (200, 0, 255),
    "mouth": (255, 0, 90),
    "left_cheek": (0, 230, 120),
    "right_cheek": (0, 160, 80),
    "chin": (160, 255, 0),
    "face_boundary": (255, 255, 255),
    "skin": (120, 120, 120),
}
KEYPOINT_COLORS = ((0, 120, 255), (0, 200, 255), (200, 0, 255), (255, 0, 90), (255, 80, 160))


def draw_faces(
    rgb: np.ndarray,
    faces: list[Face],
    regions: list[RegionMasks] | None = None,
    *,
    show_landmarks: bool = True,
    show_regions: bool = True,
) -> np.ndarray:
    """A copy of the image with boxes, scores, landmarks, keypoints and region outlines."""
    canvas = np.ascontiguousarray(rgb.copy())
    height, width = canvas.shape[:2]
    thickness = max(1, round(max(height, width) / 600))
    if regions is None and show_regions:
        regions = [region_masks(face.landmarks, (width, height)) for face in faces]
    for number, face in enumerate(faces):
        if show_regions and regions is not None:
            _draw_regions(canvas, regions[number], thickness)
        if show_landmarks:
            for x, y in face.landmarks[:, :2]:
                cv2.circle(
                    canvas, (round(float(x)), round(float(y))), 0, (230, 230, 230), thickness
                )
        for color, (x, y) in zip(KEYPOINT_COLORS, face.keypoints, strict=True):
            cv2.circle(canvas, (round(x), round(y)), 2 * thickness + 1, color, -1, cv2.LINE_AA)
        x0, y0, x1, y1 = (round(v) for v in face.box)
        cv2.rectangle(canvas, (x0, y0), (x1, y1), (0, 255, 0), thickness, cv2.LINE_AA)
        label = f"#{number} {face.score:.2f}" + (f" rot{face.rotation}" if face.rotation else "")
        _label(canvas, label, (x0, max(0, y0 - 4)), thickness)
    return canvas


def _draw_regions(canvas: np.ndarray, regions: RegionMasks, thickness: int) -> None:
    x0, y0 = regions.origin
    for name in REGION_NAMES:
        if name == "skin":
            continue
        mask = regions.masks[name].astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        shifted = [c + np.array([[[x0, y0]]], dtype=c.dtype) for c in contours]
        cv2.drawContours(canvas, shifted, -1, REGION_COLORS[name], thickness, cv2.LINE_AA)


def _label(canvas: np.ndarray, text: str, origin: tuple[int, int], thickness: int) -> None:
    scale = 0.4 * thickness + 0.1
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    x, y = origin
    y = max(th + 2, y)
    cv2.rectangle(canvas, (x, y - th - 3), (x + tw + 2, y + 2), (0, 0, 0), -1)
    cv2.putText(
        canvas,
        text,
        (x + 1, y - 1),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (0, 255, 0),
        thickness,
        cv2.LINE_AA,
    )
