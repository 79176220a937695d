"""Landmark-driven warps with interchangeable implementations, resampling filters, masks.

Warp implementations (`WARPS`), each a backward map from the destination points' hull:

* `mesh`: piecewise-affine; every pixel inside the destination landmarks' hull samples the
  source at the same barycentric position in the matching source triangle (Delaunay over the
  destination points);
* `tps`: thin-plate spline through all control points;
* `mls_affine`, `mls_similarity`: moving least squares (Schaefer et al. 2006);

plus `bulge` (`LOCAL_WARPS`): a local radial magnify/shrink about a centre, used by the eye
and nose edits. One `cv2.remap` does the resampling with a filter from `RESAMPLING` (nearest,
linear, cubic, Lanczos), chosen per sample by the methods and recorded in their params.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from opendfa.forge.deform import bulge_map, mls_map, tps_map

WARPS = ("mesh", "tps", "mls_affine", "mls_similarity")
LOCAL_WARPS = ("bulge",)
RESAMPLING = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}


def resampling_flag(name: str) -> int:
    """The OpenCV interpolation flag for a filter name in `RESAMPLING`."""
    try:
        return RESAMPLING[name]
    except KeyError:
        raise ValueError(
            f"unknown resampling filter {name!r}; expected one of {', '.join(RESAMPLING)}"
        ) from None


def point_map(
    method: str, source_points: np.ndarray, target_points: np.ndarray, target_shape: tuple[int, int]
):
    """Backward map for a control-point warp over the target points' hull.

    Returns None (nothing to warp) or ((x0, y0, x1, y1), map_x, map_y, valid): for each pixel
    of the window, the source pixel coordinates, and whether it lies inside the hull.
    """
    if method == "mesh":
        return _mesh_map(source_points, target_points, target_shape)
    if method not in WARPS:
        raise ValueError(f"unknown warp {method!r}; expected one of {', '.join(WARPS)}")
    window = _window(target_points, target_shape)
    if window is None:
        return None
    x0, y0, x1, y1 = window
    if method == "tps":
        map_x, map_y = tps_map(source_points, target_points, window)
    else:
        map_x, map_y = mls_map(source_points, target_points, window, kind=method[4:])
    dst = np.asarray(target_points, dtype=np.float64)[:, :2] - (x0, y0)
    valid = hull_mask(dst, (y1 - y0, x1 - x0))
    return window, map_x, map_y, valid


def _window(points: np.ndarray, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    height, width = shape
    dst = np.asarray(points, dtype=np.float64)[:, :2]
    x0, y0 = np.floor(dst.min(0)).astype(int)
    x1, y1 = np.ceil(dst.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def mesh_warp(
    source: np.ndarray,
    source_points: np.ndarray,
    target_points: np.ndarray,
    target_shape: tuple[int, int],
    *,
    method: str = "mesh",
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Warp `source` so `source_points` land on `target_points` in a (H, W) canvas.

    Returns the warped image (zeros outside) and a bool mask of the pixels it covers.
    """
    height, width = target_shape
    warped = np.zeros((height, width, *source.shape[2:]), dtype=source.dtype)
    covered = np.zeros((height, width), dtype=bool)
    mapping = point_map(method, source_points, target_points, target_shape)
    if mapping is None:
        return warped, covered
    (x0, y0, x1, y1), map_x, map_y, valid = mapping
    patch = cv2.remap(
        source, map_x, map_y, resampling_flag(interpolation), borderMode=cv2.BORDER_REFLECT
    )
    warped[y0:y1, x0:x1][valid] = patch[valid]
    covered[y0:y1, x0:x1] = valid
    return warped, covered


def warp_in_place(
    image: np.ndarray,
    points: np.ndarray,
    moved: np.ndarray,
    anchors: np.ndarray,
    *,
    method: str = "mesh",
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Move `points` of an image to `moved`, keeping `anchors` fixed (a ring around the face).

    Returns the warped image and each pixel's displacement in pixels (0 where unchanged), the
    honest basis of the mask for expression and shape edits. TPS and MLS maps do not vanish
    between the anchors, so their displacement fades to zero over the outer part of the ring.
    """
    source = np.vstack([np.asarray(points)[:, :2], anchors])
    target = np.vstack([np.asarray(moved)[:, :2], anchors])
    mapping = point_map(method, source, target, image.shape[:2])
    if mapping is None:
        return image.copy(), np.zeros(image.shape[:2], dtype=np.float32)
    window, map_x, map_y, valid = mapping
    if method != "mesh":
        x0, y0, x1, y1 = window
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        inside = cv2.distanceTransform(valid.astype(np.uint8), cv2.DIST_L2, 5)
        fade_px = 0.15 * max(float(np.ptp(anchors[:, 0])), float(np.ptp(anchors[:, 1])), 1.0)
        t = np.clip(inside / fade_px, 0.0, 1.0)
        weight = t * t * (3 - 2 * t)  # smoothstep: no crease where the fade starts
        map_x = xs + (map_x - xs) * weight
        map_y = ys + (map_y - ys) * weight
    return apply_map(image, window, map_x, map_y, valid, interpolation)


def bulge_in_place(
    image: np.ndarray,
    centre: np.ndarray,
    radius: float,
    amount: float,
    *,
    axis: np.ndarray | None = None,
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Bulge (amount > 0) or pinch (amount < 0) the image inside a circle; see `bulge_map`.

    Returns the warped image and each pixel's displacement, as `warp_in_place`.
    """
    height, width = image.shape[:2]
    x0, y0 = (int(np.floor(c - radius)) for c in centre[:2])
    x1, y1 = (int(np.ceil(c + radius)) + 1 for c in centre[:2])
    window = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    if window[2] <= window[0] or window[3] <= window[1]:
        return image.copy(), np.zeros((height, width), dtype=np.float32)
    map_x, map_y = bulge_map(window, np.asarray(centre[:2], np.float64), radius, amount, axis)
    valid = np.ones(map_x.shape, dtype=bool)  # the map is the identity outside the circle
    return apply_map(image, window, map_x, map_y, valid, interpolation)


def apply_map(
    image: np.ndarray,
    window: tuple[int, int, int, int],
    map_x: np.ndarray,
    map_y: np.ndarray,
    valid: np.ndarray,
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Resample `image` over `window` where `valid` and the map moves a pixel (> 0.05 px).

    Returns the image (unchanged elsewhere, exactly) and the per-pixel displacement.
    """
    x0, y0, x1, y1 = window
    result = image.copy()
    displacement = np.zeros(image.shape[:2], dtype=np.float32)
    patch = cv2.remap(
        image,
        map_x.astype(np.float32),
        map_y.astype(np.float32),
        resampling_flag(interpolation),
        borderMode=cv2.BORDER_REFLECT,
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
    dst = np.asarray(target_points, dtype=np.float64)[:, :2]
    src = np.asarray(source_points, dtype=np.float64)[:, :2]
    window = _window(dst, target_shape)
    if window is None:
        return None
    x0, y0, x1, y1 = window
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
