from __future__ import annotations

from pathlib import Path

import pytest

from opendfa.data import read_manifest, write_manifest
from opendfa.data.importers import IMPORTERS, import_dataset, register_importer


def test_every_dataset_has_an_importer():
    assert sorted(IMPORTERS) == ["celebdf", "deepfakebench", "df40", "dfdc", "ffpp", "mmtt"]


def test_registering_a_name_twice_fails():
    with pytest.raises(ValueError, match="registered twice"):
        register_importer("ffpp")(lambda root: None)


def test_unknown_name_option_or_root_are_one_line_errors(tmp_path: Path):
    with pytest.raises(ValueError, match="unknown dataset importer 'nope'; known: celebdf"):
        import_dataset("nope", tmp_path)
    with pytest.raises(ValueError, match="unknown option\\(s\\) for importer 'ffpp': colour"):
        import_dataset("ffpp", tmp_path, colour="red")
    with pytest.raises(ValueError, match="dataset root does not exist"):
        import_dataset("ffpp", tmp_path / "missing")
    (tmp_path / "original_sequences").mkdir()
    with pytest.raises(ValueError, match="unit must be one of auto, video, frame"):
        import_dataset("ffpp", tmp_path, unit="clip")


@pytest.mark.parametrize("name", ["ffpp", "celebdf", "df40", "dfdc", "deepfakebench", "mmtt"])
def test_an_unrelated_folder_is_rejected(tmp_path: Path, image, name: str):
    image(tmp_path / "holiday/beach.png")
    with pytest.raises(ValueError, match=str(tmp_path)):
        import_dataset(name, tmp_path)


def test_counts_and_manifest_round_trip_from_another_folder(tmp_path: Path, video):
    root = tmp_path / "Celeb-DF"
    video(root / "Celeb-real/id0_0000.mp4")
    video(root / "Celeb-synthesis/id0_id3_0000.mp4")
    result = import_dataset("celebdf", root)
    assert result.counts == {
        "samples": 2,
        "problems": 1,  # no test list
        "label": {"fake": 1, "real": 1},
        "category": {"face_swap": 1, "real": 1},
        "technique": {"celebdf.real": 1, "celebdf.synthesis": 1},
        "split": {"none": 2},
    }
    manifest_dir = tmp_path / "manifests"
    write_manifest(manifest_dir / "celebdf.jsonl", result.rebased(manifest_dir))
    manifest = read_manifest(manifest_dir / "celebdf.jsonl")
    assert manifest.problems == []
    assert all(manifest.resolve(s.path).is_file() for s in manifest.samples)
    assert [s.id for s in manifest.samples] == [s.id for s in result.samples]
