from __future__ import annotations

from pathlib import Path

import pytest

from opendfa.data.importers import import_dataset


@pytest.fixture
def celebdf(tmp_path: Path, video) -> Path:
    root = tmp_path / "Celeb-DF-v2"
    for rel in (
        "Celeb-real/id0_0000.mp4",
        "Celeb-real/id1_0000.mp4",
        "YouTube-real/00170.mp4",
        "YouTube-real/00171.mp4",
        "Celeb-synthesis/id0_id1_0000.mp4",
        "Celeb-synthesis/id1_id0_0000.mp4",
    ):
        video(root / rel)
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n0 Celeb-synthesis/id0_id1_0000.mp4\n1 Celeb-real/id1_0000.mp4\n",
        encoding="utf-8",
    )
    return root


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_labels_categories_and_counts(celebdf):
    result = import_dataset("celebdf", celebdf)
    assert result.counts["label"] == {"fake": 2, "real": 4}
    assert result.counts["technique"] == {"celebdf.real": 4, "celebdf.synthesis": 2}
    assert {s.category for s in result.samples if s.label == "fake"} == {"face_swap"}
    assert result.problems == []


def test_official_test_list_marks_test_and_the_rest_train(celebdf):
    split = {s.path: s.split for s in import_dataset("celebdf", celebdf).samples}
    assert split == {
        "Celeb-real/id0_0000.mp4": "train",
        "Celeb-real/id1_0000.mp4": "test",
        "YouTube-real/00170.mp4": "test",
        "YouTube-real/00171.mp4": "train",
        "Celeb-synthesis/id0_id1_0000.mp4": "test",
        "Celeb-synthesis/id1_id0_0000.mp4": "train",
    }


def test_identities_from_names(celebdf):
    samples = _by_path(import_dataset("celebdf", celebdf))
    fake = samples["Celeb-synthesis/id0_id1_0000.mp4"]
    assert (fake.identity, fake.source_identity, fake.target_identity) == (
        "celebdf:id1",
        "celebdf:id1",
        "celebdf:id0",
    )
    assert fake.meta["original_video"] == "Celeb-real/id0_0000"
    assert samples["Celeb-real/id0_0000.mp4"].identity == "celebdf:id0"
    assert samples["YouTube-real/00171.mp4"].identity == "celebdf-youtube:00171"


def test_contradicting_and_missing_lines_are_reported(celebdf):
    with (celebdf / "List_of_testing_videos.txt").open("a", encoding="utf-8") as handle:
        handle.write("0 YouTube-real/00171.mp4\n1 Celeb-real/id9_0003.mp4\nnonsense\n")
    result = import_dataset("celebdf", celebdf)
    problems = "\n".join(result.problems)
    assert "line 4: label 0 (fake) contradicts folder YouTube-real" in problems
    assert "1 listed test video(s) not found: Celeb-real/id9_0003" in problems
    assert "line 6: expected" in problems
    youtube = _by_path(result)["YouTube-real/00171.mp4"]
    assert (youtube.label, youtube.split) == ("real", "test")


def test_without_test_list_split_is_none(celebdf):
    (celebdf / "List_of_testing_videos.txt").unlink()
    result = import_dataset("celebdf", celebdf)
    assert {s.split for s in result.samples} == {None}
    assert any("no official test list" in p for p in result.problems)


def test_extracted_frame_folders_give_one_sample_per_frame(celebdf, image):
    for frame in ("000", "001", "010"):
        image(celebdf / "Celeb-real/frames/id2_0001" / f"{frame}.png")
    result = import_dataset("celebdf", celebdf)
    frames = [s for s in result.samples if s.meta["video_id"] == "id2_0001"]
    assert [s.meta["frame_index"] for s in frames] == [0, 1, 10]
    assert {(s.identity, s.split) for s in frames} == {("celebdf:id2", "train")}
    video_level = import_dataset("celebdf", celebdf, unit="video")
    assert sum(s.meta["video_id"] == "id2_0001" for s in video_level.samples) == 1


def test_frames_of_videos_and_an_unreadable_video(celebdf):
    (celebdf / "Celeb-real/id5_0000.mp4").write_bytes(b"")
    result = import_dataset("celebdf", celebdf, unit="frame", frames_per_video=2)
    assert any("id5_0000.mp4" in p for p in result.problems)
    fake = [s for s in result.samples if s.meta["video_id"] == "id0_id1_0000"]
    assert [(s.path, s.meta["frame_index"]) for s in fake] == [
        ("Celeb-synthesis/id0_id1_0000.mp4", 0),
        ("Celeb-synthesis/id0_id1_0000.mp4", 2),
    ]
    assert fake[1].id == "celebdf:Celeb-synthesis/id0_id1_0000.mp4#2"
    assert result.counts["samples"] == 12


def test_not_celebdf_root_raises(tmp_path: Path):
    with pytest.raises(ValueError, match="not a Celeb-DF root"):
        import_dataset("celebdf", tmp_path)
