"""Region masks: present, inside the face, anatomically placed, consistent across frames."""

from __future__ import annotations

import numpy as np
import pytest

from opendfa.faces import REGION_NAMES, align_face, region_masks
from opendfa.media import load_image


@pytest.fixture(scope="module")
def astronaut_regions(astronaut_rgb, astronaut_face):
    height, width = astronaut_rgb.shape[:2]
    return region_masks(astronaut_face.landmarks, (width, height))


def test_all_twelve_regions_are_non_empty(astronaut_regions):
    assert tuple(astronaut_regions.masks) == REGION_NAMES
    assert len(REGION_NAMES) == 12
    assert all(area > 20 for area in astronaut_regions.areas().values())


def test_regions_lie_inside_the_face(astronaut_regions, astronaut_face):
    x0, y0, x1, y1 = astronaut_face.box
    pad = 0.15 * astronaut_face.width
    for name in REGION_NAMES:
        if name == "face_boundary":
            continue  # a band on both sides of the outline
        bx0, by0, bx1, by1 = astronaut_regions.box(name)
        assert bx0 >= x0 - pad and by0 >= y0 - pad and bx1 <= x1 + pad and by1 <= y1 + pad, name
        inside_skin = (astronaut_regions.masks[name] & astronaut_regions.masks["skin"]).sum()
        assert inside_skin >= 0.9 * astronaut_regions.masks[name].sum(), name


def test_features_are_disjoint_and_in_anatomical_order(astronaut_regions):
    masks = astronaut_regions.masks
    pairs = [("left_eye", "mouth"), ("right_eye", "mouth"), ("left_eye", "right_eye")]
    pairs += [("forehead", "chin"), ("left_cheek", "right_cheek"), ("nose", "left_eye")]
    for a, b in pairs:
        assert not (masks[a] & masks[b]).any(), (a, b)

    def centre(name: str) -> tuple[float, float]:
        ys, xs = np.nonzero(masks[name])
        return float(xs.mean()), float(ys.mean())

    assert centre("forehead")[1] < centre("left_eyebrow")[1] < centre("left_eye")[1]
    assert centre("left_eye")[1] < centre("nose")[1] < centre("mouth")[1] < centre("chin")[1]
    # Subject's left is on the image's right for this frontal portrait.
    for name in ("eye", "eyebrow", "cheek"):
        assert centre(f"left_{name}")[0] > centre(f"right_{name}")[0], name


def test_full_size_mask_matches_the_window(astronaut_regions, astronaut_rgb):
    full = astronaut_regions.full("mouth")
    assert full.shape == astronaut_rgb.shape[:2]
    assert full.sum() == astronaut_regions.masks["mouth"].sum()


def test_crop_regions_agree_with_image_regions_mapped_into_the_crop(astronaut_rgb, astronaut_face):
    aligned = align_face(astronaut_rgb, astronaut_face, size=256)
    crop_regions = region_masks(aligned.landmarks, (256, 256))
    height, width = astronaut_rgb.shape[:2]
    image_regions = region_masks(astronaut_face.landmarks, (width, height))
    for name in ("skin", "nose", "mouth", "forehead", "left_cheek"):
        warped = aligned.alignment.warp(image_regions.full(name).astype(np.uint8) * 255) > 127
        crop = crop_regions.full(name)
        iou = (warped & crop).sum() / (warped | crop).sum()
        assert iou > 0.8, (name, iou)


def test_regions_near_the_image_edge_are_clipped(hopper_path, face_detector):
    rgb = load_image(hopper_path).rgb
    face = face_detector.detect(rgb)[0]
    shifted = face.landmarks.copy()
    shifted[:, 0] -= face.box[0] + 0.5 * face.width  # half the face off the left edge
    regions = region_masks(shifted, (rgb.shape[1], rgb.shape[0]))
    assert regions.origin[0] == 0
    assert (
        0
        < regions.areas()["skin"]
        < region_masks(face.landmarks, (rgb.shape[1], rgb.shape[0])).areas()["skin"]
    )


def test_wrong_landmark_count_is_rejected():
    with pytest.raises(ValueError, match="478"):
        region_masks(np.zeros((68, 2)), (100, 100))
