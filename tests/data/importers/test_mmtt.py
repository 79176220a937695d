from __future__ import annotations

import json
from pathlib import Path

import pytest

from opendfa.data.importers import import_dataset


@pytest.fixture
def mmtt(tmp_path: Path, image, write_json) -> Path:
    root = tmp_path / "mmtt"
    for name in ("a", "b", "c", "d"):
        image(root / "images" / f"{name}.png")
    image(root / "masks/a.png", 255)
    image(root / "masks/b.png", 255)
    records = [
        {"image": "a.png", "mask": "a.png", "text": "The mouth edge is blurred.", "method": "e4s"},
        {
            "image": "images/b.png",
            "mask": "masks/b.png",
            "caption": "Eyes differ.",
            "category": "FE",
        },
        {"image": "missing.png", "method": "e4s"},
        {"image": "c.png", "method": "weirdtool", "mask": "gone.png"},
    ]
    lines = [json.dumps(r) for r in records]
    lines.insert(2, "{broken")
    (root / "mmtt_train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    write_json(root / "test.json", {"annotations": [{"image": "d.png", "label": 0}]})
    return root


def _by_path(result):
    return {sample.path: sample for sample in result.samples}


def test_images_masks_text_and_categories(mmtt):
    samples = _by_path(import_dataset("mmtt", mmtt))
    assert sorted(samples) == ["images/a.png", "images/b.png", "images/d.png"]
    swap = samples["images/a.png"]
    assert (swap.category, swap.technique, swap.mask_path) == (
        "face_swap",
        "mmtt.e4s",
        "masks/a.png",
    )
    assert swap.meta["explanation"] == "The mouth edge is blurred."
    edit = samples["images/b.png"]
    assert (edit.category, edit.technique, edit.meta["explanation"]) == (
        "face_editing",
        "mmtt.face_editing",
        "Eyes differ.",
    )
    real = samples["images/d.png"]
    assert (real.label, real.category, real.mask_path) == ("real", "real", None)


def test_splits_from_file_names_and_identity_per_image(mmtt):
    samples = _by_path(import_dataset("mmtt", mmtt))
    assert {p: s.split for p, s in samples.items()} == {
        "images/a.png": "train",
        "images/b.png": "train",
        "images/d.png": "test",
    }
    assert samples["images/a.png"].identity == "mmtt:images/a.png"


def test_problems_reported_and_rest_imported(mmtt):
    result = import_dataset("mmtt", mmtt)
    problems = "\n".join(result.problems)
    assert "mmtt_train.jsonl: line 3: invalid JSON" in problems
    assert "1 image(s) not found: missing.png" in problems
    assert "1 record(s) with unknown method 'weirdtool' skipped" in problems
    mapped = import_dataset("mmtt", mmtt, default_category="face_editing")
    weird = _by_path(mapped)["images/c.png"]
    assert (weird.category, weird.mask_path) == ("face_editing", None)
    assert any("mask 'gone.png' not found" in p for p in mapped.problems)


def test_csv_annotations(tmp_path: Path, image):
    image(tmp_path / "images/x.png")
    (tmp_path / "annotations.csv").write_text(
        "image,text,method,split\nx.png,Cheek texture is smooth,inpainting,val\n",
        encoding="utf-8",
    )
    (sample,) = import_dataset("mmtt", tmp_path).samples
    assert (sample.category, sample.split, sample.meta["explanation"]) == (
        "face_editing",
        "val",
        "Cheek texture is smooth",
    )


def test_not_mmtt_root_raises(tmp_path: Path):
    with pytest.raises(ValueError, match="not an MMTT root"):
        import_dataset("mmtt", tmp_path)
