"""What cannot be read as a regular file is named in a few words, and FFmpeg stays quiet."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from opendfa.media import MediaError, file_problem, iter_media_files, load_image


@pytest.fixture
def odd(tmp_path: Path) -> Path:
    (tmp_path / "real.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "loop.jpg").symlink_to("loop.jpg")
    (tmp_path / "dangling.mp4").symlink_to("gone.mp4")
    os.mkfifo(tmp_path / "pipe.png")
    (tmp_path / "sub.jpg").mkdir()  # a folder with a media suffix is walked, not reported
    (tmp_path / "README").write_text("no media suffix: not an input")
    return tmp_path


def test_problems_are_named(odd: Path):
    assert file_problem(odd / "real.jpg") is None
    assert file_problem(odd / "loop.jpg") == "symbolic link loop"
    assert file_problem(odd / "dangling.mp4") == "dangling symbolic link"
    assert file_problem(odd / "pipe.png") == "not a regular file (FIFO)"
    assert file_problem(odd / "sub.jpg") == "not a regular file (folder)"
    assert file_problem(odd / "absent.jpg") == "file not found"
    assert file_problem(odd / ("y" * 300)) == "file name too long"


def test_folder_walk_keeps_entries_that_are_not_regular_files(odd: Path):
    names = [p.name for p in iter_media_files([odd])]
    assert names == ["dangling.mp4", "loop.jpg", "pipe.png", "real.jpg"]


def test_a_name_over_255_bytes_is_passed_on_not_raised(tmp_path: Path):
    long_path = tmp_path / ("z" * 300 + ".png")
    assert list(iter_media_files([long_path])) == [long_path]
    with pytest.raises(MediaError, match="file name too long"):
        load_image(long_path)


def test_a_fifo_is_refused_without_blocking(odd: Path):
    with pytest.raises(MediaError, match=r"not a regular file \(FIFO\)"):
        load_image(odd / "pipe.png")


def _faces_cli(*argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OPENCV_FFMPEG_LOGLEVEL"}
    return subprocess.run(
        [sys.executable, "-m", "opendfa.cli", "faces", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
    )


def test_ffmpeg_is_quiet_unless_verbose(tmp_path: Path):
    broken = tmp_path / "broken.mp4"
    # An MP4's first box (ftyp) and nothing else: past the signature check, FFmpeg fails.
    broken.write_bytes(b"\x00\x00\x00\x14ftypisom" + bytes(8))
    quiet = _faces_cli(str(broken))
    assert quiet.returncode == 2
    assert quiet.stderr.splitlines() == [f"opendfa: error: not a readable video ({broken})"]
    loud = _faces_cli(str(broken), "--verbose")
    assert loud.returncode == 2 and "moov atom not found" in loud.stderr
