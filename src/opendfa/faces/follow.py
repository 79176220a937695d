"""Faces through consecutive video frames without running the full detector on every frame.

The full detector (short- and full-range models, tiles for small faces) is the expensive part
of a frame. Between two faces found by it, a face moves little, so each known face is followed
by running only the 478-point mesh on its previous box, moved and scaled with its landmarks.
The mesh confirms the face or loses it; the full detector runs again every `redetect_every`
frames, whenever a face is lost, whenever there is no face to follow, and when frames lie more
than `max_gap_s` apart (sparse sampling: people move and enter between them), so new faces
are found within `redetect_every` frames and nothing is followed that the mesh does not see.
"""

from __future__ import annotations

import numpy as np

from opendfa.faces.detect import FaceDetector
from opendfa.faces.types import Face, box_iou

Box = tuple[float, float, float, float]


class FaceFollower:
    """`follower(rgb)` -> faces of the next frame of one video, as `FaceDetector.detect` gives."""

    def __init__(
        self, detector: FaceDetector, redetect_every: int = 8, max_gap_s: float = 0.5
    ) -> None:
        if redetect_every < 1 or max_gap_s < 0:
            raise ValueError("redetect_every must be at least 1 and max_gap_s not negative")
        self.detector = detector
        self.redetect_every = redetect_every
        self.max_gap_s = max_gap_s
        self.faces: list[Face] = []
        self.since_detection = 0
        self.last_time: float | None = None
        self.detections = 0  # full detector runs, for tests and benchmarks

    def __call__(self, rgb: np.ndarray, timestamp_s: float | None = None) -> list[Face]:
        followed = None
        close = (
            timestamp_s is None
            or self.last_time is None
            or abs(timestamp_s - self.last_time) <= self.max_gap_s
        )
        self.last_time = timestamp_s
        if self.faces and close and self.since_detection < self.redetect_every:
            followed = self._follow(rgb)
        if followed is None:
            followed = self.detector.detect(rgb)
            self.detections += 1
            self.since_detection = 0
        self.since_detection += 1
        self.faces = followed
        return followed

    def _follow(self, rgb: np.ndarray) -> list[Face] | None:
        """The known faces on this frame, or None when one is lost (the caller redetects)."""
        if any(face.rotation for face in self.faces):
            return None  # found on a rotated copy: only the full detector handles that
        found: list[Face] = []
        for face in self.faces:
            right_eye, left_eye = face.keypoints[0], face.keypoints[1]
            roll = float(np.degrees(np.arctan2(*(left_eye - right_eye)[::-1])))
            landmarks = self.detector.landmarks_for_box(rgb, face.box, roll)
            if landmarks is None:
                return None
            moved = Face(
                box=_moved_box(face.box, face.landmarks, landmarks, rgb.shape[:2]),
                score=face.score,
                landmarks=landmarks,
            )
            if any(box_iou(_extent(moved.landmarks), _extent(f.landmarks)) > 0.5 for f in found):
                return None  # two followed faces merged into one: let the detector sort it out
            found.append(moved)
        return found


def _extent(landmarks: np.ndarray) -> Box:
    x, y = landmarks[:, 0], landmarks[:, 1]
    return float(x.min()), float(y.min()), float(x.max()), float(y.max())


def _moved_box(box: Box, before: np.ndarray, after: np.ndarray, shape: tuple[int, int]) -> Box:
    """`box` moved and scaled as the landmarks' extent moved from `before` to `after`."""
    b0, b1 = _extent(before), _extent(after)
    scale = max(b1[2] - b1[0], b1[3] - b1[1]) / max(b0[2] - b0[0], b0[3] - b0[1], 1e-6)
    c0 = np.array([(b0[0] + b0[2]) / 2, (b0[1] + b0[3]) / 2])
    c1 = np.array([(b1[0] + b1[2]) / 2, (b1[1] + b1[3]) / 2])
    corners = (np.array(box, dtype=np.float64).reshape(2, 2) - c0) * scale + c1
    height, width = shape
    corners[:, 0] = np.clip(corners[:, 0], 0, width)
    corners[:, 1] = np.clip(corners[:, 1], 0, height)
    x0, y0, x1, y1 = corners.ravel()
    return float(x0), float(y0), float(x1), float(y1)
