"""`Analyzer.analyze_paths`: JSONL output, one report per input, errors kept, resumable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from opendfa.evidence import Analyzer, validate_report


@pytest.fixture
def analyzer(tiny_detector, face_detector, scripted):
    with Analyzer(tiny_detector, face_detector, predict=scripted(0.7)) as shared:
        yield shared


@pytest.fixture
def folder(tmp_path, astronaut_path, hopper_path, no_face_png) -> Path:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    shutil.copy(astronaut_path, inputs / "a.jpg")
    shutil.copy(hopper_path, inputs / "b.jpg")
    shutil.copy(no_face_png, inputs / "c.png")
    (inputs / "readme.txt").write_text("not media: left out")
    return inputs


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_resume_after_a_crash_gives_each_input_exactly_once(analyzer, folder, tmp_path):
    out = tmp_path / "results.jsonl"
    first = analyzer.analyze_paths([folder], out)
    assert (first.total, first.analyzed, first.skipped, first.errors) == (3, 3, 0, 0)
    lines = out.read_text().splitlines(keepends=True)
    assert len(lines) == 3
    for record in _lines(out):
        validate_report(record)
    assert [Path(r["input"]["path"]).name for r in _lines(out)] == ["a.jpg", "b.jpg", "c.png"]
    assert [r["verdict"] for r in _lines(out)] == ["fake", "fake", "no_face"]

    # A crash while writing the second report: one whole line and half of the next.
    out.write_text(lines[0] + lines[1][: len(lines[1]) // 2])
    seen = []
    second = analyzer.analyze_paths([folder], out, on_report=lambda p, r: seen.append((p, r)))
    assert (second.total, second.analyzed, second.skipped) == (3, 2, 1)
    assert seen[0][1] is None  # the first input was skipped
    text = out.read_text()
    assert text.endswith("\n") and text.splitlines(keepends=True)[0] == lines[0]
    records = _lines(out)
    assert [Path(r["input"]["path"]).name for r in records] == ["a.jpg", "b.jpg", "c.png"]
    for record in records:
        validate_report(record)

    third = analyzer.analyze_paths([folder], out)
    assert (third.analyzed, third.skipped) == (0, 3) and len(_lines(out)) == 3


def test_a_changed_file_is_analysed_again(analyzer, folder, tmp_path, hopper_path):
    out = tmp_path / "results.jsonl"
    analyzer.analyze_paths([folder / "a.jpg"], out)
    shutil.copy(hopper_path, folder / "a.jpg")
    again = analyzer.analyze_paths([folder / "a.jpg"], out)
    assert again.analyzed == 1
    records = _lines(out)
    assert len(records) == 2 and records[0]["input"]["sha256"] != records[1]["input"]["sha256"]


def test_errors_are_recorded_per_file_and_retried_on_resume(analyzer, folder, tmp_path):
    (folder / "broken.jpg").write_text("not really a jpeg\n" * 10)
    out = tmp_path / "results.jsonl"
    first = analyzer.analyze_paths([folder / "broken.jpg", folder / "missing.jpg"], out)
    assert first.errors == 2
    broken, missing = _lines(out)
    for record in (broken, missing):
        validate_report(record)
        assert record["verdict"] == "error" and record["faces"] == []
    assert broken["error"] == "not a supported image (looks like text)"
    assert broken["input"]["sha256"] is not None
    assert missing["error"] == "file not found" and missing["input"]["sha256"] is None
    second = analyzer.analyze_paths([folder / "broken.jpg", folder / "missing.jpg"], out)
    assert (second.analyzed, second.errors) == (2, 2) and len(_lines(out)) == 2


def test_without_resume_the_file_starts_afresh(analyzer, folder, tmp_path):
    out = tmp_path / "results.jsonl"
    analyzer.analyze_paths([folder / "c.png"], out)
    analyzer.analyze_paths([folder / "c.png"], out, resume=False)
    assert len(_lines(out)) == 1


@pytest.mark.slow
def test_a_real_kill_midway_then_restart_loses_and_repeats_nothing(
    tiny_detector, tmp_path, astronaut_path, hopper_path
):
    """SIGKILL of the `opendfa analyze --out` process while it works, then the same command."""
    import signal
    import subprocess
    import sys
    import time

    inputs = tmp_path / "many"
    inputs.mkdir()
    for k in range(8):
        shutil.copy(astronaut_path if k % 2 else hopper_path, inputs / f"{k:02d}.jpg")
    out = tmp_path / "results.jsonl"
    command = [
        sys.executable,
        "-m",
        "opendfa.cli",
        "analyze",
        str(inputs),
        "--out",
        str(out),
        "--model",
        str(tiny_detector.folder),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and process.poll() is None:
        if out.exists() and len(out.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = sum(_complete(line) for line in out.read_text().splitlines())
    assert 1 <= before < 8, "the kill should land midway"
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    names = [Path(r["input"]["path"]).name for r in _lines(out)]
    assert sorted(names) == [f"{k:02d}.jpg" for k in range(8)]  # each once, none lost
    assert f"{8 - before} analysed, {before} already in" in finished.stdout


def _complete(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True
