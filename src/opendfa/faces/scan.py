"""Faces of a whole input: an image (faces + regions) or a video (faces per frame + tracks).

This is the API the `opendfa faces` command wraps; results turn into plain JSON with
`to_json()`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from opendfa.faces.detect import FaceDetector
from opendfa.faces.regions import RegionMasks, region_masks
from opendfa.faces.tracks import FaceTrack, track_faces
from opendfa.faces.types import Face
from opendfa.media import (
    DEFAULT_MAX_PIXELS,
    LoadedImage,
    VideoInfo,
    iter_video_frames,
    load_image,
    probe_video,
)
from opendfa.media.files import file_sha256


@dataclass
class ImageFaces:
    image: LoadedImage
    faces: list[Face]
    regions: list[RegionMasks]
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {
            "input": {
                "path": self.image.source,
                "sha256": self.image.sha256,
                "kind": "image",
                "format": self.image.format,
                "width": self.image.width,
                "height": self.image.height,
                "exif_orientation": self.image.exif_orientation,
            },
            "faces": [face_json(f, r) for f, r in zip(self.faces, self.regions, strict=True)],
            "warnings": list(self.image.warnings),
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


@dataclass
class FrameFaces:
    index: int
    timestamp_s: float
    faces: list[Face]


@dataclass
class VideoFaces:
    info: VideoInfo
    frames: list[FrameFaces]
    tracks: list[FaceTrack]
    sha256: str
    timings_ms: dict[str, float] = field(default_factory=dict)
    best_frame: np.ndarray | None = None  # RGB of the frame with most faces, for overlays
    best_frame_index: int = -1

    def to_json(self) -> dict:
        track_of = {
            (item.frame_index, id(item.face)): track.track_id
            for track in self.tracks
            for item in track.items
        }
        return {
            "input": {
                "path": self.info.path,
                "sha256": self.sha256,
                "kind": "video",
                "width": self.info.width,
                "height": self.info.height,
                "fps": round(self.info.fps, 3),
                "frame_count": self.info.frame_count,
                "frames_analyzed": len(self.frames),
            },
            "frames": [
                {
                    "index": frame.index,
                    "timestamp_s": frame.timestamp_s,
                    "faces": [
                        {**face_json(face), "track_id": track_of.get((frame.index, id(face)))}
                        for face in frame.faces
                    ],
                }
                for frame in self.frames
            ],
            "tracks": [
                {
                    "track_id": track.track_id,
                    "frames": track.frame_indices,
                    "mean_box": [round(v, 1) for v in track.mean_box()],
                }
                for track in self.tracks
            ],
            "warnings": [],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
        }


def face_json(face: Face, regions: RegionMasks | None = None) -> dict:
    record = {
        "box": [round(float(v), 1) for v in face.box],
        "detection_score": round(face.score, 4),
        "keypoints": face.keypoint_dict(),
        "rotation": face.rotation,
    }
    if regions is not None:
        record["region_areas"] = regions.areas()
    return record


def scan_image(
    source: str | Path | bytes, detector: FaceDetector, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> ImageFaces:
    """Load an image, find its faces and their region masks (original image coordinates)."""
    start = time.perf_counter()
    image = load_image(source, max_pixels=max_pixels)
    loaded = time.perf_counter()
    faces = detector.detect(image.rgb)
    detected = time.perf_counter()
    regions = [region_masks(face.landmarks, (image.width, image.height)) for face in faces]
    done = time.perf_counter()
    timings = {
        "load": (loaded - start) * 1e3,
        "faces": (detected - loaded) * 1e3,
        "regions": (done - detected) * 1e3,
        "total": (done - start) * 1e3,
    }
    return ImageFaces(image=image, faces=faces, regions=regions, timings_ms=timings)


def scan_video(
    source: str | Path,
    detector: FaceDetector,
    *,
    num_frames: int | None = 16,
    target_fps: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> VideoFaces:
    """Sample frames, find faces in each, and link them into tracks."""
    start = time.perf_counter()
    info = probe_video(source)
    frames: list[FrameFaces] = []
    best, best_index, best_count = None, -1, -1
    for frame in iter_video_frames(
        source, num_frames=num_frames, target_fps=target_fps, max_pixels=max_pixels
    ):
        faces = detector.detect(frame.rgb)
        frames.append(FrameFaces(frame.index, frame.timestamp_s, faces))
        if len(faces) > best_count:
            best, best_index, best_count = frame.rgb, frame.index, len(faces)
    tracks = track_faces([(f.index, f.timestamp_s, f.faces) for f in frames])
    total = (time.perf_counter() - start) * 1e3
    return VideoFaces(
        info=info,
        frames=frames,
        tracks=tracks,
        sha256=file_sha256(source),
        timings_ms={"total": total, "per_frame": total / max(len(frames), 1)},
        best_frame=best,
        best_frame_index=best_index,
    )
