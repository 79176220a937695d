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


FLOW = (1.5, 0.5)  # the backward displacement (px) at the centre of every warped disc


def _warped(rgb: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A local warp: a disc whose pixels are read from (x + dx, y + dy) with a smooth falloff,
    bilinear; its mask and its backward flow (H, W, 2), as the forge records them."""
    centre = rng.integers(36, SIDE - 36, 2).astype(np.float32)
    radius = float(rng.integers(18, 28))
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    weight = np.clip(1 - np.hypot(xs - centre[0], ys - centre[1]) / radius, 0, 1) ** 0.5
    flow = np.stack([FLOW[0] * weight, FLOW[1] * weight], axis=2).astype(np.float32)
    out = cv2.remap(rgb, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR)
    return out, (weight > 0.05).astype(np.uint8) * 255, flow


def _warp_dataset(root: Path, count: int, seed: int, split: str) -> list[Sample]:
    """Reals and warped fakes with their flows (`meta.flow_path`), plus one fake without."""
    rng = np.random.default_rng(seed)
    (root / "flow").mkdir(exist_ok=True)
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
        fake, mask, flow = _warped(rgb, rng)
        cv2.imwrite(str(root / f"{identity}-fake.png"), cv2.cvtColor(fake, cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(root / f"{identity}-mask.png"), mask)
        np.savez_compressed(root / "flow" / f"{identity}.npz", flow=flow.astype(np.float16))
        samples.append(
            Sample(
                f"{identity}-f",
                f"{identity}-fake.png",
                "fake",
                "face_editing",
                "test.warp",
                identity,
                split=split,
                mask_path=f"{identity}-mask.png",
                meta={"flow_path": f"flow/{identity}.npz"},
            )
        )
    return samples


def test_patches_carry_their_flow_mirrored_with_the_pixels(tmp_path: Path) -> None:
    from opendfa.data.manifest import read_manifest
    from opendfa.train.forensic import PatchPool

    data = tmp_path / "d"
    data.mkdir()
    samples = _warp_dataset(data, 3, seed=0, split="train")
    samples[-1].meta = {}  # a fake whose flow is unknown (a swap, say)
    write_manifest(data / "m.jsonl", samples)
    manifest = read_manifest(data / "m.jsonl")
    pool = PatchPool.from_samples(manifest.samples, manifest, ("face_editing",), 100)
    assert [f is None for f in pool.flows] == [False, False, False, False, False, True]
    config = ForensicTrainConfig(patch=48, positive_share=1.0, jpeg_probability=0.0)
    pixels, _, targets, known = pool.draw_with_flow(np.random.default_rng(0), 64, config)
    assert pixels.shape == (64, 3, 48, 48) and targets.shape == (64, 2, 48, 48)
    reals = torch.arange(64) % 2 == 0
    assert known[reals].eq(1).all() and targets[reals].eq(0).all()  # nothing moved in a real
    warped = (known == 1) & ~reals
    assert 0 < warped.sum() < (~reals).sum()  # the unknown fake is drawn too, and not trusted
    dx = targets[warped, 0].flatten()
    dy = targets[warped, 1].flatten()
    moving = dy > 0.25
    # dy is never mirrored; dx keeps its direction or is negated with a mirrored patch.
    assert moving.any() and (dx[moving] > 0).any() and (dx[moving] < 0).any()
    assert torch.allclose(dx[moving].abs(), 3 * dy[moving], atol=0.02)


@pytest.mark.slow
def test_the_flow_head_learns_where_and_which_way_pixels_moved(tmp_path: Path) -> None:
    from opendfa.models.forensic import predict_flow
    from opendfa.train.forensic import end_point_error

    data = tmp_path / "data"
    data.mkdir()
    train = _warp_dataset(data, 24, seed=0, split="train")
    test = _warp_dataset(data, 8, seed=1, split="test")
    write_manifest(data / "manifest.jsonl", train + test)
    config = ForensicTrainConfig(
        manifest=str(data / "manifest.jsonl"),
        out=str(tmp_path / "run"),
        steps=200,
        batch_size=16,
        patch=48,
        lr=3e-3,
        warmup=10,
        jpeg_probability=0.0,
        flow_weight=2.0,
        save_every=100,
        model=ForensicConfig(width=8, depth=2, flow_head=True),
    )
    model, _ = load_forensic(train_forensic(config, progress=False))
    predicted_error, zero_error, real_error = [], [], []
    for real, fake in zip(test[::2], test[1::2], strict=True):
        rgb = cv2.cvtColor(cv2.imread(str(data / fake.path)), cv2.COLOR_BGR2RGB)
        truth = np.load(data / fake.meta["flow_path"])["flow"].astype(np.float32)
        moved = np.linalg.norm(truth, axis=2) > 0.5
        predicted_error.append(end_point_error(predict_flow(model, rgb), truth, moved))
        zero_error.append(end_point_error(np.zeros_like(truth), truth, moved))
        plain = cv2.cvtColor(cv2.imread(str(data / real.path)), cv2.COLOR_BGR2RGB)
        still = np.ones(plain.shape[:2], bool)
        real_error.append(end_point_error(predict_flow(model, plain), np.zeros_like(truth), still))
    # Better than "nothing moved" where it moved, and near zero on an untouched photo.
    assert np.mean(predicted_error) < 0.8 * np.mean(zero_error)
    assert np.mean(real_error) < 0.5
