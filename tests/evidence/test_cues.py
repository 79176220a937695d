"""Measured cues: each one moves the right way on pairs where the answer is known."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from opendfa.evidence import cues
from opendfa.faces import align_face
from opendfa.forge import create_forgery
from opendfa.forge.blend import BLENDS

SIDE = 200


@pytest.fixture(scope="module")
def texture() -> np.ndarray:
    """A photo-like texture with the same statistics everywhere."""
    rng = np.random.default_rng(0)
    noise = cv2.GaussianBlur(rng.normal(128, 30, (SIDE, SIDE, 3)).astype(np.float32), (0, 0), 1.2)
    return np.clip(noise + np.array([30, 0, -20]), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def disc() -> np.ndarray:
    mask = np.zeros((SIDE, SIDE), np.float32)
    cv2.circle(mask, (SIDE // 2, SIDE // 2), 50, 1.0, -1)
    return mask


def _inside(image: np.ndarray, changed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.where(mask[..., None] >= 0.5, changed, image).astype(np.uint8)


def test_untouched_texture_gives_neutral_cues(texture, disc):
    measured = cues.face_cues(texture, disc)
    assert measured["blur_ratio"] == pytest.approx(1.0, abs=0.1)
    assert measured["noise_residual_ratio"] == pytest.approx(1.0, abs=0.1)
    assert measured["edge_discontinuity"] == pytest.approx(1.0, abs=0.1)
    assert abs(measured["illumination_mismatch"]) < 1.0
    assert all(cues.cue_strength(name, v) < 0.8 for name, v in measured.items())


def test_blurring_inside_the_mask_raises_the_blur_ratio_and_lowers_the_noise(texture, disc):
    blurred = _inside(texture, cv2.GaussianBlur(texture, (0, 0), 2.0), disc)
    assert cues.blur_ratio(blurred, disc) > 3.0
    assert cues.blur_ratio(texture, disc) < 1.2
    assert cues.noise_residual_ratio(blurred, disc) < 0.7


def test_colour_shift_inside_the_mask_raises_the_boundary_mismatch(texture, disc):
    shifted = _inside(texture, np.clip(texture.astype(int) + np.array([25, -10, 10]), 0, 255), disc)
    before = cues.boundary_colour_mismatch(texture, disc)
    after = cues.boundary_colour_mismatch(shifted, disc)
    assert after > 3 * before
    assert after > cues.CUES["boundary_colour_mismatch"].notable


def test_noise_added_inside_the_mask_raises_the_noise_ratio(texture, disc):
    rng = np.random.default_rng(1)
    noisy = np.clip(texture + rng.normal(0, 12, texture.shape), 0, 255)
    measured = cues.noise_residual_ratio(_inside(texture, noisy, disc), disc)
    assert measured > 2.5


def test_darker_paste_shows_as_negative_illumination_and_a_seam(texture, disc):
    darker = _inside(texture, np.clip(texture.astype(int) - 30, 0, 255), disc)
    assert cues.illumination_mismatch(darker, disc) < -8
    assert cues.edge_discontinuity(darker, disc) > 2.0
    assert cues.edge_discontinuity(texture, disc) < 1.2


def test_recoloured_eye_raises_left_right_asymmetry(texture):
    left, right = np.zeros((SIDE, SIDE), bool), np.zeros((SIDE, SIDE), bool)
    left[80:110, 40:80], right[80:110, 120:160] = True, True
    before = cues.left_right_asymmetry(texture, left, right)
    recoloured = texture.copy()
    recoloured[left] = np.clip(recoloured[left].astype(int) + np.array([0, 30, -30]), 0, 255)
    assert before < 2.0
    assert cues.left_right_asymmetry(recoloured, left, right) > 10


def test_cues_are_left_out_when_a_side_has_too_few_pixels(texture):
    empty = np.zeros((SIDE, SIDE), np.float32)
    assert cues.blur_ratio(texture, empty) is None
    assert cues.face_cues(texture, empty) == {}
    everything = np.ones((SIDE, SIDE), np.float32)
    assert cues.blur_ratio(texture, everything) is None  # no untouched ring


def test_region_cues_describe_the_masked_part_of_each_region(texture, disc):
    blurred = _inside(texture, cv2.GaussianBlur(texture, (0, 0), 2.0), disc)
    regions = {name: np.zeros((SIDE, SIDE), bool) for name in ("nose", "forehead")}
    regions["nose"][85:115, 85:115] = True  # inside the disc, away from its edge
    regions["forehead"][5:30, 60:140] = True  # outside the mask
    regions["left_eye"] = np.zeros((SIDE, SIDE), bool)
    regions["right_eye"] = np.zeros((SIDE, SIDE), bool)
    regions["left_eye"][60:80, 55:85], regions["right_eye"][60:80, 115:145] = True, True
    measured = cues.measure_cues(blurred, disc, regions)
    assert measured.regions["nose"]["blur_ratio"] > 3.0
    assert "boundary_colour_mismatch" not in measured.regions["nose"]  # no edge crosses it
    assert measured.regions["forehead"] == {}
    assert set(measured.regions["left_eye"]) >= {"blur_ratio", "left_right_asymmetry"}
    assert "boundary_colour_mismatch" in measured.regions["left_eye"]  # the edge crosses it
    assert measured.face["blur_ratio"] > 3.0


def test_cue_strength_is_zero_at_neutral_and_one_at_notable():
    for info in cues.CUES.values():
        neutral = 1.0 if info.kind == "ratio" else 0.0
        assert cues.cue_strength(info.name, neutral) == pytest.approx(0.0)
        assert cues.cue_strength(info.name, info.notable) == pytest.approx(1.0)
    assert cues.cue_strength("blur_ratio", 1 / 1.5) == pytest.approx(1.0)


def _aligned(image: np.ndarray, mask: np.ndarray, face) -> tuple[np.ndarray, np.ndarray]:
    """Crop and mask as the pipeline sees them."""
    aligned = align_face(image, face, 224, 0.25)
    return aligned.crop, aligned.alignment.warp(mask.astype(np.float32), border=0)


def test_sbi_with_a_downscaled_source_is_blurrier_inside_than_the_real(portraits):
    target = portraits[0]
    # Pinned: a downscaled source upsampled with a smoothing filter (nearest-neighbour
    # upsampling would add blocky edges, not blur), blended in fully.
    forgery = create_forgery(
        "self_blend", target, seed=3, quality="downscale", resample="linear", blend_ratio=1.0
    )
    assert forgery.params["quality"] == "downscale" and forgery.params["resample"] == "linear"
    assert forgery.params["blend_ratio"] == 1.0
    fake = cues.face_cues(*_aligned(forgery.image, forgery.mask, target.face))
    real = cues.face_cues(*_aligned(target.rgb, forgery.mask, target.face))
    assert fake["blur_ratio"] > 2 * real["blur_ratio"]
    assert fake["noise_residual_ratio"] < 0.8 * real["noise_residual_ratio"]


def test_sbi_colour_shift_raises_the_boundary_mismatch_over_the_real(portraits):
    target = portraits[0]
    # Pinned: only the colour shift (no rescale or sharpening), blended in fully.
    forgery = create_forgery("self_blend", target, seed=4, quality="none", blend_ratio=1.0)
    assert forgery.params["blend_ratio"] == 1.0 and forgery.params["quality"] == "none"
    assert max(map(abs, forgery.params["rgb_shift"])) > 5
    fake = cues.face_cues(*_aligned(forgery.image, forgery.mask, target.face))
    real = cues.face_cues(*_aligned(target.rgb, forgery.mask, target.face))
    assert fake["boundary_colour_mismatch"] > real["boundary_colour_mismatch"] + 4


@pytest.mark.parametrize("blend", BLENDS)
def test_swapping_in_a_grainier_face_raises_the_noise_ratio(portraits, blend):
    target, source = portraits  # Grace Hopper's old photo is grainier than the astronaut's
    forgery = create_forgery(
        "face_swap",
        target,
        source,
        seed=1,
        blend_method=blend,
        mask_shape="mid",
        color_transfer="reinhard",
        warp="mesh",
        resample="linear",
    )
    assert forgery.technique == f"opendfa.swap.mesh.reinhard.{blend}"
    fake = cues.face_cues(*_aligned(forgery.image, forgery.mask, target.face))
    real = cues.face_cues(*_aligned(target.rgb, forgery.mask, target.face))
    assert fake["noise_residual_ratio"] > 1.25 * real["noise_residual_ratio"]
    assert fake["blur_ratio"] < 0.6 * real["blur_ratio"]  # grain reads as detail


def test_lab_tables_warm_up_once_on_another_thread_and_change_no_number(texture):
    import threading

    thread = cues.warm_up_lab_in_background()
    assert isinstance(thread, threading.Thread) and not thread.daemon  # exit waits for it
    assert cues.warm_up_lab_in_background() is thread
    maps = cues.CueMaps.of(texture)
    assert not thread.is_alive()
    expected = cv2.cvtColor(texture.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    np.testing.assert_array_equal(maps.lab, expected)
