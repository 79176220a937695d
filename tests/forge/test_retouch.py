"""Smoothing filters, lip recolourings and sharpening: each is honest, repeatable and named."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge import create_forgery, technique_group, technique_tags
from opendfa.forge.retouch import (
    RECOLOURS,
    SMOOTHING_FILTERS,
    guided_filter,
    recolour,
    recolour_params,
    smooth,
    smoothing_params,
)


def _forged_twice(target, **options):
    made = create_forgery("face_editing", target, seed=11, **options)
    again = create_forgery("face_editing", target, seed=11, **options)
    assert np.array_equal(made.image, again.image) and made.params == again.params
    difference = np.abs(made.image.astype(int) - target.rgb).max(axis=2)
    assert (difference[made.mask == 0] == 0).all(), made.params  # only inside the mask
    assert difference[made.mask > 0.5 * made.mask.max()].mean() > 0.1 and difference.max() >= 2
    assert made.flow is None  # nothing moved
    return made


@pytest.mark.parametrize("name", SMOOTHING_FILTERS)
def test_each_smoothing_filter_is_honest_repeatable_and_named(portraits, name):
    target = portraits[2]
    made = _forged_twice(target, edits=["skin_smoothing"], smoothing=name)
    values = made.params["edits"]["skin_smoothing"]
    assert values["filter"] == name and 0.15 <= values["strength"] <= 1.0
    assert technique_group(made.technique, made.params)["smoothing"] == name
    assert f"smoothing:{name}" in technique_tags(made.technique, made.params)
    assert {"skin"} <= set(made.regions) and not {"left_eye", "right_eye"} & set(made.regions)


@pytest.mark.parametrize("name", RECOLOURS)
def test_each_recolouring_is_honest_repeatable_and_named(portraits, name):
    target = portraits[3]
    made = _forged_twice(target, edits=["lip_colour"], recolour=name)
    values = made.params["edits"]["lip_colour"]
    assert values["method"] == name and "strength" in values
    assert technique_group(made.technique, made.params)["recolour"] == name
    assert "mouth" in made.regions and "forehead" not in made.regions


def test_sharpening_is_honest_repeatable_and_named(portraits):
    made = _forged_twice(portraits[2], edits=["sharpen"])
    values = made.params["edits"]["sharpen"]
    assert values["area"] in ("eyes", "features") and values["amount"] > 0
    assert technique_group(made.technique, made.params)["operation"] == "sharpen"
    assert {"left_eye", "right_eye"} <= set(made.regions) and "chin" not in made.regions


def test_filters_and_recolourings_are_drawn_when_not_pinned(portraits):
    target = portraits[2]
    filters = {
        create_forgery("face_editing", target, seed=s, edits=["skin_smoothing"]).params["edits"][
            "skin_smoothing"
        ]["filter"]
        for s in range(12)
    }
    methods = {
        create_forgery("face_editing", target, seed=s, edits=["lip_colour"]).params["edits"][
            "lip_colour"
        ]["method"]
        for s in range(12)
    }
    assert len(filters) >= 4 and len(methods) >= 3


def test_each_filter_leaves_its_own_pixels():
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(150, 25, (64, 64, 3)), 0, 255).astype(np.uint8)
    outputs = {
        name: smooth(image, name, smoothing_params(name, np.random.default_rng(1), 80.0))
        for name in SMOOTHING_FILTERS
    }
    for name, out in outputs.items():
        assert out.shape == image.shape and out.dtype == np.uint8
        assert out.astype(float).std() < image.astype(float).std(), name  # it smooths
    names = sorted(outputs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not np.array_equal(outputs[a], outputs[b]), (a, b)
    recoloured = {
        name: recolour(image, name, recolour_params(name, np.random.default_rng(2), 1.0))
        for name in RECOLOURS
    }
    assert all(not np.array_equal(out, image) for out in recoloured.values())


def test_the_guided_filter_keeps_edges_and_flattens_noise():
    rng = np.random.default_rng(3)
    step = np.where(np.arange(64) < 32, 60.0, 200.0)[None, :].repeat(64, 0)
    noisy = np.clip(step + rng.normal(0, 6, step.shape), 0, 255).astype(np.uint8)
    out = guided_filter(noisy[..., None].repeat(3, 2), radius=4, eps=0.01)[..., 0].astype(float)
    assert out[:, 5:27].std() < 0.6 * noisy[:, 5:27].std()  # flat side: noise smoothed
    assert out[:, 34].mean() - out[:, 29].mean() > 120  # the edge stays sharp
