"""Alignment: the fit is exact for similar point sets and the crop maps back within a pixel."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from opendfa.faces import align_face, mesh
from opendfa.faces.align import canonical_keypoints, estimate_similarity


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 300, size=(5, 2))
    angle, scale, shift = np.deg2rad(23.0), 1.7, np.array([12.0, -40.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rotation.T + shift
    matrix = estimate_similarity(src, dst)
    np.testing.assert_allclose(matrix[:, :2], scale * rotation, atol=1e-9)
    np.testing.assert_allclose(matrix[:, 2], shift, atol=1e-7)


@pytest.mark.parametrize("size", [224, 256, 380])
def test_keypoints_land_on_the_template_in_every_crop_size(astronaut_rgb, astronaut_face, size):
    aligned = align_face(astronaut_rgb, astronaut_face, size=size, margin=0.25)
    assert aligned.crop.shape == (size, size, 3)
    template = canonical_keypoints(size, 0.25)
    crop_keypoints = aligned.alignment.to_crop(astronaut_face.keypoints)
    # A real face is not the template: the least-squares fit leaves a few percent of error.
    assert np.abs(crop_keypoints - template).max() < 0.06 * size
    # Eyes level after alignment: the crop removes the head's roll.
    assert abs(crop_keypoints[0, 1] - crop_keypoints[1, 1]) < 0.02 * size


def test_points_round_trip_through_the_crop_within_a_pixel(astronaut_rgb, astronaut_face):
    aligned = align_face(astronaut_rgb, astronaut_face, size=256)
    points = astronaut_face.landmarks[:, :2].astype(np.float64)
    back = aligned.alignment.to_image(aligned.alignment.to_crop(points))
    assert np.abs(back - points).max() < 1.0
    np.testing.assert_allclose(aligned.landmarks[:, :2], aligned.alignment.to_crop(points))


def test_crop_pixels_come_from_the_mapped_image_location(astronaut_rgb, astronaut_face):
    aligned = align_face(astronaut_rgb, astronaut_face, size=256)
    for cx, cy in [(128, 128), (90, 100), (170, 190)]:
        ix, iy = aligned.alignment.to_image(np.array([[cx, cy]], dtype=float))[0]
        expected = astronaut_rgb[round(iy), round(ix)].astype(int)
        assert np.abs(aligned.crop[cy, cx].astype(int) - expected).max() < 40


def test_unwarp_puts_a_crop_mask_back_on_the_face(astronaut_rgb, astronaut_face):
    aligned = align_face(astronaut_rgb, astronaut_face, size=256)
    crop_mask = np.zeros((256, 256), dtype=np.float32)
    crop_mask[96:160, 96:160] = 1.0
    height, width = astronaut_rgb.shape[:2]
    image_mask = aligned.alignment.unwarp(crop_mask, (width, height))
    assert image_mask.shape == (height, width)
    ys, xs = np.nonzero(image_mask > 0.5)
    centre = aligned.alignment.to_image(np.array([[128.0, 128.0]]))[0]
    assert abs(xs.mean() - centre[0]) < 1.5 and abs(ys.mean() - centre[1]) < 1.5
    expected_area = 64 * 64 / aligned.alignment.scale**2
    assert abs((image_mask > 0.5).sum() - expected_area) / expected_area < 0.1


def test_bad_alignment_settings_are_rejected():
    with pytest.raises(ValueError):
        canonical_keypoints(8, 0.2)
    with pytest.raises(ValueError):
        canonical_keypoints(256, -0.1)


# The crop fallback: a small, square, face-like image in which detection found nothing.


def test_face_crops_are_recognised_and_other_images_are_not():
    from skimage.data import lfw_subset

    from opendfa.faces.align import looks_like_face_crop

    subset = (lfw_subset() * 255).astype(np.uint8)
    faces, patches = subset[:100], subset[100:]
    assert sum(looks_like_face_crop(face) for face in faces) >= 90
    assert sum(looks_like_face_crop(patch) for patch in patches) <= 5
    ramp = np.linspace(0, 255, 160, dtype=np.uint8)
    gradient = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128), axis=2)
    assert not looks_like_face_crop(np.ascontiguousarray(gradient, dtype=np.uint8))
    wide = cv2.resize(faces[0], (120, 40))
    assert not looks_like_face_crop(wide)  # not square
    assert not looks_like_face_crop(cv2.resize(faces[0], (900, 900)))  # a photo, not a crop


def test_template_face_lands_where_align_face_expects_it(astronaut_rgb, astronaut_face):
    from opendfa.faces.align import face_from_crop

    # Cut the astronaut's own aligned crop, then place the mean face in it blind.
    aligned = align_face(astronaut_rgb, astronaut_face, size=200, margin=0.2)
    placed = face_from_crop(200, 200, margin=0.2)
    expected = aligned.landmarks[list(mesh.KEYPOINT_INDICES), :2]
    error = np.linalg.norm(placed.keypoints - expected, axis=1)
    assert error.max() < 200 * 0.06  # within a few percent of the crop
    assert 0 <= placed.box[0] < placed.box[2] <= 200 and 0 <= placed.box[1] < placed.box[3] <= 200
    assert placed.landmarks.shape == (478, 3)
