"""Face tracks across sampled video frames.

Faces in consecutive sampled frames are matched by a cost that mixes box overlap and the
distance between their five keypoints (normalised by face size), solved optimally per frame
with the Hungarian algorithm. A track survives `max_gap` sampled frames without a match.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from opendfa.faces.types import Face, box_iou


@dataclass
class TrackedFace:
    frame_index: int
    timestamp_s: float
    face: Face


@dataclass
class FaceTrack:
    """One person's face over time; `items` are ordered by frame."""

    track_id: int
    items: list[TrackedFace] = field(default_factory=list)

    @property
    def last(self) -> TrackedFace:
        return self.items[-1]

    @property
    def frame_indices(self) -> list[int]:
        return [item.frame_index for item in self.items]

    def mean_box(self) -> tuple[float, float, float, float]:
        boxes = np.array([item.face.box for item in self.items], dtype=np.float64)
        return tuple(float(v) for v in boxes.mean(axis=0))  # type: ignore[return-value]


@dataclass
class TrackerConfig:
    max_cost: float = 0.8
    max_gap: int = 2
    keypoint_weight: float = 0.5


def match_cost(a: Face, b: Face, keypoint_weight: float = 0.5) -> float:
    """0 for the same place and pose, about 1 or more for unrelated faces."""
    overlap = 1.0 - box_iou(a.box, b.box)
    scale = max(np.sqrt(a.area), np.sqrt(b.area), 1.0)
    shift = float(np.linalg.norm(a.keypoints - b.keypoints, axis=1).mean() / scale)
    return (1.0 - keypoint_weight) * overlap + keypoint_weight * min(shift, 2.0)


def track_faces(
    frames: list[tuple[int, float, list[Face]]], config: TrackerConfig | None = None
) -> list[FaceTrack]:
    """Group per-frame faces `(frame_index, timestamp_s, faces)` into tracks with stable ids."""
    config = config or TrackerConfig()
    tracks: list[FaceTrack] = []
    active: list[tuple[FaceTrack, int]] = []  # (track, sampled frames since last seen)
    for frame_index, timestamp, faces in sorted(frames, key=lambda f: f[0]):
        assigned = _assign(active, faces, config)
        still_active: list[tuple[FaceTrack, int]] = []
        for slot, (track, missed) in enumerate(active):
            face_number = assigned.get(slot)
            if face_number is None:
                if missed + 1 <= config.max_gap:
                    still_active.append((track, missed + 1))
                continue
            track.items.append(TrackedFace(frame_index, timestamp, faces[face_number]))
            still_active.append((track, 0))
        used = set(assigned.values())
        for number, face in enumerate(faces):
            if number not in used:
                track = FaceTrack(
                    track_id=len(tracks), items=[TrackedFace(frame_index, timestamp, face)]
                )
                tracks.append(track)
                still_active.append((track, 0))
        active = still_active
    return tracks


def _assign(
    active: list[tuple[FaceTrack, int]], faces: list[Face], config: TrackerConfig
) -> dict[int, int]:
    if not active or not faces:
        return {}
    from scipy.optimize import linear_sum_assignment  # slow to import: only for videos

    cost = np.array(
        [
            [match_cost(track.last.face, face, config.keypoint_weight) for face in faces]
            for track, _ in active
        ]
    )
    rows, cols = linear_sum_assignment(cost)
    return {
        int(r): int(c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= config.max_cost
    }
