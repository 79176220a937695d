"""The detector's ONNX export and its torch-free runtime: the same numbers as torch on real
face crops, a verified export, and a quiet fall-back to torch when the export is not current."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from opendfa.faces import align_face
from opendfa.media.files import file_sha256
from opendfa.models.detector import (
    MODELS_DIR,
    ONNX_FILE,
    LoadedDetector,
    MultiTaskDetector,
    export_onnx,
    forward_with_features,
    load_detector,
    predict_crops,
    save_detector,
)
from opendfa.models.detector_base import resize_crops
from opendfa.models.onnx_detector import OnnxDetector, OnnxUnavailable, load_onnx_detector
from opendfa.models.runtime import load_for_inference
from tiny_models import save_random_detector

pytest.importorskip("onnxruntime")
BUNDLED = MODELS_DIR / "opendfa-lite0"


@pytest.fixture(scope="module")
def bundled_copy(tmp_path_factory):
    """The bundled detector's weights and config in a folder of their own, exported here (the
    published `model.onnx` may lag behind newly published weights)."""
    folder = tmp_path_factory.mktemp("onnx") / "lite0"
    folder.mkdir()
    for name in ("model.safetensors", "config.json"):
        shutil.copyfile(BUNDLED / name, folder / name)
    export_onnx(folder)
    return folder


@pytest.fixture(scope="module")
def boundary_model(tmp_path_factory):
    """A random 64 px detector with the boundary head, saved and exported."""
    folder = tmp_path_factory.mktemp("onnx") / "boundary"
    save_random_detector(folder, temperature=1.7, boundary_head=True)
    export_onnx(folder)
    return folder


@pytest.fixture(scope="module")
def face_crops(face_detector, astronaut_rgb, hopper_path):
    """Aligned crops of two real faces and a mirror image, at 160 px (the bundled model's
    size), 224 px (resized down) and 96 px (resized up)."""
    from opendfa.media import load_image

    hopper = load_image(hopper_path).rgb
    faces = [(rgb, face_detector.detect(rgb)[0]) for rgb in (astronaut_rgb, hopper)]
    crops = {}
    for side in (160, 224, 96):
        aligned = [align_face(rgb, face, size=side, margin=0.25).crop for rgb, face in faces]
        crops[side] = np.stack([*aligned, aligned[0][:, ::-1]])
    return crops


def _assert_same(torch_predictions, onnx_predictions):
    assert len(torch_predictions) == len(onnx_predictions)
    for a, b in zip(torch_predictions, onnx_predictions, strict=True):
        assert b.fake_probability == pytest.approx(a.fake_probability, abs=1e-4)
        assert b.logit == pytest.approx(a.logit, abs=1e-3)
        assert list(b.category_probabilities) == list(a.category_probabilities)
        for name, p in a.category_probabilities.items():
            assert b.category_probabilities[name] == pytest.approx(p, abs=1e-4)
        assert list(b.region_scores) == list(a.region_scores)
        for name, score in a.region_scores.items():
            assert b.region_scores[name] == pytest.approx(score, abs=1e-4)
        assert b.mask.dtype == np.float32 and b.mask.shape == a.mask.shape
        assert float(np.abs(b.mask - a.mask).max()) <= 1e-3
        assert b.category == a.category


@pytest.mark.parametrize("flip_tta", [False, True])
@pytest.mark.parametrize("side", [160, 224, 96])
def test_onnx_predictions_match_torch_on_real_faces(bundled_copy, face_crops, side, flip_tta):
    torch_model, onnx_model = load_detector(bundled_copy), load_onnx_detector(bundled_copy)
    torch_model.config.flip_tta = onnx_model.config.flip_tta = flip_tta
    crops = face_crops[side]
    _assert_same(predict_crops(torch_model, crops), predict_crops(onnx_model, crops))
    # Batches are independent: one crop at a time gives the same numbers.
    _assert_same(predict_crops(onnx_model, crops), predict_crops(onnx_model, crops, batch_size=1))


@pytest.mark.parametrize("flip_tta", [False, True])
def test_onnx_export_with_the_boundary_head_matches_torch(boundary_model, face_crops, flip_tta):
    torch_model, onnx_model = load_detector(boundary_model), load_onnx_detector(boundary_model)
    assert onnx_model.temperature == torch_model.temperature == 1.7
    torch_model.config.flip_tta = onnx_model.config.flip_tta = flip_tta
    _assert_same(
        predict_crops(torch_model, face_crops[96]), predict_crops(onnx_model, face_crops[96])
    )
    # Every raw output, the boundary map, the embedding and the pooled features included, at
    # any batch size.
    images = torch.from_numpy(face_crops[96][:, 16:80, 16:80].copy()).permute(0, 3, 1, 2) / 255.0
    with torch.no_grad():
        expected, features = forward_with_features(torch_model.model, images)
    names = [o.name for o in onnx_model.session.get_outputs()]
    assert names == [
        "logit",
        "category_logits",
        "mask_logits",
        "region_logits",
        "embedding",
        "boundary_logits",
        "features",
    ]
    got = onnx_model.session.run(names, {"images": images.numpy()})
    for name, value in zip(names, got, strict=True):
        want = features if name == "features" else getattr(expected, name)
        np.testing.assert_allclose(value, want.numpy(), atol=1e-4)


def test_the_steps_after_the_network_give_torch_s_own_numbers(boundary_model, face_crops):
    """Temperature, sigmoid, softmax and the mask's bilinear upsampling are written once, in
    NumPy, for both runtimes: on the torch model they match torch's functions within 1e-6."""
    loaded = load_detector(boundary_model)
    crops = face_crops[96]
    images = torch.from_numpy(resize_crops(crops, 64)).permute(0, 3, 1, 2).float() / 255.0
    with torch.no_grad():
        out = loaded.model(images)
    masks = torch.nn.functional.interpolate(
        torch.sigmoid(out.mask_logits), size=(96, 96), mode="bilinear", align_corners=False
    )
    predictions = predict_crops(loaded, crops)
    for i, p in enumerate(predictions):
        expected = float(torch.sigmoid(out.logit[i] / loaded.temperature))
        assert p.fake_probability == pytest.approx(expected, abs=1e-6)
        categories = torch.softmax(out.category_logits[i], 0).tolist()
        np.testing.assert_allclose(list(p.category_probabilities.values()), categories, atol=1e-6)
        regions = torch.sigmoid(out.region_logits[i]).tolist()
        np.testing.assert_allclose(list(p.region_scores.values()), regions, atol=1e-6)
        np.testing.assert_allclose(p.mask, masks[i, 0].numpy(), atol=1e-6)


