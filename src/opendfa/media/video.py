"""Video frame sampling that streams through the file instead of loading it.

OpenCV's FFmpeg reader decodes sequentially; `grab()` advances without converting a frame,
so only the sampled frames are turned into RGB arrays. Seeking by frame index is avoided on
purpose: it is inexact for many codecs.

Nothing in a container's header decides which frames are judged: a header can claim 4 frames
or 2,000,000,000. Frames are chosen from what actually decodes (`_UniformSampler` keeps an
evenly spaced set while the stream is read once), timestamps come from the decoder, and a
header that disagrees with the stream becomes a warning in `SamplingStats`.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from opendfa.media.budget import WorkBudget
from opendfa.media.errors import MediaError
from opendfa.media.files import file_problem
from opendfa.media.image import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS
from opendfa.media.sniff import HEAD_BYTES, describe, sniff

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
# The only demuxers FFmpeg may use (never concat, playlists, image2 patterns) and the only
# protocol (never network or concat:). OpenCV passes these to avformat_open_input on every
# open; a format off the list fails to open even if the signature check were fooled.
ALLOWED_DEMUXERS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,avi"
FFMPEG_CAPTURE_OPTIONS = f"format_whitelist;{ALLOWED_DEMUXERS}|protocol_whitelist;file"
CHECK_EVERY_FRAMES = 64  # how often the budget is checked while decoding


def _restrict_ffmpeg() -> None:
    """Put the allowlist into OpenCV's capture options, keeping options a user set."""
    current = os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "")
    if FFMPEG_CAPTURE_OPTIONS in current:
        return
    kept = [part for part in current.split("|") if part and "whitelist" not in part]
    os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = "|".join([*kept, FFMPEG_CAPTURE_OPTIONS])


_restrict_ffmpeg()


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about a video (frame_count may be an estimate or a lie)."""

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


@dataclass
class SamplingStats:
    """What reading a video found, filled while `iter_video_frames` runs: how many frames
    decoded against what the header claimed, and whether the whole stream was read."""

    header_frames: int = 0
    decoded_frames: int = 0
    decoded_seconds: float = 0.0
    complete: bool = False  # the stream was read to its end
    stopped_by: str | None = None  # why decoding stopped early
    warnings: list[str] = field(default_factory=list)

    def header_disagrees(self) -> bool:
        """True when the header's frame count is off by more than 2 frames and 5 %."""
        if not self.complete or self.header_frames <= 0:
            return False
        gap = abs(self.header_frames - self.decoded_frames)
        return gap > max(2, 0.05 * self.decoded_frames)

    def finish(self) -> None:
        if self.header_disagrees():
            self.warnings.append(
                f"the video header claims {self.header_frames} frames but "
                f"{self.decoded_frames} decoded; frames were sampled from the decoded stream"
            )


def probe_video(source: str | Path | bytes, *, max_bytes: int = 4 * DEFAULT_MAX_BYTES) -> VideoInfo:
    """Open a video and read its header; raises `MediaError` if it cannot be decoded."""
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
    budget: WorkBudget | None = None,
    stats: SamplingStats | None = None,
) -> Iterator[VideoFrame]:
    """Yield frames sampled uniformly over the decoded stream (`num_frames`) or every
    1/`target_fps` seconds of decoded time (`target_fps` wins if given).

    With both None every frame is yielded. Uniform sampling reads the stream once and yields
    after its end (it holds at most 3 x `num_frames` frames). Decoding stops at
    `budget.max_decoded_frames` (noted in `stats`, which the caller may pass to learn what
    was read) and raises `BudgetExceeded` when the budget's time runs out or it is cancelled.
    Raises `MediaError` if the video is broken or no frame can be decoded.
    """
    if target_fps is not None and target_fps <= 0:
        raise MediaError(f"target_fps must be positive, got {target_fps}")
    if num_frames is not None and num_frames < 1:
        raise MediaError(f"num_frames must be at least 1, got {num_frames}")
    stats = stats if stats is not None else SamplingStats()
    budget = budget or WorkBudget(max_seconds=None)
    with _video_path(source, max_bytes) as (path, label):
        capture = _open_capture(path, label)
        try:
            info = _info(capture, label)
            _check_frame_size(info.width, info.height, max_pixels, label)
            stats.header_frames = info.frame_count
            frame_cap = min(max_pixels, info.width * info.height)
            decoded = _decode(capture, info, budget, stats, frame_cap, label)
            if target_fps is not None:
                frames = _every_interval(decoded, 1.0 / target_fps)
            elif num_frames is not None:
                frames = _uniform(decoded, num_frames, info.frame_count)
            else:
                frames = _retrieve_all(decoded)
            yielded = 0
            for frame in frames:
                yielded += 1
                yield frame
            if yielded == 0:
                raise MediaError("no decodable frames in video", label)
            stats.finish()
        finally:
            capture.release()


