"""Tests for `opendfa.media` video probing and frame sampling on small synthetic videos.

Every frame written here carries its own index as six black/white stripes (bit b set = stripe b
white), which survives lossy codecs, so a test can tell exactly which frames came back.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from striped_frames import HEIGHT, WIDTH
from striped_frames import index_of as _index_of
from striped_frames import striped as _frame

from opendfa.media import MediaError, SamplingStats, VideoFrame, iter_video_frames, probe_video

FPS, COUNT = 30.0, 60

# suffix -> fourcc; the writer may lack some of them, those are skipped.
CONTAINERS = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG", ".mov": "mp4v", ".webm": "VP80"}


def _write_video(path: Path, fourcc: str, count: int = COUNT, fps: float = FPS) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        writer.release()
        pytest.skip(f"this OpenCV cannot write {path.suffix} with {fourcc}")
    for index in range(count):
        writer.write(cv2.cvtColor(_frame(index), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """Write each container once per module, lazily; returns suffix -> path."""
    folder = tmp_path_factory.mktemp("videos")
    made: dict[str, Path] = {}

    def get(suffix: str) -> Path:
        if suffix not in made:
            made[suffix] = _write_video(folder / f"clip{suffix}", CONTAINERS[suffix])
        return made[suffix]

    return get


def _check_frames(frames: list[VideoFrame], fps: float = FPS) -> list[int]:
    """Every frame is RGB uint8, shows the index it claims, and has timestamp index/fps."""
    indices = [frame.index for frame in frames]
    assert indices == sorted(set(indices)), indices
    for frame in frames:
        assert frame.rgb.shape == (HEIGHT, WIDTH, 3)
        assert frame.rgb.dtype == np.uint8
        assert _index_of(frame.rgb) == frame.index
        assert frame.timestamp_s == pytest.approx(frame.index / fps, abs=1e-3)
    return indices


def _media_error(call: Callable[[], object]) -> MediaError:
    with pytest.raises(MediaError) as info:
        call()
    assert type(info.value) is MediaError
    assert len(str(info.value).splitlines()) == 1
    return info.value


def _all_frames(source: object, **options: object) -> list[VideoFrame]:
    return list(iter_video_frames(source, **options))  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- sampling


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_uniform_sampling_spans_the_video(suffix: str, videos: Callable[[str], Path]) -> None:
    frames = _all_frames(videos(suffix), num_frames=8)
    indices = _check_frames(frames)
    assert len(indices) == 8
    assert indices[0] == 0
    assert indices[-1] == COUNT - 1
    gaps = np.diff(indices)
    assert gaps.min() >= 8
    assert gaps.max() <= 9


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_target_fps_keeps_every_third_frame_of_30_fps(
    suffix: str, videos: Callable[[str], Path]
) -> None:
    frames = _all_frames(videos(suffix), target_fps=10)
    assert _check_frames(frames) == list(range(0, COUNT, 3))


def test_target_fps_wins_over_num_frames(videos: Callable[[str], Path]) -> None:
    frames = _all_frames(videos(".avi"), num_frames=4, target_fps=10)
    assert [frame.index for frame in frames] == list(range(0, COUNT, 3))


def test_uneven_target_fps(videos: Callable[[str], Path]) -> None:
    indices = _check_frames(_all_frames(videos(".avi"), target_fps=7))
    assert indices[0] == 0
    assert len(indices) == 14  # 2 s at 7 fps
    assert set(np.diff(indices)) <= {4, 5}  # 30 / 7 = 4.29 frames apart


def test_target_fps_at_or_above_the_video_rate_gives_every_frame(
    videos: Callable[[str], Path],
) -> None:
    assert _check_frames(_all_frames(videos(".avi"), target_fps=30)) == list(range(COUNT))
    assert _check_frames(_all_frames(videos(".avi"), target_fps=120)) == list(range(COUNT))


def test_more_frames_asked_than_exist_gives_all_once(videos: Callable[[str], Path]) -> None:
    assert _check_frames(_all_frames(videos(".avi"), num_frames=500)) == list(range(COUNT))


def test_no_sampling_gives_every_frame(videos: Callable[[str], Path]) -> None:
    frames = _all_frames(videos(".mp4"), num_frames=None, target_fps=None)
    assert _check_frames(frames) == list(range(COUNT))


def test_single_frame_request_gives_the_first_frame(videos: Callable[[str], Path]) -> None:
    assert [frame.index for frame in _all_frames(videos(".avi"), num_frames=1)] == [0]


@pytest.mark.parametrize("kind", [bytes, bytearray])
def test_bytes_input_matches_path_input(
    kind: type, videos: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    path = videos(".mp4")
    from_bytes = _all_frames(kind(path.read_bytes()), num_frames=5)
    from_path = _all_frames(path, num_frames=5)
    assert [f.index for f in from_bytes] == [f.index for f in from_path] == [0, 15, 30, 44, 59]
    for a, b in zip(from_bytes, from_path, strict=True):
        np.testing.assert_array_equal(a.rgb, b.rgb)
    assert list(scratch.iterdir()) == []  # the private copy is gone


def test_fps_of_the_file_is_used_for_timestamps(tmp_path: Path) -> None:
    path = _write_video(tmp_path / "slow.avi", "MJPG", count=12, fps=12.0)
    frames = _all_frames(path, num_frames=4)
    assert _check_frames(frames, fps=12.0) == [0, 4, 7, 11]
    assert frames[-1].timestamp_s == pytest.approx(11 / 12, abs=1e-3)


# ---------------------------------------------------------------------------- probing


@pytest.mark.parametrize("suffix", sorted(CONTAINERS))
def test_probe_reports_size_rate_and_length(suffix: str, videos: Callable[[str], Path]) -> None:
    path = videos(suffix)
    info = probe_video(path)
    assert (info.width, info.height) == (WIDTH, HEIGHT)
    assert info.fps == pytest.approx(FPS, rel=1e-3)
    assert info.frame_count == COUNT
    assert info.duration_s == pytest.approx(COUNT / FPS, rel=1e-3)
    assert info.path == str(path)


def test_probe_bytes(videos: Callable[[str], Path]) -> None:
    info = probe_video(videos(".avi").read_bytes())
    assert (info.width, info.height, info.frame_count) == (WIDTH, HEIGHT, COUNT)
    assert info.path == "<bytes>"


# ---------------------------------------------------------------------------- unknown length


def _raw_mjpeg(count: int = 30) -> bytes:
    """Concatenated JPEGs: FFmpeg reads them as a stream at 25 fps with no known length."""
    chunks = []
    for index in range(count):
        buffer = io.BytesIO()
        Image.fromarray(_frame(index)).save(buffer, "JPEG", quality=95)
        chunks.append(buffer.getvalue())
    return b"".join(chunks)


def test_a_raw_mjpeg_stream_is_not_opened_as_a_video(tmp_path: Path) -> None:
    # Concatenated JPEGs have no container: only mp4/mov, Matroska/WebM and AVI are opened
    # as video (issue 22); the bytes are a JPEG image, and the error says so.
    path = tmp_path / "stream.mp4"
    path.write_bytes(_raw_mjpeg())
    assert "an image (jpeg)" in str(_media_error(lambda: probe_video(path)))
    assert "an image (jpeg)" in str(_media_error(lambda: _all_frames(path.read_bytes())))


# ---------------------------------------------------------------------------- laziness


def test_frames_are_read_lazily_and_iteration_can_stop_early(
    videos: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    grabs: list[int] = []
    released: list[bool] = []
    real_capture = cv2.VideoCapture

    class CountingCapture:
        def __init__(self, *args: object) -> None:
            self._capture = real_capture(*args)

        def grab(self) -> bool:
            grabs.append(1)
            return self._capture.grab()

        def release(self) -> None:
            released.append(True)
            self._capture.release()

        def __getattr__(self, name: str) -> object:
            return getattr(self._capture, name)

    monkeypatch.setattr(cv2, "VideoCapture", CountingCapture)
    frames = iter_video_frames(videos(".avi"), num_frames=None)
    assert grabs == []  # nothing is opened before the first frame is asked for
    first = next(frames)
    assert first.index == 0
    assert _index_of(first.rgb) == 0
    assert len(grabs) == 1  # one frame read out of 60
    second = next(frames)
    assert second.index == 1
    assert len(grabs) == 2
    frames.close()
    assert released  # stopping early releases the reader
    assert len(grabs) == 2


def test_stopping_early_on_bytes_removes_the_private_copy(
    videos: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    frames = iter_video_frames(videos(".avi").read_bytes(), num_frames=None)
    assert next(frames).index == 0
    assert len([p for p in tmp_path.iterdir() if p.name.startswith("opendfa-video-")]) == 1
    frames.close()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("opendfa-video-")]


# ---------------------------------------------------------------------------- broken input


def test_random_bytes_named_mp4_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(5).integers(0, 256, 20_000, np.uint8).tobytes())
    assert "not a video file (unrecognised content)" in str(_media_error(lambda: probe_video(path)))
    _media_error(lambda: _all_frames(path))
    _media_error(lambda: _all_frames(path.read_bytes()))


def test_text_named_mp4_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("hello, this is not a video\n" * 50)
    _media_error(lambda: _all_frames(path))


def test_truncated_mp4_without_its_index_is_refused(
    videos: Callable[[str], Path], tmp_path: Path
) -> None:
    data = videos(".mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) // 2])  # OpenCV writes the 'moov' index at the end
    _media_error(lambda: probe_video(path))
    _media_error(lambda: _all_frames(path))


@pytest.mark.parametrize("keep", [0.5, 0.9])
def test_truncated_avi_yields_the_frames_it_has(
    keep: float, videos: Callable[[str], Path], tmp_path: Path
) -> None:
    data = videos(".avi").read_bytes()
    path = tmp_path / "cut.avi"
    path.write_bytes(data[: int(len(data) * keep)])
    indices = _check_frames(_all_frames(path, num_frames=None))
    assert 0 < len(indices) < COUNT
    assert indices == list(range(len(indices)))  # a prefix, in order
    # Sampling spreads over the frames that decode, not over the length the header claims,
    # and says that the two disagree.
    stats = SamplingStats()
    sampled = _check_frames(_all_frames(path, num_frames=8, stats=stats))
    assert len(sampled) == 8
    assert set(sampled) <= set(indices) and sampled[-1] >= indices[-1] - len(indices) // 8
    assert any(f"claims {COUNT} frames but {len(indices)} decoded" in w for w in stats.warnings)


def test_stream_with_headers_but_no_frames_is_refused(
    videos: Callable[[str], Path], tmp_path: Path
) -> None:
    data = videos(".avi").read_bytes()
    path = tmp_path / "headers-only.avi"
    path.write_bytes(data[: data.index(b"movi") + 8])
    _media_error(lambda: _all_frames(path))


def test_empty_inputs_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert "empty" in str(_media_error(lambda: probe_video(empty)))
    assert "empty" in str(_media_error(lambda: _all_frames(empty)))
    assert "empty" in str(_media_error(lambda: _all_frames(b"")))


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    assert "not found" in str(_media_error(lambda: probe_video(tmp_path / "gone.mp4")))
    assert "not found" in str(_media_error(lambda: _all_frames(str(tmp_path / "gone.mp4"))))
    assert "not a regular file" in str(_media_error(lambda: _all_frames(tmp_path)))
    _media_error(lambda: probe_video("v" * 5000 + ".mp4"))
    _media_error(lambda: probe_video(str(tmp_path / "nul\x00.mp4")))


@pytest.mark.parametrize("source", [None, 7, 2.5, ["clip.mp4"]])
def test_wrong_python_types_are_refused(source: object) -> None:
    assert "unsupported input type" in str(_media_error(lambda: probe_video(source)))  # type: ignore[arg-type]
    assert "unsupported input type" in str(_media_error(lambda: _all_frames(source)))


@pytest.mark.parametrize(
    "options", [{"num_frames": 0}, {"num_frames": -3}, {"target_fps": 0}, {"target_fps": -1.0}]
)
def test_bad_sampling_options_are_refused(
    options: dict[str, float], videos: Callable[[str], Path]
) -> None:
    _media_error(lambda: _all_frames(videos(".avi"), **options))


def test_limits_are_enforced(videos: Callable[[str], Path]) -> None:
    path = videos(".avi")
    size = path.stat().st_size
    assert "too large" in str(_media_error(lambda: probe_video(path, max_bytes=size - 1)))
    assert "too large" in str(_media_error(lambda: _all_frames(path, max_bytes=size - 1)))
    data = path.read_bytes()
    assert "too large" in str(_media_error(lambda: _all_frames(data, max_bytes=size - 1)))
    error = _media_error(lambda: _all_frames(path, max_pixels=WIDTH * HEIGHT - 1))
    assert f"{WIDTH}x{HEIGHT}" in str(error)
    assert len(_all_frames(path, num_frames=2, max_pixels=WIDTH * HEIGHT)) == 2


def test_protocol_like_file_name_is_read_as_a_plain_file(
    videos: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FFmpeg reads "concat:a|b" as its concat protocol; the file of that name holds junk.
    real = tmp_path / "real.avi"
    real.write_bytes(videos(".avi").read_bytes())
    (tmp_path / "concat:real.avi").write_bytes(os.urandom(4096))
    monkeypatch.chdir(tmp_path)
    _media_error(lambda: probe_video("concat:real.avi"))


@pytest.mark.parametrize("name", ["list.m3u8", "LIST.M3U", "list.hls"])
def test_playlists_that_would_open_other_files_are_refused(
    name: str, videos: Callable[[str], Path], tmp_path: Path
) -> None:
    # FFmpeg follows an HLS playlist to the files (or URLs) it names: here a real video.
    target = videos(".avi").resolve()
    playlist = tmp_path / name
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2.0,\n{target}\n#EXT-X-ENDLIST\n"
    )
    assert "playlist" in str(_media_error(lambda: probe_video(playlist)))
    assert "playlist" in str(_media_error(lambda: _all_frames(playlist)))
    # Under a neutral name the same text is not a video either.
    neutral = tmp_path / "list.mp4"
    neutral.write_text(playlist.read_text())
    _media_error(lambda: _all_frames(neutral))
