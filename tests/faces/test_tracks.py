"""Face tracks: stable ids for moving faces, new ids after a long absence, real video."""

from __future__ import annotations

import cv2
import numpy as np

from opendfa.faces import Face
from opendfa.faces.scan import scan_video
from opendfa.faces.tracks import TrackerConfig, track_faces


def moved(face: Face, dx: float, dy: float) -> Face:
    landmarks = face.landmarks.copy()
    landmarks[:, 0] += dx
    landmarks[:, 1] += dy
    x0, y0, x1, y1 = face.box
    return Face(box=(x0 + dx, y0 + dy, x1 + dx, y1 + dy), score=face.score, landmarks=landmarks)


def test_two_moving_faces_keep_their_ids(astronaut_face):
    left, right = astronaut_face, moved(astronaut_face, 300, 0)
    frames = []
    for step in range(6):
        faces = [moved(right, -4 * step, 2 * step), moved(left, 5 * step, 0)]  # order shuffles
        frames.append((step * 5, step / 6, faces if step % 2 else faces[::-1]))
    tracks = track_faces(frames)
    assert len(tracks) == 2
    for track in tracks:
        assert track.frame_indices == [0, 5, 10, 15, 20, 25]
        xs = [item.face.box[0] for item in track.items]
        assert np.all(np.abs(np.diff(xs)) < 10)  # never jumps to the other face


def test_a_face_absent_longer_than_the_gap_gets_a_new_track(astronaut_face):
    frames = [
        (0, 0.0, [astronaut_face]),
        (1, 0.1, []),
        (2, 0.2, []),
        (3, 0.3, []),
        (4, 0.4, [astronaut_face]),
    ]
    assert len(track_faces(frames, TrackerConfig(max_gap=2))) == 2
    assert len(track_faces(frames, TrackerConfig(max_gap=3))) == 1


def test_video_of_a_panning_face_gives_one_track(tmp_path, astronaut_rgb, face_detector):
    path = tmp_path / "pan.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (384, 384))
    assert writer.isOpened()
    for step in range(40):
        x = 40 + 2 * step
        frame = astronaut_rgb[30 : 30 + 384, x : x + 384]
        writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
    writer.release()
    video = scan_video(path, face_detector, num_frames=8)
    assert len(video.frames) == 8
    assert all(len(frame.faces) == 1 for frame in video.frames)
    assert len(video.tracks) == 1
    boxes = [item.face.box[0] for item in video.tracks[0].items]
    assert boxes[0] > boxes[-1] + 40  # the face drifts left as the window pans right
    record = video.to_json()
    assert {face["track_id"] for frame in record["frames"] for face in frame["faces"]} == {0}
