"""Warps, blends and colour transfers: each implementation does what it claims, honestly."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from opendfa.forge.blend import BLENDS, blend
from opendfa.forge.color import COLOR_TRANSFERS, histogram_transfer, transfer_colour
from opendfa.forge.swap import swap_region
from opendfa.forge.warp import (
    RESAMPLING,
    WARPS,
    anchor_ring,
    bulge_in_place,
    flow_magnitude,
    point_map,
    warp_in_place,
)


def _smooth_deformation(face) -> tuple[np.ndarray, np.ndarray]:
    """All 478 landmarks moved by a smooth field (up to 5 % of the face width), plus a ring."""
    points = face.landmarks[:, :2].astype(np.float64)
    centre, width = points.mean(0), face.width
    shift = np.stack(
        [
            np.sin((points[:, 1] - centre[1]) / width * 4),
            np.cos((points[:, 0] - centre[0]) / width * 3),
        ],
        axis=1,
    )
    return points, points + 0.05 * width * shift


@pytest.mark.parametrize("method", WARPS)
def test_each_warp_maps_control_points_onto_their_targets(portraits, method):
    for face_image in portraits[:2]:  # a small (209 px) and a large (428 px) crop
        source, target = _smooth_deformation(face_image.face)
        ring = anchor_ring(source, face_image.rgb.shape[:2])
        source, target = np.vstack([source, ring]), np.vstack([target, ring])
        (x0, y0, _, _), map_x, map_y, _ = point_map(
            method, source, target, face_image.rgb.shape[:2]
        )
        # Sample the backward map at each target point: it must point at the source point.
        at_x = (target[:478, 0] - 0.5 - x0).astype(np.float32)[None]
        at_y = (target[:478, 1] - 0.5 - y0).astype(np.float32)[None]
        got_x = cv2.remap(map_x.astype(np.float32), at_x, at_y, cv2.INTER_LINEAR)[0] + 0.5
        got_y = cv2.remap(map_y.astype(np.float32), at_x, at_y, cv2.INTER_LINEAR)[0] + 0.5
        error = np.hypot(got_x - source[:478, 0], got_y - source[:478, 1])
        assert error.max() < 1.0, (method, float(error.max()))
        assert np.hypot(*(target - source).T).max() > 5  # the test moved points a lot


@pytest.mark.parametrize("method", WARPS)
@pytest.mark.parametrize("resample", sorted(RESAMPLING))
def test_warp_in_place_changes_nothing_outside_the_ring(portraits, method, resample):
    face_image = portraits[0]
    source, target = _smooth_deformation(face_image.face)
    ring = anchor_ring(source, face_image.rgb.shape[:2])
    out, flow = warp_in_place(
        face_image.rgb, source, target, ring, method=method, interpolation=resample
    )
    displacement = flow_magnitude(flow)
    hull = cv2.fillConvexPoly(
        np.zeros(face_image.rgb.shape[:2], np.uint8),
        cv2.convexHull(np.round(ring).astype(np.int32)),
        1,
    )
    outside = ~cv2.dilate(hull, np.ones((5, 5), np.uint8)).astype(bool)  # rounding at the rim
    assert (out[outside] == face_image.rgb[outside]).all()
    assert (displacement[outside] == 0).all()
    changed = np.abs(out.astype(int) - face_image.rgb).max(axis=2) > 0
    assert (displacement[changed] > 0).all()  # every changed pixel is in the mask
    assert displacement.max() > 3


def test_resampling_filters_leave_different_traces(portraits):
    face_image = portraits[1]
    source, target = _smooth_deformation(face_image.face)
    ring = anchor_ring(source, face_image.rgb.shape[:2])
    outputs = {
        name: warp_in_place(face_image.rgb, source, target, ring, interpolation=name)[0]
        for name in RESAMPLING
    }
    names = sorted(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.array_equal(outputs[a], outputs[b]), (a, b)


@pytest.mark.parametrize("amount", [0.3, -0.3])
def test_bulge_magnifies_or_shrinks_the_centre_and_stops_at_its_rim(amount):
    size, centre, radius = 101, np.array([50.5, 50.5]), 30.0
    rings = np.hypot(*np.mgrid[0:size, 0:size] + 0.5 - centre[:, None, None])
    image = np.repeat(((np.sin(rings) + 1) * 127).astype(np.uint8)[..., None], 3, axis=2)
    out, flow = bulge_in_place(image, centre, radius, amount)
    displacement = flow_magnitude(flow)
    outside = rings > radius + 1
    assert (out[outside] == image[outside]).all() and (displacement[outside] == 0).all()
    # A pixel at distance d shows what was at d (1 - amount (1 - (d / radius)^2)^2).
    d = 8.0  # pixel (50, 58) has its centre 8 px right of the centre
    expected = abs(amount) * d * (1 - (d / radius) ** 2) ** 2
    assert displacement[50, 58] == pytest.approx(expected, rel=0.01)
    assert displacement[50, 50 + 29] < displacement[50, 58]  # fading out towards the rim


def test_bulge_along_an_axis_moves_only_along_it():
    image = np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    centre = np.array([40.5, 40.5])  # the centre of pixel (40, 40)
    _, flow = bulge_in_place(image, centre, 20.0, 0.3, axis=(1.0, 0.0))
    assert flow[40, 30, 0] > 1.0 and flow[40, 30, 1] == 0  # on the axis, along it
    assert (flow[30, 40] == 0).all()  # straight above the centre: no x offset to scale


@pytest.fixture(scope="module")
def swap_inputs(portraits):
    target, source = portraits[1], portraits[0]
    from opendfa.forge.warp import mesh_warp

    warped, covered = mesh_warp(
        source.rgb, source.face.landmarks, target.face.landmarks, target.rgb.shape[:2]
    )
    region = swap_region(target.face.landmarks, target.rgb.shape[:2], "mid") & covered
    return target.rgb, warped, region


@pytest.mark.parametrize("method", BLENDS)
def test_each_blend_is_honest_outside_its_mask(swap_inputs, method):
    target, forged, region = swap_inputs
    image, mask = blend(target, forged, region, method, feather_px=6.0, levels=5)
    difference = np.abs(image.astype(int) - target).max(axis=2)
    assert (difference[mask == 0] == 0).all()
    assert mask.dtype == np.float32 and mask.min() >= 0 and mask.max() <= 1
    assert difference[mask > 0.9].mean() > 5


def test_mixed_poisson_recomposites_what_seamless_clone_spills(swap_inputs):
    """cv2.seamlessClone changes its whole bounding box; ours stays in the mask."""
    target, forged, region = swap_inputs
    inner = region.copy()
    inner[[0, -1], :] = False
    inner[:, [0, -1]] = False
    ys, xs = np.nonzero(inner)
    centre = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    raw = cv2.seamlessClone(forged, target, inner.astype(np.uint8) * 255, centre, cv2.MIXED_CLONE)
    assert (raw[~region] != target[~region]).any()  # the pitfall is real here
    image, mask = blend(target, forged, region, "poisson_mixed", feather_px=3.0)
    assert (image[mask == 0] == target[mask == 0]).all()
    normal, _ = blend(target, forged, region, "poisson_normal", feather_px=3.0)
    assert not np.array_equal(image, normal)  # mixed gradients differ from plain cloning


def _histogram_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over channels of the L1 distance between the two cumulative histograms."""
    total = 0.0
    for c in range(3):
        ca = np.cumsum(np.bincount(a[:, c], minlength=256)) / len(a)
        cb = np.cumsum(np.bincount(b[:, c], minlength=256)) / len(b)
        total += np.abs(ca - cb).sum()
    return total / 3


def test_histogram_matching_moves_the_masked_histogram_to_the_reference(swap_inputs):
    target, forged, region = swap_inputs
    before = _histogram_distance(forged[region], target[region])
    matched = histogram_transfer(forged, target, region)
    after = _histogram_distance(matched[region], target[region])
    assert before > 5 and after < 0.2 * before, (before, after)


@pytest.mark.parametrize("method", COLOR_TRANSFERS)
def test_colour_transfers_move_the_mean_towards_the_target(swap_inputs, method):
    target, forged, region = swap_inputs
    moved = transfer_colour(method, forged, target, region)
    gap_before = np.abs(forged[region].mean(0) - target[region].mean(0)).sum()
    gap_after = np.abs(moved[region].mean(0) - target[region].mean(0)).sum()
    if method == "none":
        assert np.array_equal(moved, forged)
    else:
        assert gap_after < 0.5 * gap_before, (gap_before, gap_after)
    with pytest.raises(ValueError, match="unknown colour transfer"):
        transfer_colour("sepia", forged, target, region)
