"""ELA and noise-residual maps: ranges, sizes, and that they light up where a photo was
changed in the way each map is meant to show."""

from __future__ import annotations

import numpy as np
import pytest
from forensic_fixtures import decode, jpeg_bytes

from opendfa.forensics.maps import (
    MAX_PIXELS,
    MapSummary,
    analysed_image,
    colourize,
    ela_map,
    forensic_maps,
    noise_map,
)


def test_maps_are_float32_in_unit_range_at_image_size(photos):
    rgb = photos["chelsea"]
    maps = forensic_maps(rgb)
    for values in (maps.ela, maps.noise):
        assert values.dtype == np.float32 and values.shape == rgb.shape[:2]
        assert float(values.min()) >= 0.0 and float(values.max()) <= 1.0
    assert maps.scale == 1.0
    summary = maps.to_dict()
    assert set(summary) == {"width", "height", "scale", "ela_quality", "ela", "noise"}
    assert summary["ela"]["mean"] == pytest.approx(float(maps.ela.mean()), abs=1e-4)


def test_a_region_pasted_from_a_once_saved_copy_stands_out_in_ela(photos):
    """A photo saved twice at 75 with a patch from a raw (never saved) copy: the patch has not
    been through JPEG yet, so re-saving changes it more than the rest."""
    rgb = photos["astronaut"]
    composite = decode(jpeg_bytes(decode(jpeg_bytes(rgb, 75)), 75)).copy()
    composite[96:224, 96:224] = rgb[96:224, 96:224]
    ela = ela_map(composite)
    inside = float(ela[100:220, 100:220].mean())
    outside = float(np.concatenate([ela[:90].ravel(), ela[230:].ravel()]).mean())
    assert inside > 2.0 * outside


def test_added_noise_stands_out_in_the_noise_map(photos):
    rgb = photos["chelsea"].copy()
    rng = np.random.default_rng(0)
    patch = rgb[50:150, 60:200].astype(np.float64) + rng.normal(0, 12, (100, 140, 3))
    rgb[50:150, 60:200] = np.clip(patch, 0, 255).astype(np.uint8)
    noise = noise_map(rgb)
    assert float(noise[60:140, 70:190].mean()) > 2.0 * float(noise[200:, :].mean())


def test_large_images_are_analysed_at_about_two_megapixels():
    big = np.zeros((2400, 3000, 3), np.uint8)
    small, scale = analysed_image(big)
    assert small.shape[0] * small.shape[1] <= MAX_PIXELS
    assert small.shape[0] * small.shape[1] > 0.95 * MAX_PIXELS
    assert scale == pytest.approx(small.shape[1] / 3000, rel=1e-3)
    maps = forensic_maps(big)
    assert maps.ela.shape == small.shape[:2] and maps.scale < 1


def test_summary_counts_values_above_the_threshold():
    values = np.zeros((10, 10), np.float32)
    values[:2] = 0.9
    summary = MapSummary.of(values)
    assert summary.fraction_above == 0.2 and summary.max == pytest.approx(0.9)
    assert summary.mean == pytest.approx(0.18, abs=1e-4) and summary.p99 == pytest.approx(
        0.9, abs=0.01
    )


def test_grey_rgba_and_tiny_images_are_accepted_and_wrong_types_refused():
    assert forensic_maps(np.full((5, 7), 128, np.uint8)).ela.shape == (5, 7)
    assert forensic_maps(np.zeros((1, 1, 4), np.uint8)).noise.shape == (1, 1)
    with pytest.raises(ValueError):
        forensic_maps(np.zeros((4, 4, 3), np.float32))


def test_colourize_gives_rgb_uint8():
    image = colourize(np.linspace(0, 1, 20, dtype=np.float32).reshape(4, 5))
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert image[0, 0].sum() < image[-1, -1].sum()  # dark for 0, bright for 1
