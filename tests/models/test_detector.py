"""The multi-task detector: output shapes, safe save/load with sha256, batched crop inference."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from opendfa.faces.regions import REGION_NAMES
from opendfa.models import detector_base
from opendfa.models.detector import (
    DetectorConfig,
    DetectorNotFoundError,
    MultiTaskDetector,
    load_detector,
    predict_crops,
    save_detector,
)
from opendfa.taxonomy import CATEGORIES

SMALL = DetectorConfig(input_size=64, mask_size=8, embedding_dim=16)


@pytest.fixture(scope="module")
def model() -> MultiTaskDetector:
    torch.manual_seed(0)
    return MultiTaskDetector(SMALL, pretrained=False).eval()


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "tiny-det"
    save_detector(model, folder, temperature=2.0, metrics={"val": {"auc": 0.5}})
    return folder


def test_outputs_have_the_documented_shapes(model):
    with torch.no_grad():
        out = model(torch.rand(3, 3, 64, 64))
    assert out.logit.shape == (3,)
    assert out.category_logits.shape == (3, len(CATEGORIES)) == (3, 5)
    assert out.mask_logits.shape == (3, 1, 8, 8)
    assert out.region_logits.shape == (3, len(REGION_NAMES)) == (3, 12)
    assert out.embedding.shape == (3, 16)
    assert torch.allclose(out.embedding.norm(dim=1), torch.ones(3), atol=1e-5)


def test_outputs_do_not_depend_on_the_rest_of_the_batch_in_eval_mode(model):
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        together = model(x).logit
        alone = torch.cat([model(x[i : i + 1]).logit for i in range(4)])
    assert torch.allclose(together, alone, atol=1e-5)


def test_bad_input_shapes_are_rejected(model):
    with pytest.raises(ValueError, match=r"\(B, 3, S, S\)"):
        model(torch.rand(3, 64, 64))


def test_config_rejects_sizes_the_backbone_cannot_take():
    with pytest.raises(ValueError, match="multiple of 32"):
        DetectorConfig(input_size=100)


def test_save_and_load_give_identical_outputs_and_record_the_sha256(model, saved):
    loaded = load_detector(saved)
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        before, after = model(x), loaded.model(x)
    for field in ("logit", "category_logits", "mask_logits", "region_logits", "embedding"):
        assert torch.equal(getattr(before, field), getattr(after, field))
    weights = (saved / "model.safetensors").read_bytes()
    assert loaded.weights_sha256 == hashlib.sha256(weights).hexdigest()
    info = json.loads((saved / "config.json").read_text())
    assert info["weights_sha256"] == loaded.weights_sha256
    assert info["categories"] == list(CATEGORIES) and info["regions"] == list(REGION_NAMES)
    assert loaded.name == "tiny-det@1"
    assert loaded.temperature == 2.0 and loaded.metrics == {"val": {"auc": 0.5}}
    assert loaded.config == SMALL and not loaded.model.training


def test_tampered_weights_are_refused(model, tmp_path):
    folder = save_detector(model, tmp_path / "det")
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="do not match the sha256"):
        load_detector(folder)


def test_missing_default_model_gives_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setattr(detector_base, "MODELS_DIR", tmp_path)  # where bundled models live
    with pytest.raises(DetectorNotFoundError) as err:
        load_detector()
    message = str(err.value)
    assert "opendfa-lite0" in message and "not installed" in message and "\n" not in message
    with pytest.raises(DetectorNotFoundError, match="no detector at"):
        load_detector(tmp_path / "nowhere")


def test_predict_crops_gives_calibrated_probabilities_masks_and_regions(saved):
    loaded = load_detector(saved)
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(5, 80, 80, 3), dtype=np.uint8)  # resized to 64 inside
    predictions = predict_crops(loaded, crops, batch_size=2)
    assert len(predictions) == 5
    for prediction in predictions:
        assert 0.0 <= prediction.fake_probability <= 1.0
        expected = 1.0 / (1.0 + np.exp(-prediction.logit / 2.0))  # temperature 2
        assert prediction.fake_probability == pytest.approx(expected, rel=1e-5)
        assert set(prediction.category_probabilities) == set(CATEGORIES)
        assert sum(prediction.category_probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.category in CATEGORIES
        assert prediction.mask.shape == (80, 80) and prediction.mask.dtype == np.float32
        assert 0.0 <= prediction.mask.min() <= prediction.mask.max() <= 1.0
        assert set(prediction.region_scores) == set(REGION_NAMES)
        assert all(0.0 <= v <= 1.0 for v in prediction.region_scores.values())
    same_size = predict_crops(loaded, crops[:, :64, :64])
    assert same_size[0].mask.shape == (64, 64)
    assert predict_crops(loaded, np.zeros((0, 64, 64, 3), np.uint8)) == []


def test_predict_crops_rejects_non_uint8_or_non_square_crops(saved):
    loaded = load_detector(saved)
    with pytest.raises(ValueError, match="uint8"):
        predict_crops(loaded, np.zeros((1, 64, 64, 3), np.float32))
    with pytest.raises(ValueError, match="square RGB"):
        predict_crops(loaded, np.zeros((1, 64, 48, 3), np.uint8))
