"""Semantic face regions drawn from the 478-point mesh, in any coordinate frame.

Masks are built from the landmarks alone (polygons, hulls and half-planes through landmark
pairs), so the same code gives regions in the original image and in an aligned crop: pass the
landmarks in that frame. Masks are kept inside the face's bounding window (`RegionMasks`) so a
50 MP photo does not cost twelve full-size arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from opendfa.faces import mesh
from opendfa.taxonomy import REGION_NAMES

# Region i of a mirrored face is region MIRRORED_REGIONS[i] of the face: the subject's left
# and right swap (flipped training crops, mirror test-time averaging).
MIRRORED_REGIONS = tuple(
    REGION_NAMES.index(name.replace("left_", "@").replace("right_", "left_").replace("@", "right_"))
    for name in REGION_NAMES
)


@dataclass
class RegionMasks:
    """Boolean masks of the named regions inside a window of a canvas.

    `origin` is the (x, y) of the window's top-left corner in the canvas, `canvas_size` is the
    canvas (width, height). `full(name)` returns a canvas-sized mask when one is needed.
    """

    origin: tuple[int, int]
    canvas_size: tuple[int, int]
    masks: dict[str, np.ndarray]

    def full(self, name: str) -> np.ndarray:
        width, height = self.canvas_size
        canvas = np.zeros((height, width), dtype=bool)
        window = self.masks[name]
        x0, y0 = self.origin
        canvas[y0 : y0 + window.shape[0], x0 : x0 + window.shape[1]] = window
        return canvas

    def areas(self) -> dict[str, int]:
        """Pixel count of every region."""
        return {name: int(mask.sum()) for name, mask in self.masks.items()}

    def box(self, name: str) -> tuple[int, int, int, int] | None:
        """Tight (x0, y0, x1, y1) of a region in canvas pixels, None if empty."""
        ys, xs = np.nonzero(self.masks[name])
        if xs.size == 0:
            return None
        x0, y0 = self.origin
        return (
            x0 + int(xs.min()),
            y0 + int(ys.min()),
            x0 + int(xs.max()) + 1,
            y0 + int(ys.max()) + 1,
        )


def region_masks(landmarks: np.ndarray, canvas_size: tuple[int, int]) -> RegionMasks:
    """Masks of the 12 regions for one face; `landmarks` is (478, 2+) in canvas pixels."""
    points = np.asarray(landmarks, dtype=np.float64)[:, :2]
    if points.shape[0] != mesh.NUM_LANDMARKS:
        raise ValueError(f"expected {mesh.NUM_LANDMARKS} landmarks, got {points.shape[0]}")
    width, height = canvas_size
    scale = _face_scale(points)
    band = max(2, round(0.06 * scale))
    x0, y0, x1, y1 = _window(points, band, width, height)
    local = points - (x0, y0)
    shape = (y1 - y0, x1 - x0)
    masks = _build_masks(local, shape, band, scale)
    return RegionMasks(origin=(x0, y0), canvas_size=(width, height), masks=masks)


def _build_masks(
    p: np.ndarray, shape: tuple[int, int], band: int, scale: float
) -> dict[str, np.ndarray]:
    skin = _polygon(p, mesh.FACE_OVAL, shape)
    eyes = {
        "left_eye": _polygon(p, mesh.LEFT_EYE, shape),
        "right_eye": _polygon(p, mesh.RIGHT_EYE, shape),
    }
    brows = {
        "left_eyebrow": _polygon(p, mesh.LEFT_EYEBROW, shape),
        "right_eyebrow": _polygon(p, mesh.RIGHT_EYEBROW, shape),
    }
    nose = _hull(p, mesh.NOSE, shape)
    mouth = _polygon(p, mesh.LIPS_OUTER, shape)
    gap = max(1, round(0.03 * scale))
    features = _dilate(
        eyes["left_eye"] | eyes["right_eye"] | brows["left_eyebrow"] | brows["right_eyebrow"], gap
    )

    brow_line = (p[mesh.RIGHT_BROW_TOP], p[mesh.LEFT_BROW_TOP])
    forehead = skin & _side_of(brow_line, shape, p[mesh.FOREHEAD_TOP]) & ~features

    lip_bottom = p[mesh.LOWER_LIP_BOTTOM]
    mouth_axis = p[mesh.MOUTH_LEFT_CORNER] - p[mesh.MOUTH_RIGHT_CORNER]
    chin_top = (lip_bottom, lip_bottom + mouth_axis)
    below_lip = _side_of(chin_top, shape, p[mesh.MIDLINE_BOTTOM])
    chin = skin & below_lip & _between_mouth_corners(p, shape) & ~_dilate(mouth, gap)

    eye_line = (p[mesh.RIGHT_EYE_LOWER], p[mesh.LEFT_EYE_LOWER])
    below_eyes = _side_of(eye_line, shape, p[mesh.NOSE_TIP])
    midline = (p[mesh.MIDLINE_TOP], p[mesh.MIDLINE_BOTTOM])
    left_side = _side_of(midline, shape, p[mesh.LEFT_IRIS_CENTER])
    cheeks = skin & below_eyes & ~chin & ~_dilate(nose | mouth, gap) & ~features
    masks = {
        "forehead": forehead,
        **brows,
        **eyes,
        "nose": nose,
        "mouth": mouth,
        "left_cheek": cheeks & left_side,
        "right_cheek": cheeks & ~left_side,
        "chin": chin,
        "face_boundary": _dilate(skin, band) & ~_erode(skin, band),
        "skin": skin,
    }
    return {name: masks[name] for name in REGION_NAMES}


def _face_scale(points: np.ndarray) -> float:
    """Face size in pixels: the larger side of the face oval's bounding box."""
    oval = points[list(mesh.FACE_OVAL)]
    return float(max(np.ptp(oval[:, 0]), np.ptp(oval[:, 1]), 1.0))


