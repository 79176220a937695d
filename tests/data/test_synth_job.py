"""`opendfa data synth` on real photos: all families, masks on disk, resumable, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from opendfa.cli import main
from opendfa.data import check_disjoint, read_manifest
from opendfa.data.synth import SynthConfig, synthesize

METHODS = ("face_swap", "face_reenactment", "face_editing", "self_blend")


@pytest.fixture(scope="module")
def faces_dir(tmp_path_factory, astronaut_path, hopper_path, group_photos) -> Path:
    root = tmp_path_factory.mktemp("faces")
    for name, path in [("astronaut", astronaut_path), ("hopper", hopper_path)]:
        (root / name).mkdir()
        shutil.copy(path, root / name / path.name)
    for name in ("sample3.jpg", "sample6.jpg"):
        shutil.copy(group_photos[name], root / name)  # a loose photo is its own identity
    (root / "broken").mkdir()
    (root / "broken" / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "nobody").mkdir()
    cv2.imwrite(str(root / "nobody" / "wall.png"), np.full((200, 200, 3), 180, np.uint8))
    return root


@pytest.fixture(scope="module")
def synth_out(faces_dir, face_detector, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    report = synthesize(
        faces_dir, out, SynthConfig(methods=METHODS, per_face=1, seed=5), detector=face_detector
    )
    return out, report


def test_every_family_is_made_with_masks_on_disk(synth_out):
    out, report = synth_out
    manifest = read_manifest(out / "manifest.jsonl")
    assert manifest.problems == []
    assert report.written == len(manifest.samples) == 4 * (1 + len(METHODS))
    by_method = {
        m: [s for s in manifest.samples if s.meta["method"] == m] for m in ("real", *METHODS)
    }
    assert all(len(group) == 4 for group in by_method.values())
    assert {s.category for s in by_method["face_swap"]} == {"face_swap"}
    assert {s.category for s in by_method["face_reenactment"]} == {"face_reenactment"}
    for sample in manifest.samples:
        image = cv2.imread(str(manifest.resolve(sample.path)))
        assert image is not None
        if sample.label == "fake":
            mask = cv2.imread(str(manifest.resolve(sample.mask_path)), cv2.IMREAD_GRAYSCALE)
            assert mask.shape == image.shape[:2] and mask.max() > 0
            assert np.load(manifest.resolve(sample.meta["landmarks_path"])).shape == (478, 3)
        else:
            assert sample.mask_path is None and sample.category == "real"


def test_swaps_pair_different_people_within_one_split(synth_out):
    out, _ = synth_out
    samples = read_manifest(out / "manifest.jsonl").samples
    for swap in (s for s in samples if s.meta["method"] == "face_swap"):
        assert swap.source_identity != swap.target_identity
        assert swap.identity == swap.source_identity
    assert check_disjoint(samples) == []


def test_bad_photos_are_reported_and_skipped(synth_out):
    _, report = synth_out
    text = "\n".join(report.problems)
    assert "bad.jpg" in text and "wall.png: no face found" in text


def test_a_rerun_resumes_without_duplicates(synth_out, faces_dir, face_detector):
    out, _ = synth_out
    before = (out / "manifest.jsonl").read_text()
    report = synthesize(
        faces_dir, out, SynthConfig(methods=METHODS, per_face=1, seed=5), detector=face_detector
    )
    assert report.written == 0 and report.skipped_existing == 20
    assert (out / "manifest.jsonl").read_text() == before


def test_a_rerun_through_another_spelling_of_the_folder_resumes(
    synth_out, faces_dir, face_detector, monkeypatch
):
    out, _ = synth_out
    before = (out / "manifest.jsonl").read_text()
    monkeypatch.chdir(faces_dir.parent)
    relative = Path(faces_dir.name) / ".." / faces_dir.name  # same folder, another path
    report = synthesize(
        relative, out, SynthConfig(methods=METHODS, per_face=1, seed=5), detector=face_detector
    )
    assert report.written == 0 and report.skipped_existing == 20
    assert (out / "manifest.jsonl").read_text() == before


def test_cli_stats_split_and_sheet(synth_out, tmp_path, capsys):
    out, _ = synth_out
    manifest = str(out / "manifest.jsonl")
    assert main(["data", "stats", manifest]) == 0
    table = capsys.readouterr().out
    assert (
        "samples: 20" in table
        and "face_reenactment" in table
        and "identities in more than one split: none" in table
    )
    sheet = tmp_path / "sheet.png"
    assert main(["data", "sheet", manifest, "--out", str(sheet), "--per-technique", "1"]) == 0
    assert cv2.imread(str(sheet)).shape[1] == 4 * (2 * 160 + 6)
    resplit = tmp_path / "resplit.jsonl"
    assert (
        main(
            [
                "data",
                "split",
                manifest,
                "--out",
                str(resplit),
                "--train",
                "0.5",
                "--test",
                "0.5",
                "--val",
                "0",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in resplit.read_text().splitlines()]
    assert len(lines) == 20 and {line["split"] for line in lines} <= {"train", "test", None}


def test_cli_synth_rejects_unknown_methods(faces_dir, tmp_path, capsys):
    assert (
        main(
            [
                "data",
                "synth",
                "--faces",
                str(faces_dir),
                "--out",
                str(tmp_path),
                "--methods",
                "morph",
                "--no-progress",
            ]
        )
        == 2
    )
    assert "unknown method(s) morph" in capsys.readouterr().err


def test_torch_dataset_gives_aligned_crops_masks_and_labels(synth_out, tmp_path):
    import torch

    from opendfa.data.dataset import CropConfig, FaceForgeryDataset
    from opendfa.taxonomy import CATEGORIES

    out, _ = synth_out
    dataset = FaceForgeryDataset(
        out / "manifest.jsonl", crop=CropConfig(size=128), cache_dir=tmp_path / "cache"
    )
    assert len(dataset) == 20
    labels = []
    for index in range(len(dataset)):
        item = dataset[index]
        sample = dataset.samples[index]
        assert (
            item["image"].shape == (3, 128, 128)
            and item["image"].min() >= 0
            and item["image"].max() <= 1
        )
        assert item["regions"].shape == (12, 128, 128)
        assert item["regions"][11].sum() > 0.1 * 128 * 128  # the face fills much of the crop
        assert CATEGORIES[int(item["category"])] == sample.category
        if sample.label == "fake" and sample.meta["method"] != "self_blend":
            # The forged area lies on the face. A reenacted jaw or head turn also moves
            # pixels below the chin and at the hairline, hence the lower bar for it.
            inside = (item["mask"][0] * item["regions"][11]).sum() / item["mask"].sum()
            assert inside > (0.3 if sample.meta["method"] == "face_reenactment" else 0.6), sample.id
        if sample.label == "real":
            assert item["mask"].sum() == 0
        labels.append(float(item["label"]))
    assert labels.count(0.0) == 4
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 20
    again = dataset[0]  # from the cache now
    first = FaceForgeryDataset(out / "manifest.jsonl", crop=CropConfig(size=128))[0]
    assert torch.allclose(again["image"], first["image"]) and torch.equal(
        again["regions"], first["regions"]
    )
