"""Atomic writes and resumable JSON Lines (`opendfa.safe_files`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from opendfa.safe_files import (
    append_jsonl,
    read_jsonl,
    replacing,
    resume_jsonl,
    write_json_atomic,
    write_jsonl_atomic,
)


def _by_id(row: dict) -> str:
    return row["id"]


def test_a_finished_write_replaces_the_file_and_leaves_no_temporary(tmp_path: Path):
    target = tmp_path / "config.json"
    target.write_text("old")
    write_json_atomic(target, {"a": 1})
    assert json.loads(target.read_text()) == {"a": 1}
    assert target.read_text().endswith("\n")
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), replacing(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["weights.bin"]


def test_the_temporary_keeps_the_suffix_numpy_needs(tmp_path: Path):
    target = tmp_path / "crop.npz"
    with replacing(target) as temporary:
        assert temporary.suffix == ".npz" and temporary.name.startswith(".")
        np.savez_compressed(temporary, image=np.zeros(3))
    with np.load(target) as data:
        assert data["image"].shape == (3,)


def test_a_resumed_file_drops_a_torn_line_and_appends_on_a_new_line(tmp_path: Path):
    path = tmp_path / "answers.jsonl"
    path.write_text('{"id": "a", "x": 1}\n{"id": "b", "x": 2}\n{"id": "c", "x"')
    done = resume_jsonl(path, key=_by_id)
    assert list(done) == ["a", "b"]
    with path.open("a", encoding="utf-8") as handle:
        append_jsonl(handle, {"id": "c", "x": 3})
    assert read_jsonl(path, key=_by_id) == {
        "a": {"id": "a", "x": 1},
        "b": {"id": "b", "x": 2},
        "c": {"id": "c", "x": 3},
    }
    assert len(path.read_text().splitlines()) == 3


def test_a_later_row_of_the_same_key_wins_and_the_file_keeps_one(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    write_jsonl_atomic(path, [{"id": "a", "x": 1}, {"id": "a", "x": 2}, {"id": "b", "x": 3}])
    assert resume_jsonl(path, key=_by_id)["a"] == {"id": "a", "x": 2}
    assert len(path.read_text().splitlines()) == 2


def test_a_clean_file_is_not_rewritten(tmp_path: Path):
    path = tmp_path / "rows.jsonl"
    text = '{"id":"a"}\n{"id":"b"}\n'  # not how `append_jsonl` spaces it: kept as it is
    path.write_text(text)
    assert list(resume_jsonl(path, key=_by_id)) == ["a", "b"]
    assert path.read_text() == text


def test_no_file_means_no_rows(tmp_path: Path):
    assert read_jsonl(tmp_path / "none.jsonl", key=_by_id) == {}
    assert resume_jsonl(tmp_path / "none.jsonl", key=_by_id) == {}
    assert not (tmp_path / "none.jsonl").exists()
