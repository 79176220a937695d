from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from opendfa.data.importers import DF40_TECHNIQUES, df40_technique, import_dataset


@pytest.fixture
def df40(tmp_path: Path, image, video) -> Path:
    root = tmp_path / "DF40"
    for frame in ("000", "001"):
        image(root / "train/simswap/ff/frames/000_003" / f"{frame}.png")
    image(root / "train/simswap/ff/masks/000_003/000.png", 255)  # mask of frame 000 only
    (root / "train/simswap/ff/landmarks/000_003").mkdir(parents=True)
    (root / "train/simswap/ff/landmarks/000_003/000.npy").write_bytes(b"\x93NUMPY")
    image(root / "train/fomm/cdf/frames/id0_id1_0000/000.png")
    image(root / "train/StyleGAN2/ff/frames/000/000.png")
    image(root / "test/e4e/ff/inversions/000.png")
    image(root / "test/e4e/ff/inversions/001.png")
    image(root / "test/MidJourney/real/photo.png")
    image(root / "test/MidJourney/fake/gen.png")
    image(root / "test/sd2.1/cdf/img1.jpg")
    image(root / "test/weirdgan/ff/frames/v/000.png")
    video(root / "test/heygen/clip.mp4")
    image(root / "test/stargan/001.png")  # a CelebA image, not FF++ video 001
    return root


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_full_df40_table_has_the_40_techniques_in_four_categories():
    assert len(DF40_TECHNIQUES) == 40
    assert Counter(DF40_TECHNIQUES.values()) == {
        "face_swap": 10,
        "face_reenactment": 13,
        "entire_face_synthesis": 12,
        "face_editing": 5,
    }
    assert df40_technique("FS_vid2vid") == ("facevid2vid", "face_reenactment")
    assert df40_technique("DaGAN") == ("danet", "face_reenactment")
    assert df40_technique("sd_2.1") == ("sd2.1", "entire_face_synthesis")
    assert df40_technique("collaborative_diffusion") == ("CollabDiff", "face_editing")
    assert df40_technique("InSwapper") == ("inswap", "face_swap")
    assert df40_technique("nothing") is None


def test_categories_techniques_and_splits(df40):
    result = import_dataset("df40", df40)
    seen = {(s.technique, s.category, s.split) for s in result.samples}
    assert seen == {
        ("df40.simswap", "face_swap", "train"),
        ("df40.fomm", "face_reenactment", "train"),
        ("df40.StyleGAN2", "entire_face_synthesis", "train"),
        ("df40.e4e", "face_editing", "test"),
        ("df40.MidJourney", "entire_face_synthesis", "test"),
        ("df40.real", "real", "test"),
        ("df40.sd2.1", "entire_face_synthesis", "test"),
        ("df40.heygen", "face_reenactment", "test"),
        ("df40.stargan", "face_editing", "test"),
    }
    assert result.counts["samples"] == 11  # landmarks and masks are not samples


def test_unknown_technique_folder_reported_or_mapped(df40):
    result = import_dataset("df40", df40)
    assert any("weirdgan" in p and "categories=" in p for p in result.problems)
    mapped = import_dataset("df40", df40, categories={"weirdgan": "face_swap"})
    weird = [s for s in mapped.samples if s.technique == "df40.weirdgan"]
    assert [(s.category, s.split) for s in weird] == [("face_swap", "test")]
    assert not any("weirdgan" in p for p in mapped.problems)


def test_identities_masks_and_domain(df40):
    samples = _by_path(import_dataset("df40", df40))
    swap = samples["train/simswap/ff/frames/000_003/000.png"]
    assert (swap.identity, swap.source_identity, swap.target_identity) == (
        "ffpp:003",
        "ffpp:003",
        "ffpp:000",
    )
    assert swap.mask_path == "train/simswap/ff/masks/000_003/000.png"
    assert samples["train/simswap/ff/frames/000_003/001.png"].mask_path is None
    assert swap.meta == {"df40_folder": "simswap", "video_id": "000_003", "domain": "ff",
                         "frame_index": 0}  # fmt: skip
    reenact = samples["train/fomm/cdf/frames/id0_id1_0000/000.png"]
    assert (reenact.identity, reenact.meta["domain"]) == ("celebdf:id0", "cdf")
    synth = samples["train/StyleGAN2/ff/frames/000/000.png"]
    assert synth.identity == "df40:StyleGAN2:train/StyleGAN2/ff/frames/000"
    assert synth.source_identity is None and synth.target_identity is None
    assert samples["test/e4e/ff/inversions/001.png"].identity == "ffpp:001"
    assert samples["test/stargan/001.png"].identity == "df40:stargan:test/stargan/001.png"
    assert samples["test/MidJourney/real/photo.png"].label == "real"


def test_unit_video_groups_frame_folders(df40):
    samples = _by_path(import_dataset("df40", df40, unit="video"))
    folder = samples["train/simswap/ff/frames/000_003"]
    assert folder.meta["num_frames"] == 2
    assert "train/simswap/ff/frames/000_003/000.png" not in samples
    assert "test/e4e/ff/inversions/000.png" in samples  # loose images stay one per image


def test_split_from_root_name_or_option(tmp_path: Path, image):
    root = tmp_path / "DF40_test"
    image(root / "blendface/ff/frames/001_002/000.png")
    assert [s.split for s in import_dataset("df40", root).samples] == ["test"]
    assert [s.split for s in import_dataset("df40", root, split="val").samples] == ["val"]


def test_not_df40_root_raises(tmp_path: Path, image):
    image(tmp_path / "holiday" / "beach.png")
    with pytest.raises(ValueError, match="not a DF40 root"):
        import_dataset("df40", tmp_path)
