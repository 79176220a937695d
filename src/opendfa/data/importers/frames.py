"""Videos and extracted frame folders as sample units: one per video or one per frame.

`unit="auto"` gives one sample per video file and one per image in a frame folder; "video"
gives one per video file or per frame folder (its path is then the folder); "frame" gives one per
image, or per frame index inside a video file (path = the video, `meta["frame_index"]` = the
index in decoding order). `frames_per_video` keeps that many frames, evenly spaced.
`media` picks between a video file and an extracted frame folder of the same name: "auto" uses
the frames when the folder holds any, "videos" / "frames" use only that kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from opendfa.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, probe_video

UNITS = ("auto", "video", "frame")
MEDIA = ("auto", "videos", "frames")
_TRAILING_NUMBER = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Unit:
    """What one sample points at: a file, or a folder of frames standing for a whole video."""

    path: Path
    frame_index: int | None = None
    num_frames: int | None = None
    in_video: bool = False  # frame_index counts frames inside the video file `path`


@dataclass(frozen=True)
class Sequence:
    """One video of a dataset: its file, its extracted frame folder, or both."""

    name: str
    video: Path | None = None
    frames: Path | None = None


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def frame_number(path: Path) -> int | None:
    match = _TRAILING_NUMBER.search(path.stem)
    return int(match.group(1)) if match else None


def frame_order(path: Path) -> tuple[bool, int, str]:
    """Sort key: numbered frames by number (so 2 before 10), then the rest by name."""
    number = frame_number(path)
    return number is None, number or 0, path.name


def list_frames(folder: Path) -> list[Path]:
    """Images in `folder`, in frame order."""
    try:
        files = [p for p in folder.iterdir() if p.is_file() and is_image(p)]
    except OSError:
        return []
    return sorted(files, key=frame_order)


def evenly(items: list, count: int | None) -> list:
    """`count` items spread evenly over `items` (all of them when count is None or larger)."""
    if count is None or count >= len(items):
        return list(items)
    if count <= 0:
        return []
    if count == 1:
        return [items[len(items) // 2]]
    last = len(items) - 1
    return [items[(i * last) // (count - 1)] for i in range(count)]


def collect_sequences(video_dirs: list[Path], frame_roots: list[Path]) -> list[Sequence]:
    """Pair video files (`<dir>/<name>.mp4`) with frame folders (`<root>/<name>/`) by name."""
    videos: dict[str, Path] = {}
    for folder in video_dirs:
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                if path.is_file() and is_video(path):
                    videos.setdefault(path.stem, path)
    frames: dict[str, Path] = {}
    for root in frame_roots:
        if root.is_dir():
            for path in sorted(root.iterdir()):
                if path.is_dir() and not path.name.startswith("."):
                    frames.setdefault(path.name, path)
    return [
        Sequence(name, videos.get(name), frames.get(name)) for name in sorted({*videos, *frames})
    ]


def expand(
    sequence: Sequence, *, unit: str, media: str, frames_per_video: int | None
) -> list[Unit]:
    """The units of one sequence under the unit/media policy (empty if it has nothing usable).

    Raises `ValueError` for a video whose frame count cannot be read (only in "frame" mode).
    """
    frames = list_frames(sequence.frames) if sequence.frames is not None else []
    use_frames = media == "frames" or (media == "auto" and bool(frames))
    if use_frames:
        if not frames:
            return []
        return image_units(frames, sequence.frames, unit=unit, frames_per_video=frames_per_video)
    if sequence.video is None:
        return []
    return video_units(sequence.video, unit=unit, frames_per_video=frames_per_video)


def video_units(video: Path, *, unit: str, frames_per_video: int | None) -> list[Unit]:
    if unit != "frame":
        return [Unit(video)]
    count = probe_video(video).frame_count
    if count <= 0:
        raise ValueError("video does not say how many frames it has")
    return [
        Unit(video, frame_index=index, in_video=True)
        for index in evenly(list(range(count)), frames_per_video)
    ]


def image_units(
    images: list[Path], folder: Path | None, *, unit: str, frames_per_video: int | None
) -> list[Unit]:
    """Units for a group of frame images (`folder` None: loose images, one sample each)."""
    if folder is not None and unit == "video":
        return [Unit(folder, num_frames=len(images))]
    if folder is None:
        return [Unit(path, frame_index=frame_number(path)) for path in images]
    return [
        Unit(path, frame_index=_index(path, position))
        for position, path in evenly(list(enumerate(images)), frames_per_video)
    ]


def _index(path: Path, position: int) -> int:
    number = frame_number(path)
    return position if number is None else number