@dataclass
class _Decoded:
    """One grabbed (decoded, not yet converted) frame; `retrieve()` converts it to RGB."""

    index: int
    timestamp_s: float
    capture: cv2.VideoCapture
    max_pixels: int  # the smaller of the caller's cap and the header's frame size
    label: str

    def retrieve(self) -> VideoFrame | None:
        ok, bgr = self.capture.retrieve()
        if not ok or bgr is None or bgr.ndim != 3:
            return None
        # The header's size is a claim too (budgets were computed from it): a frame larger
        # than it declared, or than the cap, stops the analysis.
        height, width = bgr.shape[:2]
        if width * height > self.max_pixels:
            raise MediaError(
                f"a decoded frame ({width}x{height}) is larger than the video's header "
                f"declares or than the {self.max_pixels / 1e6:.1f} MP limit",
                self.label,
            )
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return VideoFrame(index=self.index, timestamp_s=round(self.timestamp_s, 4), rgb=rgb)


def _decode(
    capture: cv2.VideoCapture,
    info: VideoInfo,
    budget: WorkBudget,
    stats: SamplingStats,
    max_pixels: int,
    label: str,
) -> Iterator[_Decoded]:
    """Grab every frame of the stream once, with its decoded timestamp, within the budget."""
    index = 0
    last_time = -1.0
    while True:
        if index % CHECK_EVERY_FRAMES == 0:
            budget.check(label)
        if index >= budget.max_decoded_frames:
            stats.stopped_by = f"the limit of {budget.max_decoded_frames} decoded frames"
            stats.warnings.append(
                f"only the first {index} frames ({last_time:.1f} s) were decoded "
                f"({stats.stopped_by}); the rest of the video was not analysed"
            )
            return
        if not capture.grab():
            stats.complete = True
            return
        timestamp = _timestamp(capture, index, info.fps, last_time)
        last_time = timestamp
        index += 1
        stats.decoded_frames = index
        stats.decoded_seconds = timestamp
        yield _Decoded(index - 1, timestamp, capture, max_pixels, label)


def _timestamp(capture: cv2.VideoCapture, index: int, fps: float, last: float) -> float:
    """The decoder's presentation time; the frame rate's guess where the decoder has none."""
    msec = capture.get(cv2.CAP_PROP_POS_MSEC)
    guess = index / fps if fps > 0 else float(index)
    if not np.isfinite(msec) or msec < 0 or (msec == 0 and index > 0):
        return max(guess, last)
    return max(msec / 1000.0, last)


