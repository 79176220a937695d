"""The `opendfa` command: outputs, overlays, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from opendfa.cli import main


@pytest.fixture
def mixed_folder(tmp_path: Path, astronaut_path: Path, hopper_path: Path) -> Path:
    folder = tmp_path / "inputs"
    (folder / "nested").mkdir(parents=True)
    shutil.copy(astronaut_path, folder / "astronaut.jpg")
    shutil.copy(hopper_path, folder / "nested" / "hopper.jpg")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.png").write_text("this is text, not a picture\n")
    (folder / "truncated.jpg").write_bytes(astronaut_path.read_bytes()[:6000])
    Image.fromarray(np.full((64, 64, 3), 90, dtype=np.uint8)).save(folder / "noface.png")
    (folder / "README.txt").write_text("ignored: not a media file")
    return folder


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_folder_with_good_and_bad_files_reports_each(mixed_folder, tmp_path, capsys):
    overlays = tmp_path / "overlays"
    code, out, err = run_cli(
        ["faces", str(mixed_folder), "--json", "--overlay", str(overlays)], capsys
    )
    assert code == 2
    records = {Path(r["input"]["path"]).name: r for r in map(json.loads, out.splitlines())}
    assert set(records) == {
        "astronaut.jpg",
        "hopper.jpg",
        "empty.jpg",
        "notes.png",
        "truncated.jpg",
        "noface.png",
    }
    assert len(records["astronaut.jpg"]["faces"]) == 1
    assert len(records["hopper.jpg"]["faces"]) == 1
    assert records["noface.png"]["faces"] == []
    assert records["empty.jpg"]["error"] == "empty file"
    assert "text" in records["notes.png"]["error"]
    assert "truncated" in records["truncated.jpg"]["error"]
    lines = err.strip().splitlines()
    assert all(line.startswith("opendfa: error: ") for line in lines)
    assert len(lines) == 4  # three bad files and the summary
    assert "Traceback" not in err
    assert sorted(p.name for p in overlays.iterdir()) == [
        "astronaut.png",
        "hopper.png",
        "noface.png",
    ]


def test_json_record_has_boxes_scores_keypoints_and_region_areas(astronaut_path, capsys):
    code, out, _ = run_cli(["faces", str(astronaut_path), "--json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["input"]["kind"] == "image" and record["input"]["width"] == 512
    assert len(record["input"]["sha256"]) == 64
    face = record["faces"][0]
    assert set(face["keypoints"]) == {
        "right_eye",
        "left_eye",
        "nose_tip",
        "mouth_right",
        "mouth_left",
    }
    assert len(face["region_areas"]) == 12 and face["region_areas"]["skin"] > 5000
    x0, y0, x1, y1 = face["box"]
    assert x0 < face["keypoints"]["nose_tip"][0] < x1 and y0 < face["keypoints"]["nose_tip"][1] < y1


def test_overlay_is_the_input_size_and_marks_the_face(astronaut_path, tmp_path, capsys):
    target = tmp_path / "overlay.png"
    code, out, _ = run_cli(["faces", str(astronaut_path), "--overlay", str(target)], capsys)
    assert code == 0 and "1 face(s)" in out
    drawn = np.asarray(Image.open(target).convert("RGB")).astype(int)
    original = np.asarray(Image.open(astronaut_path).convert("RGB")).astype(int)
    assert drawn.shape == original.shape
    changed = np.abs(drawn - original).sum(axis=2) > 60
    ys, xs = np.nonzero(changed)
    # Drawing happens on and around the face, not elsewhere.
    assert 140 < np.median(xs) < 310 and 40 < np.median(ys) < 200


def test_single_bad_input_exits_2_with_one_line(tmp_path, capsys):
    code, out, err = run_cli(["faces", str(tmp_path / "missing.jpg")], capsys)
    assert code == 2 and out == ""
    assert err == f"opendfa: error: file not found ({tmp_path / 'missing.jpg'})\n"


def test_oversized_image_is_refused_by_the_pixel_cap(astronaut_path, capsys):
    code, _, err = run_cli(["faces", str(astronaut_path), "--max-pixels", "0.1"], capsys)
    assert code == 2 and "exceeds the 0.1 MP limit" in err


def test_corrupted_video_is_reported(tmp_path, capsys):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    code, _, err = run_cli(["faces", str(bad)], capsys)
    assert code == 2 and err.startswith("opendfa: error: ") and "Traceback" not in err


def test_demo_analyses_the_bundled_real_and_swapped_samples(tmp_path, capsys):
    from opendfa.evidence.report import validate_report
    from opendfa.models.detector import load_detector

    code, out, _ = run_cli(["demo", "--out", str(tmp_path / "demo")], capsys)
    assert code == 0
    reports = [
        json.loads(line) for line in (tmp_path / "demo" / "reports.jsonl").read_text().splitlines()
    ]
    assert [r["input"]["path"].rsplit("/", 1)[-1] for r in reports] == [
        "grace_hopper.jpg",
        "swap_collins_on_hopper.jpg",
    ]
    sha = load_detector().weights_sha256
    for report in reports:
        validate_report(report)
        assert report["model"]["weights_sha256"] == sha and len(report["faces"]) == 1
    for name in ("grace_hopper.html", "swap_collins_on_hopper.html"):
        assert "<html" in (tmp_path / "demo" / name).read_text().lower()
    assert "real: Grace Hopper" in out and "P(fake)" in out
    # The shipped model on its own demo: the untouched portrait real; the swap scored above
    # the operating point, so never cleared (fake, or inconclusive inside the margin band).
    real, swap = reports
    assert real["verdict"] == "real" and swap["verdict"] in ("fake", "inconclusive")
    assert swap["fake_probability"] >= swap["model"]["threshold"] > real["fake_probability"]


def test_console_script_runs_without_traceback(tmp_path):
    """The installed entry point, as a user runs it, on a wrong-type input."""
    fake = tmp_path / "clip.jpg"
    fake.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    exe = Path(sys.executable).with_name("opendfa")
    result = subprocess.run(
        [str(exe), "faces", str(fake)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        == f"opendfa: error: not a supported image (looks like a video) ({fake})"
    )


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["analyze", "x.jpg", "--json"], "analyze"),
        (["--verbose", "chat", "x.jpg"], "chat"),
        (["train", "detector", "--help"], "train"),
        (["--help"], None),
        (["analyz", "x.jpg"], None),  # a typo gets the full parser and its list of commands
        ([], None),
    ],
)
def test_the_command_to_register_is_read_from_the_first_word(argv, command):
    from opendfa.cli import _command_named

    assert _command_named(argv) == command


@pytest.mark.parametrize(
    "argv",
    [
        ["analyze", "a.jpg", "b.mp4", "--json", "--threshold", "0.7", "--frames", "4"],
        ["--verbose", "faces", "a.jpg", "--overlay", "o.png"],
        ["train", "detector", "--train", "m.jsonl", "--out", "o", "--epochs", "3"],
        ["data", "stats", "m.jsonl"],
    ],
)
def test_a_parser_with_only_the_command_run_parses_as_the_full_one(argv):
    from opendfa.cli import COMMANDS, _build_parser, _command_named

    def parsed(parser):
        args, extra = parser.parse_known_args(argv)
        return {k: v for k, v in vars(args).items() if k != "handler"}, extra, args.handler

    command = _command_named(argv)
    assert command in COMMANDS
    assert parsed(_build_parser(command)) == parsed(_build_parser())
    assert len(_build_parser(command)._subparsers._group_actions[0].choices) == 1
