"""Smooth point-driven deformations: thin-plate spline, moving least squares, bulge/pinch.

Each returns a *backward* map (for every output pixel, where to sample the input), the form
`cv2.remap` wants. Coordinates follow the landmarks' convention: pixel (i, j) covers
[j, j+1) x [i, i+1), so its centre is (j + 0.5, i + 0.5); maps hold pixel indices.

* `tps_map`: thin-plate spline (Bookstein 1989) through the control points, r^2 log r^2
  kernel with an affine part; it interpolates, so every target point maps onto its source.
* `mls_map`: moving least squares image deformation (Schaefer, McPhail & Warren 2006) with
  weights 1 / distance^3, affine or similarity; also interpolating.
* `bulge_map`: a local radial magnification (bulge) or shrink (pinch) inside a circle,
  smooth at its rim, optionally along one axis only;
* `push_map`: liquify's forward warp: a disc slides along a vector, fading to nothing at its
  rim (`falloff`);
* `twirl_map`: a disc turns about its centre by an angle that fades to nothing at its rim.

The three local maps share one falloff, (1 - (r / radius)^2)^2: smooth at the rim and at the
centre, so the warped disc has no crease.

TPS and MLS are evaluated on a coarse grid (every `step` px) and interpolated bicubically:
the maps are smooth, and this keeps them near the piecewise-affine mesh in cost.
"""

from __future__ import annotations

import cv2
import numpy as np

MLS_KINDS = ("affine", "similarity")
MLS_ALPHA = 1.5  # weights 1 / d^3: smooth at the control points, so a coarse grid suffices
# (mls_map computes d^3 directly; change both together)


def _grid(window: tuple[int, int, int, int], step: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates of a coarse grid covering the window (inclusive of its end)."""
    x0, y0, x1, y1 = window
    gx = x0 + step * np.arange(int(np.ceil((x1 - 1 - x0) / step)) + 1) + 0.5
    gy = y0 + step * np.arange(int(np.ceil((y1 - 1 - y0) / step)) + 1) + 0.5
    return np.meshgrid(gx, gy)


def _densify(
    coarse_x: np.ndarray, coarse_y: np.ndarray, window: tuple[int, int, int, int], step: int
) -> tuple[np.ndarray, np.ndarray]:
    """Bicubic interpolation of a coarse map onto every pixel of the window."""
    x0, y0, x1, y1 = window
    fx, fy = np.meshgrid(
        np.arange(x1 - x0, dtype=np.float32) / step, np.arange(y1 - y0, dtype=np.float32) / step
    )
    dense = [
        cv2.remap(c.astype(np.float32), fx, fy, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        for c in (coarse_x, coarse_y)
    ]
    return dense[0], dense[1]


def _step_for(window: tuple[int, int, int, int]) -> int:
    x0, y0, x1, y1 = window
    return int(np.clip(max(x1 - x0, y1 - y0) // 48, 2, 10))


def _unique(source: np.ndarray, target: np.ndarray, min_distance: float = 0.5):
    """Drop control points whose target nearly repeats an earlier one (singular systems)."""
    keep = np.ones(len(target), dtype=bool)
    rounded = np.round(target / min_distance).astype(np.int64)
    _, first = np.unique(rounded, axis=0, return_index=True)
    keep[:] = False
    keep[first] = True
    return source[keep], target[keep]


def _thin_out(source: np.ndarray, target: np.ndarray, limit: int):
    """At most `limit` control points: every moving point first, then evenly spaced static
    ones (by index), so the spline's cost stays low on 478-point meshes."""
    if len(target) <= limit:
        return source, target
    moving = np.flatnonzero(np.hypot(*(source - target).T) > 0.05)
    static = np.flatnonzero(np.hypot(*(source - target).T) <= 0.05)
    if len(moving) >= limit:
        keep = moving[np.linspace(0, len(moving) - 1, limit).round().astype(int)]
    else:
        room = limit - len(moving)
        keep = np.concatenate(
            [moving, static[np.linspace(0, len(static) - 1, room).round().astype(int)]]
        )
    keep = np.unique(keep)
    return source[keep], target[keep]


def tps_map(
    source_points: np.ndarray,
    target_points: np.ndarray,
    window: tuple[int, int, int, int],
    max_points: int = 240,
) -> tuple[np.ndarray, np.ndarray]:
    """Thin-plate spline map over `window` (x0, y0, x1, y1) sending target -> source points.

    With more than `max_points` control points, static ones are thinned out (see `_thin_out`).
    """
    src, dst = _unique(
        np.asarray(source_points, np.float64)[:, :2], np.asarray(target_points, np.float64)[:, :2]
    )
    src, dst = _thin_out(src, dst, max_points)
    centre, scale = dst.mean(0), max(float(dst.std()), 1e-6)
    p = (dst - centre) / scale
    count = len(p)
    kernel = _tps_kernel(p, p)
    system = np.zeros((count + 3, count + 3))
    system[:count, :count] = kernel
    system[:count, count] = 1.0
    system[:count, count + 1 :] = p
    system[count, :count] = 1.0
    system[count + 1 :, :count] = p.T
    rhs = np.zeros((count + 3, 2))
    rhs[:count] = src - dst  # fit the displacement: better conditioned than the positions
    try:
        coeffs = np.linalg.solve(system, rhs)
    except np.linalg.LinAlgError:
        coeffs = np.linalg.lstsq(system, rhs, rcond=None)[0]
    step = _step_for(window)
    gx, gy = _grid(window, step)
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    g = (grid - centre) / scale
    shift = _tps_kernel(g, p) @ coeffs[:count] + coeffs[count] + g @ coeffs[count + 1 :]
    mapped = grid + shift - 0.5
    return _densify(mapped[:, 0].reshape(gx.shape), mapped[:, 1].reshape(gx.shape), window, step)


def _tps_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    squared = (a[:, None, 0] - b[None, :, 0]) ** 2 + (a[:, None, 1] - b[None, :, 1]) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        values = squared * np.log(squared)
    return np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)