def _uniform(
    decoded: Iterator[_Decoded], num_frames: int, header_frames: int
) -> Iterator[VideoFrame]:
    """`num_frames` frames evenly spread over the whole decoded stream, in one pass.

    Two selections are made while reading. The header's plan (`num_frames` indices spread
    over the frame count it claims) is used when the stream turns out to hold exactly that
    many frames. Otherwise a plan the header cannot steer: every `stride`-th frame is kept,
    and when 2 x `num_frames` are held every other one is dropped and the stride doubles, so
    the kept set always spans the stream read so far; `num_frames` of them are chosen evenly.
    At most 3 x `num_frames` frames are held.
    """
    plan: set[int] = set()
    if header_frames > 0:
        plan = {int(i) for i in np.linspace(0, header_frames - 1, num_frames).round()}
    planned: list[VideoFrame] = []
    stride = 1
    kept: list[VideoFrame] = []
    total = 0
    for item in decoded:
        total = item.index + 1
        in_plan, in_stride = item.index in plan, item.index % stride == 0
        if not (in_plan or in_stride):
            continue
        frame = item.retrieve()
        if frame is None:
            continue
        if in_plan:
            planned.append(frame)
        if in_stride:
            kept.append(frame)
            if len(kept) >= 2 * num_frames:
                stride *= 2
                kept = [f for f in kept if f.index % stride == 0]
    if total == header_frames and len(planned) == len(plan):
        yield from planned
        return
    if len(kept) > num_frames:
        picks = np.linspace(0, len(kept) - 1, num_frames).round().astype(int)
        kept = [kept[i] for i in sorted(set(picks.tolist()))]
    yield from kept


def _every_interval(decoded: Iterator[_Decoded], interval_s: float) -> Iterator[VideoFrame]:
    """The first frame at or after each multiple of `interval_s` of decoded time."""
    next_time = 0.0
    for item in decoded:
        if item.timestamp_s + 1e-6 < next_time:
            continue
        frame = item.retrieve()
        if frame is not None:
            yield frame
            next_time = (int(item.timestamp_s / interval_s + 1e-6) + 1) * interval_s


def _retrieve_all(decoded: Iterator[_Decoded]) -> Iterator[VideoFrame]:
    for item in decoded:
        frame = item.retrieve()
        if frame is not None:
            yield frame


def _check_frame_size(width: int, height: int, max_pixels: int, label: str) -> None:
    if width * height > max_pixels:
        raise MediaError(
            f"video frames too large: {width}x{height} exceeds the {max_pixels / 1e6:.1f} MP limit",
            label,
        )


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
    _restrict_ffmpeg()  # in case something replaced the options since import
    capture = cv2.VideoCapture(path, cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise MediaError("not a readable video", label)
    return capture


def check_video_signature(head: bytes, label: str) -> None:
    """Raise `MediaError` unless the first bytes are an mp4/mov, Matroska/WebM or AVI."""
    found = sniff(head)
    if found is None or found[0] != "video":
        what = f"an image ({found[1]})" if found else describe(head)
        raise MediaError(f"not a video file ({what})", label)


@contextmanager
def _video_path(source: str | Path | bytes, max_bytes: int) -> Iterator[tuple[str, str]]:
    """A filesystem path for OpenCV: the file itself, or a private temp copy of given bytes.
    Its signature is checked first: no decoder sees bytes that are not an accepted video."""
    if not isinstance(source, str | os.PathLike | bytes | bytearray | memoryview):
        raise MediaError(f"unsupported input type {type(source).__name__}")
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if not data:
            raise MediaError("empty video data")
        if len(data) > max_bytes:
            raise MediaError(f"video too large: {len(data)} bytes, limit {max_bytes}")
        check_video_signature(data[:HEAD_BYTES], "<bytes>")
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
        if size == 0:
            raise MediaError("empty file", label)
        if size > max_bytes:
            raise MediaError(f"video too large: {size} bytes, limit {max_bytes}", label)
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES)
    except MediaError:
        raise
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or err
        raise MediaError(f"cannot read file: {reason}", label) from None
    check_video_signature(head, label)
    # Absolute, so FFmpeg never reads a name like "concat:x.mp4" or "pipe:0" as a protocol.
    yield os.path.abspath(path), label
