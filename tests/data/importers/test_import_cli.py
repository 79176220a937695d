"""`opendfa data import`: every importer declares a flag for each of its options, and the flags
reach the importer."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pytest

from opendfa.cli import main
from opendfa.data.import_options import importer_parser
from opendfa.data.importers import IMPORTERS

ORIG = "original_sequences"
MANI = "manipulated_sequences"


@pytest.fixture
def ffpp(tmp_path: Path, video, write_json) -> tuple[Path, Path]:
    """A tiny FF++ tree: two levels, two methods, one unknown folder, official pair lists."""
    root = tmp_path / "FaceForensics++"
    for name in ("000", "003"):
        video(root / ORIG / "youtube/c23/videos" / f"{name}.mp4")
    video(root / MANI / "Deepfakes/c23/videos/003_000.mp4")
    video(root / MANI / "Deepfakes/c40/videos/003_000.mp4")
    video(root / MANI / "Face2Face/c23/videos/000_003.mp4")
    video(root / MANI / "MyMethod/c23/videos/000_003.mp4")
    splits = tmp_path / "splits"
    write_json(splits / "train.json", [["000", "003"]])
    write_json(splits / "val.json", [])
    write_json(splits / "test.json", [])
    return root, splits


def test_every_importer_option_has_a_flag():
    for name, importer in IMPORTERS.items():
        options = {
            p.name
            for p in inspect.signature(importer).parameters.values()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        flags = {action.dest for action in importer_parser(name)._actions}
        assert options <= flags, f"{name}: no CLI flag for {sorted(options - flags)}"
        assert flags <= options, f"{name}: flags for no option {sorted(flags - options)}"


def _import(capsys, *argv: str) -> tuple[int, str]:
    code = main(["data", "import", *argv])
    return code, capsys.readouterr().err


def _splits(manifest: Path) -> dict[str, str | None]:
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return {Path(r["path"]).as_posix(): r["split"] for r in rows}


def test_splits_compression_and_methods_reach_the_ffpp_importer(ffpp, capsys):
    root, splits = ffpp
    out = root / "manifest.jsonl"
    argv = [str(root), "--format", "ffpp", "--out", str(out), "--splits", str(splits)]
    code, _ = _import(capsys, *argv, "--compression", "c23", "--methods", "Deepfakes")
    assert code == 0
    split = _splits(out)
    assert split[f"{ORIG}/youtube/c23/videos/000.mp4"] == "train"
    assert split[f"{MANI}/Deepfakes/c23/videos/003_000.mp4"] == "train"
    assert not any("Face2Face" in path or "/c40/" in path for path in split)


def test_category_pairs_reach_the_importer(ffpp, capsys):
    root, _ = ffpp
    out = root / "m.jsonl"
    code, _ = _import(
        capsys, str(root), "--format", "ffpp", "--out", str(out), "--category", "MyMethod=face_swap"
    )
    assert code == 0
    assert any("MyMethod" in path for path in _splits(out))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--format", "celebdf", "--splits", "x"], "--splits does not apply to --format celebdf"),
        (["--format", "ffpp", "--category", "NoEquals"], "--category: expected NAME=VALUE"),
        (["--format", "deepfakebench", "--compression", "c23", "c40"], "keeps one --compression"),
    ],
)
def test_flags_a_format_cannot_use_are_one_line_errors(argv, message, tmp_path, capsys):
    code, err = _import(capsys, str(tmp_path), "--out", str(tmp_path / "m.jsonl"), *argv)
    assert code == 2
    assert err.startswith("opendfa: error: ") and message in err and len(err.splitlines()) == 1


def test_the_help_of_a_format_lists_its_flags(capsys):
    with pytest.raises(SystemExit):
        main(["data", "import", "root", "--format", "deepfakebench", "--help"])
    shown = capsys.readouterr().out
    assert "--data-root" in shown and "--splits" not in shown


def test_other_commands_still_reject_unknown_flags(tmp_path):
    with pytest.raises(SystemExit):
        main(["data", "stats", str(tmp_path / "m.jsonl"), "--no-such-flag"])
