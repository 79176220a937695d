"""`opendfa analyze`: thin over the pipeline, JSON that validates, one-line errors, exit 2."""

from __future__ import annotations

import argparse
import json

import pytest

from opendfa.evidence import validate_report
from opendfa.evidence.cli import add_analyze_commands


@pytest.fixture
def run(monkeypatch, lent_face_detector, tiny_detector):
    model = str(tiny_detector.folder)

    def invoke(*argv: str, with_model: bool = True) -> int:
        parser = argparse.ArgumentParser(prog="opendfa")
        add_analyze_commands(parser.add_subparsers())
        extra = ["--model", model] if with_model else []
        args = parser.parse_args(["analyze", *argv, *extra])
        return args.handler(args)

    return invoke


def test_json_output_is_one_valid_report_per_input(run, astronaut_path, capsys):
    assert run(str(astronaut_path), "--json") == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    validate_report(report)
    assert report["model"]["detector"] == "tiny@1" and len(report["faces"]) == 1


def test_copy_move_flag_adds_the_clone_check(run, astronaut_path, capsys):
    assert run(str(astronaut_path), "--json") == 0
    assert json.loads(capsys.readouterr().out)["forensics"]["copy_move"] is None
    assert run(str(astronaut_path), "--json", "--copy-move") == 0
    record = json.loads(capsys.readouterr().out)["forensics"]["copy_move"]
    assert record["keypoints"] > 100 and record["detected"] is False


def test_plain_output_and_html_report(run, astronaut_path, tmp_path, capsys):
    target = tmp_path / "out.html"
    assert run(str(astronaut_path), "--report", str(target), "--threshold", "0.01") == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{astronaut_path}: FAKE ") and "1 face" in out
    assert "Judged fake" in out
    assert target.read_text().startswith("<!DOCTYPE html>")


def test_bad_input_is_one_error_line_and_exit_2(run, tmp_path, capsys):
    missing = tmp_path / "nowhere.jpg"
    assert run(str(missing)) == 2
    captured = capsys.readouterr()
    assert captured.err == f"opendfa: error: file not found ({missing})\n"
    assert captured.out == ""


def test_missing_model_is_one_error_line_and_exit_2(run, astronaut_path, tmp_path, capsys):
    absent = tmp_path / "no-model"
    assert run(str(astronaut_path), "--model", str(absent), with_model=False) == 2
    err = capsys.readouterr().err
    assert err.startswith("opendfa: error: cannot load the detector: ")
    assert err.endswith(f"({absent})\n") and err.count("\n") == 1


def test_batch_mode_writes_jsonl_and_reports_failures(run, astronaut_path, tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    out = tmp_path / "results.jsonl"
    assert run(str(astronaut_path), str(bad), "--out", str(out)) == 2
    captured = capsys.readouterr()
    assert f"opendfa: error: empty file ({bad})" in captured.err
    assert "opendfa: error: 1 of 2 inputs failed" in captured.err
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["verdict"] for r in records][1] == "error"
    assert "2 analysed, 0 already in" in captured.out


@pytest.mark.parametrize("option", [["--threshold", "1.5"], ["--frames", "0"], ["--fps", "-2"]])
def test_bad_options_are_usage_errors(run, astronaut_path, option, capsys):
    with pytest.raises(SystemExit) as caught:
        run(str(astronaut_path), *option)
    assert caught.value.code == 2
    assert "error: argument" in capsys.readouterr().err
