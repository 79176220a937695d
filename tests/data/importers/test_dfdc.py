from __future__ import annotations

from pathlib import Path

import pytest

from opendfa.data.importers import import_dataset

PART = "dfdc_train_part_0"


@pytest.fixture
def dfdc(tmp_path: Path, video, write_json) -> Path:
    root = tmp_path / "dfdc"
    write_json(
        root / PART / "metadata.json",
        {
            "aaa.mp4": {"label": "FAKE", "original": "bbb.mp4", "split": "train"},
            "bbb.mp4": {"label": "REAL", "original": None, "split": "train"},
            "ccc.mp4": {"label": "FAKE", "original": "bbb.mp4", "split": "train"},
            "ddd.mp4": {"label": "REAL", "original": None, "split": "train"},  # file missing
            "zzz.mp4": {"label": "MAYBE", "split": "train"},
        },
    )
    for name in ("aaa", "bbb", "ccc", "eee"):  # eee is not in the metadata
        video(root / PART / f"{name}.mp4")
    (root / "dfdc_train_part_1").mkdir()
    (root / "dfdc_train_part_1" / "metadata.json").write_text("{not json", encoding="utf-8")
    video(root / "dfdc_train_part_1" / "xxx.mp4")
    video(root / "dfdc_train_part_2" / "yyy.mp4")  # no metadata at all
    (root / "test").mkdir()
    (root / "test" / "labels.csv").write_text(
        "filename,label\nt1.mp4,1\nt2.mp4,0\n", encoding="utf-8"
    )
    video(root / "test" / "t1.mp4")
    video(root / "test" / "t2.mp4")
    return root


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_labels_categories_and_splits(dfdc):
    samples = _by_path(import_dataset("dfdc", dfdc))
    assert sorted(samples) == [
        f"{PART}/aaa.mp4",
        f"{PART}/bbb.mp4",
        f"{PART}/ccc.mp4",
        "test/t1.mp4",
        "test/t2.mp4",
    ]
    assert samples[f"{PART}/aaa.mp4"].category == "face_swap"
    assert samples[f"{PART}/aaa.mp4"].technique == "dfdc.fake"
    assert samples[f"{PART}/bbb.mp4"].category == "real"
    assert samples["test/t1.mp4"].label == "fake"
    assert samples["test/t2.mp4"].label == "real"
    assert {s.split for p, s in samples.items() if p.startswith(PART)} == {"train"}
    assert {samples["test/t1.mp4"].split, samples["test/t2.mp4"].split} == {"test"}


def test_fakes_share_the_identity_of_their_original(dfdc):
    samples = _by_path(import_dataset("dfdc", dfdc))
    assert {samples[f"{PART}/{n}.mp4"].identity for n in ("aaa", "bbb", "ccc")} == {"dfdc:bbb"}
    assert samples[f"{PART}/aaa.mp4"].meta["original_video"] == "bbb.mp4"
    assert samples["test/t1.mp4"].identity == "dfdc:t1"


def test_broken_and_missing_metadata_are_reported_rest_imported(dfdc):
    result = import_dataset("dfdc", dfdc)
    problems = "\n".join(result.problems)
    assert "dfdc_train_part_1/metadata.json: unreadable metadata" in problems
    assert "dfdc_train_part_2: no metadata.json or labels.csv; its 1 video(s)" in problems
    assert "1 listed video(s) not found: ddd.mp4" in problems
    assert "1 video(s) not in its labels, skipped: eee.mp4" in problems
    assert "without a REAL/FAKE label: zzz.mp4" in problems
    assert result.counts["samples"] == 5


def test_single_part_as_root_and_extracted_frames(dfdc, image):
    for frame in ("000", "001"):
        image(dfdc / PART / "frames" / "aaa" / f"{frame}.png")
    result = import_dataset("dfdc", dfdc / PART)
    paths = sorted(s.path for s in result.samples)
    assert paths == ["bbb.mp4", "ccc.mp4", "frames/aaa/000.png", "frames/aaa/001.png"]
    only_videos = import_dataset("dfdc", dfdc / PART, media="videos")
    assert sorted(s.path for s in only_videos.samples) == ["aaa.mp4", "bbb.mp4", "ccc.mp4"]


def test_not_dfdc_root_raises(tmp_path: Path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(ValueError, match="not a DFDC root"):
        import_dataset("dfdc", tmp_path)
