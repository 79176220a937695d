"""Training the forensic stream on patches: it learns, from honest masks, to find pixels whose
noise was removed by a local smoothing, and a rerun resumes instead of starting again."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from opendfa.data.manifest import write_manifest
from opendfa.data.sample import Sample
from opendfa.models.forensic import ForensicConfig, face_score, load_forensic, predict_map
from opendfa.train.forensic import ForensicTrainConfig, train_forensic

SIDE = 128


def _photo(rng: np.random.Generator) -> np.ndarray:
    """Smooth shapes plus sensor-like noise: what a camera photo looks like to a high-pass."""
    base = cv2.GaussianBlur(rng.integers(0, 256, (SIDE, SIDE, 3)).astype(np.float32), (0, 0), 6)
    base = (base - base.min()) / (np.ptp(base) + 1e-6) * 180 + 40
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def _smoothed(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A local 'skin smoothing': a disc whose noise is filtered away, and its mask."""
    mask = np.zeros((SIDE, SIDE), np.uint8)
    centre = rng.integers(32, SIDE - 32, 2)
    cv2.circle(mask, (int(centre[0]), int(centre[1])), int(rng.integers(14, 26)), 255, -1)
    smooth = cv2.bilateralFilter(rgb, 9, 40, 5)
    out = np.where(mask[..., None] > 0, smooth, rgb)
    return out, mask


def _dataset(root: Path, count: int, seed: int, split: str) -> list[Sample]:
    rng = np.random.default_rng(seed)
    samples = []
    for i in range(count):
        rgb = _photo(rng)
        identity = f"{split}{i}"
        cv2.imwrite(str(root / f"{identity}-real.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        samples.append(
            Sample(
                f"{identity}-r",
                f"{identity}-real.png",
                "real",
                "real",
                "real",
                identity,
                split=split,
            )
        )
        fake, mask = _smoothed(rgb, rng)
        cv2.imwrite(str(root / f"{identity}-fake.png"), cv2.cvtColor(fake, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / f"{identity}-mask.png"), mask)
        samples.append(
            Sample(
                f"{identity}-f",
                f"{identity}-fake.png",
                "fake",
                "face_editing",
                "test.smooth",
                identity,
                split=split,
                mask_path=f"{identity}-mask.png",
            )
        )
    return samples


@pytest.mark.slow
def test_a_short_run_learns_to_find_smoothed_pixels_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    train = _dataset(data, 24, seed=0, split="train")
    test = _dataset(data, 12, seed=1, split="test")
    write_manifest(data / "manifest.jsonl", train + test)
    config = ForensicTrainConfig(
        manifest=str(data / "manifest.jsonl"),
        out=str(tmp_path / "run"),
        steps=120,
        batch_size=16,
        patch=48,
        lr=3e-3,
        warmup=10,
        jpeg_probability=0.0,
        save_every=60,
        model=ForensicConfig(width=8, depth=2),
    )
    config.steps = 60
    train_forensic(config, progress=False)  # stops at 60: a "killed" run
    config.steps = 120
    folder = train_forensic(config, progress=False)
    log = (tmp_path / "run" / "log.jsonl").read_text().splitlines()
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in log]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) == 6  # resumed, not redone
    model, info = load_forensic(folder)
    assert info["training"]["fakes"] == 24
    scores, labels = [], []
    for sample in test:
        rgb = cv2.cvtColor(cv2.imread(str(data / sample.path)), cv2.COLOR_BGR2RGB)
        scores.append(face_score(predict_map(model, rgb), None, 0.02))
        labels.append(sample.label == "fake")
    assert roc_auc_score(labels, scores) > 0.85
    # The map points at the edit: inside the mask it is higher than outside.
    fake = test[1]
    rgb = cv2.cvtColor(cv2.imread(str(data / fake.path)), cv2.COLOR_BGR2RGB)
    mask = cv2.imread(str(data / fake.mask_path), cv2.IMREAD_GRAYSCALE) > 0
    logits = predict_map(model, rgb)
    assert logits[mask].mean() > logits[~mask].mean()


@pytest.mark.parametrize("name", ["blur", "resize", "denoise"])
def test_benign_operations_keep_the_patch_size_and_remove_texture(name) -> None:
    from opendfa.train.forensic import benign

    rng = np.random.default_rng(0)
    patch = _photo(rng)[:64, :64]
    out = benign(patch, rng, name)
    assert out.shape == patch.shape and out.dtype == np.uint8
    high_pass = lambda rgb: np.abs(np.diff(rgb.astype(np.float32), axis=1)).mean()  # noqa: E731
    assert high_pass(out) < high_pass(patch)  # the fine texture an honest photo loses


def test_benign_patches_keep_their_labels(tmp_path: Path, monkeypatch) -> None:
    from opendfa.data.manifest import read_manifest
    from opendfa.train import forensic
    from opendfa.train.forensic import PatchPool

    # An operation that draws nothing from the generator, so both runs cut the same patches.
    monkeypatch.setattr(forensic, "benign", lambda rgb, rng: 255 - rgb)

    data = tmp_path / "d"
    data.mkdir()
    write_manifest(data / "m.jsonl", _dataset(data, 4, seed=0, split="train"))
    manifest = read_manifest(data / "m.jsonl")
    pool = PatchPool.from_samples(manifest.samples, manifest, ("face_editing",), 100)
    config = ForensicTrainConfig(patch=48, benign_probability=1.0, jpeg_probability=0.0)
    plain = ForensicTrainConfig(patch=48, benign_probability=0.0, jpeg_probability=0.0)
    pixels, labels = pool.draw(np.random.default_rng(3), 8, config)
    same_pixels, same_labels = pool.draw(np.random.default_rng(3), 8, plain)
    assert torch.equal(labels, same_labels)  # where a patch was cut and what it is: unchanged
    assert not torch.equal(pixels, same_pixels)  # only its pixels went through the operation
