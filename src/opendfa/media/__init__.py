"""Safe loading of images and videos: every failure is one `MediaError` with a one-line message."""

from opendfa.media.errors import MediaError
from opendfa.media.image import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    IMAGE_SUFFIXES,
    LoadedImage,
    load_image,
)
from opendfa.media.video import (
    VIDEO_SUFFIXES,
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
    "LoadedImage",
    "MediaError",
    "VideoFrame",
    "VideoInfo",
    "iter_video_frames",
    "load_image",
    "media_kind",
    "probe_video",
]


def media_kind(path: str) -> str:
    """'image', 'video' or 'unknown' from the file suffix (content is checked on load)."""
    suffix = "." + str(path).rsplit(".", 1)[-1].lower() if "." in str(path) else ""
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    return "unknown"
