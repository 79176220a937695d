"""Resampling libraries: each agrees with OpenCV on smooth content yet leaves its own pixels."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from opendfa.forge import create_forgery, technique_group
from opendfa.forge.resample import (
    RESAMPLING,
    SCIPY_SPLINES,
    SKIMAGE_ORDERS,
    WARP_RESAMPLING,
    remap,
    resampling_library,
)
from opendfa.forge.warp import anchor_ring, flow_magnitude, warp_in_place

NEW = sorted(set(WARP_RESAMPLING) - set(RESAMPLING))


def _map(size: int = 100, offset: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth backward map with sub-pixel positions everywhere, inside a larger image."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    return xs + offset + 2.3 * np.sin(ys / 13), ys + offset + 1.7 * np.cos(xs / 11)


def _smooth_image(size: int = 120) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    grey = 127 + 80 * np.sin(xs / 9.0) * np.cos(ys / 11.0)
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=2)


def test_the_new_names_say_their_library():
    assert set(NEW) == {*SKIMAGE_ORDERS, *SCIPY_SPLINES}
    assert {resampling_library(n) for n in RESAMPLING} == {"opencv"}
    assert {resampling_library(n) for n in SKIMAGE_ORDERS} == {"skimage"}
    assert {resampling_library(n) for n in SCIPY_SPLINES} == {"scipy"}
    with pytest.raises(ValueError, match="unknown resampling"):
        resampling_library("pillow_bicubic")


@pytest.mark.parametrize("name", NEW)
def test_each_library_matches_opencv_on_a_smooth_image(name):
    image, (map_x, map_y) = _smooth_image(), _map()
    reference = "linear" if name == "skimage_order1" else "cubic"
    out = remap(image, map_x, map_y, name).astype(int)
    expected = remap(image, map_x, map_y, reference).astype(int)
    assert out.dtype == expected.dtype and out.shape == (100, 100, 3)
    # Bilinear in float against OpenCV's 1/32 px fixed point: at most one grey level.
    assert np.abs(out - expected).max() <= 1
    assert np.abs(out - expected).mean() < 0.25
    # Every spline agrees with OpenCV linear too on content this smooth.
    linear = remap(image, map_x, map_y, "linear").astype(int)
    assert np.abs(out - linear).mean() < 0.25


def test_every_resampler_leaves_different_pixels_on_texture():
    image = np.random.default_rng(0).integers(0, 256, (120, 120, 3), dtype=np.uint8)
    map_x, map_y = _map()
    outputs = {name: remap(image, map_x, map_y, name) for name in WARP_RESAMPLING}
    for a, b in itertools.combinations(WARP_RESAMPLING, 2):
        assert (outputs[a] != outputs[b]).mean() > 0.3, (a, b)  # real alternatives


def test_a_grey_plane_and_a_two_d_image_resample_alike():
    image = np.random.default_rng(1).integers(0, 256, (120, 120), dtype=np.uint8)
    map_x, map_y = _map()
    for name in NEW:
        plane = remap(image, map_x, map_y, name)
        stacked = remap(np.repeat(image[..., None], 3, axis=2), map_x, map_y, name)
        assert plane.shape == (100, 100) and np.array_equal(plane, stacked[..., 1])


@pytest.mark.parametrize("name", NEW)
def test_a_warp_with_each_library_changes_only_what_it_moves(portraits, name):
    face_image = portraits[0]
    points = face_image.face.landmarks[:, :2].astype(np.float64)
    moved = points + 0.04 * face_image.face.width * np.sin(points[:, ::-1] / 30.0)
    ring = anchor_ring(points, face_image.rgb.shape[:2])
    out, flow = warp_in_place(face_image.rgb, points, moved, ring, interpolation=name)
    changed = np.abs(out.astype(int) - face_image.rgb).max(axis=2) > 0
    assert changed.sum() > 1000
    assert (flow_magnitude(flow)[changed] > 0).all()  # nothing changes where nothing moved


@pytest.mark.parametrize("method", ["face_editing", "face_reenactment", "face_swap"])
def test_forgeries_draw_and_record_every_library(portraits, method):
    target, source = portraits[2], portraits[0]
    options = {"edits": ["nose_width"]} if method == "face_editing" else {}
    drawn = [
        create_forgery(method, target, source, seed=seed, **options).params["resample"]
        for seed in range(24)
    ]
    assert {resampling_library(name) for name in drawn} == {"opencv", "skimage", "scipy"}
    pinned = create_forgery(method, target, source, seed=3, resample="scipy_spline5", **options)
    again = create_forgery(method, target, source, seed=3, resample="scipy_spline5", **options)
    assert np.array_equal(pinned.image, again.image)
    groups = technique_group(pinned.technique, pinned.params)
    assert groups["resample"] == "scipy_spline5" and groups["resample_library"] == "scipy"