def mls_map(
    source_points: np.ndarray,
    target_points: np.ndarray,
    window: tuple[int, int, int, int],
    kind: str = "affine",
) -> tuple[np.ndarray, np.ndarray]:
    """Moving-least-squares map over `window` sending target -> source points (affine or
    similarity), weights 1 / distance^(2 MLS_ALPHA)."""
    if kind not in MLS_KINDS:
        raise ValueError(f"unknown MLS kind {kind!r}; expected one of {', '.join(MLS_KINDS)}")
    q = np.asarray(source_points, np.float64)[:, :2]
    p = np.asarray(target_points, np.float64)[:, :2]
    step = _step_for(window)
    gx, gy = _grid(window, step)
    v = np.stack([gx.ravel(), gy.ravel()], axis=1)
    squared = (v[:, None, 0] - p[None, :, 0]) ** 2 + (v[:, None, 1] - p[None, :, 1]) ** 2
    squared = np.maximum(squared, 1e-8)
    weights = 1.0 / (squared * np.sqrt(squared))  # 1 / d^(2 MLS_ALPHA), without a slow pow
    total = weights.sum(1)
    p_star = weights @ p / total[:, None]
    q_star = weights @ q / total[:, None]
    # Weighted second moments about the weighted centroids, from raw moments.
    px, py, qx, qy = p[:, 0], p[:, 1], q[:, 0], q[:, 1]
    moments = weights @ np.stack([px * px, px * py, py * py, px * qx, px * qy, py * qx, py * qy], 1)
    moments /= total[:, None]
    sxx = moments[:, 0] - p_star[:, 0] ** 2
    sxy = moments[:, 1] - p_star[:, 0] * p_star[:, 1]
    syy = moments[:, 2] - p_star[:, 1] ** 2
    bxx = moments[:, 3] - p_star[:, 0] * q_star[:, 0]
    bxy = moments[:, 4] - p_star[:, 0] * q_star[:, 1]
    byx = moments[:, 5] - p_star[:, 1] * q_star[:, 0]
    byy = moments[:, 6] - p_star[:, 1] * q_star[:, 1]
    d = v - p_star
    if kind == "affine":
        det = sxx * syy - sxy * sxy
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        # (d @ A^-1) @ B with A = [[sxx, sxy], [sxy, syy]], B = [[bxx, bxy], [byx, byy]].
        ax = (d[:, 0] * syy - d[:, 1] * sxy) / det
        ay = (-d[:, 0] * sxy + d[:, 1] * sxx) / det
        mapped = np.stack([ax * bxx + ay * byx, ax * bxy + ay * byy], axis=1) + q_star
    else:
        # q^ ~ a p^ with a complex: a = sum w conj(p^) q^ / sum w |p^|^2.
        mu = np.maximum(sxx + syy, 1e-12)
        real = (bxx + byy) / mu
        imag = (bxy - byx) / mu
        mapped = (
            np.stack([real * d[:, 0] - imag * d[:, 1], imag * d[:, 0] + real * d[:, 1]], 1) + q_star
        )
    # A grid point on a control point: weights blow up, the formula still gives q there.
    mapped -= 0.5
    return _densify(mapped[:, 0].reshape(gx.shape), mapped[:, 1].reshape(gx.shape), window, step)


