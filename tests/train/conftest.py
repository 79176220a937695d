"""Shared by the training tests: a tiny synthesized dataset from the real test photos."""

from __future__ import annotations

import cv2
import pytest

from opendfa.data.splits import SplitConfig
from opendfa.data.synth import SynthConfig, synthesize
from opendfa.media import load_image

METHODS = ("face_swap", "face_editing", "self_blend")
SPLITS = SplitConfig(train=0.6, val=0.0, test=0.4, seed=4)


@pytest.fixture(scope="session")
def faces_dir(tmp_path_factory, face_detector, group_photos, astronaut_path, hopper_path):
    """One folder per face: each face of the group photos is its own identity."""
    root = tmp_path_factory.mktemp("faces")
    for path in [*group_photos.values(), astronaut_path, hopper_path]:
        rgb = load_image(path).rgb
        for k, face in enumerate(face_detector.detect(rgb)):
            cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
            half = 1.2 * max(face.width, face.height)
            x0, y0 = round(cx - half), round(cy - half)
            side = round(2 * half)
            pad = max(0, -x0, -y0, x0 + side - rgb.shape[1], y0 + side - rgb.shape[0])
            padded = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT)
            crop = padded[y0 + pad : y0 + pad + side, x0 + pad : x0 + pad + side]
            folder = root / f"{path.stem}-f{k}"
            folder.mkdir()
            cv2.imwrite(str(folder / "face.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
    return root


@pytest.fixture(scope="session")
def manifest_path(faces_dir, face_detector, tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        methods=METHODS, per_face=1, seed=3, degrade_probability=0.0, splits=SPLITS
    )
    # Sample ids (hence forgery seeds) hash each photo's path inside faces_dir, so the data are
    # the same in every run, whatever pytest's temporary folder is called.
    synthesize(faces_dir, out, config, detector=face_detector)
    return out / "manifest.jsonl"
