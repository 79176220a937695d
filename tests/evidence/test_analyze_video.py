"""`Analyzer.analyze_video`: per-frame scores, face tracks, a track aggregate and a timeline."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from opendfa.evidence import Analyzer, validate_report
from opendfa.evidence.html import render_html
from opendfa.media import MediaError

FRAMES = 6


def _write(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        writer.release()
        pytest.skip("this OpenCV cannot write mp4v")
    for rgb in frames:
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def astronaut_clip(tmp_path_factory, astronaut_rgb) -> Path:
    """The astronaut drifting right by 4 px a frame, 320x320."""
    small = cv2.resize(astronaut_rgb, (320, 320), interpolation=cv2.INTER_AREA)
    frames = [
        cv2.warpAffine(small, np.float32([[1, 0, 4 * i], [0, 1, 0]]), (320, 320))
        for i in range(FRAMES)
    ]
    return _write(tmp_path_factory.mktemp("video") / "astronaut.mp4", frames)


@pytest.fixture(scope="module")
def clip_report(tiny_detector, face_detector, astronaut_clip, scripted):
    scores = [0.1, 0.2, 0.9, 0.8, 0.7, 0.1]
    with Analyzer(tiny_detector, face_detector, predict=scripted(scores)) as analyzer:
        return analyzer.analyze_video(astronaut_clip, num_frames=None)


def test_video_report_tracks_the_face_and_has_one_timeline_entry_per_frame(clip_report):
    data = clip_report.to_json()
    validate_report(data)
    assert data["input"]["kind"] == "video" and data["input"]["frames_analyzed"] == FRAMES
    assert data["input"]["fps"] == pytest.approx(10.0)
    assert [f["index"] for f in data["timeline"]] == list(range(FRAMES))
    assert [f["faces"] for f in data["timeline"]] == [1] * FRAMES
    assert [f["fake_probability"] for f in data["timeline"]] == [0.1, 0.2, 0.9, 0.8, 0.7, 0.1]
    assert len(data["tracks"]) == 1
    track = data["tracks"][0]
    assert track["frames"] == list(range(FRAMES))
    assert track["fake_probability"] == pytest.approx(0.8)  # mean of the top three
    # The 320 px clip's face is about 59 px wide, below the size floor: no plain verdict.
    assert data["fake_probability"] == pytest.approx(0.8) and data["verdict"] == "inconclusive"
    assert "px wide" in data["abstention"]["reasons"][0]
    face = data["faces"][0]
    assert face["track_id"] == 0 and face["frame_index"] == 2  # its strongest frame
    assert face["fake_probability"] == pytest.approx(0.8)
    assert "face track 0" in data["explanation"] and "frame 2" in data["explanation"]


def test_fewer_sampled_frames_give_a_shorter_timeline(tiny_detector, face_detector, astronaut_clip):
    from opendfa.models.detector import predict_crops

    with Analyzer(tiny_detector, face_detector, predict=predict_crops) as analyzer:
        report = analyzer.analyze_video(astronaut_clip, num_frames=3)
    validate_report(report.to_json())
    assert [f.index for f in report.timeline] == [0, 2, 5]
    assert report.input.frames_analyzed == 3 and len(report.tracks[0].frames) == 3


def test_video_without_faces_is_no_face_with_an_empty_timeline(
    tmp_path, tiny_detector, face_detector
):
    ramp = np.tile(np.linspace(0, 255, 96, dtype=np.uint8)[None, :, None], (64, 1, 3))
    clip = _write(tmp_path / "plain.mp4", [ramp] * 4)
    with Analyzer(tiny_detector, face_detector) as analyzer:
        report = analyzer.analyze_video(clip, num_frames=None)
    data = report.to_json()
    validate_report(data)
    assert data["verdict"] == "no_face" and data["tracks"] == []
    assert [f["fake_probability"] for f in data["timeline"]] == [None] * 4
    assert "4 sampled frames" in data["explanation"]


def test_broken_video_raises_a_media_error(tmp_path, tiny_detector, face_detector):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with Analyzer(tiny_detector, face_detector) as analyzer, pytest.raises(MediaError):
        analyzer.analyze_video(broken)


def test_video_html_has_the_decisive_frame_and_a_timeline(clip_report):
    assert clip_report.preview is not None and clip_report.preview_frame == 2
    page = render_html(clip_report)
    assert page.count("<svg") == 1 and "<polyline" in page
    assert "frame 2 (0.20 s): 0.90" in page
    assert page.count("data:image/png;base64,") == 2


def test_long_videos_stop_at_the_frame_cap_with_a_warning(
    tiny_detector, face_detector, astronaut_clip, scripted
):
    with Analyzer(
        tiny_detector, face_detector, predict=scripted(0.4), max_video_frames=2
    ) as capped:
        report = capped.analyze_video(astronaut_clip, num_frames=None)
    validate_report(report.to_json())
    assert report.input.frames_analyzed == 2 and len(report.timeline) == 2
    [warning] = report.warnings
    assert warning.startswith("stopped after 2 sampled frames, at ")
    assert warning.endswith("the rest of the video was not analysed")
    assert report.verdict == "inconclusive"  # the face is below the size floor
    assert report.fake_probability == pytest.approx(0.4)
