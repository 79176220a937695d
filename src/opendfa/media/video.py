"""Video frame sampling that streams through the file instead of loading it.

OpenCV's FFmpeg reader decodes sequentially; `grab()` advances without converting a frame,
so only the sampled frames are turned into RGB arrays. Seeking by frame index is avoided on
purpose: it is inexact for many codecs.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from opendfa.media.errors import MediaError
from opendfa.media.files import file_problem
from opendfa.media.image import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS

# FFmpeg's and OpenCV's own log lines ("moov atom not found", "backend is generally
# available but can't be used") go straight to stderr; every failure already becomes one
# MediaError, so they stay quiet unless the user set a level or OPENDFA_VERBOSE_NATIVE (the
# CLI's --verbose). OpenCV reads the FFmpeg level once, when it first opens a video; with a
# level set it prints FFmpeg's lines on stdout, so verbose leaves the level unset instead.
if not os.environ.get("OPENDFA_VERBOSE_NATIVE"):
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".avi", ".mov", ".webm", ".mkv"})
# FFmpeg treats a file with these names as an HLS playlist and opens the other files and URLs
# it lists; it only does so by name, so refusing the names is enough.
_PLAYLIST_SUFFIXES = frozenset({".m3u8", ".m3u", ".hls"})


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (frame_count may be an estimate)."""

    path: str
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration_s(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


@dataclass
class VideoFrame:
    """One sampled frame: its index in the stream, its time in seconds and RGB pixels."""

    index: int
    timestamp_s: float
    rgb: np.ndarray


def probe_video(source: str | Path | bytes, *, max_bytes: int = 4 * DEFAULT_MAX_BYTES) -> VideoInfo:
    """Open a video and read its metadata; raises `MediaError` if it cannot be decoded."""
    with _video_path(source, max_bytes) as (path, label):
        capture = _open_capture(path, label)
        try:
            return _info(capture, label)
        finally:
            capture.release()


def iter_video_frames(
    source: str | Path | bytes,
    *,
    num_frames: int | None = 16,
    target_fps: float | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = 4 * DEFAULT_MAX_BYTES,
) -> Iterator[VideoFrame]:
    """Yield frames sampled uniformly (`num_frames`) or at `target_fps` (which wins if given).

    With both None every frame is yielded. Raises `MediaError` if the video is broken or no
    frame can be decoded; a stream that ends early just yields fewer frames.
    """
    if target_fps is not None and target_fps <= 0:
        raise MediaError(f"target_fps must be positive, got {target_fps}")
    if num_frames is not None and num_frames < 1:
        raise MediaError(f"num_frames must be at least 1, got {num_frames}")
    with _video_path(source, max_bytes) as (path, label):
        capture = _open_capture(path, label)
        try:
            info = _info(capture, label)
            if info.width * info.height > max_pixels:
                raise MediaError(
                    f"video frames too large: {info.width}x{info.height} exceeds the "
                    f"{max_pixels / 1e6:.1f} MP limit",
                    label,
                )
            if info.frame_count <= 0 and target_fps is None and num_frames is not None:
                # The container does not say how long it is (e.g. a raw MJPEG stream): count
                # the frames in a first pass so that uniform sampling still spans the video.
                info = replace(info, frame_count=_count_frames(capture))
                capture.release()
                capture = _open_capture(path, label)
            wanted = _frame_plan(info, num_frames, target_fps)
            yield from _read_planned(capture, info, wanted, label)
        finally:
            capture.release()


def _count_frames(capture: cv2.VideoCapture) -> int:
    count = 0
    while capture.grab():
        count += 1
    return count


def _frame_plan(
    info: VideoInfo, num_frames: int | None, target_fps: float | None
) -> Iterable[int] | None:
    """Frame indices to keep, strictly ascending; None means every frame."""
    total = info.frame_count
    if target_fps is not None:
        if info.fps <= 0:
            return None
        step = info.fps / target_fps
        if step <= 1:
            return None
        # Unbounded on purpose: the stream's real end stops the reading, not the (often
        # estimated or missing) frame count.
        return (round(k * step) for k in itertools.count())
    if num_frames is None or total <= 0:
        return None
    if num_frames >= total:
        return list(range(total))
    return sorted({int(i) for i in np.linspace(0, total - 1, num_frames).round()})


def _read_planned(
    capture: cv2.VideoCapture, info: VideoInfo, wanted: Iterable[int] | None, label: str
) -> Iterator[VideoFrame]:
    targets = iter(wanted) if wanted is not None else None
    next_index = next(targets, None) if targets is not None else 0
    index = 0
    yielded = 0
    while next_index is not None:
        if not capture.grab():
            break
        if index == next_index:
            ok, bgr = capture.retrieve()
            if ok and bgr is not None:
                yielded += 1
                timestamp = index / info.fps if info.fps > 0 else 0.0
                rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                yield VideoFrame(index=index, timestamp_s=round(timestamp, 4), rgb=rgb)
            next_index = next(targets, None) if targets is not None else index + 1
        index += 1
    if yielded == 0:
        raise MediaError("no decodable frames in video", label)


def _info(capture: cv2.VideoCapture, label: str) -> VideoInfo:
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    if width <= 0 or height <= 0:
        raise MediaError("video has no decodable video stream", label)
    if not np.isfinite(fps) or fps < 0 or fps > 1000:
        fps = 0.0
    return VideoInfo(path=label, width=width, height=height, fps=fps, frame_count=max(count, 0))


def _open_capture(path: str, label: str) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise MediaError("not a readable video", label)
    return capture


@contextmanager
def _video_path(source: str | Path | bytes, max_bytes: int) -> Iterator[tuple[str, str]]:
    """A filesystem path for OpenCV: the file itself, or a private temp copy of given bytes."""
    if not isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        raise MediaError(f"unsupported input type {type(source).__name__}")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise MediaError("empty video data")
        if len(data) > max_bytes:
            raise MediaError(f"video too large: {len(data)} bytes, limit {max_bytes}")
        fd, tmp = tempfile.mkstemp(prefix="opendfa-video-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            yield tmp, "<bytes>"
        finally:
            Path(tmp).unlink(missing_ok=True)
        return
    path = Path(source)
    label = str(path)
    if path.suffix.lower() in _PLAYLIST_SUFFIXES:
        raise MediaError("playlists are not accepted, only video files", label)
    try:  # stat fails on names too long, NUL bytes, unreadable parents, ...
        problem = file_problem(path)
        if problem:
            raise MediaError(problem, label)
        size = path.stat().st_size
    except MediaError:
        raise
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or err
        raise MediaError(f"cannot read file: {reason}", label) from None
    if size == 0:
        raise MediaError("empty file", label)
    if size > max_bytes:
        raise MediaError(f"video too large: {size} bytes, limit {max_bytes}", label)
    # Absolute, so FFmpeg never reads a name like "concat:x.mp4" or "pipe:0" as a protocol.
    yield os.path.abspath(path), label
