"""Following faces between full detections: same landmarks, fewer detector runs, no face lost
or invented when people move, enter or leave."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from opendfa.faces.follow import FaceFollower


def _frame(face_rgb: np.ndarray, x: int, second: np.ndarray | None = None) -> np.ndarray:
    frame = np.full((480, 960, 3), 70, np.uint8)
    frame[60:420, x : x + 360] = face_rgb
    if second is not None:
        frame[100:380, 650:930] = second
    return frame


@pytest.fixture(scope="module")
def faces(astronaut_rgb, hopper_path):
    from opendfa.media import load_image

    collins = cv2.resize(astronaut_rgb, (360, 360), interpolation=cv2.INTER_AREA)
    hopper = cv2.resize(load_image(hopper_path).rgb, (280, 280), interpolation=cv2.INTER_AREA)
    return collins, hopper


def test_followed_landmarks_match_full_detection_with_fewer_detector_runs(face_detector, faces):
    collins, _ = faces
    follower = FaceFollower(face_detector, redetect_every=8)
    for k in range(10):
        frame = _frame(collins, 40 + 12 * k)
        followed = follower(frame, k / 25)
        full = face_detector.detect(frame)
        assert len(followed) == len(full) == 1
        error = np.linalg.norm(followed[0].keypoints - full[0].keypoints, axis=1).max()
        assert error < 0.05 * full[0].interocular, (k, error)
    assert follower.detections == 2  # frames 0 and 8


def test_a_face_that_enters_is_found_at_the_next_detection(face_detector, faces):
    collins, hopper = faces
    follower = FaceFollower(face_detector, redetect_every=4)
    counts = [
        len(follower(_frame(collins, 40, hopper if k >= 1 else None), k / 25)) for k in range(6)
    ]
    assert counts[0] == 1 and counts[4:] == [2, 2]  # redetected at frame 4


def test_a_face_that_leaves_is_dropped_not_invented(face_detector, faces):
    collins, _ = faces
    follower = FaceFollower(face_detector, redetect_every=8)
    assert len(follower(_frame(collins, 40), 0.0)) == 1
    empty = np.full((480, 960, 3), 70, np.uint8)
    assert follower(empty, 0.04) == []
    assert follower.detections == 2  # the mesh lost it, so the detector looked again


def test_frames_far_apart_are_always_detected(face_detector, faces):
    collins, _ = faces
    follower = FaceFollower(face_detector, redetect_every=8, max_gap_s=0.5)
    for k in range(3):
        follower(_frame(collins, 40 + 30 * k), 2.0 * k)
    assert follower.detections == 3
