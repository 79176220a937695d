"""Crop augmentations: mirror flips swap left/right regions, online SBI blends inside the face,
benign processing changes the whole crop mildly and reproducibly."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.faces import REGION_NAMES, align_face, region_masks
from opendfa.train.augment import (
    BENIGN_OPERATIONS,
    BENIGN_WEIGHTS,
    DENOISERS,
    NATIVE_SCALE_RANGE,
    _denoise,
    benign_process,
    crop_self_blend,
    face_hull,
    flip_crop,
    native_scale,
)

SIZE = 128


@pytest.fixture(scope="module")
def crop(astronaut_rgb, astronaut_face):
    aligned = align_face(astronaut_rgb, astronaut_face, size=SIZE, margin=0.25)
    masks = region_masks(aligned.landmarks, (SIZE, SIZE))
    regions = np.stack([masks.full(name) for name in REGION_NAMES])
    return aligned.crop, regions


def test_flip_mirrors_pixels_and_swaps_left_and_right_regions(crop):
    image, regions = crop
    mask = np.zeros((SIZE, SIZE), np.float32)
    mask[:, :10] = 1.0
    flipped, flipped_mask, flipped_regions = flip_crop(image, mask, regions)
    assert np.array_equal(flipped, image[:, ::-1])
    assert flipped_mask[:, -10:].all() and not flipped_mask[:, :-10].any()
    left, right = REGION_NAMES.index("left_eye"), REGION_NAMES.index("right_eye")
    assert np.array_equal(flipped_regions[left], regions[right][:, ::-1])
    skin = REGION_NAMES.index("skin")
    assert np.array_equal(flipped_regions[skin], regions[skin][:, ::-1])
    # twice is the identity
    again = flip_crop(flipped, flipped_mask, flipped_regions)
    assert np.array_equal(again[0], image) and np.array_equal(again[2], regions)


def test_crop_sbi_changes_pixels_only_where_its_mask_blends(crop):
    image, regions = crop
    for seed in range(6):
        blended, mask = crop_self_blend(image, regions, np.random.default_rng(seed))
        assert blended.shape == image.shape and blended.dtype == np.uint8
        assert mask.shape == (SIZE, SIZE) and mask.min() >= 0.0 and mask.max() <= 1.0
        assert mask.max() > 0.2
        untouched = mask == 0
        assert np.array_equal(blended[untouched], image[untouched])
        # the blend lies on the face: most of its weight falls inside the dilated skin region
        skin = regions[REGION_NAMES.index("skin")]
        assert mask[skin].sum() > 0.6 * mask.sum()


def test_crop_sbi_is_reproducible_from_its_seed(crop):
    image, regions = crop
    first = crop_self_blend(image, regions, np.random.default_rng(3))
    second = crop_self_blend(image, regions, np.random.default_rng(3))
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])


def test_crops_without_regions_blend_inside_a_canonical_ellipse():
    hull = face_hull(np.ones((12, SIZE, SIZE), bool), "full")
    assert 0.15 < hull.mean() < 0.45 and hull[SIZE // 2, SIZE // 2] == 1 and hull[0, 0] == 0


@pytest.mark.parametrize("operation", BENIGN_OPERATIONS)
def test_benign_processing_changes_the_crop_mildly_and_keeps_its_shape(crop, operation):
    image, _ = crop
    out = benign_process(image, np.random.default_rng(3), operation)
    assert out.shape == image.shape and out.dtype == np.uint8
    change = np.abs(out.astype(np.int16) - image.astype(np.int16))
    assert change.mean() > 0.2  # something happened, over the whole crop
    assert change.mean() < 20.0  # but innocent: the face is still the same photo
    again = benign_process(image, np.random.default_rng(3), operation)
    assert np.array_equal(out, again)


@pytest.mark.parametrize("denoiser", DENOISERS)
def test_every_denoiser_flattens_added_noise(crop, denoiser):
    image, _ = crop
    rng = np.random.default_rng(0)
    noisy = np.clip(image + rng.normal(0, 8, image.shape), 0, 255).astype(np.uint8)
    out = _denoise(noisy, np.random.default_rng(1), denoiser)
    error_before = np.abs(noisy.astype(float) - image).mean()
    assert np.abs(out.astype(float) - image).mean() < error_before


def test_an_unknown_benign_operation_is_refused(crop):
    with pytest.raises(ValueError, match="unknown benign operation"):
        benign_process(crop[0], np.random.default_rng(0), "webp")


def test_the_jpeg_resave_is_the_one_a_real_encoder_makes_of_the_rgb_crop(crop):
    """The crop is RGB; OpenCV's encoder takes BGR. Pillow, given the RGB crop, is the
    reference: the same quality must give the same pixels."""
    import io

    from PIL import Image

    class Quality75:
        def integers(self, low, high):
            return 75

    image, _ = crop
    ours = benign_process(image, Quality75(), "jpeg")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=75)
    reference = np.asarray(Image.open(buffer))
    assert np.abs(ours.astype(int) - reference).mean() < 0.05


class _MedianDenoise:
    """An rng stand-in that always picks the 3 px median denoiser (deterministic)."""

    def choice(self, options, p=None):
        return "median" if "median" in list(options) else "denoise"


def test_native_scale_is_the_faces_source_width_over_its_crop_width(crop):
    _, regions = crop
    skin = regions[REGION_NAMES.index("skin")]
    xs = np.nonzero(skin.any(0))[0]
    crop_width = xs[-1] - xs[0] + 1
    assert native_scale(crop_width * 0.5, regions) == pytest.approx(0.5)
    assert native_scale(crop_width * 3.0, regions) == 1.0  # already downsampled: crop scale
    assert native_scale(crop_width * 0.01, regions) == NATIVE_SCALE_RANGE[0]
    assert native_scale(None, regions) == 1.0
    assert native_scale(40.0, np.ones_like(regions)) == 1.0  # no landmarks: unknown


def test_benign_processing_at_native_scale_matches_processing_the_whole_photo(
    astronaut_rgb, astronaut_face
):
    """A denoise applied to a small photo before alignment (what a phone does) is what the
    crop should show; processing the upsampled crop is a milder, different operation."""
    import cv2

    from opendfa.faces import Face

    size, shrink = 224, 0.4
    small = cv2.resize(astronaut_rgb, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    face = Face(
        box=tuple(v * shrink for v in astronaut_face.box),
        score=1.0,
        landmarks=astronaut_face.landmarks * np.array([shrink, shrink, shrink], np.float32),
    )
    crop = align_face(small, face, size=size, margin=0.25).crop
    reference = align_face(cv2.medianBlur(small, 3), face, size=size, margin=0.25).crop
    masks = region_masks(align_face(small, face, size=size).landmarks, (size, size))
    regions = np.stack([masks.full(name) for name in REGION_NAMES])
    scale = native_scale(face.box[2] - face.box[0], regions)
    assert scale < 0.9  # the face is upsampled into the crop
    native = benign_process(crop, _MedianDenoise(), "denoise", scale=scale)
    at_crop = benign_process(crop, _MedianDenoise(), "denoise")

    def error(image):
        return np.abs(image.astype(float) - reference.astype(float)).mean()

    assert error(native) < 0.75 * error(at_crop)


def test_denoisers_are_drawn_more_often_than_other_benign_operations():
    rng = np.random.default_rng(0)
    drawn = [str(rng.choice(BENIGN_OPERATIONS, p=BENIGN_WEIGHTS)) for _ in range(3000)]
    shares = {op: drawn.count(op) / len(drawn) for op in BENIGN_OPERATIONS}
    assert shares["denoise"] > 1.6 * max(v for k, v in shares.items() if k != "denoise")


def test_the_face_width_comes_from_the_samples_face_box():
    from types import SimpleNamespace

    from opendfa.train.data import face_width

    assert face_width(SimpleNamespace(meta={"face_box": [10.0, 5.0, 90.5, 120.0]})) == 80.5
    assert face_width(SimpleNamespace(meta={})) is None
    assert face_width(SimpleNamespace(meta=None)) is None
    assert face_width(SimpleNamespace(meta={"face_box": [1, 2]})) is None