def bulge_map(
    window: tuple[int, int, int, int],
    centre: np.ndarray,
    radius: float,
    amount: float,
    axis: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Radial bulge (amount > 0, magnifies the centre by 1 / (1 - amount)) or pinch
    (amount < 0) inside `radius`; with `axis` (a unit vector) only along that axis."""
    if not -1.0 < amount < 1.0:
        raise ValueError(f"bulge amount must be in (-1, 1), got {amount}")
    x0, y0, x1, y1 = window
    xs, ys = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
    dx, dy = xs - centre[0], ys - centre[1]
    t2 = np.minimum((dx * dx + dy * dy) / max(radius, 1e-6) ** 2, 1.0)
    factor = 1.0 - amount * (1.0 - t2) ** 2  # source offset / output offset, 1 at the rim
    if axis is None:
        sx, sy = dx * factor, dy * factor
    else:
        along = dx * axis[0] + dy * axis[1]
        moved = along * (factor - 1.0)
        sx, sy = dx + moved * axis[0], dy + moved * axis[1]
    map_x = (centre[0] + sx - 0.5).astype(np.float32)
    map_y = (centre[1] + sy - 0.5).astype(np.float32)
    return map_x, map_y


def falloff(t2: np.ndarray) -> np.ndarray:
    """The brushes' weight at squared relative distance `t2` = (r / radius)^2: 1 at the centre,
    0 with zero slope at the rim, 0 beyond."""
    return (1.0 - np.minimum(t2, 1.0)) ** 2


# Largest slope of falloff(r / radius) in r, times radius: at r = radius / sqrt(3).
_FALLOFF_SLOPE = 8.0 / (3.0 * np.sqrt(3.0))


def _offsets(window: tuple[int, int, int, int], centre: np.ndarray):
    x0, y0, x1, y1 = window
    xs, ys = np.meshgrid(np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5)
    return xs - centre[0], ys - centre[1]


def push_map(
    window: tuple[int, int, int, int], centre: np.ndarray, radius: float, shift: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Move what lies near `centre` by `shift` (x, y in px), fading out at `radius`.

    Output pixel p samples p - shift * falloff(|p - centre| / radius). The map stays
    one-to-one while |shift| * max slope < radius, so longer pushes are refused.
    """
    shift = np.asarray(shift, dtype=np.float64)
    if float(np.hypot(*shift)) * _FALLOFF_SLOPE >= 0.95 * radius:
        raise ValueError(f"a push of {np.hypot(*shift):.1f} px folds a {radius:.1f} px brush")
    dx, dy = _offsets(window, centre)
    weight = falloff((dx * dx + dy * dy) / max(radius, 1e-6) ** 2)
    map_x = centre[0] + dx - shift[0] * weight - 0.5
    map_y = centre[1] + dy - shift[1] * weight - 0.5
    return map_x.astype(np.float32), map_y.astype(np.float32)


def twirl_map(
    window: tuple[int, int, int, int], centre: np.ndarray, radius: float, angle: float
) -> tuple[np.ndarray, np.ndarray]:
    """Turn the disc about `centre` by `angle` radians (positive: clockwise on screen, as y
    points down), the turn fading to nothing at `radius`. Area-preserving: never folds."""
    dx, dy = _offsets(window, centre)
    turn = -angle * falloff((dx * dx + dy * dy) / max(radius, 1e-6) ** 2)  # backward: undo it
    cos, sin = np.cos(turn), np.sin(turn)
    map_x = centre[0] + cos * dx - sin * dy - 0.5
    map_y = centre[1] + sin * dx + cos * dy - 0.5
    return map_x.astype(np.float32), map_y.astype(np.float32)
