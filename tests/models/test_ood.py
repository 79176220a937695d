"""The out-of-distribution score: its arithmetic, its files beside the detector, the bundled
statistics on real and stylised faces, and detectors without statistics or without the
features output."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from opendfa.faces import align_face
from opendfa.media import load_image
from opendfa.media.files import file_sha256
from opendfa.models.detector_base import FEATURES, MODELS_DIR, predict_crops
from opendfa.models.ood import OOD_FILE, OOD_INFO, OodStats, load_ood, save_ood
from stylised import cartoon

BUNDLED = MODELS_DIR / "opendfa-lite0"


def _stats(features: int = 6, dims: int = 2, **options) -> OodStats:
    rng = np.random.default_rng(0)
    basis, _ = np.linalg.qr(rng.normal(size=(features, dims)))
    return OodStats(
        mean=rng.normal(size=features).astype(np.float32),
        basis=basis.astype(np.float32),
        whiten=np.diag(np.arange(1.0, dims + 1)).astype(np.float32),
        centres=rng.normal(size=(3, dims)).astype(np.float32),
        threshold=2.5,
        classes=("a", "b", "c"),
        **options,
    )


def test_the_score_is_the_distance_to_the_nearest_class_mean_plus_the_residual():
    stats = _stats()
    x = np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32)
    white = (x - stats.mean) @ stats.basis @ stats.whiten
    nearest = np.min([((white - c) ** 2).sum(1) for c in stats.centres], axis=0)
    np.testing.assert_allclose(stats.score(x), np.sqrt(nearest), rtol=1e-5)
    # A class mean, mapped back to feature space, scores 0.
    centre = stats.centres[1] @ np.linalg.inv(stats.whiten) @ stats.basis.T + stats.mean
    assert stats.score(centre[None])[0] == pytest.approx(0, abs=1e-3)
    # Moving off the principal directions costs nothing without the residual term, and its
    # squared length times the weight with it.
    off = np.linalg.svd(stats.basis, full_matrices=True)[0][:, -1] * 3.0
    moved = (centre + off)[None].astype(np.float32)
    assert stats.score(moved)[0] == pytest.approx(0, abs=1e-3)
    weighted = _stats(residual_weight=0.5)
    assert weighted.score(moved)[0] == pytest.approx(np.sqrt(0.5 * 9.0), rel=1e-4)
    assert weighted.outside(2.6) and not weighted.outside(2.5)


def test_normalised_statistics_ignore_the_features_length():
    stats = _stats(normalise=True)
    x = np.random.default_rng(2).normal(size=(3, 6)).astype(np.float32)
    np.testing.assert_allclose(stats.score(x), stats.score(4 * x), rtol=1e-5)


def test_statistics_round_trip_and_refuse_other_weights_or_edited_files(tmp_path):
    stats = _stats(residual_weight=0.25)
    save_ood(tmp_path, stats, "ab" * 32, {"variant": "test"})
    loaded = load_ood(tmp_path, "ab" * 32)
    assert loaded is not None and loaded.info["variant"] == "test"
    assert loaded.threshold == 2.5 and loaded.classes == ("a", "b", "c")
    x = np.random.default_rng(3).normal(size=(4, 6)).astype(np.float32)
    np.testing.assert_array_equal(loaded.score(x), stats.score(x))
    assert load_ood(tmp_path, "cd" * 32) is None  # fitted on other weights
    assert load_ood(tmp_path / "elsewhere", "ab" * 32) is None
    with (tmp_path / OOD_FILE).open("ab") as handle:
        handle.write(b"\0")
    assert load_ood(tmp_path, "ab" * 32) is None  # edited since


def test_the_bundled_statistics_are_small_current_and_measured():
    info = json.loads((BUNDLED / OOD_INFO).read_text())
    config = json.loads((BUNDLED / "config.json").read_text())
    assert (BUNDLED / OOD_FILE).stat().st_size < 500 * 1024
    assert info["weights_sha256"] == config["weights_sha256"]
    assert info["sha256"] == file_sha256(BUNDLED / OOD_FILE)
    assert FEATURES in config["onnx"]["outputs"]
    stats = load_ood(BUNDLED, config["weights_sha256"])
    assert stats is not None and stats.threshold > 0
    assert info["data"]["threshold"]["split"] == "val" and info["val"]["auroc"]
    # Issue 25: grey copies of train and val images are in distribution, and the held-out
    # grey val copies of no category are flagged much more often than clean val faces.
    assert info["data"]["fit"]["grey_copies"] > 0 and info["data"]["threshold"]["grey_copies"]
    assert max(info["val"]["flagged_grey_held_out"].values()) <= 0.05


@pytest.fixture(scope="module")
def bundled():
    from opendfa.models.runtime import load_for_inference

    return load_for_inference()


@pytest.fixture(scope="module")
def sample_crops(face_detector, bundled):
    """The aligned crop of each bundled sample's face, as the analysis makes it."""
    crops = {}
    for path in sorted((MODELS_DIR.parent / "samples").glob("*.jpg")):
        rgb = load_image(path).rgb
        face = face_detector.detect(rgb)[0]
        config = bundled.config
        crops[path.stem] = align_face(
            rgb, face, size=config.input_size, margin=config.crop_margin
        ).crop
    return crops


def test_bundled_samples_are_inside_and_stylised_faces_score_higher(bundled, sample_crops):
    assert bundled.ood is not None
    names = sorted(sample_crops)
    real = np.stack([sample_crops[name] for name in names])
    scores = [p.ood_score for p in predict_crops(bundled, real)]
    assert all(score < bundled.ood.threshold for score in scores), dict(
        zip(names, scores, strict=True)
    )
    hopper = sample_crops["grace_hopper"]
    stylised = np.stack([cartoon(hopper), 255 - hopper, cartoon(255 - hopper)])
    drawn, inverted, both = (p.ood_score for p in predict_crops(bundled, stylised))
    hopper_score = scores[names.index("grace_hopper")]
    assert min(drawn, inverted, both) > hopper_score
    assert both > bundled.ood.threshold  # a cartoon of a negative is far outside


