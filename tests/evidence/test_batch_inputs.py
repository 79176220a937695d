"""Batch inputs that are not regular files: each is one error line, the rest is analysed.

A name over 255 bytes (the OS refuses even to look it up), a symbolic link loop, a dangling
link and a FIFO (reading it would block forever) used to end the batch or vanish from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

import pytest

from opendfa.evidence.cli import add_analyze_commands

LONG_NAME = "x" * 300 + ".jpg"  # NAME_MAX is 255 bytes on Linux filesystems


@pytest.fixture
def analyze(monkeypatch, lent_face_detector, tiny_detector, capsys):

    def invoke(*argv: str) -> tuple[int, str, list[str]]:
        parser = argparse.ArgumentParser(prog="opendfa")
        add_analyze_commands(parser.add_subparsers())
        args = parser.parse_args(["analyze", *argv, "--model", str(tiny_detector.folder)])
        code = args.handler(args)
        out, err = capsys.readouterr()
        return code, out, err.splitlines()

    return invoke


@pytest.fixture
def odd_folder(tmp_path: Path, astronaut_path: Path) -> Path:
    folder = tmp_path / "batch"
    folder.mkdir()
    shutil.copy(astronaut_path, folder / "good.jpg")
    (folder / "loop.jpg").symlink_to("loop.jpg")
    (folder / "dangling.png").symlink_to("missing.png")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "notes.txt").write_text("not media: ignored")
    return folder


def test_a_name_over_255_bytes_is_reported_and_the_rest_analysed(analyze, astronaut_path, tmp_path):
    long_path = str(tmp_path / LONG_NAME)
    out = tmp_path / "results.jsonl"
    code, _, err = analyze(str(astronaut_path), long_path, "--out", str(out))
    assert code == 2
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["verdict"] != "error" for r in records] == [True, False]
    assert records[1]["error"] == "file name too long"
    assert f"opendfa: error: file name too long ({long_path})" in err


def test_a_name_over_255_bytes_without_out_file(analyze, astronaut_path, tmp_path):
    code, out, err = analyze(str(tmp_path / LONG_NAME), str(astronaut_path), "--json")
    assert code == 2
    verdicts = [json.loads(line)["verdict"] for line in out.splitlines()]
    assert verdicts[0] == "error" and verdicts[1] in ("real", "fake", "inconclusive")
    assert err[0].startswith("opendfa: error: file name too long")


def test_loops_dangling_links_and_fifos_get_one_line_each(analyze, odd_folder, tmp_path):
    out = tmp_path / "results.jsonl"
    code, _, err = analyze(str(odd_folder), "--out", str(out))
    assert code == 2
    by_name = {
        Path(r["input"]["path"]).name: r for r in map(json.loads, out.read_text().splitlines())
    }
    assert set(by_name) == {"good.jpg", "loop.jpg", "dangling.png", "pipe.jpg"}
    assert by_name["good.jpg"]["verdict"] in ("real", "fake", "inconclusive")
    assert by_name["loop.jpg"]["error"] == "symbolic link loop"
    assert by_name["dangling.png"]["error"] == "dangling symbolic link"
    assert by_name["pipe.jpg"]["error"] == "not a regular file (FIFO)"
    expected = [
        f"opendfa: error: {by_name[name]['error']} ({odd_folder / name})"
        for name in ("dangling.png", "loop.jpg", "pipe.jpg")
    ]
    assert err == [*expected, "opendfa: error: 3 of 4 inputs failed"]