def test_export_records_the_file_and_its_weights_and_is_reproducible(boundary_model):
    info = json.loads((boundary_model / "config.json").read_text())
    record = info["onnx"]
    assert record["file"] == ONNX_FILE
    assert record["sha256"] == file_sha256(boundary_model / ONNX_FILE)
    assert record["weights_sha256"] == info["weights_sha256"]
    export_onnx(boundary_model)  # the same weights give the same file
    assert json.loads((boundary_model / "config.json").read_text())["onnx"] == record
    loaded = load_onnx_detector(boundary_model)
    assert loaded.weights_sha256 == info["weights_sha256"] and loaded.name == "boundary@1"


def _copy(folder, tmp_path):
    target = tmp_path / folder.name
    shutil.copytree(folder, target)
    return target


def test_load_for_inference_prefers_a_current_export_on_the_cpu(boundary_model, tmp_path):
    folder = _copy(boundary_model, tmp_path)
    assert isinstance(load_for_inference(folder), OnnxDetector)
    assert isinstance(load_for_inference(folder, backend="torch"), LoadedDetector)
    with pytest.raises(ValueError, match="backend"):
        load_for_inference(folder, backend="tensorrt")


@pytest.mark.parametrize("damage", ["missing", "edited", "unrecorded", "new_weights", "weights"])
def test_a_missing_or_stale_export_falls_back_to_torch_quietly(boundary_model, tmp_path, damage):
    folder = _copy(boundary_model, tmp_path)
    info = json.loads((folder / "config.json").read_text())
    if damage == "missing":
        (folder / ONNX_FILE).unlink()
    elif damage == "edited":
        with (folder / ONNX_FILE).open("ab") as handle:
            handle.write(b"\0")
    elif damage == "unrecorded":  # a published config.json written without the export step
        del info["onnx"]
        (folder / "config.json").write_text(json.dumps(info))
    elif damage == "new_weights":  # saved again: the old export is removed
        torch.manual_seed(1)
        save_detector(MultiTaskDetector(load_detector(folder).config, pretrained=False), folder)
        assert not (folder / ONNX_FILE).exists()
    else:  # the weights file swapped under a config that still names the old weights
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-4] + b"\0\0\0\0")
    with pytest.raises(OnnxUnavailable):
        load_onnx_detector(folder)
    with pytest.raises(OnnxUnavailable):
        load_for_inference(folder, backend="onnx")
    if damage == "weights":  # torch refuses these weights itself, with its own error
        with pytest.raises(ValueError, match="sha256"):
            load_for_inference(folder)
    else:
        assert isinstance(load_for_inference(folder), LoadedDetector)


def test_onnx_runs_on_the_cpu_only(boundary_model):
    with pytest.raises(OnnxUnavailable, match="CPU"):
        load_for_inference(boundary_model, device="cuda", backend="onnx")


def test_bundled_detector_has_a_current_onnx_export():
    """`analyze` reads the bundled model without torch only if its export is current: after
    publishing new weights, run `opendfa.models.detector.export_onnx(folder)`."""
    loaded = load_onnx_detector()
    assert (
        loaded.weights_sha256 == json.loads((BUNDLED / "config.json").read_text())["weights_sha256"]
    )
