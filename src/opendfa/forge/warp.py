"""Piecewise-affine mesh warping over the 478 face landmarks, and mask helpers.

`mesh_warp` fills every pixel inside the destination landmarks' hull by sampling the source
image at the same barycentric position in the matching source triangle (Delaunay over the
destination points), then one `cv2.remap` does the resampling.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay


def mesh_warp(
    source: np.ndarray,
    source_points: np.ndarray,
    target_points: np.ndarray,
    target_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `source` so `source_points` land on `target_points` in a (H, W) canvas.

    Returns the warped image (zeros outside) and a bool mask of the pixels it covers.
    """
    height, width = target_shape
    warped = np.zeros((height, width, *source.shape[2:]), dtype=source.dtype)
    covered = np.zeros((height, width), dtype=bool)
    mapping = _mesh_map(source_points, target_points, target_shape)
    if mapping is None:
        return warped, covered
    (x0, y0, x1, y1), map_x, map_y, valid = mapping
    patch = cv2.remap(
        source, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    warped[y0:y1, x0:x1][valid] = patch[valid]
    covered[y0:y1, x0:x1] = valid
    return warped, covered


def warp_in_place(
    image: np.ndarray, points: np.ndarray, moved: np.ndarray, anchors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move `points` of an image to `moved`, keeping `anchors` fixed (a ring around the face).

    Returns the warped image and each pixel's displacement in pixels (0 where unchanged), the
    honest basis of the mask for expression and shape edits.
    """
    source = np.vstack([np.asarray(points)[:, :2], anchors])
    target = np.vstack([np.asarray(moved)[:, :2], anchors])
    result = image.copy()
    displacement = np.zeros(image.shape[:2], dtype=np.float32)
    mapping = _mesh_map(source, target, image.shape[:2])
    if mapping is None:
        return result, displacement
    (x0, y0, x1, y1), map_x, map_y, valid = mapping
    patch = cv2.remap(
        image, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
    )
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    shift = np.hypot(map_x - xs, map_y - ys) * valid
    moving = valid & (shift > 0.05)
    result[y0:y1, x0:x1][moving] = patch[moving]
    displacement[y0:y1, x0:x1] = np.where(moving, shift, 0.0)
    return result, displacement


def anchor_ring(
    landmarks: np.ndarray, shape: tuple[int, int], scale: float = 1.35, count: int = 24
) -> np.ndarray:
    """Fixed points on an ellipse around the face, so warps fade out before the background."""
    points = np.asarray(landmarks)[:, :2]
    centre = points.mean(axis=0)
    radius = (points.max(axis=0) - points.min(axis=0)) / 2 * scale
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    ring = centre + np.stack([np.cos(angles), np.sin(angles)], axis=1) * radius
    height, width = shape
    return np.clip(ring, [0, 0], [width - 1, height - 1])


def _mesh_map(source_points: np.ndarray, target_points: np.ndarray, target_shape: tuple[int, int]):
    """Per-pixel source coordinates for the target points' hull, over its bounding window."""
    height, width = target_shape
    dst = np.asarray(target_points, dtype=np.float64)[:, :2]
    src = np.asarray(source_points, dtype=np.float64)[:, :2]
    x0, y0 = np.floor(dst.min(0)).astype(int)
    x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    triangulation = Delaunay(dst)
    ys, xs = np.mgrid[y0:y1, x0:x1]
    pixels = np.stack([xs.ravel() + 0.5, ys.ravel() + 0.5], axis=1)
    simplex = _rasterize_triangles(
        triangulation, dst - (x0 + 0.5, y0 + 0.5), (y1 - y0, x1 - x0)
    ).ravel()
    inside = simplex >= 0
    # Barycentric coordinates written out element-wise: batched matmul/einsum goes through
    # BLAS, whose spinning threads slow this down a hundredfold on a busy machine.
    transform = triangulation.transform[simplex[inside]]
    delta = pixels[inside] - transform[:, 2]
    b0 = transform[:, 0, 0] * delta[:, 0] + transform[:, 0, 1] * delta[:, 1]
    b1 = transform[:, 1, 0] * delta[:, 0] + transform[:, 1, 1] * delta[:, 1]
    corners = src[triangulation.simplices[simplex[inside]]]
    mapped = (
        b0[:, None] * corners[:, 0]
        + b1[:, None] * corners[:, 1]
        + (1.0 - b0 - b1)[:, None] * corners[:, 2]
    )
    mapped -= 0.5
    map_x = np.full(pixels.shape[0], -1.0, dtype=np.float32)
    map_y = np.full(pixels.shape[0], -1.0, dtype=np.float32)
    map_x[inside], map_y[inside] = mapped[:, 0], mapped[:, 1]
    shape = (y1 - y0, x1 - x0)
    return (x0, y0, x1, y1), map_x.reshape(shape), map_y.reshape(shape), inside.reshape(shape)


def _rasterize_triangles(
    triangulation: Delaunay, points: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Index of the triangle covering each pixel (-1 outside), by filling each triangle.

    Much faster than `Delaunay.find_simplex`, which falls back to a brute-force search for
    every pixel outside the hull.
    """
    labels = np.full(shape, -1, dtype=np.int32)
    fixed = np.round(points * 16).astype(np.int32)
    for number, triangle in enumerate(triangulation.simplices):
        cv2.fillConvexPoly(labels, fixed[triangle], int(number), lineType=cv2.LINE_8, shift=4)
    return labels


def hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Filled convex hull of points as a bool mask of (H, W)."""
    canvas = np.zeros(shape, dtype=np.uint8)
    hull = cv2.convexHull(np.round((np.asarray(points)[:, :2] - 0.5) * 16).astype(np.int32))
    cv2.fillConvexPoly(canvas, hull, 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Filled polygon (points in order) as a bool mask of (H, W)."""
    canvas = np.zeros(shape, dtype=np.uint8)
    contour = np.round((np.asarray(points)[:, :2] - 0.5) * 16).astype(np.int32)
    cv2.fillPoly(canvas, [contour], 1, lineType=cv2.LINE_8, shift=4)
    return canvas.astype(bool)


def feather(mask: np.ndarray, radius: float) -> np.ndarray:
    """Soft float mask: blurred inward so the soft edge stays inside the original mask."""
    hard = mask.astype(np.float32)
    if radius <= 0:
        return hard
    size = int(2 * round(radius) + 1)
    eroded = cv2.erode(hard, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size)))
    soft = cv2.GaussianBlur(eroded, (0, 0), sigmaX=max(radius / 2.0, 0.5))
    return np.clip(soft, 0.0, 1.0) * hard


def composite(background: np.ndarray, foreground: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """alpha * foreground + (1 - alpha) * background, rounded to uint8."""
    weight = alpha.astype(np.float32)[..., None]
    mixed = weight * foreground.astype(np.float32) + (1.0 - weight) * background.astype(np.float32)
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)
