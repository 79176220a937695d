"""Face swap: the identity really changes (dlib face embeddings), blends and mask shapes."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.forge import ForgeryError, create_forgery
from opendfa.forge.blend import BLENDS
from opendfa.forge.swap import MASK_SHAPES, swap_region

dlib = pytest.importorskip("dlib")
face_models = pytest.importorskip("face_recognition_models")

# dlib's model card: two photos of one person are closer than 0.6 in 99.38 % of LFW pairs.
SAME_PERSON = 0.6


@pytest.fixture(scope="module")
def embed():
    predictor = dlib.shape_predictor(face_models.pose_predictor_five_point_model_location())
    model = dlib.face_recognition_model_v1(face_models.face_recognition_model_location())

    def embedding(rgb: np.ndarray, box) -> np.ndarray:
        x0, y0, x1, y1 = (int(v) for v in box)
        shape = predictor(rgb, dlib.rectangle(x0, y0, x1, y1))
        return np.array(model.compute_face_descriptor(rgb, shape))

    return embedding


def test_swapped_face_takes_the_source_identity(portraits, embed):
    """Every blend but `poisson_mixed` (which keeps the target's stronger edges by design)."""
    blends = [b for b in BLENDS if b != "poisson_mixed"]
    changed = 0
    for number, target in enumerate(portraits):
        source = portraits[(number + 1) % len(portraits)]
        forgery = create_forgery(
            "face_swap",
            target,
            source,
            seed=number,
            mask_shape="mid",
            blend_method=blends[number % len(blends)],
        )
        swapped = embed(forgery.image, target.face.box)
        to_target = np.linalg.norm(swapped - embed(target.rgb, target.face.box))
        to_source = np.linalg.norm(swapped - embed(source.rgb, source.face.box))
        changed += to_target > 0.55 and to_source < to_target
    assert changed >= len(portraits) - 1  # one hard pair allowed


def test_reenactment_keeps_the_identity(portraits, embed):
    for number, target in enumerate(portraits):
        forgery = create_forgery("face_reenactment", target, None, seed=number)
        distance = np.linalg.norm(
            embed(forgery.image, target.face.box) - embed(target.rgb, target.face.box)
        )
        assert distance < SAME_PERSON / 2


@pytest.mark.parametrize("blend", BLENDS)
def test_each_blend_changes_only_the_face(portraits, blend):
    target, source = portraits[1], portraits[0]
    forgery = create_forgery("face_swap", target, source, seed=3, blend_method=blend)
    warp, colour = forgery.params["warp"], forgery.params["color_transfer"]
    assert forgery.technique == f"opendfa.swap.{warp}.{colour}.{blend}"
    assert forgery.source_identity == "person0" and forgery.target_identity == "person1"
    x0, y0, x1, y1 = target.face.box
    ys, xs = np.nonzero(forgery.mask > 0.5)
    pad = 0.3 * target.face.width
    assert (
        xs.min() > x0 - pad and xs.max() < x1 + pad and ys.min() > y0 - pad and ys.max() < y1 + pad
    )


def test_mask_shapes_grow_from_inner_to_oval(portraits):
    landmarks, shape = portraits[0].face.landmarks, portraits[0].rgb.shape[:2]
    areas = [swap_region(landmarks, shape, name).sum() for name in MASK_SHAPES]
    assert areas[0] < areas[1] < areas[2]


def test_an_open_target_mouth_is_kept(portraits):
    """The astronaut smiles with her teeth showing: a swap must not paint over them."""
    from opendfa.faces import mesh
    from opendfa.forge.warp import polygon_mask

    target, source = portraits[0], portraits[1]
    opening = polygon_mask(target.face.landmarks[list(mesh.LIPS_INNER)], target.rgb.shape[:2])
    assert opening.sum() > 50
    forgery = create_forgery("face_swap", target, source, seed=1, blend_method="alpha")
    assert forgery.mask[opening].mean() < 0.2


def test_swapping_a_face_with_itself_is_refused(portraits):
    with pytest.raises(ForgeryError, match="two different identities"):
        create_forgery("face_swap", portraits[0], portraits[0])
