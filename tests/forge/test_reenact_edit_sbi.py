"""Reenactment, editing and self-blending: each changes what it says and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.faces import mesh
from opendfa.forge import ForgeryError, create_forgery
from opendfa.forge.edit import EDITS, GEOMETRIC_EDITS
from opendfa.forge.geometry import FaceFrame
from opendfa.forge.reenact import driven_landmarks, scripted_landmarks


def test_mouth_open_moves_the_lower_lip_down_not_the_upper(portraits):
    landmarks = portraits[1].face.landmarks
    moved = scripted_landmarks(landmarks, {"mouth_open": 0.25})
    frame = FaceFrame.of(landmarks)
    before, after = frame.to_local(landmarks), frame.to_local(moved)
    assert after[mesh.LOWER_LIP_BOTTOM, 1] - before[mesh.LOWER_LIP_BOTTOM, 1] == pytest.approx(
        0.25, abs=0.02
    )
    assert abs(after[0, 1] - before[0, 1]) < 1e-6  # upper lip centre stays
    assert abs(after[mesh.MOUTH_LEFT_CORNER, 1] - before[mesh.MOUTH_LEFT_CORNER, 1]) < 0.05


def test_smile_lifts_both_mouth_corners(portraits):
    landmarks = portraits[2].face.landmarks
    frame = FaceFrame.of(landmarks)
    after = frame.to_local(scripted_landmarks(landmarks, {"smile": 0.1}))
    before = frame.to_local(landmarks)
    for corner in (mesh.MOUTH_LEFT_CORNER, mesh.MOUTH_RIGHT_CORNER):
        assert after[corner, 1] < before[corner, 1] - 0.05


def test_opened_mouth_is_inpainted_darker_than_the_lips(portraits):
    target = portraits[1]  # Grace Hopper, mouth closed
    forgery = create_forgery("face_reenactment", target, None, seed=0, actions={"mouth_open": 0.25})
    assert forgery.technique == f"opendfa.reenact.{forgery.params['warp']}.mouth_open"
    assert "mouth" in forgery.regions and "forehead" not in forgery.regions
    from opendfa.forge.warp import polygon_mask

    moved = scripted_landmarks(target.face.landmarks, {"mouth_open": 0.25})
    cavity = polygon_mask(moved[list(mesh.LIPS_INNER)], target.rgb.shape[:2])
    assert cavity.sum() > 100
    assert forgery.image[cavity].mean() < target.rgb[cavity].mean() - 15


def test_driving_face_transfers_expression_not_position(portraits):
    target, driver = portraits[1], portraits[0]
    moved = driven_landmarks(target.face.landmarks, driver.face.landmarks, 1.0)
    frame = FaceFrame.of(target.face.landmarks)
    lips = list(mesh.LIPS_OUTER) + list(mesh.LIPS_INNER)
    # The mouth centre stays where the target's mouth is...
    centre_after = frame.to_local(moved)[lips].mean(0)
    centre_before = frame.to_local(target.face.landmarks)[lips].mean(0)
    assert np.linalg.norm(centre_after - centre_before) < 1e-6
    # ...while its shape becomes the driver's (the astronaut's wide smile).
    width_after = np.ptp(frame.to_local(moved)[lips, 0])
    driver_frame = FaceFrame.of(driver.face.landmarks)
    assert width_after == pytest.approx(
        np.ptp(driver_frame.to_local(driver.face.landmarks)[lips, 0]), rel=0.05
    )


@pytest.mark.parametrize("name", sorted(EDITS))
def test_each_edit_stays_in_its_region(portraits, name):
    target = portraits[2]
    forgery = create_forgery("face_editing", target, None, seed=4, edits=[name])
    warp = forgery.params.get("warp")
    assert forgery.technique == (f"opendfa.edit.{warp}.{name}" if warp else f"opendfa.edit.{name}")
    assert (warp is not None) == (name in GEOMETRIC_EDITS)
    expected = {
        "eye_size": {"left_eye", "right_eye"},
        "smile": {"mouth"},
        "lip_colour": {"mouth"},
        "skin_smoothing": {"skin"},
        "aging": {"skin"},
        "eyebrow_shape": {"left_eyebrow", "right_eyebrow"},
        "nose_width": {"nose"},
        "sharpen": {"left_eye", "right_eye"},
    }[name]
    assert expected <= set(forgery.regions), forgery.regions
    if name in ("eye_size", "nose_width", "lip_colour"):
        assert "forehead" not in forgery.regions and "chin" not in forgery.regions


def test_several_edits_combine_their_masks(portraits):
    target = portraits[3]
    one = create_forgery("face_editing", target, None, seed=1, edits=["lip_colour"])
    both = create_forgery("face_editing", target, None, seed=1, edits=["lip_colour", "eye_size"])
    assert both.mask.sum() > one.mask.sum()
    assert list(both.params["edits"]) == ["lip_colour", "eye_size"]
    with pytest.raises(ForgeryError, match="unknown edit"):
        create_forgery("face_editing", target, None, edits=["tattoo"])


def test_self_blend_keeps_identity_and_blends_inside_the_face(portraits):
    target = portraits[0]
    ratios = set()
    for seed in range(8):
        forgery = create_forgery("self_blend", target, None, seed=seed)
        assert forgery.source_identity == forgery.target_identity == target.identity
        assert forgery.technique == "opendfa.sbi"
        ratios.add(forgery.params["blend_ratio"])
        ys, xs = np.nonzero(forgery.mask > 0.05)
        x0, y0, x1, _ = target.face.box
        pad = 0.35 * target.face.width
        assert xs.min() > x0 - pad and xs.max() < x1 + pad and ys.min() > y0 - pad
    assert len(ratios) >= 2  # the blend ratio is drawn, as in SBI


def test_self_blend_options_pin_choices_and_keep_the_seeds_other_draws(portraits):
    target = portraits[0]
    drawn = create_forgery("self_blend", target, None, seed=5)
    pinned = create_forgery("self_blend", target, None, seed=5, resample="cubic", blend_ratio=0.5)
    assert pinned.params["resample"] == "cubic" and pinned.params["blend_ratio"] == 0.5
    assert pinned.mask.max() <= 0.5 + 1e-6
    others = {"resample", "blend_ratio"}
    assert {k: v for k, v in pinned.params.items() if k not in others} == {
        k: v for k, v in drawn.params.items() if k not in others
    }
    quality = "sharpen" if drawn.params["quality"] != "sharpen" else "none"
    requalified = create_forgery("self_blend", target, None, seed=5, quality=quality)
    assert requalified.params["quality"] == quality
    colour = ("rgb_shift", "hue", "saturation", "contrast", "brightness")
    assert [requalified.params[k] for k in colour] == [drawn.params[k] for k in colour]
    for bad in ({"quality": "jpeg"}, {"resample": "area"}, {"blend_ratio": 0.0}):
        with pytest.raises(ForgeryError):
            create_forgery("self_blend", target, None, seed=5, **bad)