def _grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _patch(rgb: np.ndarray, side: int) -> np.ndarray:
    rgb = np.stack([rgb] * 3, axis=-1) if rgb.ndim == 2 else rgb[..., :3]
    return cv2.resize(rgb, (side, side), interpolation=cv2.INTER_AREA)


NON_FACE_PHOTOS = ("brick", "coffee", "grass", "gravel", "moon", "page", "text")


def test_grey_sample_faces_are_inside_and_non_face_patches_are_not(bundled, sample_crops):
    """Issue 25: grey scale alone does not put a face outside; patches of non-face photos
    (scikit-image's bundled ones, grey or colour) are, at least 80 % of them. A score with a
    threshold is statistical: with `opendfa-lite0@5`'s statistics the coffee cup scores 64.2
    against 65.4, so no single photo is required."""
    import skimage.data

    names = sorted(sample_crops)
    grey = np.stack([_grey(sample_crops[name]) for name in names])
    scores = [p.ood_score for p in predict_crops(bundled, grey)]
    assert max(scores) < bundled.ood.threshold, dict(zip(names, scores, strict=True))
    side = bundled.config.input_size
    patches = np.stack([_patch(getattr(skimage.data, name)(), side) for name in NON_FACE_PHOTOS])
    flagged = [p.ood_score > bundled.ood.threshold for p in predict_crops(bundled, patches)]
    assert sum(flagged) >= 0.8 * len(flagged), dict(zip(NON_FACE_PHOTOS, flagged, strict=True))


def test_a_grey_synthesised_face_is_inside(bundled, face_detector, hopper_path):
    """The bundled VAE's faces, whose colour copies alone the statistics once knew: a grey
    one scored 108 against the threshold of 68.6 then (issue 25)."""
    from opendfa.forge.core import FaceImage
    from opendfa.forge.synth import entire_face_synthesis

    rgb = load_image(hopper_path).rgb
    target = FaceImage(rgb, face_detector.detect(rgb)[0], "hopper")
    rng = np.random.default_rng(1)
    synthetic = entire_face_synthesis(
        target, None, rng, mode="sample", generator="vae", resample="cubic"
    ).image
    (face,) = face_detector.detect(synthetic)  # the grey copy: the same face, the same box
    config = bundled.config
    crops = [
        align_face(image, face, size=config.input_size, margin=config.crop_margin).crop
        for image in (synthetic, _grey(synthetic))
    ]
    colour, grey = (p.ood_score for p in predict_crops(bundled, np.stack(crops)))
    assert colour < bundled.ood.threshold and grey < bundled.ood.threshold, (colour, grey)


def test_torch_and_onnx_give_the_same_features_and_scores(bundled, sample_crops):
    from opendfa.models.detector import load_detector

    on_torch = load_detector()
    crops = np.stack(list(sample_crops.values()))
    for a, b in zip(predict_crops(on_torch, crops), predict_crops(bundled, crops), strict=True):
        assert a.features.shape == b.features.shape == (1280,)
        np.testing.assert_allclose(a.features, b.features, atol=1e-4)
        assert a.ood_score == pytest.approx(b.ood_score, rel=1e-3)


def test_a_detector_without_statistics_gives_features_but_no_score(tmp_path):
    from opendfa.models.detector import export_onnx, load_detector
    from opendfa.models.onnx_detector import load_onnx_detector
    from tiny_models import save_random_detector

    folder = save_random_detector(tmp_path / "plain")
    export_onnx(folder)
    crops = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    for loaded in (load_detector(folder), load_onnx_detector(folder)):
        assert loaded.ood is None
        for p in predict_crops(loaded, crops):
            assert p.features is not None and p.ood_score is None


def test_the_older_bundled_detector_has_no_statistics_and_still_predicts(sample_crops):
    from opendfa.models.runtime import load_for_inference

    older = load_for_inference("opendfa-lite0@1")  # no ONNX export: torch, no ood files
    assert older.ood is None
    crops = np.stack(list(sample_crops.values()))
    predictions = predict_crops(older, crops)
    assert len(predictions) == len(crops)
    assert all(p.ood_score is None and p.features is not None for p in predictions)


def test_an_export_without_the_features_output_still_runs(tmp_path, bundled):
    """A folder exported before the features were an output: its crops get no score, even
    with statistics beside it."""
    import onnx

    from opendfa.models.detector import export_onnx
    from opendfa.models.onnx_detector import load_onnx_detector
    from tiny_models import save_random_detector

    folder = save_random_detector(tmp_path / "old")
    export_onnx(folder)
    graph = onnx.load(str(folder / "model.onnx"))
    kept = [output for output in graph.graph.output if output.name != FEATURES]
    del graph.graph.output[:]
    graph.graph.output.extend(kept)
    onnx.save(graph, str(folder / "model.onnx"))
    info = json.loads((folder / "config.json").read_text())
    info["onnx"]["sha256"] = file_sha256(folder / "model.onnx")
    (folder / "config.json").write_text(json.dumps(info))
    save_ood(folder, bundled.ood, info["weights_sha256"], {})  # 1280 features, as lite0's
    loaded = load_onnx_detector(folder)
    assert not loaded.has_features and loaded.ood is not None
    crops = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert all(p.features is None and p.ood_score is None for p in predict_crops(loaded, crops))
