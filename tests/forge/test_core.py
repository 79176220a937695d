"""The registry and the Forgery record: every method is registered, seeded and honest."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge import FORGERY_METHODS, METHOD_CATEGORIES, Forgery, ForgeryError, create_forgery
from opendfa.taxonomy import FAKE_CATEGORIES

LOCAL_METHODS = ["face_swap", "face_reenactment", "face_editing", "self_blend"]


def test_every_family_is_registered_with_a_fake_category():
    for name in LOCAL_METHODS:
        assert name in FORGERY_METHODS
        assert METHOD_CATEGORIES[name] in FAKE_CATEGORIES


@pytest.mark.parametrize("method", LOCAL_METHODS)
def test_same_seed_same_pixels_other_seed_other_params(portraits, method):
    target, source = portraits[0], portraits[2]
    first = create_forgery(method, target, source, seed=11)
    again = create_forgery(method, target, source, seed=11)
    np.testing.assert_array_equal(first.image, again.image)
    np.testing.assert_array_equal(first.mask, again.mask)
    assert first.params == again.params and first.params["seed"] == 11
    others = [create_forgery(method, target, source, seed=s).params for s in (12, 13, 14)]
    assert any(
        {k: v for k, v in p.items() if k != "seed"}
        != {k: v for k, v in first.params.items() if k != "seed"}
        for p in others
    )


@pytest.mark.parametrize("method", LOCAL_METHODS)
def test_masks_are_honest(portraits, method):
    """Pixels outside the mask are the target's exactly; inside, they changed."""
    for seed in range(3):
        target = portraits[seed % len(portraits)]
        source = portraits[(seed + 1) % len(portraits)]
        forgery = create_forgery(method, target, source, seed=seed)
        assert forgery.image.shape == target.rgb.shape and forgery.image.dtype == np.uint8
        assert (
            forgery.mask.dtype == np.float32 and forgery.mask.min() >= 0 and forgery.mask.max() <= 1
        )
        difference = np.abs(forgery.image.astype(int) - target.rgb.astype(int)).max(axis=2)
        assert (difference[forgery.mask == 0] == 0).all(), method
        strong = forgery.mask >= 0.5 * forgery.mask.max()
        assert strong.sum() > 50
        assert difference[strong].mean() > 2.0, (method, seed)
        assert forgery.regions, "touched regions are named"


def test_unknown_method_and_missing_source_are_clear_errors(portraits):
    with pytest.raises(ForgeryError, match="unknown forgery method"):
        create_forgery("morphing", portraits[0])
    with pytest.raises(ForgeryError, match="needs a source"):
        create_forgery("face_swap", portraits[0])


def test_forgery_rejects_a_mask_of_the_wrong_size():
    with pytest.raises(ValueError, match="does not match"):
        Forgery(np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4), np.float32), "face_swap", "x", "a")
    with pytest.raises(ValueError, match="unknown category"):
        Forgery(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), np.float32), "morph", "x", "a")
