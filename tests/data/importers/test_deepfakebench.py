from __future__ import annotations

from pathlib import Path

import pytest

from opendfa.data.importers import import_dataset


def _entry(label: str, frames: list[str], masks: list[str] | None = None) -> dict:
    entry = {"label": label, "frames": frames}
    if masks is not None:
        entry["masks"] = masks
    return entry


FF = "datasets/FaceForensics++"
FF_DF = {
    "FF-DF": {
        "FF-real": {
            "train": {"c23": {"000": _entry("FF-real", [f"./{FF}/youtube/000/000.png"])}},
            "test": {"c23": {"001": _entry("FF-real", [f"./{FF}/youtube/001/000.png"])}},
        },
        "FF-DF": {
            "train": {
                "c23": {
                    "000_003": _entry(
                        "FF-DF",
                        [f"{FF}\\DF\\000_003\\001.png", f"{FF}\\DF\\000_003\\000.png"],
                        [f"{FF}\\DF\\masks\\000_003\\000.png"],
                    )
                },
                "c40": {"000_003": _entry("FF-DF", [f"{FF}/DF40c/000_003/000.png"])},
            }
        },
    }
}
CELEB = {
    "Celeb-DF-v2": {
        "CelebDFv2_fake": {
            split: {"id0_id1_0000": _entry("CelebDFv2_fake", ["/srv/cdf/s/id0_id1_0000/0.png"])}
            for split in ("train", "val", "test")
        },
        "CelebDFv2_real": {"train": {"id2_0001": _entry("CelebDFv2_real", ["/srv/cdf/r/0.png"])}},
    }
}
SIMSWAP = {
    "simswap_ff": {
        "roop_Fake": {"test": {"000_003": _entry("roop_Fake", ["/srv/df40/simswap/0.png"])}},
    },
    "GenImage": {"mystery_Fake": {"test": {"x": _entry("mystery_Fake", ["/srv/gen/0.png"])}}},
}
DFDC = {
    "DFDC": {
        "DFDC_Fake": {
            "test": {"aaa": _entry("DFDC_Fake", ["/srv/dfdc/aaa/0.png"])},
            "val": _entry("DFDC_Fake", ["/srv/dfdc/aaa/0.png"]),  # DeepfakeBench's quirk
        }
    }
}


@pytest.fixture
def index(tmp_path: Path, write_json) -> Path:
    folder = tmp_path / "dataset_json"
    write_json(folder / "FF-DF.json", FF_DF)
    write_json(folder / "Celeb-DF-v2.json", CELEB)
    write_json(folder / "simswap_ff.json", SIMSWAP)
    write_json(folder / "DFDC.json", DFDC)
    (folder / "broken.json").write_text('{"FF-DF": ', encoding="utf-8")
    return folder


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_nesting_labels_categories_and_compression(index):
    result = import_dataset("deepfakebench", index)
    samples = _by_path(result)
    df = samples[f"{FF}/DF/000_003/000.png"]
    assert (df.label, df.category, df.technique, df.dataset) == (
        "fake",
        "face_swap",
        "ffpp.Deepfakes",
        "ffpp",
    )
    assert df.meta["compression"] == "c23" and df.meta["video_id"] == "000_003"
    assert (df.identity, df.target_identity) == ("ffpp:003", "ffpp:000")
    assert samples[f"{FF}/youtube/000/000.png"].category == "real"
    assert samples[f"{FF}/youtube/001/000.png"].split == "test"
    assert samples[f"{FF}/DF40c/000_003/000.png"].meta["compression"] == "c40"
    c23 = import_dataset("deepfakebench", index, compression="c23")
    assert f"{FF}/DF40c/000_003/000.png" not in _by_path(c23)


def test_masks_follow_frames_by_name(index):
    samples = _by_path(import_dataset("deepfakebench", index))
    assert samples[f"{FF}/DF/000_003/000.png"].mask_path == f"{FF}/DF/masks/000_003/000.png"
    assert samples[f"{FF}/DF/000_003/001.png"].mask_path is None


def test_video_listed_in_several_splits_is_imported_once_as_test(index):
    samples = _by_path(import_dataset("deepfakebench", index))
    fake = samples["/srv/cdf/s/id0_id1_0000/0.png"]
    assert fake.split == "test"
    assert fake.meta["listed_splits"] == ["test", "val", "train"]
    assert (fake.technique, fake.identity, fake.dataset) == (
        "celebdf.synthesis",
        "celebdf:id1",
        "celebdf",
    )


def test_df40_index_takes_technique_from_its_name(index):
    result = import_dataset("deepfakebench", index)
    simswap = _by_path(result)["/srv/df40/simswap/0.png"]
    assert (simswap.technique, simswap.category, simswap.dataset) == (
        "df40.simswap",
        "face_swap",
        "df40",
    )


def test_problems_for_broken_json_unknown_label_and_quirk(index):
    result = import_dataset("deepfakebench", index)
    problems = "\n".join(result.problems)
    assert "broken.json: unreadable JSON" in problems
    assert "unknown label 'mystery_Fake' in 'GenImage'" in problems
    assert "DFDC/DFDC_Fake/val: a single video entry" in problems
    assert "/srv/dfdc/aaa/0.png" in _by_path(result)  # the good test listing still counts
    mapped = import_dataset("deepfakebench", index, labels={"mystery_Fake": "face_editing"})
    edited = _by_path(mapped)["/srv/gen/0.png"]
    assert (edited.category, edited.technique, edited.dataset) == (
        "face_editing",
        "genimage.mystery_Fake",
        "genimage",
    )


def test_rebase_data_root_and_video_unit(index, tmp_path: Path, image):
    image(tmp_path / "data/cdf/s/id0_id1_0000/0.png")
    result = import_dataset(
        "deepfakebench",
        index / "Celeb-DF-v2.json",
        rebase={"/srv/cdf": str(tmp_path / "data/cdf")},
        data_root=tmp_path / "data",
        check_files=True,
    )
    assert result.root == (tmp_path / "data").resolve()
    assert sorted(s.path for s in result.samples) == ["cdf/r/0.png", "cdf/s/id0_id1_0000/0.png"]
    assert any("1 listed frame(s) of id2_0001 missing" in p for p in result.problems)
    videos = import_dataset("deepfakebench", index / "FF-DF.json", unit="video")
    folder = _by_path(videos)[f"{FF}/DF/000_003"]
    assert folder.meta["frame_paths"] == [f"{FF}/DF/000_003/000.png", f"{FF}/DF/000_003/001.png"]


def test_not_an_index_raises(tmp_path: Path, write_json):
    with pytest.raises(ValueError, match="no JSON file"):
        import_dataset("deepfakebench", tmp_path)
    write_json(tmp_path / "splits.json", [["000", "003"]])
    with pytest.raises(ValueError, match="not a DeepfakeBench index"):
        import_dataset("deepfakebench", tmp_path)
