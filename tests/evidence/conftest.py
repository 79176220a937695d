"""Fixtures for the analysis pipeline: a small real detector with random weights, scripted
predictions on top of it (so a test decides what the detector says), and real face crops."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace

import cv2
import numpy as np
import pytest

from opendfa.faces import REGION_NAMES
from opendfa.taxonomy import CATEGORIES, FACE_SWAP
from tiny_models import save_random_detector


class _Borrowed:
    """The session's face detector, lent to an `Analyzer` (which closes what it thinks it
    owns, and warms up what it builds: this one is warm already)."""

    def __init__(self, shared) -> None:
        self._shared = shared

    def detect(self, rgb):
        return self._shared.detect(rgb)

    def prepare_in_background(self) -> None:
        return None

    def close(self) -> None:
        pass


@pytest.fixture
def lent_face_detector(monkeypatch, face_detector):
    """Every `Analyzer` the test builds without a face detector gets the session's one."""
    from opendfa.evidence import pipeline

    monkeypatch.setattr(pipeline, "FaceDetector", lambda: _Borrowed(face_detector))


@pytest.fixture(scope="session")
def tiny_detector(tmp_path_factory):
    """`opendfa.models.detector` at 128 px with untrained weights, saved and loaded back."""
    from opendfa.models.detector import load_detector

    folder = tmp_path_factory.mktemp("models") / "tiny"
    return load_detector(save_random_detector(folder, name="tiny", input_size=128, mask_size=28))


def disc_mask(side: int, radius_fraction: float = 0.25) -> np.ndarray:
    """A soft-edged disc in the middle of a crop: the nose area of an aligned face."""
    mask = np.zeros((side, side), np.float32)
    cv2.circle(mask, (side // 2, side // 2), round(side * radius_fraction), 1.0, -1)
    return cv2.GaussianBlur(mask, (0, 0), 1.0)


@pytest.fixture(scope="session")
def scripted():
    """`scripted(probabilities, category=..., regions=..., mask=...)` makes a `predict`."""
    return _scripted


def _scripted(
    probabilities: float | Sequence[float],
    *,
    category: str = FACE_SWAP,
    regions: dict[str, float] | None = None,
    mask: Callable[[int], np.ndarray] | None = disc_mask,
):
    """A `predict` for `Analyzer`: runs the real `predict_crops`, then states the outputs.

    A sequence of probabilities is handed out one per crop, in order of the calls.
    """
    from opendfa.models.detector import predict_crops

    values = itertools.cycle([probabilities] if np.isscalar(probabilities) else probabilities)
    categories = {name: (0.8 if name == category else 0.05) for name in CATEGORIES}
    region_scores = {name: 0.1 for name in REGION_NAMES} | (regions or {"nose": 0.9})

    def predict(loaded, crops: np.ndarray):
        outputs = predict_crops(loaded, crops)
        side = crops.shape[1]
        return [
            replace(
                p,
                fake_probability=float(next(values)),
                category_probabilities=dict(categories),
                region_scores=dict(region_scores),
                mask=mask(side) if mask is not None else p.mask,
            )
            for p in outputs
        ]

    return predict


@pytest.fixture(scope="session")
def portraits(face_detector, astronaut_path, hopper_path):
    """The astronaut and Grace Hopper as face-centred crops, as `opendfa data synth` makes them."""
    from opendfa.data.synth import face_crop
    from opendfa.forge import FaceImage
    from opendfa.media import load_image

    faces = []
    for number, path in enumerate((astronaut_path, hopper_path)):
        rgb = load_image(path).rgb
        crop, face = face_crop(rgb, face_detector.detect(rgb)[0])
        faces.append(FaceImage(rgb=crop, face=face, identity=f"person{number}", path=str(path)))
    return faces


@pytest.fixture(scope="session")
def no_face_png(tmp_path_factory) -> str:
    """A smooth colour gradient: a valid image with no face in it."""
    ramp = np.linspace(0, 255, 160, dtype=np.float32)
    rgb = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 128.0), axis=2)
    path = tmp_path_factory.mktemp("noface") / "gradient.png"
    cv2.imwrite(str(path), cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2BGR))
    return str(path)
