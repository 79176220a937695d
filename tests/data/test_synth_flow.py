"""`opendfa data synth` writes each warp's flow beside its mask, and that flow is the applied
one: the real photo warped by it gives the fake back."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from opendfa.data import read_manifest
from opendfa.data.sample import Sample, load_flow
from opendfa.data.synth import SynthConfig, synthesize
from opendfa.forge.edit import GEOMETRIC_EDITS
from opendfa.forge.warp import apply_flow


@pytest.fixture(scope="module")
def flow_run(tmp_path_factory, astronaut_path, hopper_path, group_photos, face_detector):
    faces = tmp_path_factory.mktemp("flow-faces")
    for path in (astronaut_path, hopper_path, group_photos["sample3.jpg"]):
        shutil.copy(path, faces / path.name)  # three loose photos, three identities
    out = tmp_path_factory.mktemp("flow-synth")
    config = SynthConfig(
        methods=("face_reenactment", "face_editing"),
        per_face=2,
        seed=3,
        degrade_probability=0.0,  # the pixel check below needs the forge's own output
    )
    synthesize(faces, out, config, detector=face_detector)
    return out, read_manifest(out / "manifest.jsonl")


def _rgb(manifest, relative: str) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(manifest.resolve(relative))), cv2.COLOR_BGR2RGB)


def _warps(sample: Sample) -> bool:
    edits = sample.meta["params"].get("edits", {})
    return sample.meta["method"] == "face_reenactment" or bool(set(edits) & set(GEOMETRIC_EDITS))


def test_flows_are_written_for_warps_only_with_the_images_shape(flow_run):
    out, manifest = flow_run
    assert manifest.problems == [] and len(manifest.samples) == 3 * (1 + 2 * 2)
    written = sorted(p.relative_to(out).as_posix() for p in (out / "flow").glob("*.npz"))
    assert written == sorted(s.meta["flow_path"] for s in manifest.samples if "flow_path" in s.meta)
    for sample in manifest.samples:
        flow = load_flow(sample, manifest.root)
        assert (flow is not None) == _warps(sample), sample.id
        if flow is None:
            assert "flow_max_px" not in sample.meta.get("params", {})
            continue
        assert sample.meta["flow_path"] == f"flow/{sample.id}.npz"
        with np.load(out / sample.meta["flow_path"]) as stored:
            assert list(stored) == ["flow"] and stored["flow"].dtype == np.float16
        image = _rgb(manifest, sample.path)
        assert flow.shape == (*image.shape[:2], 2) and flow.dtype == np.float32
        magnitude = np.hypot(flow[..., 0], flow[..., 1])
        assert sample.meta["params"]["flow_max_px"] == pytest.approx(magnitude.max(), abs=0.02)
        mask = cv2.imread(str(manifest.resolve(sample.mask_path)), cv2.IMREAD_GRAYSCALE)
        assert (mask[magnitude > 0] > 0).all()  # nonzero only where the mask is


def test_the_real_photo_warped_by_the_flow_gives_the_fake(flow_run):
    _, manifest = flow_run
    reals = {s.target_identity: s for s in manifest.samples if s.label == "real"}
    checked = 0
    for sample in manifest.samples:
        params = sample.meta.get("params", {})
        if not _warps(sample) or set(params.get("edits", {})) - set(GEOMETRIC_EDITS):
            continue  # appearance edits change the warped pixels too
        flow = load_flow(sample, manifest.root)
        real = _rgb(manifest, reals[sample.target_identity].path).astype(float)
        fake = _rgb(manifest, sample.path)
        moved = np.any(flow != 0, axis=2)
        replayed = apply_flow(real.astype(np.uint8), flow, params["resample"])
        error = np.abs(replayed - fake.astype(float)).max(axis=2)[moved].mean()
        unexplained = np.abs(real - fake).max(axis=2)[moved].mean()  # the check can fail
        assert error < 2.0 and error < unexplained, (sample.id, error, unexplained)
        checked += 1
    assert checked >= 6  # every reenactment at least


def test_reals_and_manifests_from_before_flows_load_without_one(flow_run, tmp_path):
    _, manifest = flow_run
    real = next(s for s in manifest.samples if s.label == "real")
    assert load_flow(real, manifest.root) is None
    warped = next(s for s in manifest.samples if "flow_path" in s.meta)
    record = warped.to_json()
    del record["meta"]["flow_path"]  # as written before flows were recorded
    old = Sample.from_json(json.loads(json.dumps(record)))
    assert load_flow(old, manifest.root) is None
    np.savez_compressed(tmp_path / "bad.npz", flow=np.zeros((4, 4, 3), np.float16))
    record["meta"]["flow_path"] = str(tmp_path / "bad.npz")  # absolute paths work too
    with pytest.raises(ValueError, match=r"\(H, W, 2\)"):
        load_flow(Sample.from_json(record), manifest.root)
