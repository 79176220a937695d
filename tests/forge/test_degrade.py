"""Degradations: recorded chains replay exactly and degrade measurably."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge.degrade import (
    DEGRADATIONS,
    apply_degradations,
    random_chain,
    replay_degradations,
)


def test_recorded_chain_replays_to_identical_pixels(astronaut_rgb):
    rng = np.random.default_rng(7)
    image, chain = apply_degradations(astronaut_rgb, rng, max_steps=3, probability=1.0)
    assert 1 <= len(chain) <= 3
    np.testing.assert_array_equal(replay_degradations(astronaut_rgb, chain), image)


@pytest.mark.parametrize("name", sorted(DEGRADATIONS))
def test_each_degradation_changes_the_image_but_keeps_its_shape(astronaut_rgb, name):
    rng = np.random.default_rng(0)
    chain = [c for c in (random_chain(rng, max_steps=6, probability=1.0) for _ in range(60)) if c]
    step = next(s for c in chain for s in c if s["name"] == name)
    out = replay_degradations(astronaut_rgb, [step])
    assert out.shape == astronaut_rgb.shape and out.dtype == np.uint8
    assert 0.5 < np.abs(out.astype(int) - astronaut_rgb).mean() < 40


def test_lower_jpeg_quality_loses_more(astronaut_rgb):
    errors = [
        np.abs(
            replay_degradations(astronaut_rgb, [{"name": "jpeg", "quality": q}]).astype(int)
            - astronaut_rgb
        ).mean()
        for q in (95, 60, 20)
    ]
    assert errors[0] < errors[1] < errors[2]


def test_unknown_degradation_is_a_clear_error(astronaut_rgb):
    with pytest.raises(ValueError, match="unknown degradation"):
        replay_degradations(astronaut_rgb, [{"name": "vhs"}])
