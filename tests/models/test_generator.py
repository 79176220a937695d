"""The face VAE: shapes and ranges, batch independence, gradients in z, safe save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from opendfa.models.generator import (
    SHIPPED,
    FaceVAE,
    GeneratorConfig,
    images_to_tensor,
    load_generator,
    tensor_to_images,
)

TINY = GeneratorConfig(image_size=32, latent_dim=16, base_channels=8, max_channels=16, groups=4)


@pytest.fixture
def tiny() -> FaceVAE:
    torch.manual_seed(0)
    return FaceVAE(TINY).eval()


def test_encode_and_decode_give_latents_and_images_in_range(tiny):
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        mu, logvar = tiny.encode(x)
        out = tiny.decode(mu)
    assert mu.shape == logvar.shape == (3, 16)
    assert out.shape == (3, 3, 32, 32)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_wrong_input_shapes_are_rejected(tiny):
    with pytest.raises(ValueError, match="crops of shape"):
        tiny.encode(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="z of shape"):
        tiny.decode(torch.rand(1, 15))


def test_config_rejects_sizes_that_are_not_powers_of_two():
    with pytest.raises(ValueError, match="power of two"):
        GeneratorConfig(image_size=48)
    assert GeneratorConfig(image_size=128).channels == [16, 32, 64, 96, 96]


def test_outputs_do_not_depend_on_the_rest_of_the_batch(tiny):
    z = torch.randn(4, 16)
    assert torch.allclose(tiny.decode(z)[:1], tiny.decode(z[:1]), atol=1e-5)


def test_decoder_gradient_in_z_is_finite_and_nonzero(tiny):
    z = torch.randn(2, 16, requires_grad=True)
    tiny.decode(z)[:, 0].mean().backward()
    assert torch.isfinite(z.grad).all()
    assert float(z.grad.abs().sum()) > 0


def test_sampling_is_reproducible_from_a_numpy_seed(tiny):
    a = tiny.sample(2, np.random.default_rng(5), truncation=0.7)
    b = tiny.sample(2, np.random.default_rng(5), truncation=0.7)
    c = tiny.sample(2, np.random.default_rng(6), truncation=0.7)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_fitted_prior_samples_where_the_codes_lie(tiny):
    rng = torch.Generator().manual_seed(0)
    codes = 3.0 + 0.5 * torch.randn(500, 16, generator=rng)
    tiny.fit_prior(codes, shrinkage=0.0)
    z = tiny.sample_latents(2000, np.random.default_rng(0))
    assert torch.allclose(z.mean(0), torch.full((16,), 3.0), atol=0.1)
    assert torch.allclose(z.std(0), torch.full((16,), 0.5), atol=0.1)
    assert float(tiny.sample_latents(2000, np.random.default_rng(0), 0.5).std(0).mean()) < 0.3


def test_perturb_moves_from_the_code_to_a_prior_sample(tiny):
    tiny.fit_prior(torch.randn(200, 16, generator=torch.Generator().manual_seed(1)) + 1.0)
    mu = torch.randn(1, 16)
    eps = tiny.sample_noise(1, np.random.default_rng(2))
    assert torch.allclose(tiny.perturb(mu, eps, 0.0), mu, atol=1e-5)
    assert torch.allclose(tiny.perturb(mu, eps, 1.0), tiny.prior_latents(eps), atol=1e-5)
    halfway = tiny.perturb(mu, eps, 0.6)
    assert not torch.allclose(halfway, mu) and not torch.allclose(halfway, tiny.prior_latents(eps))


def test_save_and_load_round_trip_gives_equal_outputs(tiny, tmp_path):
    tiny.fit_prior(torch.randn(50, 16))
    path = tiny.save(tmp_path / "g.safetensors", metadata={"name": "tiny", "config": "ignored"})
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["name"] == "tiny"
    assert info["config"]["latent_dim"] == 16  # metadata cannot override the real config
    loaded = FaceVAE.load(path)
    z = torch.randn(3, 16)
    assert torch.equal(loaded.decode(z), tiny.decode(z))
    assert torch.equal(loaded.latent_scale, tiny.latent_scale)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(loaded.encode(x)[0], tiny.encode(x)[0])


def test_load_refuses_weights_that_do_not_match_their_sha256(tiny, tmp_path):
    path = tiny.save(tmp_path / "g.safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="sha256"):
        FaceVAE.load(path)


def test_a_json_without_sha256_still_loads(tiny, tmp_path):
    """Generators saved before the sha256 was recorded load unchecked."""
    path = tiny.save(tmp_path / "g.safetensors")
    info_path = path.with_suffix(".json")
    info = json.loads(info_path.read_text())
    assert info["weights_sha256"]
    del info["weights_sha256"]
    info_path.write_text(json.dumps(info))
    assert FaceVAE.load(path).config == tiny.config


def test_image_conversions_round_trip():
    images = np.random.default_rng(0).integers(0, 256, size=(2, 8, 8, 3), dtype=np.uint8)
    tensor = images_to_tensor(images)
    assert tensor.shape == (2, 3, 8, 8) and tensor.dtype == torch.float32
    assert np.array_equal(tensor_to_images(tensor), images)
    with pytest.raises(ValueError, match="uint8"):
        images_to_tensor(images.astype(np.float32))


def test_shipped_generator_loads_and_fits_the_size_budget():
    assert SHIPPED.exists(), "run scripts/train_generator.py"
    assert SHIPPED.stat().st_size <= 5 * 1024 * 1024
    model = load_generator()
    info = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert model.image_size == info["config"]["image_size"] == 64
    assert info["data"]["identities"] > 50
    assert info["final_losses"]["l1"] < 0.2
