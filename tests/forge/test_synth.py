"""Entire face synthesis: reproducible from its params, whole-image mask, usable for latent PGD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import opendfa.forge.synth as synth
from opendfa.faces import REGION_NAMES
from opendfa.forge.core import (
    FORGERY_METHODS,
    METHOD_CATEGORIES,
    FaceImage,
    ForgeryError,
    create_forgery,
)
from opendfa.forge.warp import RESAMPLING
from opendfa.models.generator import FaceVAE
from opendfa.taxonomy import ENTIRE_FACE_SYNTHESIS


@pytest.fixture(autouse=True)
def one_thread():
    """The small generator runs fastest on one thread (and many times faster on a busy CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def target(astronaut_rgb, astronaut_face) -> FaceImage:
    return FaceImage(rgb=astronaut_rgb, face=astronaut_face, identity="eileen-collins")


def test_method_is_registered_as_entire_face_synthesis():
    assert FORGERY_METHODS["entire_face_synthesis"] is synth.entire_face_synthesis
    assert METHOD_CATEGORIES["entire_face_synthesis"] == ENTIRE_FACE_SYNTHESIS


def test_forgery_is_a_whole_synthetic_image_with_an_all_ones_mask(target):
    forgery = create_forgery("entire_face_synthesis", target, seed=1, generator="vae")
    assert forgery.image.shape == (256, 256, 3) and forgery.image.dtype == np.uint8
    assert forgery.mask.dtype == np.float32 and forgery.mask.shape == (256, 256)
    assert np.all(forgery.mask == 1.0)
    assert forgery.category == ENTIRE_FACE_SYNTHESIS
    assert forgery.technique.startswith("opendfa.vae.generator-v1")
    assert forgery.regions == list(REGION_NAMES)
    assert forgery.target_identity == "eileen-collins" and forgery.source_identity is None
    assert forgery.image.std() > 5  # a picture, not a flat fill


def test_same_seed_gives_the_same_pixels_and_other_seeds_differ(target):
    a = create_forgery("entire_face_synthesis", target, seed=7)
    b = create_forgery("entire_face_synthesis", target, seed=7)
    c = create_forgery("entire_face_synthesis", target, seed=8, mode=a.params["mode"])
    assert np.array_equal(a.image, b.image) and a.params == b.params
    assert not np.array_equal(a.image, c.image)


def test_params_are_enough_to_redraw_a_sampled_face(target):
    forgery = create_forgery(
        "entire_face_synthesis", target, seed=3, mode="sample", truncation=0.6, generator="vae"
    )
    params = forgery.params
    assert params["mode"] == "sample" and params["truncation"] == 0.6
    assert params["output_size"] == 256 and params["interpolation"] in RESAMPLING
    assert params["generator_kind"] == "vae"
    generator = synth.cached_generator()
    z = generator.sample_latents(1, np.random.default_rng(params["z_seed"]), params["truncation"])
    redrawn = synth.decode_to_image(generator, z, 256, params["interpolation"])
    assert np.array_equal(redrawn, forgery.image)


def test_encode_mode_starts_from_the_target_face(target, hopper_path, face_detector):
    from opendfa.media import load_image

    hopper_rgb = load_image(hopper_path).rgb
    hopper = FaceImage(hopper_rgb, face_detector.detect(hopper_rgb)[0], "grace-hopper")
    kept = [
        create_forgery("entire_face_synthesis", t, seed=0, mode="encode", strength=0.0)
        for t in (target, hopper)
    ]
    assert kept[0].params["strength"] == 0.0
    assert np.abs(kept[0].image.astype(int) - kept[1].image.astype(int)).mean() > 5
    moved = create_forgery("entire_face_synthesis", target, seed=0, mode="encode", strength=0.7)
    assert not np.array_equal(moved.image, kept[0].image)


def test_random_mode_records_which_mode_it_chose(target):
    modes = {
        create_forgery(
            "entire_face_synthesis", target, seed=s, output_size=64, generator="vae"
        ).params["mode"]
        for s in range(8)
    }
    assert modes == {"sample", "encode"}


def test_output_size_is_honoured(target):
    forgery = create_forgery("entire_face_synthesis", target, seed=0, output_size=64)
    assert forgery.image.shape == (64, 64, 3) and forgery.params["interpolation"] == "none"


@pytest.mark.parametrize(
    "options", [{"mode": "dream"}, {"truncation": 0.0}, {"strength": 1.5}, {"output_size": 8}]
)
def test_bad_options_are_refused(target, options):
    with pytest.raises(ForgeryError):
        create_forgery("entire_face_synthesis", target, seed=0, **options)


def test_generator_supports_latent_pgd():
    """Gradients through G are finite and non-zero, and a few signed steps move the output."""
    generator = synth.cached_generator()
    z0 = generator.sample_latents(1, np.random.default_rng(0))
    z = z0.clone().requires_grad_(True)

    def objective(latent: torch.Tensor) -> torch.Tensor:  # a stand-in for a detector's loss
        return generator.decode(latent)[:, 0].mean()

    start = objective(z).item()
    for _ in range(5):
        z.grad = None
        objective(z).backward()
        assert torch.isfinite(z.grad).all() and float(z.grad.abs().sum()) > 0
        with torch.no_grad():
            z += 0.05 * z.grad.sign()
            z.copy_(z0 + (z - z0).clamp(-0.25, 0.25))  # project onto the L-inf ball
    assert objective(z).item() > start


def test_generator_save_load_round_trip_gives_equal_outputs(tmp_path):
    generator = synth.cached_generator()
    path = generator.save(tmp_path / "copy.safetensors", metadata={"name": "copy"})
    copy = FaceVAE.load(path)
    z = generator.sample_latents(3, np.random.default_rng(1))
    with torch.no_grad():
        assert torch.equal(copy.decode(z), generator.decode(z))
    assert synth.cached_generator(str(path)) is synth.cached_generator(str(path))


needs_dcgan = pytest.mark.skipif(
    synth.cached_dcgan() is None, reason="DCGAN weights absent (scripts/fetch_dcgan.py)"
)


@needs_dcgan
def test_dcgan_faces_are_recorded_and_reproducible(target):
    forgery = create_forgery("entire_face_synthesis", target, seed=2, generator="dcgan")
    again = create_forgery("entire_face_synthesis", target, seed=2, generator="dcgan")
    assert forgery.technique == "opendfa.dcgan.digiface1m"
    assert forgery.image.shape == (256, 256, 3) and forgery.image.dtype == np.uint8
    assert np.all(forgery.mask == 1.0) and forgery.regions == list(REGION_NAMES)
    params = forgery.params
    assert params["generator_kind"] == "dcgan" and params["mode"] == "sample"
    assert params["crop_size"] == 64 and params["interpolation"] in RESAMPLING
    assert np.array_equal(forgery.image, again.image) and params == again.params
    model = synth.cached_dcgan()
    z = model.sample_noise(1, np.random.default_rng(params["z_seed"]), params["truncation"])
    redrawn = synth.decode_to_image(model, z, 256, params["interpolation"])
    assert np.array_equal(redrawn, forgery.image)


@needs_dcgan
def test_both_generators_are_drawn_when_both_are_available(target):
    kinds = {
        create_forgery("entire_face_synthesis", target, seed=s, output_size=64).params[
            "generator_kind"
        ]
        for s in range(10)
    }
    assert kinds == {"vae", "dcgan"}
    with pytest.raises(ForgeryError, match="no encoder"):
        create_forgery("entire_face_synthesis", target, seed=0, generator="dcgan", mode="encode")
