"""Videos that lie (issue 22, F1-F3): playlists named .mp4, headers with false frame counts,
streams too long to decode. Each test reproduces a red-team finding and would fail again if
its fix were removed.

Frames carry their index as stripes (as in test_video.py), so a test sees which came back.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from striped_frames import index_of as _index_of
from striped_frames import striped as _frame

from opendfa.media import (
    BudgetExceeded,
    MediaError,
    SamplingStats,
    WorkBudget,
    iter_video_frames,
    probe_video,
    sniff,
)
from opendfa.media.video import FFMPEG_CAPTURE_OPTIONS, _open_capture

COUNT = 60


@pytest.fixture(scope="module")
def striped_avi(tmp_path_factory: pytest.TempPathFactory, avi_tools) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    return avi_tools.write(folder / "striped.avi", [_frame(i) for i in range(COUNT)])


def _ffconcat(path: Path, target: Path, repeats: int = 300) -> Path:
    lines = ["ffconcat version 1.0"] + [f"file {target}" for _ in range(repeats)]
    path.write_text("\n".join(lines) + "\n")
    return path


# ------------------------------------------------------------------- F1: media that lies


def test_ffconcat_playlist_named_mp4_is_refused_before_decoding(
    striped_avi: Path, tmp_path: Path
) -> None:
    # Red team: a 4.8 KB playlist naming another file 300 times grew the server to 3.5 GB.
    playlist = _ffconcat(tmp_path / "c.mp4", striped_avi.resolve())
    start = time.perf_counter()
    with pytest.raises(MediaError, match=r"not a video file \(an ffconcat playlist\)"):
        probe_video(playlist)
    with pytest.raises(MediaError, match="ffconcat"):
        list(iter_video_frames(playlist))
    with pytest.raises(MediaError, match="ffconcat"):
        list(iter_video_frames(playlist.read_bytes()))
    assert time.perf_counter() - start < 1.0


def test_ffmpeg_itself_refuses_demuxers_off_the_allowlist(
    striped_avi: Path, tmp_path: Path
) -> None:
    # Even past the signature check, FFmpeg may only use the listed demuxers and the file
    # protocol: a concat playlist and a PNG (image2 demuxer) fail to open.
    assert FFMPEG_CAPTURE_OPTIONS in os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"]
    playlist = _ffconcat(tmp_path / "c.mp4", striped_avi.resolve(), repeats=3)
    with pytest.raises(MediaError, match="not a readable video"):
        _open_capture(str(playlist.resolve()), "c.mp4")
    picture = tmp_path / "still.mp4"
    ok, png = cv2.imencode(".png", _frame(5))
    assert ok
    picture.write_bytes(png.tobytes())
    with pytest.raises(MediaError, match="not a readable video"):
        _open_capture(str(picture.resolve()), "still.mp4")
    # ...while an accepted container still opens.
    _open_capture(str(striped_avi.resolve()), "striped.avi").release()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x00\x00\x00\x18ftypmp42", ("video", "mp4")),
        (b"\x1a\x45\xdf\xa3\x01\x00", ("video", "matroska")),
        (b"RIFF\x00\x00\x00\x00AVI LIST", ("video", "avi")),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", ("image", "webp")),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", ("image", "jpeg")),
        (b"\x89PNG\r\n\x1a\n\x00\x00", ("image", "png")),
        (b"ffconcat version 1.0\n", None),
        (b"#EXTM3U\n#EXT-X", None),
        (b"", None),
    ],
)
def test_signatures_say_what_a_file_is(head: bytes, expected: tuple[str, str] | None) -> None:
    assert sniff(head) == expected


def test_an_image_named_like_a_video_is_refused_with_what_it_is(tmp_path: Path) -> None:
    fake = tmp_path / "photo.mp4"
    _, jpeg = cv2.imencode(".jpg", _frame(3))
    fake.write_bytes(jpeg.tobytes())
    with pytest.raises(MediaError, match=r"not a video file \(an image \(jpeg\)\)"):
        probe_video(fake)


# ------------------------------------------------- F2: the header does not choose the frames


@pytest.mark.parametrize("claimed", [4, 2_000_000_000])
def test_uniform_sampling_spans_the_decoded_stream_whatever_the_header_claims(
    striped_avi: Path, claimed: int, avi_tools
) -> None:
    liar = avi_tools.lie(striped_avi, claimed)
    assert probe_video(liar).frame_count != COUNT  # the header really lies
    stats = SamplingStats()
    frames = list(iter_video_frames(liar, num_frames=16, stats=stats))
    indices = [f.index for f in frames]
    assert [_index_of(f.rgb) for f in frames] == indices
    assert len(frames) == 16
    assert indices[0] == 0 and indices[-1] >= COUNT - 8  # reaches the end of the stream
    gaps = np.diff(indices)
    assert gaps.max() <= 2 * gaps.min() + 1  # evenly spread
    assert stats.decoded_frames == COUNT and stats.complete
    assert any(f"claims {claimed} frames but {COUNT} decoded" in w for w in stats.warnings)


def test_a_header_without_a_length_still_gets_frames_spread_over_the_stream(
    striped_avi: Path, avi_tools
) -> None:
    stats = SamplingStats()
    frames = list(iter_video_frames(avi_tools.lie(striped_avi, 0), num_frames=6, stats=stats))
    assert len(frames) == 6 and frames[0].index == 0 and frames[-1].index >= COUNT - 8
    assert stats.decoded_frames == COUNT and stats.warnings == []


def test_an_honest_header_gives_no_warning_and_the_same_frames_as_before(
    striped_avi: Path,
) -> None:
    stats = SamplingStats()
    frames = list(iter_video_frames(striped_avi, num_frames=16, stats=stats))
    assert stats.warnings == []
    assert stats.header_frames == stats.decoded_frames == COUNT
    assert len(frames) == 16
    assert [f.index for f in frames][-1] >= COUNT - 4


def test_timestamps_come_from_the_decoder(striped_avi: Path, avi_tools) -> None:
    frames = list(iter_video_frames(avi_tools.lie(striped_avi, 4), target_fps=10.0))
    # 60 frames at 30 fps = 2 s: one frame every 0.1 s, so 20 of them, 3 frames apart.
    assert [f.index for f in frames] == list(range(0, COUNT, 3))
    assert frames[-1].timestamp_s == pytest.approx(57 / 30, abs=1e-3)


# ------------------------------------------------------------- F3: bounded work per video


def test_decoding_stops_at_the_frame_budget_and_says_so(striped_avi: Path) -> None:
    stats = SamplingStats()
    budget = WorkBudget(max_decoded_frames=20)
    frames = list(iter_video_frames(striped_avi, num_frames=8, budget=budget, stats=stats))
    assert max(f.index for f in frames) < 20
    assert not stats.complete
    assert any("only the first 20 frames" in w and "not analysed" in w for w in stats.warnings)


def test_a_cancelled_or_timed_out_analysis_stops_with_one_line(striped_avi: Path) -> None:
    cancelled = WorkBudget()
    cancelled.cancel.set()
    with pytest.raises(BudgetExceeded, match="cancelled") as info:
        list(iter_video_frames(striped_avi, budget=cancelled))
    assert len(str(info.value).splitlines()) == 1
    with pytest.raises(BudgetExceeded, match="time limit of 0 s"):
        list(iter_video_frames(striped_avi, budget=WorkBudget(max_seconds=0.0)))


def test_uniform_sampling_converts_few_frames_of_a_long_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, avi_tools
) -> None:
    # 600 frames, 4 wanted: the stride doubles as the stream goes on, so only frames that
    # may be kept are converted to RGB (and at most 8 are held), yet the picks span it all.
    from opendfa.media import video

    path = avi_tools.write(tmp_path / "long.avi", [_frame(i % 64) for i in range(600)])
    converted = []
    retrieve = video._Decoded.retrieve
    monkeypatch.setattr(
        video._Decoded, "retrieve", lambda self: converted.append(self.index) or retrieve(self)
    )
    frames = list(iter_video_frames(path, num_frames=4))
    assert len(frames) == 4
    assert frames[0].index == 0 and frames[-1].index >= 500
    assert len(converted) < 60  # 4 planned from the header, the rest from the stride
