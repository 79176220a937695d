"""Safe loading of images and videos: every failure is one `MediaError` with a one-line message."""

from collections.abc import Iterable, Iterator
from pathlib import Path

from opendfa.media.budget import BudgetExceeded, WorkBudget
from opendfa.media.errors import MediaError
from opendfa.media.files import file_problem, is_folder
from opendfa.media.image import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    LoadedImage,
    load_image,
)
from opendfa.media.sniff import sniff, sniff_file
from opendfa.media.video import (
    VIDEO_SUFFIXES,
    SamplingStats,
    VideoFrame,
    VideoInfo,
    iter_video_frames,
    probe_video,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "IMAGE_SUFFIXES",
    "VIDEO_SUFFIXES",
    "BudgetExceeded",
    "LoadedImage",
    "MediaError",
    "SamplingStats",
    "VideoFrame",
    "VideoInfo",
    "WorkBudget",
    "file_problem",
    "iter_media_files",
    "iter_video_frames",
    "load_image",
    "media_kind",
    "probe_video",
    "sniff",
    "sniff_file",
]


def iter_media_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders expanded (recursively, sorted) to their image and video entries.

    Folder entries with a media suffix are kept even when they are not regular files (dangling
    or looping links, FIFOs), so the loader reports each one instead of the batch dropping it
    silently; a path whose very name the OS refuses is passed on as given, for the same reason.
    """
    for raw in paths:
        path = Path(raw)
        if is_folder(path):
            yield from sorted(
                entry
                for entry in path.rglob("*")
                if media_kind(entry.name) != "unknown" and not is_folder(entry)
            )
        else:
            yield path


def media_kind(path: str) -> str:
    """'image', 'video' or 'unknown' from the file suffix (content is checked on load)."""
    suffix = "." + str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "unknown"
