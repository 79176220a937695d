from __future__ import annotations

from pathlib import Path

import pytest

from opendfa.data.importers import import_dataset

ORIG = "original_sequences"
MANI = "manipulated_sequences"


@pytest.fixture
def ffpp(tmp_path: Path, video, image, write_json) -> tuple[Path, Path]:
    root = tmp_path / "FaceForensics++"
    for name in ("000", "003", "001", "002"):
        video(root / ORIG / "youtube/c23/videos" / f"{name}.mp4")
    video(root / ORIG / "actors/c23/videos/01__walking.mp4")
    video(root / MANI / "Deepfakes/c23/videos/000_003.mp4")
    video(root / MANI / "Deepfakes/c23/videos/003_000.mp4")
    video(root / MANI / "Deepfakes/masks/videos/000_003.mp4")
    video(root / MANI / "Face2Face/c23/videos/001_002.mp4")
    video(root / MANI / "FaceShifter/c23/videos/000_003.mp4")
    video(root / MANI / "DeepFakeDetection/c23/videos/01_02__walking__ABCD1234.mp4")
    video(root / MANI / "MyMethod/c23/videos/000_003.mp4")
    for frame in ("0000", "0001", "0002"):
        image(root / MANI / "NeuralTextures/c40/images/001_002" / f"{frame}.png")
    for frame in ("0000", "0001"):  # frame 0002 has no mask
        image(root / MANI / "NeuralTextures/masks/images/001_002" / f"{frame}.png", 255)
    splits = tmp_path / "splits"
    write_json(splits / "train.json", [["000", "003"]])
    write_json(splits / "val.json", [["001", "002"]])
    write_json(splits / "test.json", [])
    return root, splits


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_counts_labels_and_unknown_method_reported(ffpp):
    root, _ = ffpp
    result = import_dataset("ffpp", root)
    assert result.counts["label"] == {"fake": 8, "real": 5}
    assert len({s.id for s in result.samples}) == 13
    assert any("MyMethod" in p and "categories=" in p for p in result.problems)
    assert all((root / s.path).exists() for s in result.samples)


def test_categories_follow_df40(ffpp):
    samples = _by_path(import_dataset("ffpp", ffpp[0]))
    category = {s.technique: s.category for s in samples.values()}
    assert category == {
        "ffpp.real": "real",
        "ffpp.Deepfakes": "face_swap",
        "ffpp.FaceShifter": "face_swap",
        "ffpp.DeepFakeDetection": "face_swap",
        "ffpp.Face2Face": "face_reenactment",
        "ffpp.NeuralTextures": "face_reenactment",
    }


def test_target_source_identities(ffpp):
    samples = _by_path(import_dataset("ffpp", ffpp[0]))
    swap = samples[f"{MANI}/Deepfakes/c23/videos/000_003.mp4"]
    assert (swap.identity, swap.source_identity, swap.target_identity) == (
        "ffpp:003",
        "ffpp:003",
        "ffpp:000",
    )
    assert swap.meta["original_video"] == "000"
    reenact = samples[f"{MANI}/Face2Face/c23/videos/001_002.mp4"]
    assert (reenact.identity, reenact.source_identity, reenact.target_identity) == (
        "ffpp:001",
        "ffpp:002",
        "ffpp:001",
    )
    assert samples[f"{ORIG}/youtube/c23/videos/003.mp4"].identity == "ffpp:003"
    assert samples[f"{ORIG}/actors/c23/videos/01__walking.mp4"].identity == "ffpp-actors:01"
    dfd = samples[f"{MANI}/DeepFakeDetection/c23/videos/01_02__walking__ABCD1234.mp4"]
    assert (dfd.source_identity, dfd.target_identity) == ("ffpp-actors:02", "ffpp-actors:01")


