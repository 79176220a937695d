"""Technique names and groups: every implementation choice is recorded and can be held out."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge import (
    TECHNIQUE_GROUPS,
    ForgeryError,
    create_forgery,
    technique_group,
    technique_tags,
)
from opendfa.forge.blend import BLENDS
from opendfa.forge.color import COLOR_TRANSFERS
from opendfa.forge.edit import EDITS
from opendfa.forge.reenact import ACTIONS
from opendfa.forge.retouch import RECOLOURS, SMOOTHING_FILTERS
from opendfa.forge.swap import SWAP_WARPS
from opendfa.forge.synth import available_generators
from opendfa.forge.warp import WARP_RESAMPLING, WARPS

# Every option of every method, forced one at a time: (method, options).
OPTIONS = (
    [("face_swap", {"blend_method": b}) for b in BLENDS]
    + [("face_swap", {"color_transfer": c}) for c in COLOR_TRANSFERS]
    + [("face_swap", {"warp": w}) for w in SWAP_WARPS]
    + [("face_swap", {"resample": r}) for r in WARP_RESAMPLING]
    + [("face_editing", {"edits": ["eye_size"], "warp": w}) for w in (*WARPS, "bulge", "pinch")]
    + [("face_editing", {"edits": ["nose_width"], "warp": "bulge"})]
    + [("face_editing", {"edits": ["smile"], "warp": "push"})]
    + [("face_editing", {"edits": ["eyebrow_shape"], "warp": "twirl"})]
    + [("face_editing", {"edits": [e]}) for e in sorted(EDITS)]
    + [("face_editing", {"edits": ["skin_smoothing"], "smoothing": f}) for f in SMOOTHING_FILTERS]
    + [("face_editing", {"edits": ["lip_colour"], "recolour": r}) for r in RECOLOURS]
    + [("face_reenactment", {"warp": w}) for w in WARPS]
    + [("face_reenactment", {"actions": {a: 0.15}}) for a in ACTIONS]
)


def _honest(forgery, target) -> None:
    difference = np.abs(forgery.image.astype(int) - target.rgb.astype(int)).max(axis=2)
    assert (difference[forgery.mask == 0] == 0).all(), forgery.technique
    strong = difference[forgery.mask >= 0.5 * forgery.mask.max()]
    # Strengths reach "barely visible": something changed, not necessarily much.
    assert strong.mean() > 0.1 and strong.max() >= 2, forgery.technique


@pytest.fixture(scope="module")
def forced(portraits):
    target, source = portraits[2], portraits[0]
    made = []
    for number, (method, options) in enumerate(OPTIONS):
        try:
            forgery = create_forgery(method, target, source, seed=number, **options)
        except ForgeryError as err:  # a faint draw no pixel shows (nearest, < 0.5 px): refused
            assert "too small to see" in str(err)
            forgery = create_forgery(method, target, source, seed=number + 1000, **options)
        _honest(forgery, target)
        made.append(forgery)
    return made


@pytest.mark.slow
def test_every_forced_option_is_honest_and_named(forced):
    for (_method, options), forgery in zip(OPTIONS, forced, strict=True):
        groups = technique_group(forgery.technique, forgery.params)
        recorded = {
            "blend_method": groups.get("blend"),
            "color_transfer": groups.get("color"),
            "warp": groups.get("warp"),
            "resample": groups.get("resample"),
            "smoothing": groups.get("smoothing"),
            "recolour": groups.get("recolour"),
        }
        for key, value in options.items():
            if key in ("edits", "actions"):
                assert groups["operation"] == "+".join(sorted(value))
            else:
                assert recorded[key] == value, (key, forgery.technique, groups)


@pytest.mark.slow
def test_technique_names_cover_every_option(forced, portraits):
    seen: dict[str, set[str]] = {group: set() for group in TECHNIQUE_GROUPS}
    made = list(forced)
    made += [create_forgery("self_blend", portraits[2], seed=s) for s in range(2)]
    made += [
        create_forgery("entire_face_synthesis", portraits[2], seed=s, generator=g)
        for s, g in enumerate(available_generators())
    ]
    made += [create_forgery("face_reenactment", portraits[2], portraits[0], seed=1)]  # driven
    for forgery in made:
        for tag in technique_tags(forgery.technique, forgery.params):
            group, value = tag.split(":")
            assert value in TECHNIQUE_GROUPS[group], tag
            seen[group].add(value)
    for group, values in TECHNIQUE_GROUPS.items():
        missing = set(values) - seen[group] - {"area"}  # area: shrinking synthetic faces only
        if group == "generator":
            missing -= set(TECHNIQUE_GROUPS["generator"]) - set(available_generators())
        assert not missing, (group, missing)


def test_random_choices_are_drawn_and_recorded(portraits):
    """Left to chance, a few samples already use several implementations of each step."""
    target, source = portraits[3], portraits[1]
    swaps = [create_forgery("face_swap", target, source, seed=s) for s in range(12)]
    assert len({f.params["blend"] for f in swaps}) >= 4
    assert len({f.params["warp"] for f in swaps}) == 2
    assert len({f.params["color_transfer"] for f in swaps}) == 3
    assert len({f.params["resample"] for f in swaps}) >= 3
    edits = [create_forgery("face_editing", target, seed=s, edits=["smile"]) for s in range(8)]
    assert len({f.params["warp"] for f in edits}) >= 3
    amounts = [f.params["edits"]["smile"]["amount"] for f in edits]
    assert max(amounts) > 3 * min(amounts)  # faint to strong


def test_names_from_before_the_variants_still_group():
    assert technique_group("opendfa.swap.poisson", {"color_transfer": False}) == {
        "family": "swap",
        "blend": "poisson_normal",
        "warp": "mesh",
        "color": "none",
    }
    assert technique_group("opendfa.edit.eye_size+lip_colour")["warp"] == "mesh"
    assert "warp" not in technique_group("opendfa.edit.lip_colour")
    assert technique_group("opendfa.vae.generator-v1", {"interpolation": "bicubic"}) == {
        "family": "synth",
        "generator": "vae",
        "resample": "cubic",
        "resample_library": "opencv",
    }
    # Edits made before the filter choices existed: bilateral smoothing, Lab recolouring.
    old = {"edits": {"skin_smoothing": {"diameter": 11, "sigma": 40.0, "strength": 0.5}}}
    assert technique_group("opendfa.edit.lip_colour+skin_smoothing", old) == {
        "family": "edit",
        "operation": "lip_colour+skin_smoothing",
        "smoothing": "bilateral",
        "recolour": "lab",
    }
    assert technique_group("opendfa.edit.bulge.eye_size", {"resample": "lanczos"})["warp"] == (
        "bulge"
    )
    assert technique_group("real") == {} and technique_group("ffpp.Deepfakes") == {}
    assert technique_tags("opendfa.reenact.tps.blink+smile") == {
        "family:reenact",
        "warp:tps",
        "operation:blink",
        "operation:smile",
    }
