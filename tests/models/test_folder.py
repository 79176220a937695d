"""One model-folder format: weights, then a config with their sha256, checked on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opendfa.media.files import file_sha256
from opendfa.models.folder import SHA256_KEY, checked_sha256, read_config, save_model_files


def _save(tmp_path: Path, data: bytes = b"weights") -> dict:
    return save_model_files(
        tmp_path / "model.safetensors",
        lambda path: path.write_bytes(data),
        tmp_path / "config.json",
        {"format": "test/1"},
    )


def test_the_config_records_the_sha256_of_the_weights_beside_it(tmp_path: Path):
    info = _save(tmp_path)
    assert info[SHA256_KEY] == file_sha256(tmp_path / "model.safetensors")
    assert read_config(tmp_path / "config.json", "test") == info
    assert checked_sha256(tmp_path / "model.safetensors", info) == info[SHA256_KEY]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_weights_that_do_not_match_are_refused_and_an_old_config_without_sha_is_accepted(
    tmp_path: Path,
):
    info = _save(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"other weights")
    with pytest.raises(ValueError, match="do not match the sha256"):
        checked_sha256(tmp_path / "model.safetensors", info)
    old = {k: v for k, v in info.items() if k != SHA256_KEY}
    assert checked_sha256(tmp_path / "model.safetensors", old)


def test_an_unreadable_config_says_what_it_should_be(tmp_path: Path):
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="unreadable DFA-GPT config"):
        read_config(tmp_path / "config.json", "DFA-GPT")
    (tmp_path / "config.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ValueError, match="not a DFA-GPT config"):
        read_config(tmp_path / "config.json", "DFA-GPT")
