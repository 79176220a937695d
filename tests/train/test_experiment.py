"""Train-and-test runs: identity-disjoint scoring and leave-one-family-out."""

from __future__ import annotations

import json

import pytest

from opendfa.data import read_manifest
from opendfa.data.manifest import Manifest
from opendfa.data.splits import SplitConfig, assign_splits
from opendfa.models.detector import DetectorConfig
from opendfa.taxonomy import FACE_EDITING, FACE_SWAP, REAL
from opendfa.train.detector import DetectorTrainConfig
from opendfa.train.experiment import run, subset

TINY = DetectorConfig(input_size=64, mask_size=8, embedding_dim=16)


@pytest.fixture(scope="module")
def three_way(manifest_path) -> Manifest:
    """The shared tiny dataset re-split into train / val / test identities."""
    manifest = read_manifest(manifest_path)
    splits = SplitConfig(train=0.5, val=0.25, test=0.25, seed=1)
    samples = [s for s in assign_splits(manifest.samples, splits) if s.split]
    return Manifest(samples=samples, root=manifest.root)


def _config() -> DetectorTrainConfig:
    return DetectorTrainConfig(
        model=TINY, epochs=2, batch_size=8, max_steps_per_epoch=3, threads=1, progress=False
    )


def test_subset_keeps_one_split_and_drops_or_keeps_categories(three_way):
    train = subset(three_way, "train", exclude=(FACE_EDITING,))
    assert train.samples and {s.split for s in train.samples} == {"train"}
    assert FACE_EDITING not in {s.category for s in train.samples}
    test = subset(three_way, "test", only=(REAL, FACE_SWAP))
    assert {s.category for s in test.samples} == {REAL, FACE_SWAP}


@pytest.mark.slow
def test_leave_one_family_out_never_trains_on_the_family(three_way, tmp_path):
    held_out = FACE_EDITING
    result = run("lofo", three_way, tmp_path / "run", _config(), holdout=held_out)
    info = json.loads((tmp_path / "run" / "config.json").read_text())
    train_count = len(subset(three_way, "train", exclude=(held_out,)).samples)
    assert info["training"]["n_train"] == train_count
    test = subset(three_way, "test", only=(REAL, held_out))
    assert result.test["n"] == len(test.samples)
    assert result.test["n_fake"] == sum(s.category == held_out for s in test.samples)
    assert set(result.per_category_auc) == {held_out}
    assert 0.0 <= result.test["auc"] <= 1.0
    assert result.test["acer"] == pytest.approx((result.test["apcer"] + result.test["bpcer"]) / 2)
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["holdout"] == held_out and saved["test"] == result.test