def _window(points: np.ndarray, band: int, width: int, height: int) -> tuple[int, int, int, int]:
    x0 = int(np.clip(np.floor(points[:, 0].min()) - band - 2, 0, width))
    y0 = int(np.clip(np.floor(points[:, 1].min()) - band - 2, 0, height))
    x1 = int(np.clip(np.ceil(points[:, 0].max()) + band + 3, x0, width))
    y1 = int(np.clip(np.ceil(points[:, 1].max()) + band + 3, y0, height))
    return x0, y0, x1, y1


def _polygon(points: np.ndarray, indices: tuple[int, ...], shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, dtype=np.uint8)
    contour = np.round((points[list(indices)] - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [contour], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def _hull(points: np.ndarray, indices: tuple[int, ...], shape: tuple[int, int]) -> np.ndarray:
    canvas = np.zeros(shape, dtype=np.uint8)
    hull = cv2.convexHull(np.round((points[list(indices)] - 0.5) * 16).astype(np.int32))
    cv2.fillConvexPoly(canvas, hull, 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def _side_of(
    line: tuple[np.ndarray, np.ndarray], shape: tuple[int, int], reference: np.ndarray
) -> np.ndarray:
    """Pixels (centres at i + 0.5) on the same side as `reference` of the line through two points.

    Broadcasting a row and a column of coordinates avoids building two full index grids.
    """
    (ax, ay), (bx, by) = line
    xs = np.arange(shape[1], dtype=np.float64)[None, :] + 0.5
    ys = np.arange(shape[0], dtype=np.float64)[:, None] + 0.5
    cross = (bx - ax) * (ys - ay) - (by - ay) * (xs - ax)
    ref = (bx - ax) * (reference[1] - ay) - (by - ay) * (reference[0] - ax)
    return cross * np.sign(ref) > 0


def _between_mouth_corners(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The strip between lines through the (widened) mouth corners, perpendicular to the mouth."""
    right = points[mesh.MOUTH_RIGHT_CORNER]
    left = points[mesh.MOUTH_LEFT_CORNER]
    axis = left - right
    normal = np.array([-axis[1], axis[0]])
    outer_right = right - 0.35 * axis
    outer_left = left + 0.35 * axis
    center = (right + left) / 2
    inside_right = _side_of((outer_right, outer_right + normal), shape, center)
    inside_left = _side_of((outer_left, outer_left + normal), shape, center)
    return inside_right & inside_left


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel).astype(bool)


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.erode(mask.astype(np.uint8), kernel).astype(bool)