def test_official_splits_from_pair_lists(ffpp):
    root, splits = ffpp
    samples = _by_path(import_dataset("ffpp", root, splits_dir=splits))
    split = {path: s.split for path, s in samples.items()}
    assert split[f"{ORIG}/youtube/c23/videos/000.mp4"] == "train"
    assert split[f"{ORIG}/youtube/c23/videos/002.mp4"] == "val"
    assert split[f"{MANI}/Deepfakes/c23/videos/003_000.mp4"] == "train"  # b_a takes pair [a, b]
    assert split[f"{MANI}/Face2Face/c23/videos/001_002.mp4"] == "val"
    assert split[f"{MANI}/NeuralTextures/c40/images/001_002/0001.png"] == "val"
    assert split[f"{ORIG}/actors/c23/videos/01__walking.mp4"] is None
    assert all(s.split is None for s in import_dataset("ffpp", root).samples)


def test_broken_split_file_is_a_problem_and_others_still_apply(ffpp):
    root, splits = ffpp
    (splits / "train.json").write_text('[["000",', encoding="utf-8")
    result = import_dataset("ffpp", root, splits_dir=splits)
    assert any("train.json" in p and "unreadable" in p for p in result.problems)
    assert any("4 video(s) in no split file (split None): 000, 000_003, 003 and 1 more" in p
               for p in result.problems)  # fmt: skip
    split = {s.path: s.split for s in result.samples}
    assert split[f"{ORIG}/youtube/c23/videos/000.mp4"] is None
    assert split[f"{ORIG}/youtube/c23/videos/001.mp4"] == "val"


def test_masks_for_videos_and_frames(ffpp):
    samples = _by_path(import_dataset("ffpp", ffpp[0]))
    assert samples[f"{MANI}/Deepfakes/c23/videos/000_003.mp4"].mask_path == (
        f"{MANI}/Deepfakes/masks/videos/000_003.mp4"
    )
    assert samples[f"{MANI}/Deepfakes/c23/videos/003_000.mp4"].mask_path is None
    frames = f"{MANI}/NeuralTextures/c40/images/001_002"
    assert samples[f"{frames}/0000.png"].mask_path == (
        f"{MANI}/NeuralTextures/masks/images/001_002/0000.png"
    )
    assert samples[f"{frames}/0002.png"].mask_path is None
    assert samples[f"{frames}/0002.png"].meta == {
        "method": "NeuralTextures",
        "compression": "c40",
        "video_id": "001_002",
        "original_video": "001",
        "frame_index": 2,
    }


def test_unit_options(ffpp):
    root, _ = ffpp
    frames = import_dataset("ffpp", root, unit="frame", frames_per_video=2, methods=["Deepfakes"])
    ids = sorted(s.id for s in frames.samples if s.technique == "ffpp.Deepfakes")
    assert ids == [
        f"ffpp:{MANI}/Deepfakes/c23/videos/000_003.mp4#0",
        f"ffpp:{MANI}/Deepfakes/c23/videos/000_003.mp4#2",
        f"ffpp:{MANI}/Deepfakes/c23/videos/003_000.mp4#0",
        f"ffpp:{MANI}/Deepfakes/c23/videos/003_000.mp4#2",
    ]
    videos = _by_path(import_dataset("ffpp", root, unit="video", compressions=["c40"]))
    assert list(videos) == [f"{MANI}/NeuralTextures/c40/images/001_002"]
    folder = videos[f"{MANI}/NeuralTextures/c40/images/001_002"]
    assert folder.meta["num_frames"] == 3
    assert folder.mask_path == f"{MANI}/NeuralTextures/masks/images/001_002"


def test_category_override_imports_unknown_method(ffpp):
    result = import_dataset("ffpp", ffpp[0], categories={"MyMethod": "face_editing"})
    mine = [s for s in result.samples if s.technique == "ffpp.MyMethod"]
    assert [s.category for s in mine] == ["face_editing"]
    assert not any("MyMethod" in p for p in result.problems)


def test_not_ffpp_root_raises(tmp_path: Path):
    with pytest.raises(ValueError, match="not a FaceForensics\\+\\+ root"):
        import_dataset("ffpp", tmp_path)
