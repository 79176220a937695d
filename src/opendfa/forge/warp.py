"""Landmark-driven warps with interchangeable implementations, liquify brushes, masks.

Warp implementations (`WARPS`), each a backward map from the destination points' hull:

* `mesh`: piecewise-affine; every pixel inside the destination landmarks' hull samples the
  source at the same barycentric position in the matching source triangle (Delaunay over the
  destination points);
* `tps`: thin-plate spline through all control points;
* `mls_affine`, `mls_similarity`: moving least squares (Schaefer et al. 2006);

plus liquify-style brushes (`LOCAL_WARPS`) about a centre: `bulge` (magnify), `pinch` (shrink),
`push` (slide a disc along a vector) and `twirl` (turn a disc), each fading out at its rim.
One resampling (`resample.remap`) applies the map, with a filter from `WARP_RESAMPLING`
(OpenCV nearest/linear/cubic/Lanczos, scikit-image orders 1-3, SciPy splines 4/5), chosen
per sample by the methods and recorded in their params.

The in-place warps return the image and its backward flow: (H, W, 2) float32, for every pixel
(dx, dy) in px such that the output at (x, y) shows the input at (x + dx, y + dy); zero where
nothing moved. `apply_flow` replays a flow; `compose_flows` chains two.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import Delaunay

from opendfa.forge.deform import bulge_map, mls_map, push_map, tps_map, twirl_map
from opendfa.forge.resample import RESAMPLING as RESAMPLING  # the methods import them here
from opendfa.forge.resample import WARP_RESAMPLING as WARP_RESAMPLING
from opendfa.forge.resample import remap
from opendfa.forge.resample import resampling_flag as resampling_flag

WARPS = ("mesh", "tps", "mls_affine", "mls_similarity")
LOCAL_WARPS = ("bulge", "pinch", "push", "twirl")
MOVED_PX = 0.05  # a pixel whose map moves it less than this keeps its value exactly


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
    patch = remap(source, map_x, map_y, interpolation)
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

    Returns the warped image and its backward flow (see the module); the flow's length is
    the honest basis of the mask for expression and shape edits. TPS and MLS maps do not
    vanish between the anchors, so their displacement fades to zero over the outer part of
    the ring.
    """
    source = np.vstack([np.asarray(points)[:, :2], anchors])
    target = np.vstack([np.asarray(moved)[:, :2], anchors])
    mapping = point_map(method, source, target, image.shape[:2])
    if mapping is None:
        return image.copy(), no_flow(image.shape[:2])
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


def _disc_window(
    centre: np.ndarray, radius: float, shape: tuple[int, int]
) -> tuple[int, int, int, int] | None:
    height, width = shape
    x0, y0 = (int(np.floor(c - radius)) for c in centre[:2])
    x1, y1 = (int(np.ceil(c + radius)) + 1 for c in centre[:2])
    window = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
    return window if window[2] > window[0] and window[3] > window[1] else None


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

    Returns the warped image and its backward flow, as `warp_in_place`.
    """
    window = _disc_window(centre, radius, image.shape[:2])
    if window is None:
        return image.copy(), no_flow(image.shape[:2])
    map_x, map_y = bulge_map(window, np.asarray(centre[:2], np.float64), radius, amount, axis)
    return _apply_brush(image, window, map_x, map_y, interpolation)


def push_in_place(
    image: np.ndarray,
    centre: np.ndarray,
    radius: float,
    shift: np.ndarray,
    *,
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Slide the disc about `centre` by `shift` (px), fading out at `radius`; see `push_map`."""
    window = _disc_window(centre, radius, image.shape[:2])
    if window is None:
        return image.copy(), no_flow(image.shape[:2])
    map_x, map_y = push_map(window, np.asarray(centre[:2], np.float64), radius, shift)
    return _apply_brush(image, window, map_x, map_y, interpolation)


def twirl_in_place(
    image: np.ndarray,
    centre: np.ndarray,
    radius: float,
    angle: float,
    *,
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the disc about `centre` by `angle` radians, fading out at `radius`; `twirl_map`."""
    window = _disc_window(centre, radius, image.shape[:2])
    if window is None:
        return image.copy(), no_flow(image.shape[:2])
    map_x, map_y = twirl_map(window, np.asarray(centre[:2], np.float64), radius, angle)
    return _apply_brush(image, window, map_x, map_y, interpolation)


def _apply_brush(image, window, map_x, map_y, interpolation):
    valid = np.ones(map_x.shape, dtype=bool)  # a brush's map is the identity outside its disc
    return apply_map(image, window, map_x, map_y, valid, interpolation)


def apply_map(
    image: np.ndarray,
    window: tuple[int, int, int, int],
    map_x: np.ndarray,
    map_y: np.ndarray,
    valid: np.ndarray,
    interpolation: str = "linear",
) -> tuple[np.ndarray, np.ndarray]:
    """Resample `image` over `window` where `valid` and the map moves a pixel (> MOVED_PX).

    Returns the image (unchanged elsewhere, exactly) and the backward flow (H, W, 2) of the
    pixels it moved, zero elsewhere.
    """
    x0, y0, x1, y1 = window
    result = image.copy()
    flow = no_flow(image.shape[:2])
    patch = remap(image, map_x, map_y, interpolation)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = map_x - xs, map_y - ys
    moving = valid & (np.hypot(dx, dy) > MOVED_PX)
    result[y0:y1, x0:x1][moving] = patch[moving]
    flow[y0:y1, x0:x1, 0] = np.where(moving, dx, 0.0)
    flow[y0:y1, x0:x1, 1] = np.where(moving, dy, 0.0)
    return result, flow


def no_flow(shape: tuple[int, int]) -> np.ndarray:
    """A flow that moves nothing: (H, W, 2) zeros."""
    return np.zeros((*shape, 2), dtype=np.float32)


def flow_magnitude(flow: np.ndarray) -> np.ndarray:
    """Each pixel's displacement in px, (H, W) float32."""
    return np.hypot(flow[..., 0], flow[..., 1]).astype(np.float32)


def compose_flows(earlier: np.ndarray, later: np.ndarray) -> np.ndarray:
    """The one flow of `earlier` then `later`: the final pixel p shows, before both, the
    pixel p + later(p) + earlier(p + later(p)) (earlier sampled bilinearly)."""
    height, width = later.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    moved = np.any(later != 0, axis=2)
    carried = cv2.remap(
        earlier,
        xs + later[..., 0],
        ys + later[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return (later + np.where(moved[..., None], carried, earlier)).astype(np.float32)


def apply_flow(image: np.ndarray, flow: np.ndarray, interpolation: str = "linear") -> np.ndarray:
    """Warp `image` by a backward flow (the check that a recorded flow is the applied one):
    pixels the flow moves are resampled, the others kept exactly."""
    height, width = flow.shape[:2]
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    moving = np.any(flow != 0, axis=2)
    warped = remap(image, xs + flow[..., 0], ys + flow[..., 1], interpolation)
    return np.where(moving[..., None] if image.ndim == 3 else moving, warped, image)


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
