"""The shipped `opendfa-lite0` on faces it never saw: the identities its own config lists as
held out (test split), rebuilt from the files they came from, with fresh forgeries."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from opendfa.data import read_manifest
from opendfa.data.splits import SplitConfig
from opendfa.data.synth import SynthConfig, synthesize
from opendfa.media import load_image
from opendfa.media.files import file_sha256
from opendfa.models.detector import MODELS_DIR, load_detector
from opendfa.taxonomy import REAL

BUNDLED = MODELS_DIR / "opendfa-lite0"
# opendfa-lite0@2 measured 0.805 on fresh forgeries of its 23 held-out LFW / face-api faces
# (seed 2024, 115 fakes; per family: synthesis 1.00, swap 0.88, editing 0.68, reenactment
# 0.59, the weak families of the model card). With 23 reals the AUC's standard error is about
# 0.05: the floors leave room for that and for platform differences in detection/resampling.
AUC_FLOOR = 0.72
FAMILY_FLOORS = {
    "entire_face_synthesis": 0.9,
    "face_swap": 0.75,
    "face_editing": 0.5,
    "face_reenactment": 0.5,
}
LFW_SIZE = 128  # as scripts/gather_real_faces.py stores the LFW faces


def test_bundled_weights_are_small_match_their_hash_and_load():
    info = json.loads((BUNDLED / "config.json").read_text())
    weights = BUNDLED / "model.safetensors"
    assert weights.stat().st_size <= 25 * 1024 * 1024
    assert file_sha256(weights) == info["weights_sha256"]
    loaded = load_detector()  # the default name resolves to the bundled folder
    assert loaded.weights_sha256 == info["weights_sha256"] and loaded.temperature > 0
    assert (BUNDLED / "MODEL_CARD.md").read_text().count(info["weights_sha256"]) == 1
    held_out = set(info["data"]["identities"]["test"])
    assert held_out and not held_out & set(info["data"]["identities"]["train"])


@pytest.fixture(scope="module")
def held_out_faces(tmp_path_factory, group_photos, face_detector) -> Path:
    """Faces of the model's test identities, one folder each, from LFW (scikit-image) and the
    face-api group photos (identities `faceapi-s<photo>-f<k>`, k counting detected faces)."""
    from skimage.data import lfw_subset

    info = json.loads((BUNDLED / "config.json").read_text())
    test_ids = set(info["data"]["identities"]["test"])
    root = tmp_path_factory.mktemp("held-out")
    lfw = lfw_subset()[:100]
    for identity in sorted(i for i in test_ids if i.startswith("lfw-")):
        grey = np.clip(np.round(lfw[int(identity[4:])] * 255), 0, 255).astype(np.uint8)
        up = cv2.resize(grey, (LFW_SIZE, LFW_SIZE), interpolation=cv2.INTER_CUBIC)
        (root / identity).mkdir()
        cv2.imwrite(str(root / identity / "face.png"), up)
    for name, path in group_photos.items():
        photo = name.removeprefix("sample").removesuffix(".jpg")
        rgb = load_image(path).rgb
        # Numbered left to right from 1, as the gathering script names them.
        faces = sorted(face_detector.detect(rgb), key=lambda f: (f.box[0] + f.box[2]) / 2)
        for number, face in enumerate(faces, start=1):
            identity = f"faceapi-s{photo}-f{number}"
            if identity in test_ids:
                x0, y0, x1, y1 = (round(v) for v in face.box)
                pad = max(x1 - x0, y1 - y0)
                crop = rgb[max(0, y0 - pad) : y1 + pad, max(0, x0 - pad) : x1 + pad]
                (root / identity).mkdir()
                cv2.imwrite(
                    str(root / identity / "face.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR)
                )
    return root


@pytest.mark.slow
def test_bundled_model_scores_held_out_fakes_above_reals(held_out_faces, face_detector, tmp_path):
    from opendfa.train.experiment import score_split

    out = tmp_path / "synth"
    config = SynthConfig(per_face=1, seed=2024, splits=SplitConfig(train=0, val=0, test=1))
    synthesize(held_out_faces, out, config, detector=face_detector)
    manifest = read_manifest(out / "manifest.jsonl")
    reals = [s for s in manifest.samples if s.category == REAL]
    assert len(reals) >= 10
    metrics, per_category = score_split(BUNDLED, manifest)
    assert metrics["auc"] >= AUC_FLOOR, metrics
    assert len(per_category) == 4, per_category
    for family, floor in FAMILY_FLOORS.items():
        assert per_category[family] >= floor, per_category
    assert metrics["n"] - metrics["n_fake"] == len(reals)


def test_older_bundled_versions_stay_loadable_by_name():
    info = json.loads((BUNDLED / "config.json").read_text())
    current = load_detector(f"opendfa-lite0@{info['version']}")
    assert current.weights_sha256 == info["weights_sha256"]
    for older in sorted(MODELS_DIR.glob("opendfa-lite0-v*")):
        version = older.name.rsplit("-v", 1)[1]
        loaded = load_detector(f"opendfa-lite0@{version}")
        assert loaded.name == f"opendfa-lite0@{version}" and loaded.folder == older
        assert loaded.weights_sha256 != current.weights_sha256
