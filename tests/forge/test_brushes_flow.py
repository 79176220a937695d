"""Liquify brushes and recorded flows: each brush moves what it says, and the flow a forgery
records is the one it applied (warping the real image by it gives the fake back)."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge import FaceImage, ForgeryError, create_forgery, technique_group
from opendfa.forge.edit import BRUSHES, warp_choices
from opendfa.forge.warp import (
    LOCAL_WARPS,
    WARPS,
    apply_flow,
    compose_flows,
    flow_magnitude,
    push_in_place,
    twirl_in_place,
)


def _rings(size: int = 101) -> tuple[np.ndarray, np.ndarray]:
    centre = np.array([50.5, 50.5])
    distance = np.hypot(*np.mgrid[0:size, 0:size] + 0.5 - centre[:, None, None])
    image = np.repeat(((np.sin(distance) + 1) * 127).astype(np.uint8)[..., None], 3, axis=2)
    return image, distance


def test_push_slides_the_centre_by_its_shift_and_stops_at_the_rim():
    image, distance = _rings()
    out, flow = push_in_place(image, np.array([50.5, 50.5]), 30.0, np.array([6.0, -3.0]))
    outside = distance > 31
    assert (out[outside] == image[outside]).all() and (flow[outside] == 0).all()
    # Backward: the centre pixel shows what lay `shift` before it.
    assert flow[50, 50] == pytest.approx([-6.0, 3.0], abs=0.01)
    assert flow_magnitude(flow)[50, 75] < flow_magnitude(flow)[50, 60]  # fading out
    with pytest.raises(ValueError, match="folds"):
        push_in_place(image, np.array([50.5, 50.5]), 10.0, np.array([8.0, 0.0]))


def test_twirl_turns_the_disc_keeps_distances_and_stops_at_the_rim():
    image, distance = _rings()
    out, flow = twirl_in_place(image, np.array([50.5, 50.5]), 30.0, 0.5)
    outside = distance > 31
    assert (out[outside] == image[outside]).all() and (flow[outside] == 0).all()
    ys, xs = np.mgrid[0:101, 0:101] + 0.5
    before = np.hypot(xs - 50.5, ys - 50.5)
    after = np.hypot(xs + flow[..., 0] - 50.5, ys + flow[..., 1] - 50.5)
    assert np.abs(after - before).max() < 1e-3  # a turn: every source on the same circle
    assert flow_magnitude(flow)[50, 58] > 1.0
    # Wide rings are turned into themselves: a twirl changes them far less than a push.
    wide = np.repeat(((np.sin(distance / 4) + 1) * 127).astype(np.uint8)[..., None], 3, axis=2)
    centre = np.array([50.5, 50.5])
    turned = twirl_in_place(wide, centre, 30.0, 0.5)[0].astype(int)
    pushed = push_in_place(wide, centre, 30.0, np.array([4.0, 0.0]))[0].astype(int)
    assert np.abs(turned - wide).mean() < 0.2 * np.abs(pushed - wide).mean()


def test_chained_flows_replay_two_warps_in_one():
    smooth = np.asarray(
        (127 + 90 * np.sin(np.mgrid[0:90, 0:90][1] / 7.0))[..., None].repeat(3, 2), np.uint8
    )
    first, flow1 = push_in_place(smooth, np.array([40.0, 45.0]), 25.0, np.array([5.0, 2.0]))
    second, flow2 = twirl_in_place(first, np.array([50.0, 45.0]), 25.0, 0.4)
    both = compose_flows(flow1, flow2)
    replayed = apply_flow(smooth, both)
    moved = np.any(both != 0, axis=2)
    assert np.abs(replayed.astype(int) - second)[moved].mean() < 1.0
    assert np.array_equal(compose_flows(flow1, np.zeros_like(flow1)), flow1)


BRUSHED = [(brush, edit) for edit, brushes in BRUSHES.items() for brush in brushes]


@pytest.mark.parametrize(("brush", "edit"), BRUSHED)
def test_each_brush_edit_is_honest_reproducible_and_recorded(portraits, brush, edit):
    target = portraits[2]
    made = create_forgery("face_editing", target, seed=2, edits=[edit], warp=brush)
    again = create_forgery("face_editing", target, seed=2, edits=[edit], warp=brush)
    assert np.array_equal(made.image, again.image) and made.params == again.params
    difference = np.abs(made.image.astype(int) - target.rgb).max(axis=2)
    assert (difference[made.mask == 0] == 0).all() and difference.max() >= 2
    assert made.technique == f"opendfa.edit.{brush}.{edit}"
    assert made.params["edits"][edit]["brush"] == brush
    assert technique_group(made.technique, made.params)["warp"] == brush
    if brush in ("bulge", "pinch"):  # bulge enlarges, pinch shrinks
        assert (made.params["edits"][edit]["factor"] > 1) == (brush == "bulge")


def test_brushes_are_offered_only_for_edits_they_can_make(portraits):
    assert warp_choices(["smile"]) == (*WARPS, "push")
    assert warp_choices(["eye_size", "nose_width"]) == (*WARPS, "bulge", "pinch")
    assert warp_choices(["eyebrow_shape"]) == (*WARPS, "push", "twirl")
    assert warp_choices(["eye_size", "smile"]) == WARPS
    assert warp_choices([]) == (*WARPS, *LOCAL_WARPS)
    with pytest.raises(ForgeryError, match="cannot make"):
        create_forgery("face_editing", portraits[3], seed=0, edits=["eye_size"], warp="twirl")


def _replays(forgery, real: np.ndarray, resample: str = "linear") -> float:
    """Mean absolute error (grey levels) of the real image warped by the recorded flow
    against the fake, over the pixels the flow moves."""
    flow = forgery.flow
    assert flow is not None and flow.shape == (*real.shape[:2], 2) and flow.dtype == np.float32
    moved = np.any(flow != 0, axis=2)
    assert moved.sum() > 100 and (forgery.mask[moved] > 0).all()  # flow only inside the mask
    assert forgery.params["flow_max_px"] == pytest.approx(flow_magnitude(flow).max(), abs=0.01)
    replayed = apply_flow(real, flow, resample)
    return float(np.abs(replayed.astype(float) - forgery.image).max(axis=2)[moved].mean())


@pytest.mark.parametrize("warp", [*WARPS, "bulge", "pinch", "push", "twirl"])
def test_the_recorded_flow_of_an_edit_is_the_applied_one(portraits, warp):
    target = portraits[1]
    edits = {
        "bulge": ["eye_size", "nose_width"],
        "pinch": ["eye_size", "nose_width"],
        "push": ["smile", "eyebrow_shape"],
        "twirl": ["eyebrow_shape"],
    }.get(warp, ["eye_size", "smile", "eyebrow_shape"])
    forgery = create_forgery(
        "face_editing", target, seed=7, edits=edits, warp=warp, resample="linear"
    )
    assert _replays(forgery, target.rgb) < 2.0


def test_the_recorded_flow_of_a_reenactment_is_the_applied_one(portraits):
    target = portraits[1]
    for seed, actions in enumerate(
        [{"smile": 0.1, "blink": 0.6}, {"mouth_open": 0.2}, {"head_turn": 0.08}]
    ):
        forgery = create_forgery(
            "face_reenactment", target, seed=seed, actions=actions, resample="linear"
        )
        assert _replays(forgery, target.rgb) < 2.0, actions


def test_methods_that_move_nothing_record_no_flow(portraits):
    target, source = portraits[2], portraits[0]
    assert create_forgery("face_editing", target, seed=1, edits=["lip_colour"]).flow is None
    assert create_forgery("face_swap", target, source, seed=1).flow is None
    assert create_forgery("self_blend", target, seed=1).flow is None
    edited = create_forgery("face_editing", target, seed=1, edits=["lip_colour"])
    assert "flow_max_px" not in edited.params


def test_an_edit_no_pixel_shows_is_refused(portraits):
    """A warp of flat content (or a faint one resampled nearest) changes nothing: not a fake."""
    face_image = portraits[2]
    flat = FaceImage(np.full_like(face_image.rgb, 128), face_image.face, face_image.identity)
    with pytest.raises(ForgeryError, match="too small to see"):
        create_forgery("face_editing", flat, seed=0, edits=["eye_size"], warp="bulge")
