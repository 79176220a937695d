"""Training the face VAE: the loss falls, runs resume exactly, losses honour the valid mask."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest
import torch

from opendfa.models.generator import GeneratorConfig
from opendfa.train.generator import (
    Augmentation,
    FaceCrops,
    GeneratorTrainConfig,
    augment,
    evaluate_generator,
    gradient_loss,
    masked_l1,
    prepare_crops,
    ssim,
    train_generator,
)

TINY = GeneratorConfig(image_size=32, latent_dim=16, base_channels=8, max_channels=16, groups=4)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models train fastest on one thread (and many times faster on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _toy_faces(count: int = 8, size: int = 32) -> FaceCrops:
    """Face-like drawings: a skin ellipse, two eyes and a mouth on a coloured background."""
    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        image = np.full((size, size, 3), rng.integers(0, 256, 3), dtype=np.uint8)
        skin = tuple(int(v) for v in rng.integers(120, 240, 3))
        centre = (size // 2 + int(rng.integers(-2, 3)), size // 2)
        cv2.ellipse(image, centre, (size // 3, size * 2 // 5), 0, 0, 360, skin, -1)
        for dx in (-5, 5):
            cv2.circle(image, (centre[0] + dx, centre[1] - 3), 2, (30, 30, 30), -1)
        cv2.line(
            image, (centre[0] - 4, centre[1] + 7), (centre[0] + 4, centre[1] + 7), (90, 20, 20)
        )
        images.append(image)
    names = [f"toy-{i}" for i in range(count)]
    return FaceCrops(np.stack(images), names, ["high"] * count, ["test"] * count)


def _config(epochs: int, **overrides) -> GeneratorTrainConfig:
    values = dict(
        epochs=epochs,
        batch_size=4,
        lr=3e-3,
        lr_final=3e-3,
        kl_warmup_epochs=5,
        augmentation=None,
        prior_copies=2,
    )
    return GeneratorTrainConfig(**{**values, **overrides})


def test_short_training_clearly_reduces_reconstruction_loss():
    crops = _toy_faces(4)
    result = train_generator(crops, _config(60), TINY, progress=False)
    first, last = result.history[0], result.history[-1]
    assert len(result.history) == 60
    assert last["l1"] < 0.6 * first["l1"]
    assert last["ssim"] > first["ssim"] + 0.2
    metrics = evaluate_generator(result.model, crops, samples=8)
    assert metrics["recon_l1"] < 0.6 * first["l1"]


def test_training_fits_the_sampling_prior_to_the_data_codes():
    crops = _toy_faces(4)
    model = train_generator(crops, _config(2), TINY, progress=False).model
    assert model.latent_mean.abs().sum() > 0
    assert not torch.equal(model.latent_scale, torch.eye(TINY.latent_dim))
    untouched = train_generator(crops, _config(2, prior_copies=0), TINY, progress=False).model
    assert torch.equal(untouched.latent_scale, torch.eye(TINY.latent_dim))


def test_same_seed_trains_to_identical_weights():
    crops = _toy_faces(4)
    a = train_generator(crops, _config(3, augmentation=Augmentation()), TINY, progress=False)
    b = train_generator(crops, _config(3, augmentation=Augmentation()), TINY, progress=False)
    for (name, p), q in zip(
        a.model.state_dict().items(), b.model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q), name


def test_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one(tmp_path):
    crops = _toy_faces(4)
    config = _config(4, augmentation=Augmentation(), checkpoint_every=1)
    straight = train_generator(crops, config, TINY, progress=False)
    checkpoint = tmp_path / "ckpt"
    first = train_generator(
        crops, config, TINY, checkpoint=checkpoint, stop_after=2, progress=False
    )
    assert len(first.history) == 2
    resumed = train_generator(crops, config, TINY, checkpoint=checkpoint, progress=False)
    assert resumed.resumed_from == 2
    assert [h["l1"] for h in resumed.history] == [h["l1"] for h in straight.history]
    for p, q in zip(
        straight.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(p, q)
    info = json.loads(checkpoint.with_suffix(".json").read_text())
    assert info["epoch"] == 4


def test_losses_ignore_pixels_outside_the_valid_mask():
    rng = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=rng)
    y = x.clone()
    y[..., :8] = torch.rand(2, 3, 32, 8, generator=rng)  # garbage in the left columns
    valid = torch.ones(2, 1, 32, 32)
    valid[..., :8] = 0
    assert float(masked_l1(x, y, valid)) == 0.0
    assert float(gradient_loss(x, y, valid)) == 0.0
    assert float(ssim(x, y, valid)) == pytest.approx(1.0, abs=1e-5)
    assert float(masked_l1(x, y)) > 0.01 and float(ssim(x, y)) < 0.99


def test_augmentation_is_seeded_and_marks_borrowed_pixels_invalid():
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    valid = torch.ones(4, 1, 32, 32)
    strong = Augmentation(rotation_deg=20, scale=0.2, shift=0.1)
    a, va = augment(x, valid, strong, torch.Generator().manual_seed(3))
    b, vb = augment(x, valid, strong, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(va, vb)
    assert a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert 0 < float(va.mean()) < 1  # rotated-in corners are no longer valid


def test_prepare_crops_aligns_once_and_then_reads_the_cache(
    tmp_path, face_detector, astronaut_path
):
    faces = tmp_path / "faces"
    (faces / "eileen-collins").mkdir(parents=True)
    shutil.copyfile(astronaut_path, faces / "eileen-collins" / "astronaut.jpg")
    entry = {"identity": "eileen-collins", "path": "eileen-collins/astronaut.jpg"}
    (faces / "faces.json").write_text(json.dumps({"faces": [{**entry, "quality": "high"}]}))
    crops = prepare_crops(faces, size=32, cache_dir=tmp_path / "cache", detector=face_detector)
    assert crops.images.shape == (1, 32, 32, 3) and crops.identities == ["eileen-collins"]
    assert crops.valid.all()

    class NoDetector:
        def detect(self, rgb):
            raise AssertionError("the cache should have been used")

    again = prepare_crops(faces, size=32, cache_dir=tmp_path / "cache", detector=NoDetector())
    assert np.array_equal(again.images, crops.images)


def test_train_generator_command_reports_a_missing_index(tmp_path, capsys):
    from opendfa.cli import main

    assert main(["train", "generator", "--faces", str(tmp_path), "--out", str(tmp_path / "g")]) == 2
    assert "no faces.json index" in capsys.readouterr().err
